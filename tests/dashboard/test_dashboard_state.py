"""The Filters tab in a real browser: its state in the address (a link opens a view, a reload keeps it),
every shown run's health on shared charts with a legend, zoom "fit" filling the panel, charts with honest
axes, step ticks and the values under the cursor, and steps told beside Keras' and MLflow's."""

import urllib.parse

import keras
import numpy as np
import pytest

import filterviz
from filterviz.dashboard.links import view_link
from tests.helpers import small_conv_model
from tests.helpers.browser import chromium, go_to, wait_until
from tests.helpers.tensorboard_server import tensorboard

TAG = "filters/conv1"


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Two runs of the same layer, at a sensible and at a far too high learning rate, and a third."""
    root = tmp_path_factory.mktemp("logs")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 12, 12, 3)).astype(np.float32)
    y = rng.standard_normal((64, 2)).astype(np.float32)
    for name, rate in (("calm", 0.01), ("wild", 1.0), ("other", 0.01)):
        model = small_conv_model(12, 16)
        model.compile(keras.optimizers.SGD(rate), "mse")
        model.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=[filterviz.FilterLogger(root / name)])
    return root


def in_tab(driver, base, address):
    """Open `address` (a link to a view), and switch into the tab's frame once its grids are drawn."""
    driver.get(address)
    frame = wait_until(lambda: driver.find_element("css selector", "iframe"), what="the tab's frame")
    driver.switch_to.frame(frame)
    wait_until(
        lambda: grids(driver) and all(g.get_attribute("data-step") for g in grids(driver)), what="grids"
    )


def grids(driver):
    return driver.find_elements("css selector", "canvas.grid")


def shown(driver):
    return [(g.get_attribute("data-run"), g.get_attribute("data-step")) for g in grids(driver)]


def address_state(driver):
    """The tab's parameters in TensorBoard's own address."""
    query = urllib.parse.urlparse(driver.execute_script("return window.parent.location.href")).query
    return {
        key: values for key, values in urllib.parse.parse_qs(query).items() if key.startswith("filterviz.")
    }


def test_a_link_opens_its_view_the_address_follows_the_controls_and_a_reload_keeps_it(logs):
    from selenium.webdriver.support.ui import Select

    with tensorboard(logs) as server, chromium(1400, 900) as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        link = view_link(server.base, "wild/filters", TAG, ["calm/filters"], step=2)
        in_tab(driver, server.base, link.replace("#", "&filterviz.zoom=2&filterviz.normalize=global#"))
        wait_until(
            lambda: shown(driver) == [("wild/filters", "2"), ("calm/filters", "2")], what="the view linked"
        )
        assert [g.get_attribute("data-zoom") for g in grids(driver)] == ["2", "2"]
        assert grids(driver)[0].get_attribute("data-mode") == "global"
        assert (
            driver.find_element("css selector", "select[aria-label=Run]").get_attribute("value")
            == "wild/filters"
        )

        Select(driver.find_element("css selector", "select[aria-label=Sort]")).select_by_value("norm")
        go_to(driver, 3)
        wait_until(lambda: address_state(driver).get("filterviz.step") == ["3"], what="the address to follow")
        state = address_state(driver)
        assert state["filterviz.run"] == ["wild/filters"] and state["filterviz.compare"] == ["calm/filters"]
        assert state["filterviz.sort"] == ["norm"] and state["filterviz.zoom"] == ["2"]

        driver.switch_to.default_content()
        driver.refresh()
        frame = wait_until(lambda: driver.find_element("css selector", "iframe"))
        driver.switch_to.frame(frame)
        wait_until(
            lambda: shown(driver) == [("wild/filters", "3"), ("calm/filters", "3")], what="the view again"
        )
        assert grids(driver)[0].get_attribute("data-sort") == "norm"


def test_side_by_side_every_runs_health_is_drawn_with_a_legend(logs):
    with tensorboard(logs) as server, chromium(1400, 900) as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        in_tab(driver, server.base, view_link(server.base, "calm/filters", TAG, ["wild/filters"]))
        legend = driver.find_element("css selector", ".runs-legend")
        assert legend.is_displayed() and "calm/filters" in legend.text and "wild/filters" in legend.text
        curves = {
            c.get_attribute("data-name"): c for c in driver.find_elements("css selector", "canvas.curve")
        }
        for name in ("update_ratio", "drift", "noise"):
            assert curves[name].get_attribute("data-lines") == "2", name
        pixels = canvas_rgb(driver, "canvas.curve[data-name=update_ratio]")
        for colour in ((0x00, 0x79, 0x6B), (0xE6, 0x51, 0x00)):  # each run's line, in its own colour
            assert (np.abs(pixels.astype(int) - colour).sum(axis=-1) < 40).sum() > 20, colour


def canvas_rgb(driver, selector):
    from tests.helpers.browser import canvas_pixels

    return canvas_pixels(driver, selector)


def test_fit_fills_the_panel_with_the_largest_whole_zoom(logs):
    with tensorboard(logs) as server, chromium(1500, 1000) as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        in_tab(driver, server.base, view_link(server.base, "calm/filters", TAG))
        grid = grids(driver)[0]
        zoom = int(grid.get_attribute("data-zoom"))
        width, height = (int(grid.get_attribute(side)) // zoom for side in ("width", "height"))
        room_width = driver.execute_script("return document.querySelector('.views').clientWidth")
        room_height = driver.execute_script("return window.innerHeight") - 16
        assert width * zoom <= room_width and height * zoom <= room_height
        assert width * (zoom + 1) > room_width or height * (zoom + 1) > room_height  # the largest that fits
        assert width * zoom > 0.5 * room_width or height * zoom > 0.5 * room_height


def test_charts_have_honest_axes_step_ticks_and_the_values_under_the_cursor(logs):
    from selenium.webdriver.common.action_chains import ActionChains

    with tensorboard(logs) as server, chromium(1400, 900) as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        in_tab(driver, server.base, view_link(server.base, "calm/filters", TAG))
        charts = driver.execute_script(
            "return Object.fromEntries(window.filtervizDashboard.health.lines.map("
            "(c) => [c.options.name, {range: c.range, ticks: c.ticks}]))"
        )
        assert charts["noise"]["range"][0] == 0 and charts["noise"]["range"][1] >= 1.2
        assert charts["dead"]["range"] == [0, 1] and charts["redundancy"]["range"] == [0, 1]
        low, high = charts["update_ratio"]["range"]  # log10: a decade either side of the band at least
        assert low <= -5 and high >= 0
        assert charts["noise"]["ticks"] == [0, 1, 2, 3, 4]
        noise = driver.find_element("css selector", "canvas.curve[data-name=noise]")
        ActionChains(driver).move_to_element_with_offset(noise, 40, 0).perform()  # right of centre
        text = wait_until(
            lambda: driver.execute_script(
                "return window.filtervizDashboard.health.lines.find((c) => c.options.name === 'noise')"
                ".cursorText"
            ),
            what="the values under the cursor",
        )
        assert text.startswith("step ") and ":" in text
        label = driver.find_element("css selector", "output").text
        assert label.startswith(
            "epoch 4: after 4 epochs (Keras' TensorBoard and MLflow log this epoch's loss at step 3)"
        )
