"""What logging filters costs a training run, and whether every grid due is written.

Two models, each fitted for 2 epochs over 4,096 random samples of 32x32x3 (batch 64: 128 batches):
* an MLP whose first layer is Dense(1024) on the flattened 3,072 inputs, logged every 10 steps;
* a CNN whose first layer is Conv2D(32, 5) on RGB, logged every step.
Both with FilterLogger's defaults otherwise (health on), and again in torch (the same layers, a plain loop
with Adam over the same batches) watched by filterviz.torch.watch with its defaults. For each model, five
interleaved pairs: a fit with the callback between two fits without it (each pair shares its second fit
without with the next); the fit with, over the mean of its two neighbours, is one sample, and the table
gives their median. The second fit without over the first ("noise") is the noise floor: ideally 1.000.

Every logged run is read back from disk: grids written of grids due, and health values computed of those
due (those written, and those the writer left out because it was behind: it marks them). No grid may be
missing at these loads; the writer sheds optional work first (docs/how-it-logs.md), and what it shed is
counted. Noise, redundancy and opposites of a large layer come only as often as their time budget allows:
they are not due at the other steps.

Then MLflow at every step: the CNN logged at every batch to a real tracking server (`mlflow server` on
127.0.0.1, SQLite store) with `FilterLogger(mlflow=True, every_n_steps=1)`, in interleaved pairs as above:
the fit ratio, and the grids on the server of the grids due, read back from it after each fit.

Then the extra rows: every epoch, and Keras' own TensorBoard(write_images=True); and one grid's stages:
the copy on the training thread, render, PNG, health and the event record on the writer thread, and what
handing the grid to W&B and to MLflow costs.

Goals: every grid written; MLP fit ratio <= 1.08, CNN <= 1.05 (medians, Keras and torch); every grid on
the MLflow server.

Run:  python benchmarks/overhead.py [--pairs 5] [--stages]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parents[1]))  # the shared timing helpers, in tests/helpers
with contextlib.suppress(ImportError):  # torch's Triton must load before TensorFlow (tests/conftest.py)
    import triton  # noqa: F401

import keras
import numpy as np
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

import filterviz
from filterviz.core import health
from filterviz.core.options import RenderOptions
from filterviz.core.png import ENCODER, encode_png, encode_png_with_pillow
from filterviz.core.step import LoggedStep
from filterviz.eventfile.format import PLUGIN_NAME, parse_tag
from filterviz.eventfile.writer import TensorBoardWriter
from filterviz.keras import kernels
from filterviz.keras.rendering import renderer_for
from filterviz.keras.schedule import Schedule
from tests.helpers.measure import health_cost, median_ms

EPOCHS, SAMPLES, BATCH = 2, 4096, 64
BATCHES = SAMPLES // BATCH


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


def cifar_cnn() -> keras.Model:
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


def fit(model: keras.Model, callbacks: Callable[[str], list], x, y) -> tuple[float, Path | None, list[str]]:
    """(seconds, a copy of the log folder, FilterVizWarnings) of one fit."""
    folder = Path(tempfile.mkdtemp(prefix="filterviz-overhead-"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0, callbacks=callbacks(str(folder)))
        seconds = time.perf_counter() - start
    told = [str(w.message) for w in caught if issubclass(w.category, filterviz.FilterVizWarning)]
    return seconds, folder, told


def scheduled_steps(schedule: dict, batches_before: int) -> list[int]:
    """The steps FilterLogger's schedule asks for in one fit of a model that has trained `batches_before`
    batches before (filterviz.keras.schedule, driven as Keras drives the callback)."""
    rules = Schedule(schedule.get("every_n_epochs", 1), schedule.get("every_n_steps"))
    steps = [rules.fit_begins(0, batches_before, batches_before // BATCHES)]
    for epoch in range(EPOCHS):
        rules.epoch_begins()
        steps += [rules.batch_begins(batch) if rules.by_steps else None for batch in range(BATCHES)]
        steps.append(rules.epoch_ends(epoch, BATCHES))
    steps.append(rules.fit_ends())
    return [step for step in steps if step is not None]


def read_back(folder: Path) -> tuple[list[int], int, int]:
    """(the steps with a grid, health values written, health values due) of one logged run. Due: those
    written, and those the writer said it left out (its shed marker), by the layer's measured values."""
    grids, values, shed, description = [], {}, {}, {}
    for path in sorted(folder.glob("filters/*tfevents*")):
        for event in EventFileLoader(str(path)).Load():  # TensorBoard's own reader, not filterviz's
            for value in event.summary.value:
                meaning = parse_tag(value.tag)
                if meaning is None:
                    continue
                if value.metadata.plugin_data.plugin_name == PLUGIN_NAME and not description:
                    description = json.loads(value.metadata.plugin_data.content)
                if meaning.kind == "grid":
                    grids.append(event.step)
                elif meaning.kind == "scalar":
                    values.setdefault(event.step, set()).add(meaning.name)
                elif meaning.kind == "shed":
                    flags = np.frombuffer(value.tensor.tensor_content, "<f4")
                    shed[event.step] = {
                        n for n, f in zip(description["shed_order"], flags, strict=False) if f
                    }
    measured = set(description.get("measured", health.SCALARS))
    heavy, cheap = measured & set(health.HEAVY), measured - set(health.HEAVY)
    written = sum(len(names) for step, names in values.items() if step in grids)
    left_out = 0
    for index, step in enumerate(grids):
        parts = shed.get(step, set())
        left_out += len(heavy) * ("heavy health" in parts)
        left_out += (len(cheap) - (index == 0)) * ("cheap health" in parts)  # no update ratio at step 0
    return grids, written, written + left_out


