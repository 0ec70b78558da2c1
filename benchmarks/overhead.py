"""What logging filters costs a training run: model.fit with and without callbacks, side by side.

Two models, each trained for 3 epochs over 4,096 random samples (batch 32: 128 steps an epoch):
* the reference CNN: 32x32x3 inputs, a first Conv2D of 32 5x5 filters;
* a CIFAR-10 MLP: 32x32x3 inputs flattened into a first Dense layer of 1,024 units (a 1057 x 1057 grid).
Each architecture has one model, warmed up once and shared by its cases; the cases' fits run interleaved,
and each fit is divided by the fit without callbacks of the same model measured just before it. A second
no-callback row ("again") is the noise floor: ideally 1.000. Every FilterLogger run is read back: its
steps must be in order, and the count says how many of the scheduled grids were written. Keras' own
TensorBoard(histogram_freq=1, write_images=True) logs once an epoch, like FilterLogger's default.

Diagnostic rows split the cost: FilterLogger's hooks and copies on the training thread alone, without the
writer thread's work; and logging without the health values.

Then one grid's stages: the copy on the training thread, and render, PNG and event record on the writer
thread; the PNG with Pillow too, and what handing the grid to W&B costs.

Goals: writer time per grid of the MLP <= 30 ms; MLP every 10 steps 0 skipped and <= 1.05; CNN every step
0 skipped and <= 1.05; every epoch <= 1.01; below Keras' write_images where both log.

Run:  python benchmarks/overhead.py [--repeats 5]
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
from render import health_cost  # benchmarks/render.py, beside this script
from tensorboard.compat.proto import event_pb2

import filterviz
from filterviz import layers
from filterviz.options import RenderOptions
from filterviz.renderer import renderer_for
from filterviz.schedule import Schedule
from filterviz.writers import LoggedStep
from filterviz.writers.png import ENCODER, encode_png, encode_png_with_pillow
from filterviz.writers.tensorboard import TensorBoardWriter, read_records

EPOCHS, SAMPLES, BATCH = 3, 4096, 32


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


def logger(**arguments) -> Callable[[str], list]:
    return lambda log_dir: [filterviz.FilterLogger(log_dir, **arguments)]


class SnapshotsOnly(filterviz.FilterLogger):
    """Diagnostic: only the training thread's part of FilterLogger (its hooks and a copy of the kernel at
    each logged step); nothing is handed to the writer thread."""

    def _log(self, step):
        self._before = None
        if step is not None:
            self._snapshots()


def keras_write_images(log_dir: str) -> list:
    return [keras.callbacks.TensorBoard(log_dir, histogram_freq=1, write_images=True)]


def nothing(log_dir: str) -> list:
    return []


# case -> (model, callbacks, FilterLogger's schedule or None)
CASES: dict[str, tuple[Callable[[], keras.Model], Callable[[str], list], dict | None]] = {
    "CNN no callback": (reference_cnn, nothing, None),
    "CNN no callback, again": (reference_cnn, nothing, None),
    "CNN FilterLogger every epoch": (reference_cnn, logger(), {}),
    "CNN keras TensorBoard write_images": (reference_cnn, keras_write_images, None),
    "CNN FilterLogger every 10 steps": (reference_cnn, logger(every_n_steps=10), {"every_n_steps": 10}),
    "CNN FilterLogger every step": (reference_cnn, logger(every_n_steps=1), {"every_n_steps": 1}),
    "CNN   every step, health=False": (
        reference_cnn,
        logger(every_n_steps=1, health=False),
        {"every_n_steps": 1},
    ),
    "CNN   (its training-thread part only)": (
        reference_cnn,
        lambda log_dir: [SnapshotsOnly(log_dir, every_n_steps=1)],
        None,
    ),
    "MLP no callback": (cifar_mlp, nothing, None),
    "MLP no callback, again": (cifar_mlp, nothing, None),
    "MLP FilterLogger every epoch": (cifar_mlp, logger(), {}),
    "MLP keras TensorBoard write_images": (cifar_mlp, keras_write_images, None),
    "MLP FilterLogger every 10 steps": (cifar_mlp, logger(every_n_steps=10), {"every_n_steps": 10}),
    "MLP   every 10 steps, health=False": (
        cifar_mlp,
        logger(every_n_steps=10, health=False),
        {"every_n_steps": 10},
    ),
}


def scheduled_steps(schedule: dict, epochs: int, batches: int, batches_before: int) -> list[int]:
    """The steps FilterLogger's schedule asks for in one fit of a model that has trained `batches_before`
    batches before (filterviz.schedule, driven as Keras drives the callback)."""
    rules = Schedule(schedule.get("every_n_epochs", 1), schedule.get("every_n_steps"))
    steps = [rules.fit_begins(0, batches_before, batches_before // batches)]
    for epoch in range(epochs):
        rules.epoch_begins()
        steps += [rules.batch_begins(batch) if rules.by_steps else None for batch in range(batches)]
        steps.append(rules.epoch_ends(epoch, batches))
    steps.append(rules.fit_ends())
    return [step for step in steps if step is not None]


def fit(model: keras.Model, callbacks: Callable[[str], list], x, y, epochs: int) -> tuple[float, list[int]]:
    """(seconds, steps logged) of one fit."""
    with tempfile.TemporaryDirectory() as log_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skips are counted from what was written
        start = time.perf_counter()
        model.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0, callbacks=callbacks(log_dir))
        seconds = time.perf_counter() - start
        steps = [
            event.step
            for path in sorted(Path(log_dir).glob("filters/*tfevents*"))
            for event in map(event_pb2.Event.FromString, (data for _, _, data in read_records(path)))
            if event.summary.value
        ]
    return seconds, steps


def median_ms(function, repeats: int = 9) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def breakdown(model: keras.Model) -> str:
    """Where the time of one grid goes, for the first layer of `model`."""
    renderer, found = renderer_for(model, None, RenderOptions())
    layer = found.layer
    kernel = renderer.snapshot(layers.current_kernel(model, layer))
    picture = renderer.draw(kernel)
    grid = LoggedStep("filters/x", 0, "batch", picture.image, "", renderer.colour)
    snapshot = median_ms(lambda: renderer.snapshot(layers.current_kernel(model, layer)))
    copy = median_ms(lambda: kernel.copy())
    draw = median_ms(lambda: renderer.draw(kernel))
    png = median_ms(lambda: encode_png(picture.image, colour=renderer.colour))
    pillow = median_ms(lambda: encode_png_with_pillow(picture.image, colour=renderer.colour), repeats=5)
    with tempfile.TemporaryDirectory() as folder:
        writer = TensorBoardWriter(folder)
        record = median_ms(lambda: writer.write(grid))
    health, every = health_cost(renderer, layers.current_kernel(model, layer), 3)
    health *= 1e3
    writer_total = draw + png + record
    shape = "x".join(map(str, picture.image.shape))
    lines = [
        f"{layer.name} {tuple(layer.kernel.shape)} -> {shape} grid, PNG {len(grid.png) / 1e6:.2f} MB",
        f"  training thread: snapshot {snapshot:.2f} ms (a plain copy of the kernel: {copy:.2f} ms), "
        "twice when the update ratio is measured",
        f"  writer thread:   render {draw:.2f} ms + PNG {png:.2f} ms ({ENCODER}; Pillow: {pillow:.1f} ms)"
        f" + event record {record:.2f} ms = {writer_total:.1f} ms, {writer_total / copy:.1f}x the copy",
        f"                   + health {health:.2f} ms (noise and redundancy every {every} logged steps) "
        f"= {writer_total + health:.1f} ms",
    ]
    wandb_line = wandb_costs(grid)
    if wandb_line:
        lines.append(wandb_line)
    return "\n".join(lines)


def wandb_costs(grid: LoggedStep) -> str:
    """One grid into an offline W&B run: as an array (wandb encodes it) and as filterviz's PNG."""
    try:
        import wandb

        from filterviz.writers.wandb import WandbWriter
    except ImportError:
        return ""
    with tempfile.TemporaryDirectory() as folder:
        run = wandb.init(project="filterviz-benchmark", dir=folder, mode="offline", reinit="finish_previous")
        try:
            pixels = grid.image[..., 0] if grid.image.shape[2] == 1 else grid.image
            as_array = median_ms(lambda: run.log({"array": wandb.Image(pixels, caption="c")}), repeats=5)
            writer = WandbWriter(run, "batch")
            as_png = median_ms(lambda: writer.write(grid), repeats=5)
            writer.close()
        finally:
            run.finish()
    return (
        f"  W&B: wandb.Image(array) and log {as_array:.1f} ms; filterviz's PNG file {as_png:.1f} ms "
        f"(with the PNG already made for TensorBoard)"
    )


