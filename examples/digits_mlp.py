"""A Dense layer on scikit-learn's bundled 8x8 digits, its filters logged to TensorBoard. Runs offline.

    pip install "filterviz[demo]"
    python examples/digits_mlp.py [--epochs 40] [--logdir logs/digits]
    tensorboard --logdir logs --samples_per_plugin images=100

Each of the 16 units learns a stroke template; "symmetric" normalization with the diverging colour map
shows which pixels push a unit up (red) or down (blue). The tile shape, 8x8x1, is found from the model's
Input and Flatten.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras

import filterviz
from filterviz.demo import digits_mlp, load_digits_images


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--logdir", default="logs/digits")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    images, labels = load_digits_images()
    model = digits_mlp()  # compiled
    model.fit(
        images,
        labels,
        epochs=args.epochs,
        batch_size=64,
        validation_split=0.2,
        verbose=2,
        callbacks=[
            filterviz.FilterLogger(args.logdir, normalize="symmetric", cmap="diverging"),
            keras.callbacks.TensorBoard(args.logdir),  # the loss curves, in the same log_dir
        ],
    )
    print(f"Logged to {args.logdir}. tensorboard --logdir {args.logdir} --samples_per_plugin images=100")


if __name__ == "__main__":
    main()
