"""kernel -> tiles -> gray levels -> grid: the `Renderer`, and the public `kernel_grid`.  numpy only.

A `Renderer` holds everything that is fixed for one layer (tile layout, which tiles are drawn, the
grid's shape), so that it is checked once, before training, and reused at every step. Drawing a model's
layer (`render`, `save_png`) is Keras glue: filterviz.keras.rendering.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from filterviz.core import colormaps
from filterviz.core.grid import MARKER_COLOUR, MAX_GRID_PIXELS, GridPlan, compose_grid, plan_grid
from filterviz.core.normalize import as_float, normalize
from filterviz.core.options import RenderOptions
from filterviz.core.tiles import TileLayout, tile_layout, tile_values, tiles_from_levels
from filterviz.core.warning import FilterVizWarning


@dataclass(frozen=True)
class Picture:
    """One rendered grid and what it shows."""

    image: np.ndarray  # uint8, (H, W, 1) or (H, W, 3)
    low: float  # smallest finite weight drawn
    high: float  # largest finite weight drawn
    nonfinite: int  # NaN and +-Inf weights among those drawn


# What a kernel's units are, for captions.
UNIT_NAMES = {
    "dense": "units",
    "conv1d": "filters (rows: input channels, columns: kernel taps)",
    "conv1d_transpose": "input channels (rows: output channels, columns: kernel taps)",
    "depthwise1d": "(input channel, multiplier) strips",
    "conv2d": "filters",
    "conv2d_transpose": "input channels, each as what it paints into the output",
    "depthwise2d": "(input channel, multiplier) filters",
    "conv3d": "filters (depth slices side by side)",
    "conv3d_transpose": "input channels (depth slices side by side)",
}


class Renderer:
    """Draws kernels of one shape with one set of options.

    Args:
        kernel_shape: the kernel's shape in Keras layout.
        options: the rendering options.
        kind: what the kernel is (see `filterviz.core.tiles.KINDS`); None reads it by its number of axes, as
            Dense, Conv1D, Conv2D or Conv3D.
        inferred_tile_shape: ((H, W, C), order) of the image behind a Dense layer, used when
            options.tile_shape is not given.
        name: what the pictures are of, for captions and warnings.
        note: said in every caption (SeparableConv2D: which of its kernels is drawn).
        flat_hint: for a Dense kernel drawn as flat tiles, which tile_shape to pass if its inputs are an
            image after all (filterviz.keras.image_shape.patch_hint): warned once and said in every caption.
        quiet: warn of nothing: a reader rebuilding the renderer a log describes (its warnings were the
            writer's to give).
    """

    def __init__(
        self,
        kernel_shape: tuple[int, ...],
        options: RenderOptions,
        *,
        kind: str | None = None,
        inferred_tile_shape: tuple[tuple[int, int, int], str] | None = None,
        name: str = "kernel",
        note: str = "",
        flat_hint: str = "",
        quiet: bool = False,
    ) -> None:
        self.kernel_shape = tuple(int(d) for d in kernel_shape)
        self.options = options
        self.note = note
        self.inferred_tile_shape = inferred_tile_shape
        self.name = name
        tile_shape, order, source = options.tile_shape, options.flatten_order, None
        if tile_shape is None and inferred_tile_shape is not None:
            (tile_shape, order), source = inferred_tile_shape, "model"
        self.layout: TileLayout = tile_layout(
            self.kernel_shape,
            kind=kind,
            tile_shape=tile_shape,
            flatten_order=order,
            bgr=options.bgr,
            shape_source=source,
        )
        self.flat_hint = flat_hint if self.layout.shape_source == "flat" else ""
        if self.flat_hint and not quiet:
            h, w, _ = self.layout.image_shape
            warnings.warn(
                f"{name} is drawn as flat {h}x{w} tiles: {self.flat_hint}.", FilterVizWarning, stacklevel=3
            )
        self.lut = colormaps.lookup_table(options.cmap)
        if self.lut is not None and self.layout.tile_channels == 3:
            raise ValueError(
                f"cmap={options.cmap!r} colours single-channel tiles, but {name}'s tiles are RGB "
                f"{self.layout.image_shape}. Leave cmap unset for RGB filters."
            )
        layout = self.layout
        self.plan: GridPlan = plan_grid(
            layout.units,
            layout.tiles_per_unit,
            layout.tile_size,
            ncols=options.ncols,
            padding=options.padding,
            scale=options.scale,
            max_tiles=options.max_tiles,
        )
        if self.plan.shrunk_to_fit and not quiet:
            warnings.warn(
                f"{name}: drawing the first {self.plan.tiles} of {layout.units * layout.tiles_per_unit} "
                f"tiles so that the grid stays within {MAX_GRID_PIXELS:,} pixels; set max_tiles to choose "
                "fewer yourself.",
                FilterVizWarning,
                stacklevel=2,
            )

    def snapshot(self, kernel: np.ndarray) -> np.ndarray:
        """The part of `kernel` that is drawn (the first units), holding no more memory than that."""
        if self.plan.units == self.layout.units or not self.layout.units_last:
            return kernel
        return np.array(kernel[..., : self.plan.units])

    def draw(self, kernel: np.ndarray) -> Picture:
        """Render `kernel`, of the shape this renderer was made for (or its `snapshot`).

        Warns of nothing itself (it may run on a background thread): see `Picture.nonfinite`.
        """
        kernel = as_float(kernel)
        expected = (self.kernel_shape, (*self.kernel_shape[:-1], self.plan.units))
        if kernel.shape not in expected:
            raise ValueError(
                f"{self.name}: expected a kernel of shape {self.kernel_shape}, got {kernel.shape}."
            )
        plan, layout = self.plan, self.layout
        values = tile_values(kernel, layout, plan.units, plan.tiles_per_unit)
        levels = normalize(values, self.options.normalize, self.options.clip_percentile)
        tiles = tiles_from_levels(levels.levels, layout, plan.units, plan.tiles_per_unit)
        marker, nonfinite = None, 0
        if levels.nonfinite is not None:
            nonfinite = int(levels.nonfinite.sum())
            marker = tiles_from_levels(levels.nonfinite, layout, plan.units, plan.tiles_per_unit).any(-1)
        image = compose_grid(tiles, plan, lut=self.lut, marker=marker)
        return Picture(image, levels.low, levels.high, nonfinite)

    @property
    def colour(self) -> bool:
        """The tiles are in colour (RGB filters or a colour map), not gray."""
        return self.layout.tile_channels == 3 or self.lut is not None

    def nonfinite_warning(self) -> str:
        return (
            f"{self.name} has NaN or Inf weights; they are drawn in magenta {MARKER_COLOUR}. "
            "Training has probably diverged: try a lower learning rate."
        )

    def draw_and_warn(self, kernel: np.ndarray) -> Picture:
        """`draw`, with a FilterVizWarning when there are NaN or Inf weights (for the caller's thread)."""
        picture = self.draw(kernel)
        if picture.nonfinite:
            warnings.warn(self.nonfinite_warning(), FilterVizWarning, stacklevel=3)
        return picture

    def describe(self, picture: Picture) -> str:
        """One line for captions: what is drawn, how, and the weights' range."""
        layout, plan, options = self.layout, self.plan, self.options
        h, w, c = layout.image_shape
        shown = f"{plan.units} of {layout.units}" if plan.units < layout.units else f"{layout.units}"
        parts = [
            f"{self.name}: kernel {self.kernel_shape}, {shown} {UNIT_NAMES[layout.kind]} as {h}x{w}x{c} "
            "tiles",
            f"normalize={options.normalize}"
            + (f" clip_percentile={options.clip_percentile:g}" if options.clip_percentile else ""),
            f"weights in [{picture.low:.4g}, {picture.high:.4g}]",
        ]
        if layout.per_channel:
            parts.insert(1, "one row per unit, one column per channel")
        if self.note:
            parts.insert(1, self.note)
        if layout.shape_source == "flat":
            parts.insert(
                1,
                f"flat input: {self.flat_hint}"
                if self.flat_hint
                else "flat input (pass tile_shape=(H, W, C) if it is an image)",
            )
        if picture.nonfinite:
            parts.append(f"{picture.nonfinite} NaN/Inf weights in magenta")
        return "; ".join(parts)


def kernel_grid(kernel: np.ndarray, *, kind: str | None = None, **options: Any) -> np.ndarray:
    """Draw any kernel in Keras layout as one grid image, no model needed.

    Args:
        kernel: a kernel in Keras layout: Dense (inputs, units), Conv1D (k, in, filters), Conv2D
            (kh, kw, in, filters), Conv3D (kd, kh, kw, in, filters), or one of the kinds below.
        kind: None to read the kernel by its number of axes as one of those four; or "depthwise1d",
            "depthwise2d" (DepthwiseConv and SeparableConv's depthwise kernels), "conv1d_transpose",
            "conv2d_transpose", "conv3d_transpose" (README, "How a kernel becomes tiles").
        **options: rendering options (see `filterviz.RenderOptions`): normalize, clip_percentile, cmap,
            ncols, padding, scale, max_tiles, tile_shape, flatten_order, bgr.

    Returns:
        uint8 array (H, W, 1) when all gray, else (H, W, 3).

    Example:
        >>> import numpy as np, filterviz
        >>> filterviz.kernel_grid(np.random.randn(784, 16), tile_shape=(28, 28, 1)).shape
        (117, 117, 3)
    """
    kernel = np.asarray(kernel)
    renderer = Renderer(kernel.shape, RenderOptions.from_kwargs(**options), kind=kind)
    return renderer.draw_and_warn(kernel).image
