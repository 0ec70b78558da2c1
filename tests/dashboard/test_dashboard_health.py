"""What the Filters tab says about health values that are not there: left out at a step by a writer that
was behind ("not computed at this step"), and never logged for a layer whose tiles or filter count give
them no meaning ("not logged", with why). Over the routes and in a real browser."""

import numpy as np
import pytest

from filterviz import RenderOptions
from filterviz.core.renderer import Renderer
from filterviz.eventfile.writer import TensorBoardWriter
from filterviz.pipeline.steps import LayerLog
from tests.helpers.browser import chromium, go_to, open_filters_tab, wait_until
from tests.helpers.tensorboard_server import tensorboard

SHED = {2: 1, 3: 3}  # step -> how many optional parts the writer left out (heavy; then all health)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """A 2x2x3 patch stem of 64 filters (no noise: tiles under 3x3) whose steps 2 and 3 were shed."""
    root = tmp_path_factory.mktemp("logs")
    rng = np.random.default_rng(0)
    shape = (2, 2, 3, 64)
    log = LayerLog(Renderer(shape, RenderOptions()), "filters/stem", "batch", path="stem", store_kernel=True)
    writer = TensorBoardWriter(root / "run" / "filters")
    kernel = rng.standard_normal(shape).astype(np.float32)
    for step in range(5):
        before = kernel
        kernel = (kernel + 0.01 * rng.standard_normal(shape)).astype(np.float32)
        logged, _ = log.logged(step, kernel, before if step else None, shed=SHED.get(step, 0), taken=0.0)
        writer.write(logged)
    return root


def test_the_tab_says_which_values_were_left_out_and_which_are_never_logged(logs):
    with tensorboard(logs) as server, chromium() as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        layer = server.json("/data/plugin/filterviz/layer", run="run/filters", tag="filters/stem")
        assert layer["shed"] == {"2": ["heavy health"], "3": ["heavy health", "kernel", "cheap health"]}
        assert "noise" in layer["info"]["unmeasured"] and "noise" not in layer["info"]["measured"]
        assert layer["kernel_steps"] == [0, 1, 2, 4]  # the kernel of step 3 was left out
        assert [step for step, _ in layer["health"]["redundancy"]] == [0, 1, 4]
        open_filters_tab(driver, server.base)
        health = lambda: driver.find_element("css selector", "dl.health").text  # noqa: E731
        go_to(driver, 3)
        wait_until(lambda: "not computed at this step (the writer was behind)" in health(), what="step 3")
        assert "drift\nnot computed at this step (the writer was behind)" in health()
        go_to(driver, 2)
        wait_until(lambda: "redundancy\nnot computed at this step (the writer was behind)" in health())
        assert "drift\n" in health() and "drift\nnot computed" not in health()
        noise = driver.find_element("xpath", "//dt[text()='noise']/following-sibling::dd[1]")
        assert noise.text == "not logged" and "too small" in noise.get_attribute("title")


def test_the_tab_shows_each_steps_reading_in_the_words_python_reads_it(tmp_path):
    """A first layer whose ReLUs never fire (bias -10): no gradient reaches it. At each step the tab shows
    the reading `load_history` gives, word for word, with its level."""
    import keras

    import filterviz

    keras.utils.set_random_seed(0)
    dead = keras.initializers.Constant(-10.0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(8, 3, name="conv", activation="relu", bias_initializer=dead),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    rng = np.random.default_rng(0)
    x, y = (
        rng.standard_normal((32, 8, 8, 3)).astype(np.float32),
        rng.standard_normal((32, 2)).astype(np.float32),
    )
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path / "run")])
    history = filterviz.load_history(tmp_path / "run")
    assert [reading.level for reading in history.readings] == ["note", "alarm", "alarm"]
    with tensorboard(tmp_path) as server, chromium() as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        open_filters_tab(driver, server.base)
        shown = lambda: driver.find_element("css selector", "p.reading")  # noqa: E731
        for index, reading in enumerate(history.readings):
            go_to(driver, index)
            wait_until(lambda reading=reading: shown().text == reading.words, what=f"step {index}'s reading")
            assert shown().get_attribute("data-level") == reading.level
