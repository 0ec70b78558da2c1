"""Mixed and low precision: kernels rendered exactly as their float32 values, no overflow anywhere."""

import warnings

import keras
import ml_dtypes
import numpy as np
import pytest

import filterviz
from tests.helpers import logged_images, tiny_data, tiny_model

NUMPY_DTYPES = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32}


@pytest.fixture
def policy():
    """Sets a global dtype policy for the test and puts float32 back afterwards."""
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy("float32")


def conv_model():
    return keras.Sequential([keras.Input((5, 5, 3)), keras.layers.Conv2D(8, 3, name="conv")])


@pytest.mark.parametrize("name", ["mixed_float16", "mixed_bfloat16", "float16", "bfloat16"])
def test_kernels_render_as_their_values_cast_to_float32(policy, name):
    policy(name)
    model = conv_model()
    variable = model.layers[0].kernel
    stored = (
        np.random.default_rng(0).standard_normal(variable.shape).astype(NUMPY_DTYPES[str(variable.dtype)])
    )
    variable.assign(stored)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no precision warning on the way
        image = filterviz.render(model, normalize="symmetric", clip_percentile=99)
    expected = filterviz.kernel_grid(stored.astype(np.float32), normalize="symmetric", clip_percentile=99)
    np.testing.assert_array_equal(image, expected)


def test_float16_weights_near_the_top_of_their_range_do_not_overflow(policy):
    policy("float16")
    model = conv_model()
    stored = np.linspace(-65000, 65000, 3 * 3 * 3 * 8).reshape(3, 3, 3, 8).astype(np.float16)
    model.layers[0].kernel.assign(stored)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in ("per_tile", "global", "symmetric"):
            image = filterviz.render(model, normalize=mode, scale=1)
            np.testing.assert_array_equal(
                image, filterviz.kernel_grid(stored.astype(np.float32), normalize=mode, scale=1)
            )


def test_the_callback_under_a_mixed_precision_policy(policy, tmp_path):
    policy("mixed_float16")
    model = tiny_model()
    x, y = tiny_data(16)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path)])
    logged = logged_images(tmp_path / "filters", "filters/dense")
    assert [step for step, _ in logged] == [0, 1, 2]
    np.testing.assert_array_equal(logged[-1][1], filterviz.render(model))
