"""A kernel in Keras layout -> one image tile per unit or filter.  numpy only.

Keras 3 stores a Dense kernel as (inputs, units) and a Conv2D kernel as (kh, kw, in_channels, filters),
whatever the layer's data_format. Both are read as a stack of images, one per unit:

* Conv2D: tile i is kernel[:, :, :, i], a (kh, kw, in_channels) image.
* Dense: tile i is kernel[:, i], reshaped to the (H, W, C) image that feeds the layer. Keras' Flatten
  orders inputs (H, W, C); data flattened channels-first outside the model is (C, H, W) ("chw").
  An input with no image behind it becomes the most nearly square single-channel h x w tile.

A tile with 1 or 3 channels is drawn as one gray or RGB image. Any other channel count would need
colours that do not exist, so each input channel becomes its own single-channel tile: the grid then
has one row per unit and one column per input channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

ShapeSource = Literal["kernel", "tile_shape", "model", "flat"]


@dataclass(frozen=True)
class TileLayout:
    """How the values of one kernel become tiles."""

    kind: Literal["dense", "conv2d"]
    units: int  # Dense units or Conv2D filters
    image_shape: tuple[int, int, int]  # (H, W, C) of one unit's weights
    flatten_order: Literal["hwc", "chw"]
    bgr: bool
    shape_source: ShapeSource  # where image_shape came from, for captions

    @property
    def per_channel(self) -> bool:
        """Each input channel is drawn as its own single-channel tile."""
        return self.image_shape[2] not in (1, 3)

    @property
    def tiles_per_unit(self) -> int:
        return self.image_shape[2] if self.per_channel else 1

    @property
    def tile_size(self) -> tuple[int, int]:
        return self.image_shape[0], self.image_shape[1]

    @property
    def tile_channels(self) -> int:
        return 1 if self.per_channel else self.image_shape[2]


def tile_layout(
    kernel_shape: tuple[int, ...],
    *,
    tile_shape: tuple[int, int, int] | None = None,
    flatten_order: Literal["hwc", "chw"] = "hwc",
    bgr: bool = False,
    shape_source: ShapeSource | None = None,
) -> TileLayout:
    """Check that a kernel of `kernel_shape` can be drawn this way, and say how.

    Raises ValueError naming the problem and the fix.
    """
    shape = tuple(int(d) for d in kernel_shape)
    if any(d < 1 for d in shape):
        raise ValueError(f"The kernel of shape {shape} is empty: it has no weights to draw.")
    if len(shape) == 4:
        if tile_shape is not None:
            raise ValueError(
                f"tile_shape applies to Dense kernels; a Conv2D kernel {shape} is drawn as its own "
                "(kh, kw, in_channels) filters. Leave tile_shape unset."
            )
        kind: Literal["dense", "conv2d"] = "conv2d"
        image_shape = shape[:3]
        source: ShapeSource = "kernel"
    elif len(shape) == 2:
        kind = "dense"
        inputs = shape[0]
        if tile_shape is None:
            image_shape = (*nearly_square(inputs), 1)
            source = "flat"
        else:
            if math.prod(tile_shape) != inputs:
                raise ValueError(
                    f"tile_shape={tuple(tile_shape)} holds {math.prod(tile_shape)} values, but each unit of "
                    f"the Dense kernel {shape} has {inputs} inputs. Give the (H, W, C) of the image that "
                    "feeds the layer."
                )
            image_shape = tuple(tile_shape)
            source = shape_source or "tile_shape"
    else:
        raise ValueError(
            f"A kernel of shape {shape} is neither Dense (inputs, units) nor Conv2D "
            "(kh, kw, in_channels, filters) in Keras layout."
        )
    if bgr and image_shape[2] != 3:
        raise ValueError(
            f"bgr=True flips the colour channels of 3-channel tiles, but these tiles have {image_shape[2]} "
            "channel(s). Use bgr=True only for models that take BGR images."
        )
    if flatten_order == "chw" and kind != "dense":
        raise ValueError("flatten_order='chw' applies to Dense kernels only.")
    return TileLayout(
        kind=kind,
        units=shape[-1],
        image_shape=(image_shape[0], image_shape[1], image_shape[2]),
        flatten_order=flatten_order,
        bgr=bgr,
        shape_source=source,
    )


def nearly_square(n: int) -> tuple[int, int]:
    """(h, w) with h * w == n, h <= w and h as close to sqrt(n) as a divisor allows."""
    for h in range(math.isqrt(n), 0, -1):
        if n % h == 0:
            return h, n // h
    raise ValueError(f"cannot lay out {n} values")  # unreachable for n >= 1


def tile_values(kernel: np.ndarray, layout: TileLayout, units: int, tiles_per_unit: int) -> np.ndarray:
    """The values of the tiles drawn, one column per tile: shape (values per tile, tiles).

    Only the first `units` units and, for per-channel tiles, the first `tiles_per_unit` input channels
    are kept. The columns are views of the kernel in its own memory order wherever possible:
    normalizing reads them once and writes the levels one row per tile, which `tiles_from_levels` reads.
    """
    height, width, channels = layout.image_shape
    if not layout.per_channel:
        return kernel[..., :units].reshape(-1, units)
    # Per-channel tiles: columns ordered (input channel, unit).
    if layout.kind == "dense" and layout.flatten_order == "chw":
        stack = kernel.reshape(channels, height * width, -1)[:tiles_per_unit, :, :units]
        return stack.transpose(1, 0, 2).reshape(height * width, -1)
    stack = kernel.reshape(height, width, channels, -1)
    return stack[:, :, :tiles_per_unit, :units].reshape(height * width, -1)


def tiles_from_levels(levels: np.ndarray, layout: TileLayout, units: int, tiles_per_unit: int) -> np.ndarray:
    """Levels of `tile_values`' columns, one row per tile -> (units, tiles_per_unit, h, w, c).

    Tiles come out in grid order: unit by unit, and within a unit, input channel by input channel.
    Colour tiles of a BGR model are flipped to RGB here.
    """
    height, width, channels = layout.image_shape
    if layout.per_channel:
        stack = levels.reshape(tiles_per_unit, units, height, width)
        return stack.transpose(1, 0, 2, 3)[..., None]
    if layout.kind == "dense" and layout.flatten_order == "chw":
        tiles = levels.reshape(units, 1, channels, height, width).transpose(0, 1, 3, 4, 2)
    else:
        tiles = levels.reshape(units, 1, height, width, channels)
    return tiles[..., ::-1] if layout.bgr else tiles


def tile_images(kernel: np.ndarray, layout: TileLayout) -> np.ndarray | None:
    """Each unit's weights as its 2-D images, (units, channels, height, width), in the kernel's dtype; None
    for a Dense layer whose input is no image (`shape_source == "flat"`). For health's `noise`."""
    if layout.shape_source == "flat":
        return None
    height, width, channels = layout.image_shape
    units = kernel.shape[-1]
    if layout.kind == "dense" and layout.flatten_order == "chw":
        return kernel.reshape(channels, height, width, units).transpose(3, 0, 1, 2)
    return kernel.reshape(height, width, channels, units).transpose(3, 2, 0, 1)
