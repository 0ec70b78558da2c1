"""The hostile corpus (tests/helpers/hostile_logs.py) beside a healthy run, served by a real TensorBoard on
127.0.0.1 and opened in headless Chromium: every route of every run answers without a 5xx over HTTP, the
healthy run draws exactly, and a broken run or layer shows why in the tab instead of blanking it."""

import urllib.error

import numpy as np
import pytest

import filterviz
from tests.helpers import as_rgb, hostile_logs
from tests.helpers.browser import canvas_pixels, chromium, open_filters_tab, unzoomed, wait_until
from tests.helpers.tensorboard_server import tensorboard

ROUTES = ("/layer", "/grid", "/delta", "/filters", "/kernel", "/tilemap", "/strip", "/filter_series")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    return root, hostile_logs.corpus(root)


def status(server, path, **query):
    try:
        server.get(path, **query)
        return 200
    except urllib.error.HTTPError as error:
        return error.code


def select_run(driver, run):
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", "select[aria-label='Run']")).select_by_value(run)


def test_the_tab_holds_beside_hostile_files(corpus):
    root, kinds = corpus
    _, kernels = hostile_logs.logged_steps()
    # TensorBoard's own fast loader aborts on the huge-length file, and TensorBoard falls back to its Python
    # loader only when that happens as it starts (docs/hostile-input.md): the Python loader, always.
    with tensorboard(root, "--load_fast", "false") as server, chromium() as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        listing = server.json("/data/plugin/filterviz/runs")
        assert {layer["run"] for layer in listing["layers"]} >= {"healthy/filters", "huge-plan/filters"}
        for layer in listing["layers"]:
            for route in ROUTES:
                for step in (0, 2):
                    code = status(
                        server,
                        f"/data/plugin/filterviz{route}",
                        run=layer["run"],
                        tag=layer["tag"],
                        step=step,
                        filter=step,
                    )
                    assert code < 500, (layer["run"], route, code)
        assert "filterviz could not answer" not in server.log()

        open_filters_tab(driver, server.base)
        select_run(driver, "healthy/filters")
        canvas = wait_until(
            lambda: (
                (c := driver.find_element("css selector", "canvas.grid")).get_attribute("data-run")
                == "healthy/filters"
                and c.get_attribute("data-step") == str(len(kernels) - 1)
                and c
            ),
            what="the healthy run's newest grid",
        )
        shown = unzoomed(canvas_pixels(driver), int(canvas.get_attribute("data-zoom")))
        np.testing.assert_array_equal(shown, as_rgb(filterviz.kernel_grid(kernels[-1])))

        message = lambda: driver.find_element("css selector", ".message").text  # noqa: E731
        select_run(driver, "huge-plan/filters")
        wait_until(
            lambda: "This layer cannot be shown: its description in the log is not valid" in message(),
            what="the layer's note",
        )
        assert not driver.find_elements("css selector", "canvas.grid")  # the healthy run's grid is gone
        select_run(driver, "undecodable/filters")
        wait_until(
            lambda: "Part of this run could not be read, and is not shown" in message(), what="the run's note"
        )
        wait_until(
            lambda: driver.find_element("css selector", "canvas.grid").get_attribute("data-step") == "0"
        )
        select_run(driver, "png-bomb/filters")
        wait_until(lambda: "not the layer's grid size" in message(), what="the failed request's message")
        assert kinds["png-bomb"] == "grid"
