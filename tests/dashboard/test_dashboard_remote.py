"""The Filters tab on a log directory in an object store: a real TensorBoard reading `s3://` through fsspec
(as it does without TensorFlow), a real S3 API server on 127.0.0.1, and headless Chromium. Every logged step
is there, not TensorBoard's sample of 10, and each is drawn pixel for pixel as it was logged."""

import keras
import numpy as np

import filterviz
from tests.helpers import as_rgb, logged_images, small_conv_model
from tests.helpers.browser import canvas_pixels, chromium, open_filters_tab, unzoomed, wait_until
from tests.helpers.tensorboard_server import tensorboard

STEPS = list(range(13))  # every batch of 3 epochs of 4, and the initial state: more than TensorBoard keeps


def test_every_step_of_a_run_in_a_bucket_is_shown_exactly(bucket, tmp_path):
    import io

    from PIL import Image

    model = small_conv_model(12, 16)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    rng = np.random.default_rng(0)
    x, y = (
        rng.standard_normal((64, 12, 12, 3)).astype(np.float32),
        rng.standard_normal((64, 2)).astype(np.float32),
    )
    url = f"s3://{bucket}/fv"
    loggers = [filterviz.FilterLogger(where, every_n_steps=1) for where in (url, tmp_path / "local")]
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=loggers)
    expected = dict(logged_images(tmp_path / "local" / "filters", "filters/conv1"))
    assert sorted(expected) == STEPS

    with tensorboard(url, filterviz_tensorboard=True) as server:
        answer = server.wait_for("/data/plugin/filterviz/runs", lambda runs: runs["layers"])
        (layer,) = answer["layers"]
        assert (layer["run"], layer["tag"], layer["steps"]) == ("filters", "filters/conv1", len(STEPS))
        assert answer["problems"] == {}
        for step in STEPS:
            png = server.get("/data/plugin/filterviz/grid", run="filters", tag="filters/conv1", step=step)
            np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), expected[step][..., :3])

        with chromium() as driver:
            from selenium.webdriver.common.keys import Keys

            open_filters_tab(driver, server.base)
            canvas = driver.find_element("css selector", "canvas.grid")
            wait_until(lambda: canvas.get_attribute("data-step") == str(STEPS[-1]), what="the last step")
            for _ in STEPS[1:]:
                canvas.send_keys(Keys.ARROW_LEFT)
            for step in STEPS:
                if step:
                    canvas.send_keys(Keys.ARROW_RIGHT)
                wait_until(
                    lambda step=step: canvas.get_attribute("data-step") == str(step), what=f"step {step}"
                )
                zoom = int(canvas.get_attribute("data-zoom"))
                np.testing.assert_array_equal(
                    unzoomed(canvas_pixels(driver), zoom), as_rgb(expected[step]), err_msg=f"step {step}"
                )
