"""Shared by the tests: tiny models and data, reading grids and logs back, the formulas the docs promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np

import filterviz
from filterviz.core.grid import PADDING_COLOUR


def cell(image: np.ndarray, row: int, col: int, tile_hw: tuple[int, int], scale: int = 1, padding: int = 1):
    """The pixels of the tile at (row, col) of a grid, from the README's layout written out here on
    purpose: the tests check GridPlan.cell_box against it, not with it."""
    th, tw = tile_hw
    top = padding + row * (th * scale + padding)
    left = padding + col * (tw * scale + padding)
    return image[top : top + th * scale, left : left + tw * scale]


def tile(image, index, ncols, tile_hw, scale=1, padding=1):
    """Tile `index` of a row-major grid with `ncols` columns, one pixel per weight."""
    row, col = divmod(index, ncols)
    block = cell(image, row, col, tile_hw, scale, padding)
    return block[::scale, ::scale]


def level(v: float) -> int:
    """The documented gray level of v in [0, 1]: v * 255 rounded half up."""
    return int(np.floor(v * 255 + 0.5))


def global_levels(weights):
    """Gray levels of `weights` under normalize="global", straight from the documented formula."""
    weights = np.asarray(weights, np.float64)  # the formula is computed in float64
    lo, hi = weights.min(), weights.max()
    return np.vectorize(lambda w: level((w - lo) / (hi - lo)))(weights)


def unique_weights(shape, seed=0):
    """Distinct weights, so that every pixel names the weight it came from."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float32)).reshape(shape) - 50


def responses(model, image_shape, units):
    """w[i, y, x, c]: unit i's output for a one-hot image at (y, x, c) in the model's input layout."""
    size = int(np.prod(image_shape))
    onehots = np.eye(size, dtype=np.float32).reshape(size, *image_shape)
    out = model.predict(onehots, verbose=0)  # (size, units)
    return out.T.reshape(units, *image_shape)


def padding_mask(image, rows, cols, tile_hw, scale=1, padding=1) -> np.ndarray:
    """True where a grid has separator pixels (between tiles and around the border)."""
    mask = np.ones(image.shape[:2], bool)
    for r in range(rows):
        for c in range(cols):
            cell(mask, r, c, tile_hw, scale, padding)[...] = False
    return mask


PAD = np.array(PADDING_COLOUR, np.uint8)


def logged_images(run_dir, tag):
    """[(step, image)] of every image event under `tag` in a TensorBoard run directory, read from disk."""
    from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator

    from filterviz.core.png import decode_png

    accumulator = EventAccumulator(str(run_dir), size_guidance={TENSORS: 0})  # 0: keep every event
    accumulator.Reload()
    return [(event.step, decode_png(event.tensor_proto.string_val[2])) for event in accumulator.Tensors(tag)]


def logged_steps(run_dir, tag):
    return [step for step, _ in logged_images(run_dir, tag)]


TAG = "filters/dense"


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(4, name="dense"),
            keras.layers.Dense(2, name="head"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


def tiny_data(n=32, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, 6, 6, 1), dtype=np.float32), rng.random((n, 2), dtype=np.float32)


class Renders(keras.callbacks.Callback):
    """What filterviz.render shows at the start and after every epoch, to compare with what was logged."""

    def __init__(self):
        super().__init__()
        self.images = []

    def on_train_begin(self, logs=None):
        self.images.append(filterviz.render(self.model))

    def on_epoch_end(self, epoch, logs=None):
        self.images.append(filterviz.render(self.model))


class RendersByBatch(keras.callbacks.Callback):
    """filterviz.render of the model as each batch begins and as training ends, by batches completed:
    what an image logged at that batch step must show. (Keras syncs jax's state for `self.model`.)"""

    def __init__(self, **options):
        super().__init__()
        self.options, self.images, self.done = options, {}, 0

    def on_train_batch_begin(self, batch, logs=None):
        self.images[self.done] = filterviz.render(self.model, **self.options)
        self.done += 1

    def on_train_end(self, logs=None):
        self.images[self.done] = filterviz.render(self.model, **self.options)


class Batches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.count += 1


class FailIn(keras.callbacks.Callback):
    """Raises inside training, as batch `batch` of epoch `epoch` begins."""

    def __init__(self, epoch, error, batch=1):
        super().__init__()
        self.epoch, self.error, self.batch = epoch, error, batch

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise self.error


ROOT = Path(__file__).parents[2]  # the repository, so that scripts run in a subprocess find `tests`


def run_python(*args, cwd=ROOT, timeout=300, env=None):
    """Run this Python with ARGS in a fresh process (a script, `-c CODE`, `-m module`), quietly."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={
            key: value
            for key, value in {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}.items()
            if value
        },
    )


def filterviz_cli(*args, cwd=None, timeout=300, env=None):
    """Run `python -m filterviz ARGS` (what the `filterviz` console script runs)."""
    return run_python("-m", "filterviz", *args, cwd=cwd, timeout=timeout, env=env)


def small_conv_model(side: int, filters: int, seed: int = 0):
    """A Conv2D layer `conv1` of 5x5 colour filters on side x side RGB images, and a 2-unit head."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((side, side, 3)),
            keras.layers.Conv2D(filters, 5, name="conv1", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, name="head"),
        ]
    )


def assert_usage_error(result, message):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("filterviz: error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr


def as_rgb(grid: np.ndarray) -> np.ndarray:
    """A gray grid as RGB, as a browser canvas or an animation frame holds it."""
    return np.repeat(grid, 3, axis=2) if grid.shape[2] == 1 else grid


def gif_frames(path):
    """An animation's frames as RGB arrays without the step label band above each, and the GIF."""
    from PIL import Image, ImageSequence

    from filterviz.cli.animate import BAND_HEIGHT

    with Image.open(path) as gif:
        return [np.asarray(frame.convert("RGB"))[BAND_HEIGHT:] for frame in ImageSequence.Iterator(gif)], gif
