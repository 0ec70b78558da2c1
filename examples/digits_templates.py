"""A linear classifier on scikit-learn's bundled digits, its ten templates logged to TensorBoard.
Runs offline.

    pip install "./filterviz[demo]"
    python examples/digits_templates.py [--epochs 30] [--logdir logs/digits]
    tensorboard --logdir logs

Dense(10) with softmax straight on the 256 pixels of the 8x8 digits enlarged to 16x16: column c of its
kernel, reshaped to 16x16, is digit c's template. "symmetric" normalization with the diverging colour map
shows which pixels are evidence for the digit (red) or against it (blue). The tile shape, 16x16x1, is found
from the model's Input and Flatten.
Keras' own TensorBoard callback writes the loss curves into the same log directory.
"""

import argparse

import filterviz
from filterviz.cli.demo import DIGITS_LOOK, SENSIBLE_LR, linear_classifier, load_digits_images
from filterviz.keras.quiet import import_quietly

keras = import_quietly()  # Keras, without TensorFlow's start-up lines (filterviz.keras.quiet)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--learning-rate", type=float, default=SENSIBLE_LR)
    parser.add_argument("--logdir", default="logs/digits")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    images, labels = load_digits_images()
    model = linear_classifier(args.learning_rate)  # compiled
    model.fit(
        images,
        labels,
        epochs=args.epochs,
        batch_size=32,
        validation_split=0.2,
        verbose=2,
        callbacks=[
            filterviz.FilterLogger(args.logdir, **DIGITS_LOOK),  # filters/templates
            keras.callbacks.TensorBoard(args.logdir),  # the loss curves, in the same log_dir
        ],
    )
    print(f"Logged to {args.logdir}. tensorboard --logdir {args.logdir}, then the Filters tab")


if __name__ == "__main__":
    main()