def logger(**arguments) -> Callable[[str], list]:
    return lambda log_dir: [filterviz.FilterLogger(log_dir, **arguments)]


def nothing(log_dir: str) -> list:
    return []


def keras_write_images(log_dir: str) -> list:
    return [keras.callbacks.TensorBoard(log_dir, histogram_freq=1, write_images=True)]


MODELS = {
    "MLP Dense(1024), every 10 steps": (cifar_mlp, {"every_n_steps": 10}),
    "CNN Conv2D(32, 5), every step": (cifar_cnn, {"every_n_steps": 1}),
}


# One fit of a benchmarked model: with logging or without, returning (seconds, the log folder, the
# FilterVizWarnings told, the steps its schedule asked for).
Run = Callable[[bool], tuple[float, Path | None, list[str], list[int]]]


def keras_run(build, schedule: dict, x, y) -> Run:
    model = build()
    fit(model, nothing, x[:256], y[:256])  # compiled and warm
    fit(model, logger(**schedule), x[:256], y[:256])

    def run(logged: bool):
        trained = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        seconds, folder, told = fit(model, logger(**schedule) if logged else nothing, x, y)
        return seconds, folder, told, scheduled_steps(schedule, trained)

    return run


def interleaved(run: Run, count: int) -> dict:
    """`count` interleaved pairs (without, with) and noise fits of one model, and what was read back."""
    ratios, noise, written, due, values, values_due, told = [], [], 0, 0, 0, 0, []
    without = run(False)[0]
    for _ in range(count):  # without, with, without, with, ... without: each pair has a neighbour after it
        with_it, folder, said, expected = run(True)
        again = run(False)[0]
        ratios.append(with_it / ((without + again) / 2))  # the fits on either side: slow drift cancels
        noise.append(again / without)
        without = again
        grids, computed, wanted = read_back(folder)
        written += len(set(grids) & set(expected))
        due += len(expected)
        values += computed
        values_due += wanted
        told += said
    return {
        "ratio": statistics.median(ratios),
        "noise": statistics.median(noise),
        "grids": (written, due),
        "health": (values, values_due),
        "told": [message for message in told if "fell behind" in message or "skipped" in message],
    }


def torch_runs(x, y) -> dict[str, Run]:
    """The same two models in torch, trained by a plain loop (Adam, the same batches), watched by
    filterviz.torch.watch; {} when torch is not installed."""
    try:
        import torch

        import filterviz.torch
    except ImportError:
        return {}
    torch.set_num_threads(os.cpu_count() or 1)
    images = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    labels = torch.from_numpy(y).long()
    nn = torch.nn

    def mlp():
        return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 1024), nn.ReLU(), nn.Linear(1024, 10))

    def cnn():
        return nn.Sequential(
            nn.Conv2d(3, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 32, 3), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
        )  # fmt: skip

    def runner(build, every_n_steps: int) -> Run:
        torch.manual_seed(0)
        model = build()
        optimizer = torch.optim.Adam(model.parameters())

        def train(samples: int) -> None:
            for _ in range(EPOCHS):
                for start in range(0, samples, BATCH):
                    optimizer.zero_grad()
                    loss = nn.functional.cross_entropy(
                        model(images[start : start + BATCH]), labels[start : start + BATCH]
                    )
                    loss.backward()
                    optimizer.step()

        def run(logged: bool, samples: int = SAMPLES):
            folder = Path(tempfile.mkdtemp(prefix="filterviz-overhead-torch-"))
            before = filterviz.torch.watcher.optimizer_steps(optimizer)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                if logged:
                    with filterviz.torch.watch(model, optimizer, folder, every_n_steps=every_n_steps):
                        train(samples)
                else:
                    train(samples)
                seconds = time.perf_counter() - start
            told = [str(w.message) for w in caught if issubclass(w.category, filterviz.FilterVizWarning)]
            after = before + EPOCHS * samples // BATCH
            # the state it starts from, every n-th step, and the state at the end
            due = [before, *range(before - before % every_n_steps + every_n_steps, after + 1, every_n_steps)]
            due += [after] if after % every_n_steps else []
            return seconds, folder, told, due

        run(False, 256)  # warm
        run(True, 256)
        return run

    return {
        "torch MLP Linear(1024), every 10 steps": runner(mlp, 10),
        "torch CNN Conv2d(32, 5), every step": runner(cnn, 1),
    }


