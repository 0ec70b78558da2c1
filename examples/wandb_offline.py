"""Log first-layer filters to Weights & Biases, offline: no account and no network needed.

Trains the demo's linear classifier on scikit-learn's bundled digits with WandbMetricsLogger and
FilterLogger side by side. The run lands in ./wandb/offline-run-*; `wandb sync` uploads it later if you want.

    pip install "./filterviz[wandb,demo]"
    python examples/wandb_offline.py [--epochs 20] [--dir DIR]
"""

import argparse
import os

os.environ.setdefault("WANDB_MODE", "offline")  # before wandb is imported
import wandb
from wandb.integration.keras import WandbMetricsLogger

import filterviz
from filterviz.cli.demo import DIGITS_LOOK, SENSIBLE_LR, linear_classifier, load_digits_images
from filterviz.keras.quiet import import_quietly

keras = import_quietly()  # Keras, without TensorFlow's start-up lines (filterviz.keras.quiet)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dir", default=".", help="where the wandb/ folder goes (default: here)")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    images, labels = load_digits_images()
    model = linear_classifier(SENSIBLE_LR)  # compiled

    run = wandb.init(project="filterviz-digits", dir=args.dir, mode="offline", config={"epochs": args.epochs})
    model.fit(
        images,
        labels,
        epochs=args.epochs,
        batch_size=32,
        validation_split=0.2,
        verbose=2,
        callbacks=[
            WandbMetricsLogger(),  # metrics against epoch/epoch
            filterviz.FilterLogger(wandb=True, **DIGITS_LOOK),  # filters/templates
        ],
    )
    run.finish()  # prints where the offline run is and the `wandb sync` command that uploads it


if __name__ == "__main__":
    main()
