"""A Conv2D layer trained on patches of scikit-learn's two bundled photographs. Runs offline.

    pip install "filterviz[demo]"
    python examples/sample_photos_cnn.py [--epochs 8] [--patches 14000] [--logdir logs/photos]
    tensorboard --logdir logs --samples_per_plugin images=100

The network learns which photograph a 32x32 patch comes from and how far it was rotated. To do that its
first layer of 32 7x7 filters turns from noise into colour blobs and oriented edges: watch it happen in
TensorBoard's Images tab, or write the steps as a GIF with `filterviz animate logs/photos`.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras

import filterviz
from filterviz.demo import photo_patches, photos_cnn


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--patches", type=int, default=14_000)
    parser.add_argument("--logdir", default="logs/photos")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    x, y = photo_patches(args.patches)
    model = photos_cnn()  # compiled
    model.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=64,
        validation_split=0.1,
        verbose=2,
        callbacks=[filterviz.FilterLogger(args.logdir, every_n_steps=50)],  # a finer slider: every 50 batches
    )
    filterviz.save_png(model, os.path.join(args.logdir, "filters.png"))
    print(f"Logged to {args.logdir}. tensorboard --logdir {args.logdir} --samples_per_plugin images=100")


if __name__ == "__main__":
    main()
