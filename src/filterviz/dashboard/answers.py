"""What the Filters tab's routes answer, made from a layer's immutable view: JSON-ready summaries, the tile
map the browser re-draws kernels with, and one filter's strip over the run. No HTTP, no Keras.

Every size here comes from the layer's checked description (its renderer's plan), never from a request or
from numbers a file states elsewhere, and each is bounded: a tile map by the grid's pixels, a strip by
STRIP_STEPS thumbnails and MAX_GRID_PIXELS pixels.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from filterviz.core import health
from filterviz.core.grid import MARKER_COLOUR, MAX_GRID_PIXELS, PADDING_COLOUR
from filterviz.core.renderer import Renderer
from filterviz.core.tiles import tile_values, tiles_from_levels
from filterviz.eventfile.format import KERNEL_STORE_LIMIT
from filterviz.eventfile.index import LayerView, Unreadable

STRIP_COLUMNS = 100  # thumbnails per row of a filter's strip
# The largest kernel the tab re-draws in the browser: /kernel and /tilemap answer at most this many values
# (16 MiB as float32 or int32), whatever a file describes.
REDRAW_VALUES = 1 << 22
STRIP_STEPS = 1000  # a strip shows at most this many steps, evenly spread, the newest always among them
# The numbers the tab's words and charts state, sent with every layer so that no JavaScript repeats them.
THRESHOLDS = {
    "dead_fraction": health.DEAD_FRACTION,
    "collapse_fraction": health.COLLAPSE_FRACTION,
    "duplicate_cosine": health.DUPLICATE_COSINE,
    "update_ratio_band": list(health.UPDATE_RATIO_BAND),
    "heavy": list(health.HEAVY),
    "kernel_store_limit": KERNEL_STORE_LIMIT,
    "redraw_values": REDRAW_VALUES,
}


def number(value) -> float | None:
    """JSON has no NaN or infinity: they go over as null."""
    value = float(value)
    return value if math.isfinite(value) else None


def series(points_by_name: dict[str, list[tuple[int, float]]]) -> dict[str, list[list]]:
    """name -> [[step, value or null], ...]: health curves, one filter's values over the run."""
    return {
        name: [[step, number(value)] for step, value in points] for name, points in points_by_name.items()
    }


def filter_values(values: dict[str, np.ndarray]) -> dict[str, list[float | None]]:
    """name -> one value (or null) per filter, at one step."""
    return {name: [number(v) for v in array] for name, array in values.items()}


def layer_entry(view: LayerView) -> dict[str, Any]:
    """One layer in the list of runs: enough to choose it, and to pair it with runs of the same layer."""
    info = view.info
    return {
        "run": view.run,
        "tag": view.tag,
        "layer": view.name,
        "steps": len(view.steps),
        "kind": info.get("kind"),
        "kernel_shape": info.get("kernel_shape"),
        "problem": view.problem,
    }


def layer_summary(view: LayerView) -> dict[str, Any]:
    """What the tab shows of one layer before it asks for a step."""
    answer = {
        **layer_entry(view),
        "info": view.info,
        "steps": list(view.steps),
        "kernel_steps": sorted(view.locations["kernel"]) if redrawable(view) else [],
        "kernels_too_large": bool(view.locations["kernel"]) and not redrawable(view),
        "delta_steps": sorted(view.locations["delta"]),
        "health": series(view.scalars),
        "shed": {str(step): list(parts) for step, parts in sorted(view.shed.items())},  # left out, by step
        "readings": readings(view),
        "thresholds": THRESHOLDS,
    }
    if view.description is not None:
        answer["drawing"] = drawing(view.description.renderer, view.info)
    return answer


def readings(view: LayerView) -> dict[str, dict[str, str]]:
    """What the health values say at each logged step (`health.read`), by step: the tab shows these words,
    so that they are the README's and `load_history`'s."""
    if not view.scalars:
        return {}
    steps = view.steps
    return {
        str(step): dataclasses.asdict(health.read(values))
        for step, values in zip(steps, health.by_step(view.scalars, steps), strict=True)
    }


