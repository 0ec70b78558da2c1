"""Pixel truth: hand-built kernels drawn through real Keras models, read back pixel by pixel.

For Dense layers the truth comes from Keras itself: the response of unit i to an image that is 1 at
(y, x, c) and 0 elsewhere is unit i's weight for that pixel, which is what tile i must show there.
"""

import warnings

import keras
import numpy as np
import pytest
from keras import layers

import filterviz
from filterviz.core.grid import MARKER_COLOUR
from filterviz.core.png import decode_png
from tests.helpers import PAD, cell, global_levels, padding_mask, responses, tile, unique_weights


def check_dense_tiles(model, per_unit_hwc, ncols, **options):
    image = filterviz.render(model, normalize="global", scale=1, **options)
    expected = global_levels(per_unit_hwc)
    h, w, _ = per_unit_hwc.shape[1:]
    for i in range(len(per_unit_hwc)):
        np.testing.assert_array_equal(tile(image, i, ncols, (h, w)), expected[i], err_msg=f"tile {i}")
    return image


def test_dense_after_flatten_of_an_hwc_image():
    model = keras.Sequential([keras.Input((2, 3, 3)), layers.Flatten(), layers.Dense(4, use_bias=False)])
    model.layers[-1].kernel.assign(unique_weights((18, 4)))
    truth = responses(model, (2, 3, 3), 4)  # (unit, y, x, c)
    image = check_dense_tiles(model, truth, ncols=2)
    assert image.shape == (2 * 2 + 3, 2 * 3 + 3, 3)
    # Spelled out once: unit 3's weight for the blue input at row 1, column 2 is kernel[17, 3].
    kernel = keras.ops.convert_to_numpy(model.layers[-1].kernel)
    assert tile(image, 3, 2, (2, 3))[1, 2, 2] == global_levels(kernel)[(1 * 3 + 2) * 3 + 2, 3]


def test_dense_on_a_flat_input_with_tile_shape():
    model = keras.Sequential([keras.Input((18,)), layers.Dense(5, use_bias=False)])
    model.layers[-1].kernel.assign(unique_weights((18, 5), seed=1))
    truth = responses(model, (18,), 5).reshape(5, 2, 3, 3)  # the data was flattened (H, W, C)
    check_dense_tiles(model, truth, ncols=3, tile_shape=(2, 3, 3))
    kernel_image = filterviz.kernel_grid(
        keras.ops.convert_to_numpy(model.layers[-1].kernel), tile_shape=(2, 3, 3), normalize="global", scale=1
    )
    np.testing.assert_array_equal(
        kernel_image, filterviz.render(model, tile_shape=(2, 3, 3), normalize="global", scale=1)
    )


def test_dense_on_data_flattened_channels_first_outside_the_model():
    model = keras.Sequential([keras.Input((18,)), layers.Dense(2, use_bias=False)])
    model.layers[-1].kernel.assign(unique_weights((18, 2), seed=2))
    chw = responses(model, (18,), 2).reshape(2, 3, 2, 3)  # (unit, c, y, x)
    check_dense_tiles(model, chw.transpose(0, 2, 3, 1), ncols=2, tile_shape=(2, 3, 3), flatten_order="chw")


def test_channels_first_model_with_flatten():
    model = keras.Sequential(
        [
            keras.Input((3, 2, 4)),
            layers.Flatten(data_format="channels_first"),
            layers.Dense(3, use_bias=False),
        ]
    )
    model.layers[-1].kernel.assign(unique_weights((24, 3), seed=3))
    chw = responses(model, (3, 2, 4), 3)  # one-hots in the model's own (C, H, W) input
    check_dense_tiles(model, chw.transpose(0, 2, 3, 1), ncols=2)


def conv_model(cin, filters, kh=3, kw=2, data_format="channels_last", seed=0):
    shape = (6, 6, cin) if data_format == "channels_last" else (cin, 6, 6)
    model = keras.Sequential([keras.Input(shape), layers.Conv2D(filters, (kh, kw), data_format=data_format)])
    kernel = unique_weights((kh, kw, cin, filters), seed)
    model.layers[-1].kernel.assign(kernel)
    return model, kernel


def test_conv2d_with_one_input_channel_gives_gray_tiles():
    model, kernel = conv_model(1, 5)
    image = filterviz.render(model, normalize="global", scale=1)
    expected = global_levels(kernel)
    for i in range(5):
        block = tile(image, i, 3, (3, 2))
        assert (block == expected[:, :, 0, i][..., None]).all()  # R = G = B = the gray level


def test_conv2d_with_three_input_channels_gives_rgb_tiles_in_channel_order():
    model, kernel = conv_model(3, 4, seed=1)
    image = filterviz.render(model, normalize="global", scale=1)
    expected = global_levels(kernel)
    for i in range(4):
        np.testing.assert_array_equal(tile(image, i, 2, (3, 2)), expected[..., i])
    assert tile(image, 2, 2, (3, 2))[2, 1, 0] == expected[2, 1, 0, 2]  # red of filter 2, bottom right


