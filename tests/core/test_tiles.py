"""Kernel (Keras layout) -> tiles: which weight lands in which tile pixel."""

import numpy as np
import pytest

from filterviz.core.tiles import nearly_square, tile_layout, tile_values, tiles_from_levels


def round_trip(kernel, layout, units, tiles_per_unit):
    """Columns out, then back in one row per tile, as normalizing hands them on."""
    values = tile_values(kernel, layout, units, tiles_per_unit)
    return tiles_from_levels(values.T.copy(), layout, units, tiles_per_unit)


def all_tiles(kernel, **kwargs):
    layout = tile_layout(kernel.shape, **kwargs)
    return layout, round_trip(kernel, layout, layout.units, layout.tiles_per_unit)


def test_conv2d_tile_i_is_kernel_i_with_channels_in_order():
    kernel = np.random.default_rng(0).standard_normal((5, 4, 3, 7))
    layout, tiles = all_tiles(kernel)
    assert tiles.shape == (7, 1, 5, 4, 3)
    for i in range(7):
        np.testing.assert_array_equal(tiles[i, 0], kernel[:, :, :, i])
    assert layout.kind == "conv2d" and layout.tile_channels == 3 and not layout.per_channel


def test_conv2d_bgr_flips_the_channel_axis():
    kernel = np.random.default_rng(1).standard_normal((3, 3, 3, 2))
    _, tiles = all_tiles(kernel, bgr=True)
    np.testing.assert_array_equal(tiles[1, 0, ..., 0], kernel[..., 2, 1])  # red shows the B input
    np.testing.assert_array_equal(tiles[1, 0, ..., 2], kernel[..., 0, 1])


def test_conv2d_with_other_channel_counts_gives_one_tile_per_input_channel():
    kernel = np.random.default_rng(2).standard_normal((3, 2, 5, 4))
    layout, tiles = all_tiles(kernel)
    assert layout.per_channel and layout.tiles_per_unit == 5
    assert tiles.shape == (4, 5, 3, 2, 1)
    for unit in range(4):
        for channel in range(5):
            np.testing.assert_array_equal(tiles[unit, channel, ..., 0], kernel[:, :, channel, unit])


def test_dense_hwc_tile_is_the_column_reshaped_in_keras_flatten_order():
    h, w, c, n = 2, 3, 3, 4
    kernel = np.random.default_rng(3).standard_normal((h * w * c, n))
    _, tiles = all_tiles(kernel, tile_shape=(h, w, c))
    for i in range(n):
        for y in range(h):
            for x in range(w):
                for ch in range(c):
                    assert tiles[i, 0, y, x, ch] == kernel[(y * w + x) * c + ch, i]


def test_dense_chw_reads_channels_first_flattened_inputs():
    h, w, c, n = 2, 3, 3, 2
    kernel = np.random.default_rng(4).standard_normal((h * w * c, n))
    _, tiles = all_tiles(kernel, tile_shape=(h, w, c), flatten_order="chw")
    for i in range(n):
        for y in range(h):
            for x in range(w):
                for ch in range(c):
                    assert tiles[i, 0, y, x, ch] == kernel[(ch * h + y) * w + x, i]


def test_dense_flat_input_becomes_the_most_nearly_square_gray_tile():
    layout, tiles = all_tiles(np.zeros((3072, 2)))
    assert layout.image_shape == (48, 64, 1) and layout.shape_source == "flat"
    assert tiles.shape == (2, 1, 48, 64, 1)


@pytest.mark.parametrize(
    "n, expected", [(1, (1, 1)), (64, (8, 8)), (784, (28, 28)), (12, (3, 4)), (37, (1, 37)), (3072, (48, 64))]
)
def test_nearly_square(n, expected):
    assert nearly_square(n) == expected


def test_capping_keeps_the_first_units_and_channels():
    kernel = np.random.default_rng(5).standard_normal((3, 3, 6, 10))
    tiles = round_trip(kernel, tile_layout(kernel.shape), 4, 2)
    assert tiles.shape == (4, 2, 3, 3, 1)
    np.testing.assert_array_equal(tiles[3, 1, ..., 0], kernel[:, :, 1, 3])


@pytest.mark.parametrize(
    "shape, kwargs, message",
    [
        ((784, 10), {"tile_shape": (28, 28, 3)}, "holds 2352 values, but each unit"),
        ((3, 3, 3, 8), {"tile_shape": (3, 3, 3)}, "tile_shape applies to Dense kernels"),
        ((3, 3, 1, 8), {"bgr": True}, "bgr=True flips the colour channels of 3-channel tiles"),
        ((2, 2, 2, 2, 3, 8), {}, "none of the kinds filterviz draws"),
        ((5, 3, 8), {"kind": "conv2d"}, r"A conv2d kernel has 4 axes; this one has shape \(5, 3, 8\)"),
        ((5, 5, 3, 8), {"kind": "lstm"}, "none of the kinds filterviz draws"),
        ((0, 4), {}, "empty"),
    ],
)
def test_bad_kernels_and_options_are_named(shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tile_layout(shape, **kwargs)
