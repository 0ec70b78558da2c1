"""What logging filters costs a training run: model.fit with and without callbacks, side by side.

The reference CNN takes 32x32x3 inputs, starts with a Conv2D of 32 5x5 filters, and trains for 3 epochs
over 4,096 random samples (batch 32: 128 steps an epoch). Each case has its own model, built the same way
and warmed up once; the cases' fits run interleaved, and the script prints each case's median fit time
over the one without callbacks, as the median of per-repeat ratios.

Goals: FilterLogger every epoch <= 1.01, every 10 steps <= 1.05, and both below Keras' own
TensorBoard(histogram_freq=1, write_images=True).

Run:  python benchmarks/overhead.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

import filterviz


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


CASES = {
    "no callback": lambda log_dir: [],
    "FilterLogger every epoch": lambda log_dir: [filterviz.FilterLogger(log_dir)],
    "FilterLogger every 10 steps": lambda log_dir: [filterviz.FilterLogger(log_dir, every_n_steps=10)],
    "keras TensorBoard write_images": lambda log_dir: [
        keras.callbacks.TensorBoard(log_dir, histogram_freq=1, write_images=True)
    ],
}


def fit_seconds(model: keras.Model, case: str, x: np.ndarray, y: np.ndarray, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as log_dir:
        callbacks = CASES[case](log_dir)
        start = time.perf_counter()
        model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=callbacks)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4096)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)

    # One model per case, warmed up once: later fits reuse its compiled train step, so the timings
    # hold training and callbacks only, not tracing.
    models = {case: reference_cnn() for case in CASES}
    for case, model in models.items():
        fit_seconds(model, case, x[:256], y[:256], 1)
    times: dict[str, list[float]] = {case: [] for case in CASES}
    for repeat in range(args.repeats):
        for case, model in models.items():  # interleaved: a slow moment on the machine hits all alike
            times[case].append(fit_seconds(model, case, x, y, args.epochs))
        print(f"repeat {repeat + 1}/{args.repeats} done", flush=True)

    # Each repeat's fit over the same repeat's fit without callbacks, measured moments apart: slow drift
    # of the machine cancels in the ratio; the median then drops the outliers.
    print(f"\n{'case':34} {'median fit':>11} {'median ratio':>13}")
    for case, seconds in times.items():
        ratios = [s / base for s, base in zip(seconds, times["no callback"], strict=True)]
        print(f"{case:34} {statistics.median(seconds):10.2f}s {statistics.median(ratios):13.3f}")
    print("\ngoals: every epoch <= 1.01, every 10 steps <= 1.05, both below keras TensorBoard write_images")


if __name__ == "__main__":
    main()