def test_conv2d_bgr_shows_the_blue_input_as_blue():
    model, kernel = conv_model(3, 2, seed=2)
    image = filterviz.render(model, normalize="global", scale=1, bgr=True)
    expected = global_levels(kernel)
    for i in range(2):
        np.testing.assert_array_equal(tile(image, i, 2, (3, 2)), expected[..., ::-1, i])


def test_conv2d_with_five_input_channels_has_a_row_per_filter_and_a_column_per_channel():
    model, kernel = conv_model(5, 3, seed=3)
    image = filterviz.render(model, normalize="global", scale=1)
    expected = global_levels(kernel)
    assert image.shape == (3 * 4 + 1, 5 * 3 + 1, 3)
    for f in range(3):
        for c in range(5):
            block = cell(image, f, c, (3, 2))
            assert (block == expected[:, :, c, f][..., None]).all(), (f, c)


def test_conv2d_channels_first_has_the_same_kernel_layout():
    model, kernel = conv_model(3, 4, data_format="channels_first", seed=4)
    image = filterviz.render(model, normalize="global", scale=1)
    for i in range(4):
        np.testing.assert_array_equal(tile(image, i, 2, (3, 2)), global_levels(kernel)[..., i])


def test_padding_and_scale_through_render():
    model, _ = conv_model(3, 4)
    image = filterviz.render(model, scale=3, padding=2)
    assert image.shape == (2 * 9 + 3 * 2, 2 * 6 + 3 * 2, 3)
    assert (image[padding_mask(image, 2, 2, (3, 2), scale=3, padding=2)] == PAD).all()
    block = cell(image, 1, 1, (3, 2), scale=3, padding=2)
    assert (block == np.repeat(np.repeat(block[::3, ::3], 3, 0), 3, 1)).all()


def test_save_png_writes_exactly_the_rendered_grid(tmp_path):
    model, _ = conv_model(3, 6)
    path = filterviz.save_png(model, tmp_path / "sub" / "filters.png", normalize="symmetric")
    assert path == tmp_path / "sub" / "filters.png"
    np.testing.assert_array_equal(
        decode_png(path.read_bytes()), filterviz.render(model, normalize="symmetric")
    )


def test_gray_grid_without_padding_is_single_channel():
    model, kernel = conv_model(1, 4)
    image = filterviz.render(model, padding=0, scale=1, normalize="global")
    assert image.shape == (6, 4, 1)
    np.testing.assert_array_equal(image[:3, :2, 0], global_levels(kernel)[:, :, 0, 0])


def test_nan_weights_are_drawn_in_the_marker_colour_with_one_warning():
    model, kernel = conv_model(1, 4)
    kernel[1, 1, 0, 2] = np.nan
    kernel[0, 0, 0, 3] = np.inf
    model.layers[-1].kernel.assign(kernel)
    with pytest.warns(filterviz.FilterVizWarning, match="NaN or Inf weights; they are drawn in magenta") as w:
        image = filterviz.render(model, scale=1)
    assert len([x for x in w if issubclass(x.category, filterviz.FilterVizWarning)]) == 1
    assert tuple(tile(image, 2, 2, (3, 2))[1, 1]) == MARKER_COLOUR
    assert tuple(tile(image, 3, 2, (3, 2))[0, 0]) == MARKER_COLOUR
    finite = np.isfinite(kernel[:, :, 0, 2])
    assert (tile(image, 2, 2, (3, 2))[finite] != MARKER_COLOUR).any(axis=-1).all()


def test_diverging_colour_map_with_symmetric_normalization():
    model, kernel = conv_model(1, 2)
    kernel[:] = 0
    kernel[0, 0, 0, 0], kernel[0, 1, 0, 0] = -2, 2
    model.layers[-1].kernel.assign(kernel)
    image = filterviz.render(model, normalize="symmetric", cmap="diverging", scale=1)
    first = tile(image, 0, 2, (3, 2))
    assert tuple(first[0, 0]) == (0, 0, 255) and tuple(first[0, 1]) == (255, 0, 0)
    assert min(first[1, 0]) >= 253  # zero is white


def test_cmap_on_rgb_tiles_is_an_error():
    model, _ = conv_model(3, 2)
    with pytest.raises(ValueError, match=r"cmap='diverging' colours single-channel tiles.*RGB"):
        filterviz.render(model, cmap="diverging")


def test_mixed_and_low_precision_kernels_render_like_float32():
    kernel = unique_weights((3, 3, 3, 8)) / 100
    expected = filterviz.kernel_grid(kernel.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(filterviz.kernel_grid(kernel.astype(np.float16)), expected)


def test_max_tiles_draws_the_first_units_in_order():
    model, kernel = conv_model(3, 10)
    image = filterviz.render(model, max_tiles=4, normalize="global", scale=1)
    assert image.shape == (2 * 4 + 1, 2 * 3 + 1, 3)
    shown = kernel[..., :4]
    for i in range(4):
        np.testing.assert_array_equal(tile(image, i, 2, (3, 2)), global_levels(shown)[..., i])


def test_render_never_changes_the_weights():
    model, kernel = conv_model(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        filterviz.render(model, clip_percentile=99, normalize="symmetric")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.layers[-1].kernel), kernel)