def drawing(renderer: Renderer, info: dict[str, Any]) -> dict[str, Any]:
    """What the browser needs to draw the layer's tiles from a stored kernel as `filterviz.render` does."""
    lut = renderer.lut
    return {
        "tiles": renderer.plan.tiles,
        "tile_channels": renderer.layout.tile_channels,
        "lut": None if lut is None else lut.tolist(),
        "padding_colour": list(PADDING_COLOUR),
        "marker_colour": list(MARKER_COLOUR),
        "options": info["options"],
        "plan": info["plan"],
    }


class TooLarge(ValueError):
    """An answer larger than the tab draws."""


def redrawable(view: LayerView) -> bool:
    """Whether the tab re-draws this layer's kernels in the browser: at most REDRAW_VALUES of them."""
    return view.description is not None and math.prod(view.description.renderer.kernel_shape) <= REDRAW_VALUES


def check_redrawable(view: LayerView) -> None:
    if not redrawable(view):
        raise TooLarge(
            f"this layer's kernel has more than {REDRAW_VALUES:,} values, more than the tab re-draws in the "
            "browser: its grids are shown as logged"
        )


def tile_map(renderer: Renderer) -> np.ndarray:
    """(tiles, height, width, channels), int64: the flat index in the kernel of the value each tile pixel
    shows, tiles in grid order, colour channels as drawn (BGR flipped). Only the units drawn are indexed,
    and at most REDRAW_VALUES of them (TooLarge beyond, before anything is allocated)."""
    layout, plan, shape = renderer.layout, renderer.plan, renderer.kernel_shape
    grouped = 1 if layout.units_last else 2  # a depthwise kernel's units are its last two axes together
    lead, per_unit_axis = shape[:-grouped], math.prod(shape[-grouped:])
    if math.prod(lead) * plan.units > REDRAW_VALUES:
        raise TooLarge("this layer's kernel is too large to be re-drawn in the browser")
    indices = np.arange(math.prod(lead), dtype=np.int64)[:, None] * per_unit_axis + np.arange(plan.units)
    indices = indices.reshape(*lead, plan.units)
    columns = tile_values(indices, layout, plan.units, plan.tiles_per_unit)
    tiles = tiles_from_levels(np.ascontiguousarray(columns.T), layout, plan.units, plan.tiles_per_unit)
    height, width = layout.tile_size
    return tiles.reshape(-1, height, width, tiles.shape[-1])


def strip_steps(steps: tuple[int, ...]) -> list[int]:
    """The steps a strip shows: all of them, or STRIP_STEPS spread evenly with the first and the newest."""
    if len(steps) <= STRIP_STEPS:
        return list(steps)
    picks = np.linspace(0, len(steps) - 1, STRIP_STEPS).round().astype(int)
    return [steps[i] for i in sorted(set(picks.tolist()))]


def filter_strip(
    renderer: Renderer, unit: int, steps: list[int], grid_at: Callable[[int], np.ndarray]
) -> tuple[np.ndarray, list[int]]:
    """(the strip, the steps left out of it): unit `unit`'s cells (its tile, or its row of channel tiles)
    cropped from the grid of each step, left to right in rows of STRIP_COLUMNS, one separator pixel apart,
    on the separator colour. `grid_at(step)` decodes one grid (checked to have the plan's size); a step
    whose grid cannot be read (Unreadable) keeps its place, empty, and is named in the steps left out."""
    top, left, cell_height, width = renderer.plan.unit_box(unit)
    columns = min(len(steps), STRIP_COLUMNS)
    rows = -(-len(steps) // columns)
    height, total_width = rows * (cell_height + 1) + 1, columns * (width + 1) + 1
    if height * total_width > MAX_GRID_PIXELS:
        raise TooLarge("this filter's strip over the run would be larger than a grid may be")
    strip = np.empty((height, total_width, 3), np.uint8)
    strip[...] = PADDING_COLOUR
    missing = []
    for k, step in enumerate(steps):
        try:
            cell = grid_at(step)[top : top + cell_height, left : left + width]
        except Unreadable:
            missing.append(step)
            continue
        y, x = divmod(k, columns)
        strip[1 + y * (cell_height + 1) :][:cell_height, 1 + x * (width + 1) :][:, :width] = (
            cell  # gray: broadcast
        )
    return strip, missing
