"""Tiles of gray levels -> one uint8 grid image.  numpy only.

Tile i sits at row i // ncols, column i % ncols (row-major); when each input channel is its own tile,
row r holds unit r and column c its input channel c. Every weight becomes a scale x scale block of
pixels (nearest neighbour, never interpolated). Separator lines of `padding` pixels run between tiles
and around the border in PADDING_COLOUR, which is not a gray: in per-tile mode every tile spans black
to white, so no gray could stand apart from tile content. A grid with padding is therefore RGB; a grid
that is all gray (padding=0, no colour map, no marker) stays single-channel.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np

PADDING_COLOUR = (0, 150, 136)  # teal: apart from grays, from blue-white-red and from the marker
MARKER_COLOUR = (255, 0, 255)  # magenta: NaN and +-Inf weights

MAX_GRID_PIXELS = 4096 * 4096  # hard bound on height * width: beyond it, fewer tiles are drawn
AUTO_SCALE_MAX_PIXELS = 2048 * 2048  # an automatic scale never upscales a grid beyond this
AUTO_SCALE_TILE_SIDE = 32  # an automatic scale brings a tile's longer side up towards this many pixels


@dataclass(frozen=True)
class GridPlan:
    """Which tiles are drawn and where: fixed for a layer, so every step shows the same units."""

    units: int  # the first `units` units are drawn
    tiles_per_unit: int  # and of each, the first `tiles_per_unit` tiles (input channels)
    rows: int
    cols: int
    tile_height: int
    tile_width: int
    scale: int
    padding: int
    shrunk_to_fit: bool = False  # fewer units than asked for, to stay within MAX_GRID_PIXELS

    @property
    def height(self) -> int:
        return _extent(self.rows, self.tile_height, self.scale, self.padding)

    @property
    def width(self) -> int:
        return _extent(self.cols, self.tile_width, self.scale, self.padding)

    @property
    def tiles(self) -> int:
        return self.units * self.tiles_per_unit

    def cell_box(self, row: int, column: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) in grid pixels of the tile at (row, column): the one statement of
        where a tile lies, which the browser's geometry.js follows."""
        height, width = self.tile_height * self.scale, self.tile_width * self.scale
        return (
            self.padding + row * (height + self.padding),
            self.padding + column * (width + self.padding),
            height,
            width,
        )

    def unit_box(self, unit: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) of all that is drawn of unit `unit`: its tile, or with one tile per
        input channel its whole row."""
        if self.tiles_per_unit > 1:
            top, left, height, width = self.cell_box(unit, 0)
            return top, left, height, self.tiles_per_unit * (width + self.padding) - self.padding
        return self.cell_box(*divmod(unit, self.cols))


def _extent(cells: int, tile: int, scale: int, padding: int) -> int:
    return cells * (tile * scale + padding) + padding


def plan_grid(
    units: int,
    tiles_per_unit: int,
    tile_size: tuple[int, int],
    *,
    ncols: int | None = None,
    padding: int = 1,
    scale: int | None = None,
    max_tiles: int | None = None,
) -> GridPlan:
    """Choose the tiles drawn, the grid's shape and the scale.

    `tiles_per_unit > 1` means one row per unit, one column per input channel (`ncols` is ignored).
    `max_tiles` keeps the first units, and when one unit alone has more tiles, its first channels.
    If the grid would still exceed MAX_GRID_PIXELS at scale 1, fewer units are kept (the caller warns).
    Raises ValueError if an explicit `scale` makes the grid exceed MAX_GRID_PIXELS.
    """
    height, width = tile_size
    shown_per_unit = tiles_per_unit
    if max_tiles is not None:
        shown_per_unit = min(tiles_per_unit, max_tiles)
        units = min(units, max(1, max_tiles // shown_per_unit))

    def layout(u: int, g: int, s: int) -> GridPlan:
        if tiles_per_unit > 1:
            rows, cols = u, g
        else:
            cols = min(ncols or math.ceil(math.sqrt(u)), u)
            rows = math.ceil(u / cols)
        return GridPlan(u, g, rows, cols, height, width, s, padding)

    def pixels(plan: GridPlan) -> int:
        return plan.height * plan.width

    plan = layout(units, shown_per_unit, scale or 1)
    if pixels(plan) > MAX_GRID_PIXELS:
        if scale not in (None, 1):
            raise ValueError(
                f"scale={scale} makes a {plan.height}x{plan.width} grid, more than the "
                f"{MAX_GRID_PIXELS:,}-pixel bound. Use a smaller scale, or max_tiles to draw fewer tiles."
            )
        plan = _largest_that_fits(units, shown_per_unit, lambda u, g: layout(u, g, 1), pixels)
        plan = dataclasses.replace(plan, shrunk_to_fit=True)
    if scale is None:
        side = max(height, width)
        best = max(1, AUTO_SCALE_TILE_SIDE // side)
        while best > 1 and pixels(layout(plan.units, plan.tiles_per_unit, best)) > AUTO_SCALE_MAX_PIXELS:
            best -= 1
        plan = dataclasses.replace(plan, scale=best)
    return plan


def _largest_that_fits(units, per_unit, layout, pixels) -> GridPlan:
    """The plan with the most units (then channels) whose grid has at most MAX_GRID_PIXELS pixels."""
    single = layout(1, 1)
    if pixels(single) > MAX_GRID_PIXELS:
        raise ValueError(
            f"One {single.tile_height}x{single.tile_width} tile is larger than the {MAX_GRID_PIXELS:,}-pixel "
            "bound of a grid. Give a smaller tile_shape."
        )
    if pixels(layout(1, per_unit)) > MAX_GRID_PIXELS:  # one unit's channels alone are too many
        fits = _bisect(per_unit, lambda g: pixels(layout(1, g)) <= MAX_GRID_PIXELS)
        return layout(1, fits)
    fits = _bisect(units, lambda u: pixels(layout(u, per_unit)) <= MAX_GRID_PIXELS)
    return layout(fits, per_unit)


def _bisect(upper: int, fits) -> int:
    """The largest n in [1, upper] with fits(n), given fits(1) and that fits is monotone."""
    low, high = 1, upper
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def compose_grid(
    tiles: np.ndarray,
    plan: GridPlan,
    *,
    lut: np.ndarray | None = None,
    marker: np.ndarray | None = None,
) -> np.ndarray:
    """Lay out `tiles` of shape (units, tiles_per_unit, h, w, c), uint8, as one image.

    `lut` (256, 3) colours single-channel tiles; `marker` (units, tiles_per_unit, h, w), bool, marks
    pixels to draw in MARKER_COLOUR. Returns uint8 (H, W, 1) when everything is gray, else (H, W, 3).
    Cells after the last tile are filled like the separators.
    """
    units, per_unit, height, width, channels = tiles.shape
    flat = tiles.reshape(units * per_unit, height, width, channels)
    out_channels = 3 if channels == 3 or lut is not None or plan.padding > 0 or marker is not None else 1
    marker_cells = None if marker is None else marker.reshape(flat.shape[:3])

    # Every copy below moves whole (upscaled) tile rows or grid rows: numpy is slow when its innermost
    # loop is the 3-byte colour axis, fast along rows.
    grid = np.empty((plan.height, plan.width, out_channels), np.uint8)
    if channels == out_channels:
        if marker_cells is not None:  # colour tiles: paint the marker before placing
            flat = flat.copy()
            flat[marker_cells] = MARKER_COLOUR
        _place(grid, plan, flat)
    else:  # gray tiles in a colour grid: place once in gray, then expand whole rows to colour
        gray = np.empty((plan.height, plan.width, 1), np.uint8)
        _place(gray, plan, flat)
        for c in range(out_channels):
            grid[..., c] = gray[..., 0] if lut is None else lut[:, c].take(gray[..., 0])
        if marker_cells is not None:
            marked = np.zeros_like(gray, dtype=bool)
            _place(marked, plan, marker_cells[..., None])
            grid[marked[..., 0]] = MARKER_COLOUR
    _paint_separators(grid, plan, len(flat))
    return grid


def _place(grid: np.ndarray, plan: GridPlan, tiles: np.ndarray) -> None:
    """Copy (n, h, w, c) tiles into their cells of `grid`, upscaled."""
    n, height, width, channels = tiles.shape
    rows = tiles.reshape(n, height, width * channels)  # a tile row as one run of values
    if plan.scale > 1:  # widen first (a gather: faster than repeating 3-byte pixels); the vertical
        rows = rows[:, :, _widen_index(width, channels, plan.scale)]  # upscale is a broadcast below
    cells = _cell_view(grid, plan)  # (rows, h, scale, cols, w * scale * c)
    full_rows, remainder = divmod(n, plan.cols)
    if full_rows:
        block = rows[: full_rows * plan.cols].reshape(full_rows, plan.cols, height, -1)
        cells[:full_rows] = block.transpose(0, 2, 1, 3)[:, :, None]
    if remainder:
        last = rows[full_rows * plan.cols :].transpose(1, 0, 2)
        cells[full_rows, :, :, :remainder] = last[:, None]


@functools.lru_cache(maxsize=32)
def _widen_index(width: int, channels: int, scale: int) -> np.ndarray:
    """Where each value of a tile row widened `scale` times comes from: pixel by pixel, channels kept."""
    return np.repeat(np.arange(width * channels).reshape(width, channels), scale, axis=0).ravel()


@functools.lru_cache(maxsize=32)
def _separator_rows(width: int, padding: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """PADDING_COLOUR repeated across a grid row, and across one separator's width."""
    colour = np.array(PADDING_COLOUR[:channels], np.uint8)
    return np.tile(colour, width), np.tile(colour, padding)


