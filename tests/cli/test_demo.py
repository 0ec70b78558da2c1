"""`filterviz demo`, whole, as a newcomer runs it: what it prints, what it logs, whether its pictures show
what it says they show, and the Filters tab on its log folder in a real browser (which also takes the
README's screenshots when FILTERVIZ_SCREENSHOTS names a folder)."""

import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains

import filterviz
from filterviz.cli import demo
from filterviz.core.png import decode_png
from tests.helpers import as_rgb, filterviz_cli, gif_frames
from tests.helpers.browser import (
    canvas_pixels,
    choose,
    chromium,
    go_to,
    open_filters_tab,
    screenshot,
    unzoomed,
    wait_until,
)
from tests.helpers.tensorboard_server import tensorboard

RUNS = ("templates", "templates-lr-too-high", "edges")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The full demo, as `filterviz demo` runs it (about 20 s here)."""
    out = tmp_path_factory.mktemp("demo") / "filterviz-demo"
    result = filterviz_cli("demo", "--out", out, env={"TF_CPP_MIN_LOG_LEVEL": ""})  # as a newcomer runs it
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout, result.stderr


def test_it_reports_progress_quietly_and_ends_with_the_pictures_a_command_and_a_link(demo_run):
    out, stdout, stderr = demo_run
    for progress in ("1/3", "2/3", "3/3", "done in"):
        assert progress in stdout
    for name in RUNS:
        assert f"{out / name}.png" in stdout and f"{out / name}.gif" in stdout
    lines = [line.strip() for line in stdout.rstrip().splitlines()]
    command = f"{demo.program('filterviz')} tensorboard --logdir {out} --port {demo.PORT}"
    assert command in lines and demo.side_by_side_link(f"http://localhost:{demo.PORT}") in lines
    assert "Epoch 1/" not in stdout  # no epoch by epoch
    assert "absl" not in stderr and "oneDNN" not in stderr and "cuda" not in stderr.lower(), stderr[-2000:]


def test_its_pictures_are_large_enough_to_see_and_exact(demo_run):
    """Short side at least 512 pixels, every weight a whole block of pixels of one colour."""
    from PIL import Image

    out, _, _ = demo_run
    for name in RUNS:
        with Image.open(out / f"{name}.png") as picture:
            assert min(picture.size) >= demo.PICTURE_SIDE, (name, picture.size)
        frames, _ = gif_frames(out / f"{name}.gif")
        assert min(frames[0].shape[:2]) >= demo.PICTURE_SIDE, (name, frames[0].shape)


def test_each_template_looks_like_its_digit(demo_run):
    out, stdout, _ = demo_run
    images, labels = demo.load_digits_images()
    history = filterviz.load_history(out / "templates")
    kernel = history.kernels[-1].reshape(demo.DIGIT_SIDE**2, 10)
    np.testing.assert_array_equal(demo.template_matches(kernel, images, labels), np.arange(10))
    assert "10 of 10 templates correlate best with their own digit's mean image" in stdout


def test_the_final_pictures_are_the_last_logged_grids_enlarged(demo_run):
    out, _, _ = demo_run
    for name in RUNS:
        history = filterviz.load_history(out / name)
        options = demo.DIGITS_LOOK if name.startswith("templates") else {}
        picture = decode_png((out / f"{name}.png").read_bytes())
        drawn = next(  # the last logged kernel, drawn at the scale that gives the picture's size
            grid
            for grid in (filterviz.kernel_grid(history.kernels[-1], scale=s, **options) for s in range(1, 65))
            if grid.shape == picture.shape
        )
        np.testing.assert_array_equal(picture, drawn, err_msg=name)
        frames, _ = gif_frames(out / f"{name}.gif")
        assert len(frames) == len(history.steps)
        factor = frames[-1].shape[0] // history.grids[-1].shape[0]  # every grid pixel one block of colour
        assert factor > 1 and unzoomed(frames[-1], factor).shape == as_rgb(history.grids[-1]).shape


def test_the_update_ratio_tells_the_learning_rates_apart(demo_run):
    out, stdout, _ = demo_run
    sensible = filterviz.load_history(out / "templates").health["update_ratio"]
    too_high = filterviz.load_history(out / "templates-lr-too-high").health["update_ratio"]
    assert 1e-4 < sensible[-1] < 1e-2  # CS231n's healthy band around 1e-3
    assert too_high[-1] > 0.1 and (too_high[1:] > 10 * sensible[1:]).all()
    assert f"{sensible[-1]:.1e} at lr" in stdout and f"{too_high[-1]:.1e} at lr" in stdout


def test_the_edge_filters_become_oriented_and_smooth(demo_run):
    out, stdout, _ = demo_run
    history = filterviz.load_history(out / "edges")
    kernels, noise = history.kernels, history.health["noise"]
    assert kernels.shape[1:] == (12, 12, 3, 64)
    start, end = (
        float((demo.orientation_coherence(k) > demo.ORIENTED).mean()) for k in (kernels[0], kernels[-1])
    )
    assert start < 0.1 and end > 0.6
    assert 0.9 < noise[0] < 1.1 and noise[-1] < 0.6  # from as rough as random to clearly smooth
    assert f"{end:.0%} of the filters have one dominant orientation ({start:.0%} at initialization)" in stdout
    assert f"noise {noise[-1]:.2f} ({noise[0]:.2f} at initialization" in stdout


def test_orientation_coherence_is_high_for_a_grating_and_low_for_blobs_and_noise():
    y, x = np.mgrid[0:8, 0:8]
    grating = np.cos(2 * np.pi * (x * np.cos(0.6) + y * np.sin(0.6)) / 4)
    blob = np.exp(-((x - 3.5) ** 2 + (y - 3.5) ** 2) / 4)
    noise = np.random.default_rng(0).standard_normal((8, 8, 3, 200))
    kernel = np.stack([np.repeat(f[..., None], 3, axis=2) for f in (grating, blob)], axis=-1)
    coherence = demo.orientation_coherence(kernel)
    assert coherence[0] > 0.7 and coherence[1] < 0.1
    assert np.median(demo.orientation_coherence(noise)) < 0.25


def test_the_filters_tab_on_the_demo(demo_run):
    """The edges run, one filter's life, and the demo's link: the two classifiers side by side at their last
    step, with both runs' health."""
    out, _, _ = demo_run
    with tensorboard(out) as server, chromium(width=1400, height=1000) as page:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        open_filters_tab(page, server.base)
        choose(page, "Run", "edges/filters")  # at zoom "fit": as large as the panel and the window allow
        edges = filterviz.load_history(out / "edges")
        go_to(page, len(edges.steps) - 1)
        canvas = wait_until(
            lambda: (
                page.find_element("css selector", "canvas.grid[data-run='edges/filters']")
                if page.find_element("css selector", "canvas.grid").get_attribute("data-step")
                == str(edges.steps[-1])
                else None
            ),
            what="the edges' last step",
        )
        zoom = int(canvas.get_attribute("data-zoom"))
        np.testing.assert_array_equal(unzoomed(canvas_pixels(page), zoom), edges.grids[-1])
        in_frame(page, screenshot, "filters-tab.png")

        ActionChains(page).move_to_element_with_offset(  # filter 9: row 1, column 1 of 8
            canvas,
            canvas.size["width"] * 3 // 16 - canvas.size["width"] // 2,
            canvas.size["height"] * 3 // 16 - canvas.size["height"] // 2,
        ).click().perform()
        wait_until(lambda: page.find_element("css selector", "canvas.filter-large[data-filter='9']"))
        in_frame(page, screenshot, "filter-panel.png")
        page.find_element("css selector", "button[aria-label='Close the filter panel']").click()

        page.switch_to.default_content()  # the demo's link: both classifiers side by side, at the last step
        page.get(demo.side_by_side_link(server.base))
        page.switch_to.frame(wait_until(lambda: page.find_element("css selector", "iframe")))
        last = filterviz.load_history(out / "templates").steps[-1]
        wait_until(
            lambda: (
                [c.get_attribute("data-step") for c in page.find_elements("css selector", "canvas.grid")]
                == [str(last)] * 2
            ),
            what="both runs at the last step",
        )
        curves = page.find_elements("css selector", "canvas.curve[data-name=update_ratio]")
        assert curves[0].get_attribute("data-lines") == "2"  # both runs' update ratio, on one chart
        for position, run in enumerate(("templates", "templates-lr-too-high"), start=1):
            selector = f"figure.view:nth-child({position}) canvas"
            zoom = int(page.find_element("css selector", selector).get_attribute("data-zoom"))
            np.testing.assert_array_equal(
                unzoomed(canvas_pixels(page, selector), zoom),
                as_rgb(filterviz.load_history(out / run).grids[-1]),
            )
        in_frame(page, screenshot, "runs-side-by-side.png")


def in_frame(page, action, *args):
    """Do `action` on the whole TensorBoard page, then go back into the Filters tab's frame."""
    page.switch_to.default_content()
    action(page, *args)
    page.switch_to.frame(page.find_element("css selector", "iframe"))
