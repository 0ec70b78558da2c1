"""A kernel in Keras layout -> one image tile per unit or filter.  numpy only.

Keras 3 stores kernels in one layout whatever the layer's data_format. Each kind of kernel is read as a stack
of images, one per unit, in the kernel's own (height, width, channels, units) terms:

* Dense (inputs, units): tile i is kernel[:, i], reshaped to the (H, W, C) image that feeds the layer.
  Keras' Flatten orders inputs (H, W, C); data flattened channels-first outside the model is (C, H, W)
  ("chw"). An input with no image behind it becomes the most nearly square single-channel h x w tile.
* Conv2D (kh, kw, in, filters), also with groups (in = in_channels / groups): tile i is kernel[:, :, :, i].
* Conv2DTranspose (kh, kw, out, in): tile i is kernel[:, :, :, i], what input channel i paints into the
  output, in the output's channels.
* DepthwiseConv2D (kh, kw, in, multiplier), and SeparableConv2D's depthwise kernel: one single-channel tile
  per input channel c and multiplier m, tile index c * multiplier + m.
* Conv1D (k, in, filters), and Conv1DTranspose (k, out, in): tile i is kernel[:, :, i].T, a strip of one row
  per channel and k columns. DepthwiseConv1D (k, in, multiplier): a 1 x k strip per (c, m).
* Conv3D (kd, kh, kw, in, filters), and Conv3DTranspose (kd, kh, kw, out, in): tile i shows the kd depth
  slices kernel[d, :, :, :, i] side by side, with no gap (a tile kd * kw wide).

The channel rule: a tile with 1 or 3 channels is drawn as one gray or RGB image. Any other channel count
would need colours that do not exist, so each channel becomes its own single-channel tile: the grid then
has one row per unit and one column per channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

ShapeSource = Literal["kernel", "tile_shape", "model", "flat"]

# Kernel kinds, by the number of kernel axes each expects.
KINDS: dict[str, int] = {
    "dense": 2,
    "conv1d": 3,
    "conv1d_transpose": 3,
    "depthwise1d": 3,
    "conv2d": 4,
    "conv2d_transpose": 4,
    "depthwise2d": 4,
    "conv3d": 5,
    "conv3d_transpose": 5,
}
DEFAULT_KINDS = {2: "dense", 3: "conv1d", 4: "conv2d", 5: "conv3d"}  # the kind a bare kernel is read as


@dataclass(frozen=True)
class TileLayout:
    """How the values of one kernel become tiles.

    Every kind is drawn through one form: the kernel as (H, W, C, units), one (H, W, C) image per unit
    (`images_of`), or for Dense as (inputs, units) read in `flatten_order`.
    """

    kind: str  # one of KINDS
    units: int  # tiles before the channel rule: Dense units, filters, (channel, multiplier) pairs
    image_shape: tuple[int, int, int]  # (H, W, C) of one unit's weights
    flatten_order: Literal["hwc", "chw"]
    bgr: bool
    shape_source: ShapeSource  # where image_shape came from, for captions

    @property
    def per_channel(self) -> bool:
        """Each channel is drawn as its own single-channel tile."""
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

    @property
    def units_last(self) -> bool:
        """A unit's weights are kernel[..., i]: the first n units are kernel[..., :n]."""
        return self.kind not in ("depthwise1d", "depthwise2d")

    @property
    def planar(self) -> bool:
        """Tiles are 2-D images of the input (not strips of channels, nor depth slices side by side)."""
        return self.kind in ("conv2d", "conv2d_transpose", "depthwise2d") or (
            self.kind == "dense" and self.shape_source != "flat"
        )

    def images_of(self, kernel: np.ndarray) -> np.ndarray:
        """The kernel as (H, W, C, units), one image per unit; a view wherever the layout allows it."""
        height, width, channels = self.image_shape
        if self.kind == "dense":
            if self.flatten_order == "chw":
                return kernel.reshape(channels, height, width, -1).transpose(1, 2, 0, 3)
            return kernel.reshape(height, width, channels, -1)
        if self.kind in ("conv1d", "conv1d_transpose"):  # (k, in, units) -> (in, k, 1, units)
            return kernel.transpose(1, 0, 2)[:, :, None, :]
        if self.kind == "depthwise1d":  # (k, in, m) -> (1, k, 1, in * m)
            return kernel.reshape(1, kernel.shape[0], 1, -1)
        if self.kind == "depthwise2d":  # (kh, kw, in, m) -> (kh, kw, 1, in * m)
            return kernel.reshape(kernel.shape[0], kernel.shape[1], 1, -1)
        if self.kind in ("conv3d", "conv3d_transpose"):  # (kd, kh, kw, c, units) -> (kh, kd * kw, c, units)
            depth, kh, kw, c = kernel.shape[:4]
            return kernel.transpose(1, 0, 2, 3, 4).reshape(kh, depth * kw, c, -1)
        return kernel


