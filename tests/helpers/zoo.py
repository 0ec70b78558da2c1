"""The fault zoo: small trainings of four architectures users train, on data that ships in scikit-learn,
each trained well and with one fault at a time, logged by FilterLogger and read back: does each step's
reading (`filterviz.core.health.read`) say "healthy" where the training is, and name the fault, by the
value meant for it, where it is not?

Architectures (the first layer is the one read, named "first"):

    MLP        Dense(64, relu) on the flattened 8x8 digits, then Dense(10)
    CNN 3x3    Conv2D(16, 3x3, relu) on the digits enlarged to 16x16 (as the demo's), max pooling, Dense(10)
    CNN 5x5    Conv2D(32, 5x5, relu) on 16x16 colour patches of the two sample photographs (which photograph
               and which half of it: 4 classes), max pooling, Conv2D(32, 3x3), Dense(4)
    ViT        a patch embedding Conv2D(32, 4x4, stride 4) of the 16x16 digits, a position embedding, one
               transformer block (2 heads), Dense(10): keras-io's ViT, small

Conditions, each changing one thing of the good run (Adam at 3e-3, a few epochs):

    good
    lr 100x too high         Adam at 0.3
    lr 1000x too low         Adam at 3e-6
    ReLUs killed (bias -10)  the first layer's bias starts at -10: its ReLUs never fire (the ViT's patch
                             embedding has no ReLU: not applicable there)
    L1 collapse              an L1 penalty on the first kernel so large that most filters collapse
    near-identical init      every filter starts as one random filter plus 1% noise
    inputs 0-255             the inputs left at 0 to 255 instead of 0 to 1
    one step                 the training stopped after one batch

MEANT says which value's reading must flag each fault; `judge` finds false alarms (an alarm at any logged
step of a good run, or a note at its last) and misses. `benchmarks/health_zoo.py` prints the tables,
`tests/trainings/test_health_zoo.py` checks them.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import keras
import numpy as np

import filterviz
from filterviz.cli import demo
from filterviz.core import health

GOOD_LR = 3e-3
BATCH = 64
EPOCHS = 5
LOGGED = 12  # logged steps per training, about
L1 = {"MLP": 0.05, "CNN 3x3": 0.5, "CNN 5x5": 0.05, "ViT": 1.0}  # "so large that most filters collapse"

ARCHITECTURES = ("MLP", "CNN 3x3", "CNN 5x5", "ViT")
FAULTS = (
    "lr 100x too high",
    "lr 1000x too low",
    "ReLUs killed (bias -10)",
    "L1 collapse",
    "near-identical init",
    "inputs 0-255",
    "one step",
)
CONDITIONS = ("good", *FAULTS)
NOT_APPLICABLE = {("ViT", "ReLUs killed (bias -10)"): "no ReLU after the patch embedding"}
# The values whose reading must flag each fault (None: no value of the first layer can tell it, as the
# README says).
MEANT: dict[str, set[str] | None] = {
    "lr 100x too high": {"update_ratio", "update_mean", "drift"},
    "lr 1000x too low": {"update_ratio", "update_mean"},
    "ReLUs killed (bias -10)": {"update_ratio", "update_mean"},
    "L1 collapse": {"dead"},
    "near-identical init": {"redundancy"},
    "inputs 0-255": None,
    "one step": {"drift"},
}
# Small kernels read at their fresh initialization: what chance gives each value there.
SMALL = ("3 taps (Conv1D, 1 channel)", "2x2x3 patch stem")


@dataclass(frozen=True)
class Run:
    architecture: str
    condition: str
    steps: list[int]
    health: dict[str, list[float]]  # name -> value at each logged step (NaN where not logged)
    readings: list[health.Reading]  # at each logged step
    accuracy: float  # training accuracy at the end

    def at(self, index: int) -> dict[str, float]:
        """The values logged at the index-th logged step."""
        return {name: values[index] for name, values in self.health.items() if not np.isnan(values[index])}

    @property
    def first(self) -> dict[str, float]:
        return self.at(0)

    @property
    def last(self) -> dict[str, float]:
        return self.at(-1)


@cache
def _digits(side: int) -> tuple[np.ndarray, np.ndarray]:
    return demo.load_digits_images(side)


@cache
def _photo_patches(count: int = 3200, side: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Colour patches of scikit-learn's two sample photographs in [0, 1], labelled by photograph and by
    the half of it they come from (4 classes)."""
    rng = np.random.default_rng(0)
    patches, labels = [], []
    for index, photo in enumerate(demo._sklearn_datasets().load_sample_images().images):
        height, width = photo.shape[:2]
        for half in range(2):
            rows = rng.integers(half * height // 2, (half + 1) * height // 2 - side, count // 4)
            columns = rng.integers(0, width - side, count // 4)
            patches.append(
                np.stack([photo[r : r + side, c : c + side] for r, c in zip(rows, columns, strict=True)])
            )
            labels.append(np.full(count // 4, 2 * index + half))
    order = rng.permutation(count)
    return (np.concatenate(patches) / 255.0).astype(np.float32)[order], np.concatenate(labels)[order]


DATA = {
    "MLP": lambda: _digits(8),
    "CNN 3x3": lambda: _digits(16),
    "CNN 5x5": _photo_patches,
    "ViT": lambda: _digits(16),
}


class NearIdentical(keras.initializers.Initializer):
    """Every filter one random filter (Glorot uniform), plus noise of 1% of its spread."""

    def __call__(self, shape, dtype=None):
        rng = np.random.default_rng(1)
        one = rng.uniform(-1, 1, (*shape[:-1], 1)) * np.sqrt(6 / (np.prod(shape[:-1]) + shape[-1]))
        noise = 0.01 * one.std() * rng.standard_normal(shape)
        return keras.ops.convert_to_tensor(np.repeat(one, shape[-1], axis=-1) + noise, dtype or "float32")


def first_layer(kind: type, condition: str, architecture: str, **arguments) -> keras.layers.Layer:
    """The layer read, with the condition's change to it."""
    if condition == "ReLUs killed (bias -10)":
        arguments["bias_initializer"] = keras.initializers.Constant(-10.0)
    if condition == "L1 collapse":
        arguments["kernel_regularizer"] = keras.regularizers.L1(L1[architecture])
    if condition == "near-identical init":
        arguments["kernel_initializer"] = NearIdentical()
    return kind(name="first", **arguments)


def build(architecture: str, condition: str) -> keras.Model:
    layers = keras.layers
    first = lambda kind, **arguments: first_layer(kind, condition, architecture, **arguments)  # noqa: E731
    if architecture == "MLP":
        return keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                layers.Flatten(),
                first(layers.Dense, units=64, activation="relu"),
                layers.Dense(10, activation="softmax"),
            ]
        )
    if architecture == "CNN 3x3":
        return keras.Sequential(
            [
                keras.Input((16, 16, 1)),
                first(layers.Conv2D, filters=16, kernel_size=3, activation="relu"),
                layers.MaxPooling2D(),
                layers.Flatten(),
                layers.Dense(10, activation="softmax"),
            ]
        )
    if architecture == "CNN 5x5":
        return keras.Sequential(
            [
                keras.Input((16, 16, 3)),
                first(layers.Conv2D, filters=32, kernel_size=5, activation="relu"),
                layers.MaxPooling2D(),
                layers.Conv2D(32, 3, activation="relu"),
                layers.GlobalAveragePooling2D(),
                layers.Dense(4, activation="softmax"),
            ]
        )
    images = keras.Input((16, 16, 1))
    tokens = layers.Reshape((16, 32))(first(layers.Conv2D, filters=32, kernel_size=4, strides=4)(images))
    tokens = PositionEmbedding()(tokens)
    attended = layers.MultiHeadAttention(2, 16)(*[layers.LayerNormalization()(tokens)] * 2)
    tokens = tokens + attended
    hidden = layers.Dense(64, activation="gelu")(layers.LayerNormalization()(tokens))
    tokens = tokens + layers.Dense(32)(hidden)
    pooled = layers.GlobalAveragePooling1D()(layers.LayerNormalization()(tokens))
    return keras.Model(images, layers.Dense(10, activation="softmax")(pooled))


class PositionEmbedding(keras.layers.Layer):
    """A learned embedding added to each token, by its position."""

    def build(self, input_shape):
        self.positions = self.add_weight(shape=input_shape[1:], initializer="random_normal", name="positions")

    def call(self, tokens):
        return tokens + self.positions


def train(architecture: str, condition: str, log_dir: Path) -> Run:
    x, y = DATA[architecture]()
    if condition == "inputs 0-255":
        x = x * 255.0
    keras.utils.set_random_seed(0)
    model = build(architecture, condition)
    learning_rate = {"lr 100x too high": GOOD_LR * 100, "lr 1000x too low": GOOD_LR / 1000}.get(
        condition, GOOD_LR
    )
    model.compile(
        keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    steps = EPOCHS * -(-len(x) // BATCH)
    epochs, fit = EPOCHS, {}
    if condition == "one step":
        epochs, fit = 1, {"steps_per_epoch": 1}
    logger = filterviz.FilterLogger(log_dir, layer="first", every_n_steps=max(1, steps // LOGGED))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0, callbacks=[logger], **fit)
    logged = filterviz.load_history(log_dir)
    values = {name: [float(value) for value in series] for name, series in logged.health.items()}
    return Run(
        architecture,
        condition,
        logged.steps.tolist(),
        values,
        logged.readings,
        history.history["accuracy"][-1],
    )


def run_zoo(architectures=ARCHITECTURES, conditions=CONDITIONS) -> dict[tuple[str, str], Run]:
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for architecture in architectures:
            for condition in conditions:
                if (architecture, condition) in NOT_APPLICABLE:
                    continue
                where = Path(folder) / f"{architecture}-{condition}".replace(" ", "-")
                runs[architecture, condition] = train(architecture, condition, where)
    return runs


def small_kernel(name: str) -> dict[str, float]:
    """A very small kernel's health values at its fresh initialization."""
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
        logged = filterviz.load_history(folder)
        return {name: float(values[0]) for name, values in logged.health.items() if not np.isnan(values[0])}


@dataclass(frozen=True)
class Verdict:
    """How the readings of one run fare: `flagged_by` the values whose alarm (or note, for a note's fault)
    showed at some logged step; `false_alarm`, for a good run, what flagged it."""

    run: Run
    flagged_by: set[str]
    false_alarm: str = ""

    @property
    def missed(self) -> bool:
        meant = MEANT.get(self.run.condition)
        return bool(meant) and not (meant & self.flagged_by)


def judge(run: Run) -> Verdict:
    """A good run must read no alarm at any logged step and healthy at its last; a fault must be flagged
    by its meant value at some logged step (a note counts where the meant value's reading is a note)."""
    alarms = {reading.value for reading in run.readings[1:] if reading.level == "alarm"}
    notes = {reading.value for reading in run.readings[-1:] if reading.level == "note"}
    if run.condition == "good":
        false_alarm = ", ".join(sorted(alarms | notes))
        return Verdict(run, alarms | notes, false_alarm)
    return Verdict(run, alarms | notes)
