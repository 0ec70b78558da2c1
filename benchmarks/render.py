"""Rendering cost: kernel -> uint8 grid -> PNG, for reference first layers.

For each kernel it prints, as medians over interleaved repeats taken in this one run:
  render      kernel -> uint8 grid (filterviz)
  png         grid -> PNG bytes alone (the floor of any render-and-log path)
  to_png/png  (kernel -> PNG) / (PNG alone); goal <= 1.15
  loop/vec    a straightforward per-tile Python loop / filterviz, same grid; goal >= 5
  memory      peak extra bytes while rendering / (kernel bytes + grid bytes); goal <= 3

Run:  python benchmarks/render.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import tracemalloc

import numpy as np

from filterviz import RenderOptions
from filterviz.grid import PADDING_COLOUR
from filterviz.renderer import Renderer
from filterviz.writers.png import encode_png

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


def timed(function, *args, **kwargs) -> float:
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


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
    rng = np.random.default_rng(0)
    columns = ("render", 9), ("png", 9), ("to_png/png", 10), ("loop/vec", 9), ("memory", 7)
    header = f"{'kernel':32} {'grid':>16} " + " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    for label, shape, tile_shape in REFERENCE_KERNELS:
        kernel = rng.standard_normal(shape).astype(np.float32)
        renderer = Renderer(shape, RenderOptions(tile_shape=tile_shape))
        grid = renderer.draw(kernel).image
        scale = renderer.plan.scale
        np.testing.assert_array_equal(per_tile_loop(kernel, tile_shape, scale), grid)  # a fair comparison

        render, png, to_png, loop = [], [], [], []
        for _ in range(args.repeats):  # interleaved, so that load on the machine hits all alike
            render.append(timed(renderer.draw, kernel))
            png.append(timed(encode_png, grid, colour=renderer.colour))
            to_png.append(timed(kernel_to_png, renderer, kernel))
            loop.append(timed(per_tile_loop, kernel, tile_shape, scale))
        memory = peak_extra_bytes(renderer.draw, kernel) / (kernel.nbytes + grid.nbytes)
        med = statistics.median
        size = "x".join(map(str, grid.shape))
        print(
            f"{label:32} {size:>16} {med(render) * 1e3:7.2f}ms {med(png) * 1e3:7.2f}ms "
            f"{med(to_png) / med(png):10.3f} {med(loop) / med(render):8.1f}x {memory:7.2f}"
        )
    print(
        "\ngoals: to_png/png <= 1.15, loop/vec >= 5, memory <= 3 (medians of",
        args.repeats,
        "interleaved runs)",
    )


if __name__ == "__main__":
    main()