def tile_layout(
    kernel_shape: tuple[int, ...],
    *,
    kind: str | None = None,
    tile_shape: tuple[int, int, int] | None = None,
    flatten_order: Literal["hwc", "chw"] = "hwc",
    bgr: bool = False,
    shape_source: ShapeSource | None = None,
) -> TileLayout:
    """Check that a kernel of `kernel_shape` can be drawn as `kind` (default: by its number of axes), and
    say how. Raises ValueError naming the problem and the fix."""
    shape = tuple(int(d) for d in kernel_shape)
    if any(d < 1 for d in shape):
        raise ValueError(f"The kernel of shape {shape} is empty: it has no weights to draw.")
    kind = kind or DEFAULT_KINDS.get(len(shape))
    if kind not in KINDS:
        raise ValueError(
            f"A kernel of shape {shape} is none of the kinds filterviz draws: Dense (inputs, units), "
            "Conv1D (k, in, filters), Conv2D (kh, kw, in, filters) or Conv3D (kd, kh, kw, in, filters) "
            "in Keras layout."
        )
    if len(shape) != KINDS[kind]:
        raise ValueError(f"A {kind} kernel has {KINDS[kind]} axes; this one has shape {shape}.")
    if tile_shape is not None and kind != "dense":
        raise ValueError(
            f"tile_shape applies to Dense kernels; a {kind} kernel {shape} is drawn as its own filters. "
            "Leave tile_shape unset."
        )
    if flatten_order == "chw" and kind != "dense":
        raise ValueError("flatten_order='chw' applies to Dense kernels only.")
    source: ShapeSource = "kernel"
    if kind == "dense":
        inputs = shape[0]
        if tile_shape is None:
            image_shape, source = (*nearly_square(inputs), 1), "flat"
        elif math.prod(tile_shape) != inputs:
            raise ValueError(
                f"tile_shape={tuple(tile_shape)} holds {math.prod(tile_shape)} values, but each unit of the "
                f"Dense kernel {shape} has {inputs} inputs. Give the (H, W, C) of the image that feeds the "
                "layer."
            )
        else:
            image_shape, source = tuple(tile_shape), shape_source or "tile_shape"
        units = shape[1]
    else:
        image_shape, units = _images_shape(kind, shape)
    if bgr and image_shape[2] != 3:
        raise ValueError(
            f"bgr=True flips the colour channels of 3-channel tiles, but these tiles have {image_shape[2]} "
            "channel(s). Use bgr=True only for models that take BGR images."
        )
    return TileLayout(
        kind=kind,
        units=units,
        image_shape=(image_shape[0], image_shape[1], image_shape[2]),
        flatten_order=flatten_order,
        bgr=bgr,
        shape_source=source,
    )


def _images_shape(kind: str, shape: tuple[int, ...]) -> tuple[tuple[int, int, int], int]:
    """((H, W, C), units) of `TileLayout.images_of` for a kernel of `shape`, without making one."""
    if kind in ("conv1d", "conv1d_transpose"):  # (k, in, units)
        return (shape[1], shape[0], 1), shape[2]
    if kind == "depthwise1d":  # (k, in, m)
        return (1, shape[0], 1), shape[1] * shape[2]
    if kind == "depthwise2d":  # (kh, kw, in, m)
        return (shape[0], shape[1], 1), shape[2] * shape[3]
    if kind in ("conv3d", "conv3d_transpose"):  # (kd, kh, kw, c, units)
        return (shape[1], shape[0] * shape[2], shape[3]), shape[4]
    return (shape[0], shape[1], shape[2]), shape[3]  # conv2d, conv2d_transpose: (kh, kw, c, units)


def nearly_square(n: int) -> tuple[int, int]:
    """(h, w) with h * w == n, h <= w and h as close to sqrt(n) as a divisor allows."""
    for h in range(math.isqrt(n), 0, -1):
        if n % h == 0:
            return h, n // h
    raise ValueError(f"cannot lay out {n} values")  # unreachable for n >= 1


def tile_values(kernel: np.ndarray, layout: TileLayout, units: int, tiles_per_unit: int) -> np.ndarray:
    """The values of the tiles drawn, one column per tile: shape (values per tile, tiles).

    Only the first `units` units and, for per-channel tiles, the first `tiles_per_unit` channels are kept.
    The columns are views of the kernel in its own memory order wherever possible: normalizing reads them
    once and writes the levels one row per tile, which `tiles_from_levels` reads.
    """
    height, width, _ = layout.image_shape
    in_place = layout.kind in ("conv2d", "conv2d_transpose") or (
        layout.kind == "dense" and layout.flatten_order == "hwc"
    )
    if in_place and not layout.per_channel:
        return kernel[..., :units].reshape(-1, units)  # each unit's values in (H, W, C) order already
    images = layout.images_of(kernel)[..., :units]  # (H, W, C, units)
    if not layout.per_channel:
        return images.reshape(-1, units)
    # Per-channel tiles: columns ordered (channel, unit).
    return images[:, :, :tiles_per_unit].reshape(height * width, -1)


def tiles_from_levels(levels: np.ndarray, layout: TileLayout, units: int, tiles_per_unit: int) -> np.ndarray:
    """Levels of `tile_values`' columns, one row per tile -> (units, tiles_per_unit, h, w, c).

    Tiles come out in grid order: unit by unit, and within a unit, channel by channel. Colour tiles of a
    BGR model are flipped to RGB here.
    """
    height, width, channels = layout.image_shape
    if layout.per_channel:
        stack = levels.reshape(tiles_per_unit, units, height, width)
        return stack.transpose(1, 0, 2, 3)[..., None]
    tiles = levels.reshape(units, 1, height, width, channels)
    return tiles[..., ::-1] if layout.bgr else tiles


def tile_images(kernel: np.ndarray, layout: TileLayout) -> np.ndarray | None:
    """Each unit's weights as its 2-D images, (units, channels, height, width), in the kernel's dtype; None
    when the tiles are not images of the input (a Dense layer on a flat input, Conv1D strips, Conv3D
    slices). For health's `noise`."""
    if not layout.planar:
        return None
    return layout.images_of(kernel).transpose(3, 2, 0, 1)
