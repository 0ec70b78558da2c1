"""Rendering cost: kernel -> uint8 grid -> PNG, for reference first layers.

For each kernel it prints, as medians over interleaved repeats taken in this one run:
  copy        copying the kernel (what the training thread does for each grid): the yardstick
  render      kernel -> uint8 grid (filterviz)
  png         grid -> PNG bytes with filterviz's encoder (imagecodecs, or Pillow where it is missing)
  Pillow      the same PNG with Pillow, the fallback; Pillow/png is the speed-up
  kB          the PNG's size with each
  to_png/copy (kernel -> PNG) / copy: how close writing a grid comes to copying the kernel
  loop/vec    a straightforward per-tile Python loop / filterviz, same grid; goal >= 5
  memory      peak extra bytes while rendering / (kernel bytes + grid bytes); goal <= 3
  health      what the health values computed at every logged step add to it (with the update ratio)
  heavy       one computation of noise, redundancy and opposites (every step when under 5 ms; otherwise
              as often as keeps them within a tenth of one core's time between logged steps)
  h/draw      health / (render + png); goal <= 0.5
The first kernel is measured again at the end: its second row is the noise floor of every column.

Run:  python benchmarks/render.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))  # the shared timing helpers, in tests/helpers

from filterviz import RenderOptions
from filterviz.core.grid import PADDING_COLOUR
from filterviz.core.png import ENCODER, encode_png, encode_png_with_pillow
from filterviz.core.renderer import Renderer
from tests.helpers.measure import health_cost, timed

REFERENCE_KERNELS = [
    ("Conv2D 7x7x3x64 (ResNet-50)", (7, 7, 3, 64), None),
    ("Conv2D 11x11x3x96 (AlexNet)", (11, 11, 3, 96), None),
    ("Dense 3072x1024 (CIFAR-10 MLP)", (3072, 1024), (32, 32, 3)),
    ("Dense 784x4096", (784, 4096), (28, 28, 1)),
]


def per_tile_loop(kernel: np.ndarray, tile_shape, scale: int, padding: int = 1) -> np.ndarray:
    """The obvious implementation: one tile at a time, as in most notebooks (per-tile normalization)."""
    if kernel.ndim == 2:
        tiles = [kernel[:, i].reshape(tile_shape) for i in range(kernel.shape[1])]
    else:
        tiles = [kernel[:, :, :, i] for i in range(kernel.shape[3])]
    h, w = tiles[0].shape[:2]
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    grid = np.empty(
        (rows * (h * scale + padding) + padding, cols * (w * scale + padding) + padding, 3), np.uint8
    )
    grid[...] = PADDING_COLOUR
    for i, t in enumerate(tiles):
        t = t.astype(np.float64)
        lo, hi = t.min(), t.max()
        v = (t - lo) / (hi - lo) if hi > lo else np.full(t.shape, 0.5)
        levels = np.floor(v * 255 + 0.5).astype(np.uint8)
        big = np.repeat(np.repeat(levels, scale, axis=0), scale, axis=1)
        top = padding + (i // cols) * (h * scale + padding)
        left = padding + (i % cols) * (w * scale + padding)
        grid[top : top + h * scale, left : left + w * scale] = big
    return grid


def kernel_to_png(renderer: Renderer, kernel: np.ndarray) -> bytes:
    return encode_png(renderer.draw(kernel).image, colour=renderer.colour)


def peak_extra_bytes(function, *args) -> int:
    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"PNG encoder: {ENCODER}")
    columns = [
        ("copy", 8),
        ("render", 8),
        ("png", 8),
        ("Pillow", 8),
        ("Pillow/png", 10),
        ("kB", 13),
        ("to_png/copy", 11),
        ("loop/vec", 8),
        ("memory", 6),
        ("health", 8),
        ("heavy", 9),
        ("h/draw", 6),
    ]
    header = f"{'kernel':32} {'grid':>11} " + " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    for label, shape, tile_shape in [*REFERENCE_KERNELS, REFERENCE_KERNELS[0]]:
        print(row(label, shape, tile_shape, args.repeats))
    print("\ngoals: loop/vec >= 5, memory <= 3 (medians of", args.repeats, "interleaved runs)")


def row(label: str, shape: tuple[int, ...], tile_shape, repeats: int) -> str:
    kernel = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    renderer = Renderer(shape, RenderOptions(tile_shape=tile_shape))
    grid = renderer.draw(kernel).image
    scale = renderer.plan.scale
    np.testing.assert_array_equal(per_tile_loop(kernel, tile_shape, scale), grid)  # a fair comparison

    copy, render, png, pillow, to_png, loop = [], [], [], [], [], []
    for _ in range(repeats):  # interleaved, so that load on the machine hits all alike
        copy.append(timed(kernel.copy))
        render.append(timed(renderer.draw, kernel))
        png.append(timed(encode_png, grid, colour=renderer.colour))
        pillow.append(timed(encode_png_with_pillow, grid, colour=renderer.colour))
        to_png.append(timed(kernel_to_png, renderer, kernel))
        loop.append(timed(per_tile_loop, kernel, tile_shape, scale))
    memory = peak_extra_bytes(renderer.draw, kernel) / (kernel.nbytes + grid.nbytes)
    health, heavy = health_cost(kernel, renderer, max(3, repeats // 5))
    sizes = f"{len(encode_png(grid)) / 1e3:.0f}/{len(encode_png_with_pillow(grid)) / 1e3:.0f}"
    med = statistics.median
    size = "x".join(map(str, grid.shape))
    cells = [
        f"{med(copy) * 1e3:6.2f}ms",
        f"{med(render) * 1e3:6.2f}ms",
        f"{med(png) * 1e3:6.2f}ms",
        f"{med(pillow) * 1e3:6.1f}ms",
        f"{med(pillow) / med(png):9.1f}x",
        f"{sizes:>13}",
        f"{med(to_png) / med(copy):10.1f}x",
        f"{med(loop) / med(render):7.1f}x",
        f"{memory:6.2f}",
        f"{health * 1e3:6.2f}ms",
        f"{heavy * 1e3:7.1f}ms",
        f"{health / (med(render) + med(png)):6.2f}",
    ]
    return f"{label:32} {size:>11} " + " ".join(cells)


if __name__ == "__main__":
    main()