def print_stages() -> None:
    print("\nOne grid, where the time goes (medians):")
    for build in (reference_cnn, cifar_mlp):
        print(breakdown(build()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stages", action="store_true", help="only where the time of one grid goes")
    args = parser.parse_args()
    if args.stages:
        print_stages()
        return
    rng = np.random.default_rng(0)
    x = rng.random((SAMPLES, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, SAMPLES)

    # One model per architecture, shared by its cases and warmed up once: every fit reuses the same
    # compiled train step, so the timings differ only by the callbacks (separate but identical models
    # differ in speed by a few percent on their own).
    shared = {build: build() for build, _, _ in CASES.values()}
    for build, callbacks, _ in CASES.values():
        fit(shared[build], callbacks, x[:256], y[:256], 1)
    times: dict[str, list[float]] = {case: [] for case in CASES}
    notes: dict[str, str] = {}
    for repeat in range(args.repeats):
        for case, (build, callbacks, schedule) in CASES.items():  # interleaved: load hits all alike
            trained = int(keras.ops.convert_to_numpy(shared[build].optimizer.iterations))
            seconds, steps = fit(shared[build], callbacks, x, y, EPOCHS)
            times[case].append(seconds)
            if schedule is not None:
                wanted = scheduled_steps(schedule, EPOCHS, SAMPLES // BATCH, trained)
                order = "in order" if steps == sorted(set(steps)) else "OUT OF ORDER"
                notes[case] = (
                    f"{len(steps)} of {len(wanted)} grids, {order}, {len(wanted) - len(steps)} skipped"
                )
        print(f"repeat {repeat + 1}/{args.repeats} done", flush=True)

    # Each fit over the fit without callbacks of the same model, measured moments before: slow drift of
    # the machine cancels in the ratio; the median then drops the outliers.
    print(f"\n{'case':38} {'median fit':>10} {'median ratio':>12}  read back (last repeat)")
    for case, seconds in times.items():
        baseline = times[case.split()[0] + " no callback"]
        ratios = [s / base for s, base in zip(seconds, baseline, strict=True)]
        fit_time, ratio = statistics.median(seconds), statistics.median(ratios)
        print(f"{case:38} {fit_time:9.2f}s {ratio:12.3f}  {notes.get(case, '')}")
    print_stages()
    print(
        "\ngoals: MLP writer <= 30 ms a grid; MLP every 10 steps and CNN every step: 0 skipped, <= 1.05; "
        "every epoch <= 1.01; below Keras' write_images"
    )


if __name__ == "__main__":
    main()
