"""The README's main job: train a small model on data bundled with scikit-learn and draw its filters.

Nothing is downloaded: scikit-learn ships the 8x8 digits inside its wheel.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_OUT = Path("filterviz-demo")


def load_digits_images():
    """scikit-learn's 1,797 bundled 8x8 digits as (N, 8, 8, 1) floats in [0, 1], and their labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit(
            "The demo trains on data bundled with scikit-learn: pip install 'filterviz[demo]'"
        ) from None
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    return images, digits.target


def digits_mlp():
    """A Dense layer of 16 units on the 8x8 digits: each unit learns a stroke template."""
    import keras

    return keras.Sequential(
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


def run(out: Path = DEFAULT_OUT, epochs: int = 40, verbose: int = 2) -> Path:
    """Train the digits MLP and save its first layer as `out`/filters.png. Returns that path."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    import filterviz

    keras.utils.set_random_seed(0)
    images, labels = load_digits_images()
    model = digits_mlp()
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, epochs=epochs, batch_size=64, validation_split=0.2, verbose=verbose)
    return filterviz.save_png(model, Path(out) / "filters.png", normalize="symmetric", cmap="diverging")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs (default: %(default)s)")
    args = parser.parse_args(argv)
    path = run(args.out, args.epochs)
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
