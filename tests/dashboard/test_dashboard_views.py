"""The Filters tab's second half in a real browser, on real FilterLogger runs: normalization chosen when
looking, the change since the step before, sorting and flags, one filter's life, runs side by side."""

import keras
import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

import filterviz
from tests.helpers import as_rgb, small_conv_model
from tests.helpers.browser import (
    canvas_pixels,
    choose,
    chromium,
    go_to,
    open_filters_tab,
    unzoomed,
    wait_until,
)
from tests.helpers.tensorboard_server import tensorboard

TAG = "filters/conv1"
pytestmark = pytest.mark.filterwarnings("ignore:.*NaN or Inf weights")  # the run with a high rate diverges


def conv_model(seed=0):
    return small_conv_model(10, 9, seed)


class KernelsByStep(keras.callbacks.Callback):
    """The conv kernel as each batch begins and as training ends, by batches completed."""

    def __init__(self):
        super().__init__()
        self.kernels = []

    def on_train_batch_begin(self, batch, logs=None):
        self.kernels.append(keras.ops.convert_to_numpy(self.model.get_layer("conv1").kernel).copy())

    def on_train_end(self, logs=None):
        self.on_train_batch_begin(None)


def train(log_dir, every, learning_rate, seed):
    rng = np.random.default_rng(seed)
    x, y = (
        rng.standard_normal((48, 10, 10, 3)).astype(np.float32),
        rng.standard_normal((48, 2)).astype(np.float32),
    )
    model, kernels = conv_model(), KernelsByStep()
    model.compile(keras.optimizers.SGD(learning_rate), "mse")
    logger = filterviz.FilterLogger(log_dir, every_n_steps=every, store_kernel=True)
    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[logger, kernels])
    return kernels.kernels  # 18 batches: kernels[0..18]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    good = train(root / "good", 2, 0.05, 0)  # steps 0, 2, ..., 18
    high = train(root / "high", 3, 5.0, 0)  # steps 0, 3, ..., 18
    return root, good, high


@pytest.fixture(scope="module")
def page(runs):
    root, _, _ = runs
    with tensorboard(root) as server, chromium(width=1400, height=1100) as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        open_filters_tab(driver, server.base)
        yield driver


def reset(driver, run="good/filters"):
    Select(driver.find_element("css selector", "select[aria-label='Run']")).select_by_value(run)
    for label, value in [("Normalize", "logged"), ("Show", "grid"), ("Sort", "index"), ("Zoom", "2")]:
        choose(driver, label, value)
    driver.execute_script(
        "const c = document.querySelector('#clip'); c.value = ''; c.dispatchEvent(new Event('change'));"
    )
    flags = driver.find_element("css selector", "#flags")
    if flags.is_selected():
        flags.click()


def set_clip(driver, value):
    driver.execute_script(
        "const clip = document.querySelector('#clip'); clip.value = arguments[0];"
        "clip.dispatchEvent(new Event('change'));",
        value,
    )


