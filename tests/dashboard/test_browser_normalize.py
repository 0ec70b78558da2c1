"""The browser's normalization (static/normalize.js) against filterviz's own, in headless Chromium: the
same kernels, modes and percentiles give the same pixels, byte for byte, including exact ties, constant
tiles, NaN and Inf, colour maps and every layout."""

import functools
import http.server
import json
import threading

import numpy as np
import pytest

import filterviz
from filterviz import RenderOptions
from filterviz.core.renderer import Renderer
from filterviz.dashboard.answers import drawing, tile_map
from filterviz.dashboard.plugin import STATIC
from filterviz.eventfile.format import describe_layer
from tests.helpers import as_rgb
from tests.helpers.browser import chromium


@pytest.fixture(scope="module")
def page():
    """A page served from the plugin's static folder, to import its modules from."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(STATIC))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with chromium() as driver:
            driver.get(f"http://127.0.0.1:{server.server_address[1]}/")
            driver.set_script_timeout(120)
            yield driver
    finally:
        server.shutdown()


def drawn_in_browser(driver, kernel, renderer, mode, clip):
    info = describe_layer(renderer, "filters/x", "step", "x", True)
    request = {
        "kernel": [None if not np.isfinite(v) else float(v) for v in kernel.astype(np.float32).ravel()],
        "special": {str(i): str(v) for i, v in enumerate(kernel.ravel()) if not np.isfinite(v)},
        "tilemap": tile_map(renderer).ravel().tolist(),
        "drawing": drawing(renderer, info),
        "mode": mode,
        "clip": clip,
    }
    answer = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const request = JSON.parse(arguments[0]);
        import('/normalize.js').then(({ drawKernel }) => {
          const kernel = Float32Array.from(request.kernel, (v) => (v === null ? NaN : v));
          for (const [i, text] of Object.entries(request.special)) {
            kernel[Number(i)] = Number(text.replace('inf', 'Infinity'));
          }
          const tilemap = Int32Array.from(request.tilemap);
          const image = drawKernel(kernel, tilemap, request.drawing, request.mode, request.clip);
          done({ width: image.width, height: image.height, data: Array.from(image.data) });
        }, (error) => done({ error: String(error) }));
        """,
        json.dumps(request),
    )
    assert "error" not in answer, answer
    return np.array(answer["data"], np.uint8).reshape(answer["height"], answer["width"], 4)[..., :3]


def with_ties(shape, seed):
    """Weights on a coarse grid: many exact ties between tiles, and values that land on .5 after scaling."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-8, 9, shape) / 4).astype(np.float32)


CASES = [
    (
        "RGB conv",
        lambda: np.random.default_rng(1).standard_normal((5, 5, 3, 10)).astype(np.float32),
        {},
        None,
    ),
    ("ties", lambda: with_ties((3, 3, 3, 7), 2), {}, None),
    (
        "gray dense, diverging",
        lambda: np.random.default_rng(3).standard_normal((36, 5)).astype(np.float32),
        {"tile_shape": (6, 6, 1), "cmap": "diverging"},
        None,
    ),
    (
        "per channel",
        lambda: np.random.default_rng(4).standard_normal((3, 3, 5, 4)).astype(np.float32),
        {},
        None,
    ),
    (
        "chw dense",
        lambda: np.random.default_rng(5).standard_normal((48, 3)).astype(np.float32),
        {"tile_shape": (4, 4, 3), "flatten_order": "chw"},
        None,
    ),
    (
        "depthwise",
        lambda: np.random.default_rng(6).standard_normal((3, 3, 2, 3)).astype(np.float32),
        {},
        "depthwise2d",
    ),
    ("conv1d", lambda: np.random.default_rng(7).standard_normal((5, 3, 4)).astype(np.float32), {}, "conv1d"),
    (
        "padding 0, bgr, max_tiles",
        lambda: np.random.default_rng(8).standard_normal((4, 4, 3, 9)).astype(np.float32),
        {"padding": 0, "bgr": True, "max_tiles": 5, "scale": 2},
        None,
    ),
]


@pytest.mark.parametrize("name, make, options, kind", CASES, ids=[case[0] for case in CASES])
@pytest.mark.parametrize("mode", ["per_tile", "global", "symmetric"])
@pytest.mark.parametrize("clip", [None, 99.0, 75.5])
def test_the_browser_draws_a_kernel_as_render_does(page, name, make, options, kind, mode, clip):
    kernel = make()
    renderer = Renderer(kernel.shape, RenderOptions(**options), kind=kind)
    expected = filterviz.kernel_grid(kernel, kind=kind, normalize=mode, clip_percentile=clip, **options)
    np.testing.assert_array_equal(drawn_in_browser(page, kernel, renderer, mode, clip), as_rgb(expected))


def test_nan_inf_and_constant_tiles(page):
    kernel = np.random.default_rng(9).standard_normal((3, 3, 1, 6)).astype(np.float32)
    kernel[..., 1] = 2.5  # constant: mid-gray
    kernel[0, 0, 0, 2], kernel[1, 1, 0, 3], kernel[..., 4] = np.nan, np.inf, -np.inf  # one tile all -Inf
    renderer = Renderer(kernel.shape, RenderOptions(padding=0))
    for mode in ("per_tile", "global", "symmetric"):
        for clip in (None, 90.0):
            with pytest.warns(filterviz.FilterVizWarning):
                expected = filterviz.kernel_grid(kernel, normalize=mode, clip_percentile=clip, padding=0)
            np.testing.assert_array_equal(
                drawn_in_browser(page, kernel, renderer, mode, clip), as_rgb(expected)
            )
