"""The Filters tab in a real browser: a real `tensorboard` on 127.0.0.1 and headless Chromium, on logs of
real FilterLogger runs. What the canvas shows, read back pixel by pixel, is `filterviz.render` of the model
at that step."""

import keras
import numpy as np
import pytest

import filterviz
from tests.helpers import Renders, as_rgb, small_conv_model
from tests.helpers.browser import canvas_pixels, chromium, open_filters_tab, unzoomed, wait_until
from tests.helpers.tensorboard_server import tensorboard

HOSTILE = "<img src=x onerror=alert(1)>"


def conv_model(seed=0):
    model = small_conv_model(12, 16, seed)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    rng = np.random.default_rng(0)
    x, y = (
        rng.standard_normal((64, 12, 12, 3)).astype(np.float32),
        rng.standard_normal((64, 2)).astype(np.float32),
    )
    model, renders = conv_model(), Renders()
    model.fit(
        x, y, epochs=5, batch_size=16, verbose=0, callbacks=[filterviz.FilterLogger(root / "conv"), renders]
    )
    conv_model(1).fit(x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(root / HOSTILE)])
    return root, renders.images


def select(driver, label, text):
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", f"select[aria-label='{label}']")).select_by_visible_text(text)


def shown_step(driver):
    return driver.find_element("css selector", "canvas.grid").get_attribute("data-step")


@pytest.mark.parametrize("load_fast", ["false", "true"])
def test_every_logged_step_is_drawn_exactly_as_render_draws_it(logs, load_fast):
    from selenium.webdriver.common.keys import Keys

    root, renders = logs
    with tensorboard(root, "--load_fast", load_fast) as server, chromium() as driver:
        listing = server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        assert listing["filterviz"]["tab_name"] == "Filters"
        open_filters_tab(driver, server.base)
        runs = [
            option.text for option in driver.find_elements("css selector", "select[aria-label='Run'] option")
        ]
        assert sorted(runs) == sorted(["conv/filters", f"{HOSTILE}/filters"])
        select(driver, "Run", "conv/filters")
        wait_until(
            lambda: (
                shown_step(driver) == "5"
                and driver.find_element("css selector", "canvas.grid").get_attribute("data-run")
                == "conv/filters"
            )
        )
        canvas = driver.find_element("css selector", "canvas.grid")
        for _ in range(5):
            canvas.send_keys(Keys.ARROW_LEFT)  # back to the first step, one key at a time
        for step, render in enumerate(renders):
            if step:
                canvas.send_keys(Keys.ARROW_RIGHT)
            wait_until(lambda step=step: shown_step(driver) == str(step), what=f"step {step}")
            assert canvas.get_attribute("data-tag") == "filters/conv1"
            zoom = int(canvas.get_attribute("data-zoom"))
            assert zoom >= 1
            np.testing.assert_array_equal(
                unzoomed(canvas_pixels(driver), zoom), as_rgb(render), err_msg=f"step {step}"
            )
        health = driver.find_element("css selector", "dl.health").text
        assert "drift" in health and "update ratio" in health


def test_a_hostile_run_name_is_shown_as_text_and_runs_nothing(logs):
    from selenium.common.exceptions import NoAlertPresentException

    root, _ = logs
    with tensorboard(root) as server, chromium() as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        open_filters_tab(driver, server.base)
        select(driver, "Run", f"{HOSTILE}/filters")
        wait_until(
            lambda: (
                driver.find_element("css selector", "canvas.grid").get_attribute("data-run")
                == f"{HOSTILE}/filters"
            )
        )
        assert driver.execute_script("return document.querySelectorAll('img').length") == 0
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 (reading it is the test)


def test_play_hover_and_zoom(logs):
    root, renders = logs
    with tensorboard(root) as server, chromium() as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        open_filters_tab(driver, server.base)
        select(driver, "Run", "conv/filters")
        wait_until(lambda: shown_step(driver) == "5")
        select(driver, "Zoom", "3×")
        wait_until(
            lambda: driver.find_element("css selector", "canvas.grid").get_attribute("data-zoom") == "3"
        )
        np.testing.assert_array_equal(unzoomed(canvas_pixels(driver), 3), as_rgb(renders[5]))
        select(driver, "Speed", "30 steps/s")
        driver.execute_script(  # every step the grid canvas shows, in order
            "window.shown = []; const canvas = document.querySelector('canvas.grid');"
            "new MutationObserver(() => shown.push(canvas.dataset.step))"
            ".observe(canvas, {attributes: true, attributeFilter: ['data-step']});"
        )
        play = driver.find_element("css selector", "button[aria-pressed]")
        play.click()  # from the last step: it plays from the start again, and stops at the end
        wait_until(lambda: play.get_attribute("aria-pressed") == "false", what="the end of the film")
        shown = [int(step) for step in driver.execute_script("return shown")]
        assert shown[0] == 0 and shown[-1] == 5 and shown == sorted(set(shown)), shown
        from selenium.webdriver.common.action_chains import ActionChains

        plan_scale, pad = 6, 1  # 5x5 filters are drawn 6x larger, with 1-pixel separators
        canvas = driver.find_element("css selector", "canvas.grid")
        x = (pad + (5 * plan_scale + pad) * 1 + 2) * 3  # inside tile 1 (row 0, column 1), at zoom 3
        y = (pad + 2) * 3
        ActionChains(driver).move_to_element_with_offset(
            canvas, x - canvas.size["width"] // 2, y - canvas.size["height"] // 2
        ).perform()
        tooltip = wait_until(lambda: driver.find_element("css selector", ".tooltip").text, what="the tooltip")
        assert tooltip.startswith("filter 1 · norm ") and " min " in tooltip and " max " in tooltip
