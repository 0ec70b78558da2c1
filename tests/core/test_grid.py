"""Tiles -> grid: placement, padding, scale, caps and the size bound."""

import numpy as np
import pytest

from filterviz.core.grid import (
    AUTO_SCALE_MAX_PIXELS,
    MARKER_COLOUR,
    MAX_GRID_PIXELS,
    GridPlan,
    compose_grid,
    plan_grid,
)
from filterviz.core.renderer import kernel_grid
from tests.helpers import PAD, cell, padding_mask


def numbered_tiles(n, h=2, w=3, c=1):
    """Tile i filled with the value i (plus a gradient inside, to catch flips)."""
    tiles = np.zeros((n, 1, h, w, c), np.uint8)
    tiles += np.arange(n, dtype=np.uint8)[:, None, None, None, None] * 10
    tiles[:, :, 0, 0] += 1
    return tiles


def test_row_major_placement_with_default_ncols():
    tiles = numbered_tiles(7)
    plan = plan_grid(7, 1, (2, 3), scale=1)
    assert (plan.rows, plan.cols) == (3, 3)  # ceil(sqrt(7)) = 3
    image = compose_grid(tiles, plan)
    for i in range(7):
        block = cell(image, i // 3, i % 3, (2, 3))
        np.testing.assert_array_equal(block, np.broadcast_to(tiles[i, 0], (2, 3, 3)))
    # cells after the last tile stay in the separator colour
    assert (cell(image, 2, 1, (2, 3)) == PAD).all() and (cell(image, 2, 2, (2, 3)) == PAD).all()


def test_explicit_ncols_and_a_width_clamped_to_the_tile_count():
    plan = plan_grid(7, 1, (2, 3), ncols=2, scale=1)
    assert (plan.rows, plan.cols) == (4, 2)
    image = compose_grid(numbered_tiles(7), plan)
    assert cell(image, 3, 0, (2, 3))[0, 0, 0] == 61  # tile 6 at row 3, column 0
    assert plan_grid(3, 1, (2, 3), ncols=10, scale=1).cols == 3


def test_padding_lines_between_tiles_and_around_the_border_are_the_separator_colour():
    plan = plan_grid(4, 1, (2, 3), padding=2, scale=1)
    image = compose_grid(numbered_tiles(4) + 100, plan)
    assert image.shape == (2 * 2 + 3 * 2, 2 * 3 + 3 * 2, 3)
    mask = padding_mask(image, 2, 2, (2, 3), padding=2)
    assert (image[mask] == PAD).all()
    assert not (image[~mask] == PAD).all(axis=-1).any()


def test_padding_zero_lets_tiles_touch_and_keeps_gray_single_channel():
    plan = plan_grid(4, 1, (2, 3), padding=0, scale=1)
    tiles = numbered_tiles(4)
    image = compose_grid(tiles, plan)
    assert image.shape == (4, 6, 1)
    np.testing.assert_array_equal(image[2:4, 3:6, 0], tiles[3, 0, ..., 0])


def test_scale_repeats_each_weight_as_a_block_without_interpolation():
    tiles = np.arange(6, dtype=np.uint8).reshape(1, 1, 2, 3, 1) * 40
    plan = plan_grid(1, 1, (2, 3), scale=4, padding=0)
    image = compose_grid(tiles, plan)[..., 0]
    assert image.shape == (8, 12)
    np.testing.assert_array_equal(image, np.kron(tiles[0, 0, ..., 0], np.ones((4, 4), np.uint8)))
    assert set(np.unique(image)) == set(tiles.ravel())


@pytest.mark.parametrize("side, expected", [(1, 32), (3, 10), (7, 4), (11, 2), (28, 1), (64, 1)])
def test_automatic_scale_makes_small_kernels_visible(side, expected):
    assert plan_grid(16, 1, (side, side)).scale == expected


@pytest.mark.parametrize(
    "tile, expected", [((3, 9), 3), ((9, 3), 3), ((1, 9), 3), ((2, 40), 1), ((5, 16), 2)]
)
def test_automatic_scale_is_set_by_the_longer_side_of_a_tile(tile, expected):
    assert plan_grid(16, 1, tile).scale == expected


def test_a_conv1d_strip_is_scaled_by_its_length_not_its_channels():
    kernel = np.random.default_rng(0).standard_normal((9, 3, 4)).astype(np.float32)  # 9 taps, 3 channels
    image = kernel_grid(kernel, padding=0)
    assert image.shape[:2] == (2 * 3 * 3, 2 * 9 * 3)  # 2 x 2 strips of 3x9 weights, each weight 3x3 pixels


def test_automatic_scale_never_upscales_past_its_bound():
    plan = plan_grid(16384, 1, (3, 3))  # at the usual scale 10 this would be 3969 px square
    assert plan.height * plan.width <= AUTO_SCALE_MAX_PIXELS
    assert 1 < plan.scale < 10
    bigger = plan_grid(16384, 1, (3, 3), scale=plan.scale + 1)
    assert bigger.height * bigger.width > AUTO_SCALE_MAX_PIXELS


def test_per_channel_layout_has_a_row_per_unit_and_a_column_per_channel():
    tiles = np.zeros((3, 5, 2, 2, 1), np.uint8)
    tiles += (np.arange(3)[:, None] * 10 + np.arange(5)[None, :]).astype(np.uint8)[..., None, None, None]
    plan = plan_grid(3, 5, (2, 2), ncols=2, scale=1)  # ncols does not apply here
    assert (plan.rows, plan.cols) == (3, 5)
    image = compose_grid(tiles, plan)
    assert cell(image, 2, 4, (2, 2))[0, 0, 0] == 24
    assert cell(image, 1, 0, (2, 2))[1, 1, 0] == 10


def test_max_tiles_keeps_the_first_units():
    plan = plan_grid(100, 1, (3, 3), max_tiles=10)
    assert plan.units == 10 and plan.tiles == 10
    per_channel = plan_grid(100, 8, (3, 3), max_tiles=20)
    assert (per_channel.units, per_channel.tiles_per_unit) == (2, 8)
    wide = plan_grid(100, 64, (3, 3), max_tiles=20)
    assert (wide.units, wide.tiles_per_unit) == (1, 20)


def test_huge_layers_are_cut_to_the_pixel_bound():
    plan = plan_grid(50_000, 1, (28, 28))
    assert plan.shrunk_to_fit
    assert plan.height * plan.width <= MAX_GRID_PIXELS
    assert not plan_grid(plan.units, 1, (28, 28)).shrunk_to_fit  # exactly as many as fit:
    assert plan_grid(plan.units + 1, 1, (28, 28)).shrunk_to_fit  # one more unit would not
    channels = plan_grid(1024, 512, (3, 3))
    assert channels.height * channels.width <= MAX_GRID_PIXELS


def test_an_explicit_scale_over_the_bound_is_an_error_naming_the_fix():
    with pytest.raises(ValueError, match=r"scale=8 makes a .* grid, more than the 16,777,216-pixel bound"):
        plan_grid(4096, 1, (28, 28), scale=8)


def test_marker_pixels_are_drawn_in_the_marker_colour():
    tiles = numbered_tiles(2)
    marker = np.zeros((2, 1, 2, 3), bool)
    marker[1, 0, 1, 2] = True
    plan = plan_grid(2, 1, (2, 3), scale=1, padding=0)
    image = compose_grid(tiles, plan, marker=marker)
    assert image.shape[-1] == 3
    assert tuple(image[1, 5]) == MARKER_COLOUR
    assert tuple(image[1, 4]) == (10, 10, 10)


def test_a_lookup_table_colours_single_channel_tiles():
    lut = np.zeros((256, 3), np.uint8)
    lut[:, 0] = np.arange(256)
    lut[:, 2] = 255 - np.arange(256)
    plan = plan_grid(1, 1, (1, 2), scale=1, padding=0)
    image = compose_grid(np.array([[[[[0], [200]]]]], np.uint8), plan, lut=lut)
    assert image[0].tolist() == [[0, 0, 255], [200, 0, 55]]


@pytest.mark.parametrize("scale, padding, tiles_per_unit", [(1, 1, 1), (3, 0, 1), (2, 2, 3)])
def test_cell_and_unit_boxes_are_where_the_readme_puts_tiles(scale, padding, tiles_per_unit):
    plan = GridPlan(
        units=5,
        tiles_per_unit=tiles_per_unit,
        rows=5 if tiles_per_unit > 1 else 2,
        cols=tiles_per_unit if tiles_per_unit > 1 else 3,
        tile_height=4,
        tile_width=3,
        scale=scale,
        padding=padding,
    )
    canvas = np.zeros((plan.height, plan.width), np.int32)
    for row in range(plan.rows):
        for column in range(plan.cols):
            top, left, height, width = plan.cell_box(row, column)
            expected = cell(canvas, row, column, (4, 3), scale, padding)
            assert canvas[top : top + height, left : left + width].shape == expected.shape
            canvas[top : top + height, left : left + width] += 1
            assert (expected == 1).all()  # the same pixels the documented layout names
    for unit in range(plan.units):
        top, left, height, width = plan.unit_box(unit)
        row, column = (unit, 0) if tiles_per_unit > 1 else divmod(unit, plan.cols)
        assert (top, left) == plan.cell_box(row, column)[:2]
        last = plan.cell_box(row, column + tiles_per_unit - 1)
        assert left + width == last[1] + last[3]
