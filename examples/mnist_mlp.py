"""An MLP on MNIST, its first layer's 28x28 templates logged to TensorBoard.

Downloads MNIST with keras.datasets on first use (the tests do not run this script; see
digits_templates.py for an offline version).

    python examples/mnist_mlp.py [--epochs 10] [--logdir logs/mnist]
    tensorboard --logdir logs --samples_per_plugin images=100
"""

import argparse

import filterviz
from filterviz.keras.quiet import import_quietly

keras = import_quietly()  # Keras, without TensorFlow's start-up lines (filterviz.keras.quiet)


def main(argv: list[str] | None = None, load_data=keras.datasets.mnist.load_data) -> keras.Model:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--logdir", default="logs/mnist")
    args = parser.parse_args(argv)

    (x, y), (x_test, y_test) = load_data()  # downloads once, then cached
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),  # filterviz finds the 28x28 tile shape through this
            keras.layers.Dense(100, activation="relu", name="hidden"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=128,
        validation_data=(x_test, y_test),
        verbose=2,
        callbacks=[
            filterviz.FilterLogger(args.logdir, every_n_steps=100, normalize="symmetric", cmap="diverging"),
            keras.callbacks.TensorBoard(args.logdir),
        ],
    )

    return model


if __name__ == "__main__":
    main()