def cell(index, size=30, pad=1, cols=3):
    """Where tile `index` sits in a grid of 5x5 filters drawn 6x larger, 1-pixel separators, 3 columns."""
    top, left = pad + (index // cols) * (size + pad), pad + (index % cols) * (size + pad)
    return slice(top, top + size), slice(left, left + size)


def grid_at(driver, step, mode="logged", selector="canvas.grid"):
    """The pixels of the first grid canvas once it shows `step` in `mode`, zoom undone."""

    def ready():
        canvas = driver.find_element("css selector", selector)
        return (
            canvas
            if canvas.get_attribute("data-step") == str(step) and canvas.get_attribute("data-mode") == mode
            else None
        )

    canvas = wait_until(ready, what=f"step {step} drawn {mode}")
    return unzoomed(canvas_pixels(driver, selector), int(canvas.get_attribute("data-zoom")))


@pytest.mark.parametrize(
    "mode, clip",
    [("per_tile", None), ("global", None), ("symmetric", None), ("global", 97.5), ("symmetric", 90.0)],
)
def test_renormalized_grids_are_exactly_render_with_those_options(page, runs, mode, clip):
    _, good, _ = runs
    reset(page)
    choose(page, "Normalize", mode)
    if clip is not None:
        set_clip(page, str(clip))
    go_to(page, 5)  # step 10
    expected = filterviz.kernel_grid(good[10], normalize=mode, clip_percentile=clip)
    np.testing.assert_array_equal(grid_at(page, 10, mode), as_rgb(expected))


def test_the_change_view_is_the_symmetric_grid_of_w_t_minus_w_prev(page, runs):
    _, good, _ = runs
    reset(page)
    choose(page, "Show", "change")
    go_to(page, 4)  # step 8, after step 6
    expected = filterviz.kernel_grid(good[8] - good[6], normalize="symmetric")
    np.testing.assert_array_equal(grid_at(page, 8, "change"), as_rgb(expected))


def test_sorting_by_norm_orders_the_tiles_by_the_stored_norms(page, runs):
    _, good, _ = runs
    reset(page)
    go_to(page, 9)  # step 18
    logged = grid_at(page, 18)
    choose(page, "Sort", "norm")
    wait_until(lambda: page.find_element("css selector", "canvas.grid").get_attribute("data-sort") == "norm")
    shown = grid_at(page, 18)
    norms = np.linalg.norm(good[18].reshape(-1, 9).astype(np.float64), axis=0)
    ordering = np.argsort(-norms, kind="stable")
    for position, unit in enumerate(ordering):
        np.testing.assert_array_equal(
            shown[cell(position)], logged[cell(unit)], err_msg=f"position {position}"
        )


def test_flags_outline_dead_filters_with_a_legend(page, runs):
    reset(page)
    go_to(page, 9)
    page.find_element("css selector", "#flags").click()
    legend = wait_until(
        lambda: (
            page.find_element("css selector", ".legend").is_displayed()
            and page.find_element("css selector", ".legend")
        )
    )
    assert "dead" in legend.text and "near-duplicate" in legend.text


def test_one_filters_life_strip_and_keyboard(page, runs):
    root, _, _ = runs
    reset(page)
    go_to(page, 9)
    logged = grid_at(page, 18)
    canvas = page.find_element("css selector", "canvas.grid")
    size, pad, zoom = 30, 1, 2
    x, y = (
        (pad + (size + pad) * 1 + 5) * zoom,
        (pad + (size + pad) * 1 + 5) * zoom,
    )  # filter 4 (row 1, column 1)
    ActionChains(page).move_to_element_with_offset(
        canvas, x - canvas.size["width"] // 2, y - canvas.size["height"] // 2
    ).click().perform()
    large = wait_until(lambda: page.find_element("css selector", "canvas.filter-large[data-filter='4']"))
    assert large.get_attribute("data-step") == "18"
    strip = wait_until(
        lambda: page.find_element("css selector", "canvas.strip[data-filter='4']"), what="the strip"
    )
    pixels = unzoomed(canvas_pixels(page, "canvas.strip"), 2)
    history = filterviz.load_history(root / "good", layer="conv1")
    assert list(history.steps) == list(range(0, 19, 2)) and strip.get_attribute("data-steps") == "10"
    for k, grid in enumerate(history.grids):  # the k-th thumbnail is filter 4's tile at the k-th step
        tile = grid[
            pad + (size + pad) : pad + (size + pad) + size, pad + (size + pad) : pad + (size + pad) + size
        ]
        thumbnail = pixels[1 : 1 + size, 1 + k * (size + 1) : 1 + k * (size + 1) + size]
        np.testing.assert_array_equal(thumbnail, tile, err_msg=f"thumbnail {k}")
    assert len(page.find_elements("css selector", "canvas.sparkline")) == 3
    page.find_element("css selector", ".filter-panel").send_keys(Keys.ARROW_RIGHT)  # the next filter
    wait_until(
        lambda: page.find_element("css selector", "canvas.filter-large[data-filter='5']"), what="filter 5"
    )
    page.find_element("css selector", ".filter-panel").send_keys(Keys.ESCAPE)
    wait_until(lambda: not page.find_element("css selector", ".filter-panel").is_displayed())
    np.testing.assert_array_equal(logged, grid_at(page, 18))


def test_runs_side_by_side_at_a_shared_step(page, runs):
    _, good, high = runs
    reset(page)
    page.find_element("css selector", "fieldset.compare input[value='high/filters']").click()
    wait_until(lambda: len(page.find_elements("css selector", "canvas.grid")) == 2, what="two views")
    steps = page.execute_script("return filtervizDashboard.steps")
    assert steps == sorted(set(range(0, 19, 2)) | set(range(0, 19, 3)))
    go_to(page, steps.index(10))  # good logged 10; high logged 9 before it

    def both():
        canvases = page.find_elements("css selector", "canvas.grid")
        return [(c.get_attribute("data-run"), c.get_attribute("data-step")) for c in canvases]

    wait_until(lambda: both() == [("good/filters", "10"), ("high/filters", "9")], what="the shared step")
    first = unzoomed(canvas_pixels(page, "figure.view:nth-child(1) canvas"), 2)
    second = unzoomed(canvas_pixels(page, "figure.view:nth-child(2) canvas"), 2)
    np.testing.assert_array_equal(first, as_rgb(filterviz.kernel_grid(good[10])))
    np.testing.assert_array_equal(second, as_rgb(filterviz.kernel_grid(high[9])))
    page.find_element("css selector", "fieldset.compare input[value='high/filters']").click()
    wait_until(lambda: len(page.find_elements("css selector", "canvas.grid")) == 1)


def test_clicking_a_health_curve_goes_to_that_step(page, runs):
    reset(page)
    go_to(page, 0)
    grid_at(page, 0)
    curve = page.find_elements("css selector", "canvas.curve")[1]  # dead filters
    ActionChains(page).move_to_element_with_offset(curve, 0, 0).click().perform()  # its middle
    step = wait_until(
        lambda: int(page.find_element("css selector", "canvas.grid").get_attribute("data-step") or 0),
        what="another step",
    )
    assert 6 <= step <= 12  # about the middle of 0..18
