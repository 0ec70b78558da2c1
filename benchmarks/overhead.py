"""What logging filters costs a training run: model.fit with and without callbacks, side by side.

Two models, each trained for 3 epochs over 4,096 random samples (batch 32: 128 steps an epoch):
* the reference CNN: 32x32x3 inputs, a first Conv2D of 32 5x5 filters;
* a CIFAR-10 MLP: 32x32x3 inputs flattened into a first Dense layer of 1,024 units, whose 1057 x 1057 RGB
  grid takes over 100 ms to encode as PNG.
Each architecture has one model, warmed up once and shared by its cases; the cases' fits run interleaved,
and the script prints the median over repeats of each fit's time over the time of the same model's fit
without callbacks, measured just before it. Every FilterLogger run is read back: its steps must be in
order and, unless the writer fell behind (it then skips the oldest waiting grids and says so), none
missing. Then it prints where the time of one grid goes.

Goals (reference CNN): every epoch <= 1.01, every 10 steps <= 1.05, every step <= 1.05, all below Keras'
own TensorBoard(histogram_freq=1, write_images=True).

Run:  python benchmarks/overhead.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

import filterviz
from filterviz import layers
from filterviz.options import RenderOptions
from filterviz.renderer import renderer_for
from filterviz.writers import GridImage
from filterviz.writers.png import encode_png
from filterviz.writers.tensorboard import TensorBoardWriter, read_events


def reference_cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(32, 5, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def cifar_mlp() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(1024, activation="relu", name="dense1"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


Callbacks = Callable[[str], list]
CASES: dict[str, tuple[Callable[[], keras.Model], Callbacks]] = {
    "CNN no callback": (reference_cnn, lambda log_dir: []),
    "CNN no callback, again": (reference_cnn, lambda log_dir: []),  # the noise floor: ideally 1.000
    "CNN FilterLogger every epoch": (reference_cnn, lambda log_dir: [filterviz.FilterLogger(log_dir)]),
    "CNN FilterLogger every 10 steps": (
        reference_cnn,
        lambda log_dir: [filterviz.FilterLogger(log_dir, every_n_steps=10)],
    ),
    "CNN FilterLogger every step": (
        reference_cnn,
        lambda log_dir: [filterviz.FilterLogger(log_dir, every_n_steps=1)],
    ),
    "CNN keras TensorBoard write_images": (
        reference_cnn,
        lambda log_dir: [keras.callbacks.TensorBoard(log_dir, histogram_freq=1, write_images=True)],
    ),
    "MLP no callback": (cifar_mlp, lambda log_dir: []),
    "MLP FilterLogger every 10 steps": (
        cifar_mlp,
        lambda log_dir: [filterviz.FilterLogger(log_dir, every_n_steps=10)],
    ),
}


def fit(model: keras.Model, callbacks: Callbacks, x, y, epochs: int) -> tuple[float, list[int], int]:
    """(seconds, steps logged, FilterVizWarnings) of one fit."""
    with tempfile.TemporaryDirectory() as log_dir, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=callbacks(log_dir))
        seconds = time.perf_counter() - start
        steps = [
            event.step
            for path in sorted(Path(log_dir).glob("filters/*tfevents*"))
            for event in read_events(path)
            if event.summary.value
        ]
    ours = sum(issubclass(w.category, filterviz.FilterVizWarning) for w in caught)
    return seconds, steps, ours


def check_steps(case: str, steps: list[int]) -> str:
    if not steps:
        return ""
    in_order = steps == sorted(set(steps))
    if case.endswith("every step"):
        complete = steps == list(range(steps[0], steps[0] + len(steps)))
        return f"{len(steps)} grids, {'in order' if in_order else 'OUT OF ORDER'}, " + (
            "none missing" if complete else "SOME MISSING"
        )
    return f"{len(steps)} grids, {'in order' if in_order else 'OUT OF ORDER'}"


def breakdown(model: keras.Model, repeats: int = 7) -> str:
    """Where the time of one grid goes, for the first layer of `model`."""
    renderer, layer = renderer_for(model, None, RenderOptions())
    kernel = renderer.snapshot(layers.current_kernel(model, layer))
    picture = renderer.draw(kernel)

    def median_ms(function) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e3

    snapshot = median_ms(lambda: renderer.snapshot(layers.current_kernel(model, layer)))
    draw = median_ms(lambda: renderer.draw(kernel))
    png = median_ms(lambda: encode_png(picture.image, colour=renderer.colour))
    with tempfile.TemporaryDirectory() as folder:
        writer = TensorBoardWriter(folder)
        grid = GridImage("filters/x", 0, "batch", picture.image, "", renderer.colour)
        size = len(grid.png)
        record = median_ms(lambda: writer.write(grid))
    shape = "x".join(map(str, picture.image.shape))
    return (
        f"{layer.name} {tuple(layer.kernel.shape)} -> {shape} grid, PNG {size / 1e6:.2f} MB: "
        f"snapshot {snapshot:.1f} ms (training thread); render {draw:.1f} ms, PNG {png:.1f} ms, "
        f"event record {record:.1f} ms (writer thread)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4096)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)

    # One model per architecture, shared by its cases and warmed up once: every fit reuses the same
    # compiled train step, so the timings differ only by the callbacks (separate but identical models
    # differ in speed by a few percent on their own).
    shared = {build: build() for build, _ in CASES.values()}
    models = {case: shared[build] for case, (build, _) in CASES.items()}
    for case, model in models.items():
        fit(model, CASES[case][1], x[:256], y[:256], 1)
    times: dict[str, list[float]] = {case: [] for case in CASES}
    notes: dict[str, str] = {}
    warned: dict[str, int] = {case: 0 for case in CASES}
    for repeat in range(args.repeats):
        for case, model in models.items():  # interleaved: a slow moment on the machine hits all alike
            seconds, steps, ours = fit(model, CASES[case][1], x, y, args.epochs)
            times[case].append(seconds)
            notes[case] = check_steps(case, steps)
            warned[case] += ours
        print(f"repeat {repeat + 1}/{args.repeats} done", flush=True)

    # Each fit over the fit without callbacks of the same model, measured moments before: slow drift of
    # the machine cancels in the ratio; the median then drops the outliers.
    print(f"\n{'case':36} {'median fit':>11} {'median ratio':>13}  read back")
    for case, seconds in times.items():
        baseline = times[case.split()[0] + " no callback"]
        ratios = [s / base for s, base in zip(seconds, baseline, strict=True)]
        note = notes[case] + (f", {warned[case]} warnings (writer behind)" if warned[case] else "")
        print(f"{case:36} {statistics.median(seconds):10.2f}s {statistics.median(ratios):13.3f}  {note}")
    print("\nOne grid, where the time goes:")
    for build in (reference_cnn, cifar_mlp):
        print(" ", breakdown(build()))
    print(
        "\ngoals (CNN): every epoch <= 1.01, every 10 steps and every step <= 1.05, below Keras' write_images"
    )


if __name__ == "__main__":
    main()
