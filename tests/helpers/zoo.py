"""The fault zoo: small trainings on the demo's bundled data under known conditions, each logged by
FilterLogger, to show that every health value separates the fault it is meant to reveal from a good run.

The good run is the demo's `edges` recipe, smaller: 64 12x12 colour filters learning to reconstruct
low-pass-whitened patches of scikit-learn's photographs (reconstruction ICA), Adam with a cosine-decayed
learning rate. Each fault changes one thing:

    lr 100x too high / too low   the learning rate times 100 or 1/100
    too short                     one fortieth of the training
    frozen                        the layer not trainable (a gain after it is what trains)
    pinned to zero                16 of the 64 filters set to zero after every update
    duplicated                    filters 48-63 copies of filters 0-15 after every update
    negated                       filters 48-63 the negations of filters 0-15 after every update
and two very small kernels read at their fresh initialization: 16 Conv1D filters of 3 taps on one
channel, and a 2x2x3 patch stem of 64 filters.

`benchmarks/health_zoo.py` prints the table; `tests/trainings/test_health_zoo.py` checks the separations.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

import filterviz
from filterviz.cli import demo

FILTERS, PATCHES, EPOCHS, BATCH = 64, 8000, 10, 128
GOOD_LR = 1e-2
PLANTED = 16  # filters pinned, copied or negated

CONDITIONS = (
    "good",
    "lr 100x too high",
    "lr 100x too low",
    "too short",
    "frozen",
    "pinned to zero",
    "duplicated",
    "negated",
)
SMALL = ("3 taps (Conv1D, 1 channel)", "2x2x3 patch stem")


@dataclass(frozen=True)
class Run:
    condition: str
    first: dict[str, float]  # each health value at the first logged step (the initialization)
    last: dict[str, float]  # and at the last
    during: dict[str, float]  # and its median over the run (the update ratio is read over the run)


class Planted(keras.constraints.Constraint):
    """After every update: zero the first PLANTED filters, or copy or negate them into the last PLANTED."""

    def __init__(self, how: str) -> None:
        self.how = how

    def __call__(self, kernel):
        first = kernel[..., :PLANTED]
        if self.how == "zero":
            return keras.ops.concatenate([keras.ops.zeros_like(first), kernel[..., PLANTED:]], axis=-1)
        planted = first if self.how == "copy" else -first
        return keras.ops.concatenate([kernel[..., :-PLANTED], planted], axis=-1)


class Gain(keras.layers.Layer):
    """One trainable number times its input: what trains when the filters are frozen."""

    def build(self, input_shape):
        self.gain = self.add_weight(shape=(), initializer="ones", name="gain")

    def call(self, x):
        return x * self.gain


def edge_learner(steps: int, learning_rate: float, constraint=None, trainable: bool = True) -> keras.Model:
    """The demo's reconstruction ICA (`filterviz.cli.demo.edge_learner`), with the zoo's one change."""
    encoder = keras.layers.Conv2D(
        FILTERS,
        demo.PATCH,
        use_bias=False,
        activity_regularizer=keras.regularizers.L1(0.3 / FILTERS),
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.05),
        kernel_constraint=constraint,
        trainable=trainable,
        name="conv1",
    )
    patch = keras.Input((demo.PATCH, demo.PATCH, 3))
    decoded = demo._tied_decoder_class()(encoder)(encoder(patch))
    model = keras.Model(patch, Gain()(decoded))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.01)
    model.compile(keras.optimizers.Adam(schedule), "mse")
    return model


def last_values(history) -> dict[str, float]:
    return {name: float(values[-1]) for name, values in history.health.items() if not np.isnan(values[-1])}


def first_values(history) -> dict[str, float]:
    return {name: float(values[0]) for name, values in history.health.items() if not np.isnan(values[0])}


def median_values(history) -> dict[str, float]:
    return {
        name: float(np.nanmedian(values))
        for name, values in history.health.items()
        if not np.isnan(values).all()
    }


def train(condition: str, patches: np.ndarray, log_dir: Path) -> Run:
    keras.utils.set_random_seed(0)
    epochs = 1 if condition == "too short" else EPOCHS
    x = patches[: len(patches) // 4] if condition == "too short" else patches  # 1/40 of the batches
    steps = epochs * -(-len(x) // BATCH)
    learning_rate = {"lr 100x too high": GOOD_LR * 100, "lr 100x too low": GOOD_LR / 100}.get(
        condition, GOOD_LR
    )
    how = {"pinned to zero": "zero", "duplicated": "copy", "negated": "negate"}.get(condition)
    model = edge_learner(steps, learning_rate, Planted(how) if how else None, trainable=condition != "frozen")
    logger = filterviz.FilterLogger(log_dir, layer="conv1", every_n_steps=max(1, steps // 10))
    with warnings.catch_warnings():  # the frozen run is frozen on purpose
        warnings.simplefilter("ignore", filterviz.FilterVizWarning)
        model.fit(x, x, epochs=epochs, batch_size=BATCH, verbose=0, callbacks=[logger])
    history = filterviz.load_history(log_dir)
    return Run(condition, first_values(history), last_values(history), median_values(history))


def small_kernel(name: str) -> Run:
    """A very small kernel at its fresh initialization: what each health value reads there."""
    keras.utils.set_random_seed(0)
    if name.startswith("3 taps"):
        model = keras.Sequential([keras.Input((64, 1)), keras.layers.Conv1D(16, 3, name="conv")])
    else:
        model = keras.Sequential(
            [keras.Input((12, 12, 3)), keras.layers.Conv2D(64, 2, strides=2, name="conv")]
        )
    model.compile("sgd", "mse")
    with tempfile.TemporaryDirectory() as folder:
        x = np.zeros((8, *model.input_shape[1:]), np.float32)
        y = np.zeros((8, *model.output_shape[1:]), np.float32)
        model.fit(x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(folder)])
        history = filterviz.load_history(folder)
        return Run(name, first_values(history), last_values(history), median_values(history))


def run_zoo(conditions=CONDITIONS) -> dict[str, Run]:
    patches = demo.photo_patches(PATCHES)
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for condition in conditions:
            runs[condition] = train(condition, patches, Path(folder) / condition.replace(" ", "-"))
    for name in SMALL:
        runs[name] = small_kernel(name)
    return runs


# What each fault is meant to reveal: (health value, fault, how it must compare with the good run, factor):
# the fault's value at least `factor` times the good run's ("above"), or at most 1/factor ("below"). The
# update ratio is compared over the run (its median: a learning rate shows in every step, and a decayed
# one least at the last); the others at the last step, where a training ends up.
# With Adam, a learning rate 100x too high throws the filters far in the first steps (drift) and leaves
# them rough (noise); its update ratio spikes once, then collapses below the good run's, since Adam's
# second moment, swollen by those first gradients, throttles every later step. So drift shows it.
SEPARATIONS = (
    ("drift", "lr 100x too high", "above", 5.0),
    ("update_ratio", "lr 100x too low", "below", 10.0),
    ("noise", "lr 100x too low", "above", 1.5),
    ("drift", "frozen", "below", 1000.0),
    ("dead", "pinned to zero", "above", 10.0),
    ("noise", "lr 100x too high", "above", 1.5),
    ("noise", "too short", "above", 1.5),
    ("redundancy", "duplicated", "above", 10.0),
    ("opposites", "negated", "above", 10.0),
)
OVER_THE_RUN = ("update_ratio",)
FLOOR = 0.01  # shares (dead, redundancy, opposites) at or below this count as 0.01 when compared


def separation(runs: dict[str, Run], name: str, fault: str, direction: str) -> float:
    """How many times the fault's value is beyond the good run's, in the direction it should be."""
    when = "during" if name in OVER_THE_RUN else "last"
    good, bad = getattr(runs["good"], when).get(name, np.nan), getattr(runs[fault], when).get(name, np.nan)
    if name in ("dead", "redundancy", "opposites"):
        good, bad = max(good, FLOOR), max(bad, FLOOR)
    if direction == "above":
        return bad / good
    return good / bad if bad > 0 else np.inf
