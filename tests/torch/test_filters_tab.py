"""The Filters tab shows torch trainings unchanged: a real `tensorboard` on 127.0.0.1 and headless Chromium
on the logs of a plain loop and of a Lightning fit, side by side; what the canvas shows is the grid of the
layer's weights at that step, and both runs' health curves are drawn."""

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

import filterviz.lightning
import filterviz.torch
from filterviz.dashboard.links import view_link
from tests.helpers import as_rgb
from tests.helpers.browser import canvas_pixels, chromium, unzoomed, wait_until
from tests.helpers.tensorboard_server import tensorboard
from tests.helpers.torch_models import StepRecorder, digits, digits_cnn, kernel_picture, train
from tests.torch.test_lightning import fit


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    images, labels = digits(96)
    model = digits_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    recorder = StepRecorder(model[0], optimizer)
    with filterviz.torch.watch(model, optimizer, root / "loop", every_n_steps=1):
        train(model, optimizer, images, labels, epochs=2)
    lightning_logger = pl.loggers.TensorBoardLogger(root, name="lightning", version="")
    fit(lightning_logger, filterviz.lightning.FilterLogger(every_n_steps=1), epochs=1)
    return root, model, recorder


def test_a_torch_run_is_drawn_as_its_weights_with_a_lightning_run_beside_it(logs):
    root, model, recorder = logs
    with tensorboard(root) as server, chromium() as driver:
        server.wait_for("/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"])
        driver.get(view_link(server.base, "loop/filters", "filters/0", ["lightning/filters"], step=3))
        frame = wait_until(lambda: driver.find_element("css selector", "iframe"), what="the tab's frame")
        driver.switch_to.frame(frame)
        canvas = wait_until(
            lambda: next(
                (
                    c
                    for c in driver.find_elements("css selector", "canvas.grid")
                    if c.get_attribute("data-step") == "3"
                ),
                None,
            ),
            what="step 3 of the loop's run",
        )
        assert canvas.get_attribute("data-run") == "loop/filters"
        zoom = int(canvas.get_attribute("data-zoom"))
        expected = as_rgb(kernel_picture(model[0], recorder.after[3]))
        np.testing.assert_array_equal(unzoomed(canvas_pixels(driver), zoom), expected)
        legend = wait_until(
            lambda: (
                "lightning/filters" in driver.find_element("css selector", ".runs-legend").text
                and driver.find_element("css selector", ".runs-legend").text
            ),
            what="both runs in the health charts' legend",
        )
        assert "loop/filters" in legend