def mlflow_rows(x, y, count: int) -> None:
    """The CNN logged at every step to a real MLflow server: fit ratio, and grids on the server of due."""
    try:
        import mlflow

        from tests.helpers.mlflow_server import MlflowServer, step_images
    except ImportError:
        print("MLflow is not installed: pip install 'filterviz[mlflow]'")
        return
    server = MlflowServer(Path(tempfile.mkdtemp(prefix="filterviz-overhead-mlflow-"))).start()
    try:
        mlflow.set_tracking_uri(server.url)
        client = mlflow.MlflowClient(server.url)
        model = cifar_cnn()
        fit(model, nothing, x[:256], y[:256])
        ratios, noise, on_server, due = [], [], 0, 0
        without, _, _ = fit(model, nothing, x, y)
        for _ in range(count):
            trained = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
            # MLflow prints the run's address as it ends: not part of the table
            with contextlib.redirect_stdout(io.StringIO()), mlflow.start_run() as run:
                with_it, _, _ = fit(
                    model, lambda _: [filterviz.FilterLogger(mlflow=True, every_n_steps=1)], x, y
                )
            again, _, _ = fit(model, nothing, x, y)
            ratios.append(with_it / ((without + again) / 2))
            noise.append(again / without)
            without = again
            on_server += len(step_images(client, run.info.run_id).get("filters/conv1", []))
            due += len(scheduled_steps({"every_n_steps": 1}, trained))
        print(
            f"{'CNN Conv2D(32, 5), every step, MLflow':40} {statistics.median(ratios):9.3f} "
            f"{statistics.median(noise):6.3f}  {on_server:>8} / {due:<6}  (grids on the server / due)"
        )
    finally:
        mlflow.set_tracking_uri(None)
        server.stop()


def extra_rows(x, y, repeats: int) -> None:
    """Every epoch, Keras' write_images: ratios to the fit without a callback just before."""
    rows = {
        "CNN FilterLogger every epoch": (cifar_cnn, logger()),
        "CNN keras TensorBoard write_images": (cifar_cnn, keras_write_images),
        "MLP FilterLogger every epoch": (cifar_mlp, logger()),
        "MLP keras TensorBoard write_images": (cifar_mlp, keras_write_images),
    }
    models = {build: build() for build, _ in rows.values()}
    for build, callbacks in rows.values():
        fit(models[build], callbacks, x[:256], y[:256])
    ratios: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, (build, callbacks) in rows.items():
            without, _, _ = fit(models[build], nothing, x, y)
            with_it, _, _ = fit(models[build], callbacks, x, y)
            ratios[name].append(with_it / without)
    for name, values in ratios.items():
        print(f"{name:40} {statistics.median(values):6.3f}")


