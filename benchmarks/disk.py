"""Disk cost of one logged step in TensorBoard's event file, for reference first layers.

Each kernel is logged for 10 steps with FilterLogger's own writing path (LayerLog and TensorBoardWriter),
with random weights (noise: the PNG's worst case) and with smooth weights (what a trained first layer
looks like more), once with the kernel stored and once without. Prints the bytes a step adds to the file
and what they are.

Run:  python benchmarks/disk.py
"""

from __future__ import annotations

import tempfile

import numpy as np

from filterviz import RenderOptions
from filterviz.core.renderer import Renderer
from filterviz.eventfile.format import KERNEL_STORE_LIMIT
from filterviz.eventfile.writer import TensorBoardWriter
from filterviz.pipeline.steps import LayerLog

KERNELS = [
    ("ResNet-50 conv1 7x7x3x64", (7, 7, 3, 64), None),
    ("AlexNet conv1 11x11x3x96", (11, 11, 3, 96), None),
    ("MLP 784x128 (28x28 inputs)", (784, 128), (28, 28, 1)),
    ("CIFAR-10 MLP 3072x1024", (3072, 1024), (32, 32, 3)),
]
STEPS = 10


def smooth(kernel: np.ndarray) -> np.ndarray:
    """Each filter blurred along its first (spatial) axes: closer to trained first-layer filters."""
    out = kernel.copy()
    for _ in range(3):
        out = (np.roll(out, 1, 0) + out + np.roll(out, -1, 0)) / 3
    return out


def bytes_per_step(shape, tile_shape, weights: str, store: bool) -> tuple[float, float]:
    """(bytes a logged step adds to the event file, of which the PNG)."""
    rng = np.random.default_rng(0)
    renderer = Renderer(shape, RenderOptions(tile_shape=tile_shape))
    log = LayerLog(renderer, "filters/layer", "batch", path="layer", store_kernel=store)
    with tempfile.TemporaryDirectory() as folder:
        writer = TensorBoardWriter(folder)
        start = writer.path.stat().st_size
        png = 0
        for step in range(STEPS):
            kernel = rng.standard_normal(shape).astype(np.float32)
            kernel = smooth(kernel) if weights == "smooth" else kernel
            logged, _ = log.logged(step, kernel, kernel * 0.999)
            writer.write(logged)
            png += len(logged.png)
        return (writer.path.stat().st_size - start) / STEPS, png / STEPS


def main() -> None:
    columns = f"{'kernel bytes':>12} {'stored':>10} {'not stored':>11} {'of it PNG':>10}"
    print(f"{'kernel':28} {'weights':8} {columns}")
    for label, shape, tile_shape in KERNELS:
        size = 4 * int(np.prod(shape))
        for weights in ("random", "smooth"):
            stored, _ = bytes_per_step(shape, tile_shape, weights, True)
            bare, png = bytes_per_step(shape, tile_shape, weights, False)
            auto = "yes" if size <= KERNEL_STORE_LIMIT else "no"
            print(
                f"{label:28} {weights:8} {size / 1e3:9.0f} kB {stored / 1e3:7.0f} kB {bare / 1e3:8.0f} kB "
                f"{png / 1e3:7.0f} kB   (stored by default: {auto})"
            )


if __name__ == "__main__":
    main()