def _paint_separators(grid: np.ndarray, plan: GridPlan, tiles: int) -> None:
    """Separator lines between and around the cells, and the cells after the last tile."""
    channels = grid.shape[2]
    full_row, one_separator = _separator_rows(plan.width, plan.padding, channels)
    p = plan.padding
    cell_height = plan.tile_height * plan.scale + p
    cell_width = plan.tile_width * plan.scale + p
    row_stride = grid.strides[0]
    if p:
        across = (plan.rows + 1, p, plan.width * channels), (cell_height * row_stride, row_stride, 1)
        down = (plan.height, plan.cols + 1, p * channels), (row_stride, cell_width * channels, 1)
        _view(grid, 0, *across)[...] = full_row  # rows + 1 bands of p full-width pixel rows
        _view(grid, 0, *down)[...] = one_separator  # cols + 1 bands of p pixels in every pixel row
    empty = plan.rows * plan.cols - tiles
    if empty:
        top = (plan.rows - 1) * cell_height
        grid[top:, (plan.cols - empty) * cell_width :] = full_row[:channels]


def _cell_view(grid: np.ndarray, plan: GridPlan) -> np.ndarray:
    """A writable view of the tile pixels of `grid`: (rows, h, scale, cols, w * scale * channels)."""
    row_stride, pixel_stride = grid.strides[:2]
    s, p = plan.scale, plan.padding
    return _view(
        grid,
        p * row_stride + p * pixel_stride,
        (plan.rows, plan.tile_height, s, plan.cols, plan.tile_width * s * grid.shape[2]),
        (
            row_stride * (plan.tile_height * s + p),
            row_stride * s,
            row_stride,
            pixel_stride * (plan.tile_width * s + p),
            1,
        ),
    )


def _view(grid: np.ndarray, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
    """A writable strided view into a contiguous grid (cheaper to make than as_strided)."""
    return np.ndarray(shape, grid.dtype, buffer=grid, offset=offset, strides=strides)