def breakdown(model: keras.Model) -> str:
    """Where the time of one grid goes, for the first layer of `model`."""
    renderer, found = renderer_for(model, None, RenderOptions())
    layer = found.layer
    kernel = kernels.current_kernel(model, layer)
    picture = renderer.draw(kernel)
    grid = LoggedStep("filters/x", 0, "batch", picture.image, "", renderer.colour)
    snapshot = median_ms(lambda: kernels.current_kernel(model, layer))
    draw = median_ms(lambda: renderer.draw(kernel))
    png = median_ms(lambda: encode_png(picture.image, colour=renderer.colour))
    pillow = median_ms(lambda: encode_png_with_pillow(picture.image, colour=renderer.colour), repeats=5)
    with tempfile.TemporaryDirectory() as folder:
        writer = TensorBoardWriter(folder)
        record = median_ms(lambda: writer.write(grid))
    health_ms, heavy_ms = (seconds * 1e3 for seconds in health_cost(kernel, renderer, 3))
    writer_total = draw + png + record
    shape = "x".join(map(str, picture.image.shape))
    lines = [
        f"{layer.name} {tuple(layer.kernel.shape)} -> {shape} grid, PNG {len(grid.png) / 1e6:.2f} MB",
        f"  training thread: snapshot {snapshot:.2f} ms, twice when the update ratio is measured",
        f"  writer thread:   render {draw:.2f} ms + PNG {png:.2f} ms ({ENCODER}; Pillow: {pillow:.1f} ms)"
        f" + event record {record:.2f} ms = {writer_total:.1f} ms",
        f"                   + health {health_ms:.2f} ms = {writer_total + health_ms:.1f} ms; noise, "
        f"redundancy and opposites {heavy_ms:.1f} ms more, as often as their time budget allows",
    ]
    lines += [line for line in (wandb_costs(grid), mlflow_costs(grid)) if line]
    return "\n".join(lines)


def wandb_costs(grid: LoggedStep) -> str:
    """One grid into an offline W&B run: as an array (wandb encodes it) and as filterviz's PNG."""
    try:
        import wandb

        from filterviz.pipeline.wandb import WandbWriter
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


def mlflow_costs(grid: LoggedStep) -> str:
    """One grid into an MLflow run (a SQLite store and artifact folder on disk): MLflow's own log_image
    (which encodes the array twice, full and preview), and filterviz's writer: its share of the writer
    thread (the preview), and until its sending thread has stored it."""
    try:
        import mlflow

        from filterviz.pipeline.mlflow import MlflowWriter, preview
    except ImportError:
        return ""
    with tempfile.TemporaryDirectory() as folder:
        client = mlflow.MlflowClient(f"sqlite:///{folder}/mlflow.db")
        experiment = client.create_experiment("benchmark", Path(folder, "artifacts").as_uri())
        run_id = client.create_run(experiment).info.run_id
        pixels = grid.image[..., 0] if grid.image.shape[2] == 1 else grid.image
        own = median_ms(lambda: client.log_image(run_id, pixels, key="own", step=0, synchronous=True), 5)
        writer = MlflowWriter(client, run_id, "benchmark", notice=print)
        thread_share = median_ms(lambda: preview(grid.image), 5)

        def stored() -> None:
            sent = writer.sent
            writer.write(grid)
            while writer.sent == sent:
                time.sleep(0.0002)

        round_trip = median_ms(stored, 5)
        writer.close()
    return (
        f"  MLflow: log_image(array) {own:.1f} ms; filterviz's writer {thread_share:.1f} ms of the writer "
        f"thread (the preview; the PNG is TensorBoard's), {round_trip:.1f} ms until stored by its own thread"
    )


def print_stages() -> None:
    print("\nOne grid, where the time goes (medians):")
    for build in (cifar_cnn, cifar_mlp):
        print(breakdown(build()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--stages", action="store_true", help="only where the time of one grid goes")
    args = parser.parse_args()
    if args.stages:
        print_stages()
        return
    rng = np.random.default_rng(0)
    x = rng.random((SAMPLES, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, SAMPLES)
    runs = {name: keras_run(build, schedule, x, y) for name, (build, schedule) in MODELS.items()}
    runs.update(torch_runs(x, y))
    results = {name: interleaved(run, args.pairs) for name, run in runs.items()}
    print(f"\n{args.pairs} interleaved pairs of {EPOCHS}-epoch fits, {SAMPLES} samples, batch {BATCH}")
    print(
        f"{'model':40} {'fit ratio':>9} {'noise':>6}  {'grids written/due':>17}  {'health computed/due':>19}"
    )
    for name, result in results.items():
        written, due = result["grids"]
        values, values_due = result["health"]
        print(
            f"{name:40} {result['ratio']:9.3f} {result['noise']:6.3f}  {written:>8} / {due:<6}  "
            f"{values:>9} / {values_due:<7}"
        )
        for message in sorted(set(result["told"]))[:2]:
            print(f"    told: {message}")
    mlflow_rows(x, y, min(args.pairs, 3))
    print(
        "goals: every grid written; MLP fit ratio <= 1.08, CNN <= 1.05 (Keras and torch); every grid on the "
        "MLflow server\n"
    )
    extra_rows(x, y, 3)
    print_stages()


if __name__ == "__main__":
    main()
