"""The README's main job: train two small models on data bundled with scikit-learn and log their filters.

* A Dense layer of 16 units on the 1,797 8x8 digits: each unit becomes a stroke template.
* A Conv2D layer of 32 7x7 filters on 32x32 patches of the two sample photographs, learning which photo a
  patch comes from and how it was rotated: the filters become oriented edges and colour blobs.

Both are logged with FilterLogger under one folder; the demo then writes the final grid and an animation
of every logged step, and prints the tensorboard command that shows them. Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_OUT = Path("filterviz-demo")
PATCH = 32  # pixels of a training patch, cut from a 64 x 64 square of the photo and halved


def load_digits_images():
    """scikit-learn's 1,797 bundled 8x8 digits as (N, 8, 8, 1) floats in [0, 1], and their labels."""
    digits = _sklearn_datasets().load_digits()
    return (digits.images / 16.0).astype(np.float32)[..., None], digits.target


def photo_patches(count: int, seed: int = 0):
    """`count` patches of scikit-learn's two sample photographs, and labels 0..7: which photo (0 or 1)
    times 4, plus how many quarter turns the patch was rotated. Patches are flipped at random."""
    photos = [image.astype(np.float32) / 255.0 for image in _sklearn_datasets().load_sample_images().images]
    rng = np.random.default_rng(seed)
    side = 2 * PATCH
    patches = np.empty((count, PATCH, PATCH, 3), np.float32)
    labels = np.empty(count, np.int64)
    for i in range(count):  # data preparation, once: not the library's hot path
        which = int(rng.integers(2))
        photo = photos[which]
        top, left = rng.integers(0, photo.shape[0] - side), rng.integers(0, photo.shape[1] - side)
        patch = photo[top : top + side, left : left + side].reshape(PATCH, 2, PATCH, 2, 3).mean(axis=(1, 3))
        turns = int(rng.integers(4))
        patches[i] = np.rot90(patch[:, ::-1] if rng.random() < 0.5 else patch, turns)
        labels[i] = which * 4 + turns
    patches -= patches.mean(axis=(0, 1, 2))
    patches /= patches.std()
    return patches, labels


def _sklearn_datasets():
    try:
        from sklearn import datasets
    except ImportError:
        raise ImportError(
            "The demo trains on data bundled with scikit-learn: pip install 'filterviz[demo]'"
        ) from None
    return datasets


def digits_mlp():
    """A Dense layer of 16 units on the 8x8 digits, each learning a stroke template; compiled."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="digit"),
            keras.layers.Flatten(),
            keras.layers.Dense(
                16, activation="tanh", kernel_regularizer=keras.regularizers.L2(1e-3), name="strokes"
            ),
            keras.layers.Dense(10, activation="softmax", name="classes"),
        ],
        name="digits_mlp",
    )
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def photos_cnn():
    """A small CNN whose first layer has 32 7x7 colour filters.

    Its first layer starts from small weights (N(0, 0.01), as AlexNet did), so that what it learns in a
    short training is not hidden under the noise of a larger random start. Compiled: AdamW's weight decay
    clears what the filters do not use.
    """
    import keras

    model = keras.Sequential(
        [
            keras.Input((PATCH, PATCH, 3), name="patch"),
            keras.layers.Conv2D(
                32,
                7,
                padding="same",
                activation="relu",
                name="conv1",
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            ),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="softmax", name="photo_and_turns"),
        ],
        name="photos_cnn",
    )
    model.compile(
        keras.optimizers.AdamW(2e-3, weight_decay=0.2),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@dataclass(frozen=True)
class Result:
    log_dir: Path
    filters: Path  # the photos CNN's final grid
    evolution: Path  # its animation, a frame per epoch
    digits_filters: Path
    digits_evolution: Path
    photos_model: Any  # the trained models, for more pictures
    digits_model: Any


def run(out: Path = DEFAULT_OUT, epochs: int = 8, patches: int = 14_000, verbose: int = 2) -> Result:
    """Train both models for `epochs` epochs, logging to `out`, and write the pictures there."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter (CUDA probes)
    import keras

    import filterviz
    from filterviz.animate import animate

    out = Path(out)
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[filterviz demo {time.monotonic() - started:5.0f}s] {text}", flush=True)

    say("1/2  a Dense layer on scikit-learn's 8x8 digits")
    keras.utils.set_random_seed(0)
    images, labels = load_digits_images()
    digits = digits_mlp()
    look = {"normalize": "symmetric", "cmap": "diverging"}  # red pushes a unit up, blue down
    digits.fit(
        images,
        labels,
        epochs=epochs,
        batch_size=16,
        validation_split=0.2,
        verbose=verbose,
        callbacks=[filterviz.FilterLogger(out / "digits", **look)],
    )
    digits_filters = filterviz.save_png(digits, out / "digits-filters.png", **look)
    digits_evolution = animate(out / "digits", out / "digits-evolution.gif", fps=3)

    say(f"2/2  a Conv2D layer on {patches:,} patches of scikit-learn's sample photographs")
    keras.utils.set_random_seed(0)
    x, y = photo_patches(patches)
    photos = photos_cnn()
    photos.fit(
        x,
        y,
        epochs=epochs,
        batch_size=64,
        validation_split=0.1,
        verbose=verbose,
        callbacks=[filterviz.FilterLogger(out / "photos")],
    )
    filters = filterviz.save_png(photos, out / "filters.png")
    evolution = animate(out / "photos", out / "evolution.gif", fps=3)

    say("done. Pictures:")
    for path in (filters, evolution, digits_filters, digits_evolution):
        print(f"  {path}")
    print("See every logged step in TensorBoard (Images tab):")
    print(f"  {tensorboard_program()} --logdir {out} --samples_per_plugin images=100")
    return Result(out, filters, evolution, digits_filters, digits_evolution, photos, digits)


def tensorboard_program() -> str:
    """`tensorboard`, or the path of the one installed beside this Python when the PATH finds another or
    none (after `make demo` it sits in .venv/bin, which is not on the PATH)."""
    beside = Path(sys.executable).parent / "tensorboard"
    found = shutil.which("tensorboard")
    if not beside.exists() or (found and Path(found).resolve() == beside.resolve()):
        return "tensorboard"
    relative = os.path.relpath(beside)
    return relative if not relative.startswith("..") else str(beside)


def main(argv: list[str] | None = None) -> None:
    """`python -m filterviz.demo`: the same as `filterviz demo`."""
    from filterviz.cli import main as cli_main

    cli_main(["demo", *(argv or [])])


if __name__ == "__main__":
    main()
