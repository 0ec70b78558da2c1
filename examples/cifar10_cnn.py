"""A CNN on CIFAR-10: its first Conv2D layer's 32 colour filters logged to TensorBoard and, with --wandb,
to Weights & Biases.

Downloads CIFAR-10 with keras.datasets on first use (the tests do not run this script; see
photo_edges.py for an offline version).

    python examples/cifar10_cnn.py [--epochs 20] [--logdir logs/cifar10] [--wandb]
    tensorboard --logdir logs --samples_per_plugin images=100
"""

import argparse

import filterviz
from filterviz.keras.quiet import import_quietly

keras = import_quietly()  # Keras, without TensorFlow's start-up lines (filterviz.keras.quiet)


def main(argv: list[str] | None = None, load_data=keras.datasets.cifar10.load_data) -> keras.Model:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--logdir", default="logs/cifar10")
    parser.add_argument("--wandb", action="store_true", help="also log to a W&B run (needs filterviz[wandb])")
    args = parser.parse_args(argv)

    (x, y), (x_test, y_test) = load_data()  # downloads once, then cached
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(128, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [keras.callbacks.TensorBoard(args.logdir)]
    if args.wandb:
        import wandb
        from wandb.integration.keras import WandbMetricsLogger

        wandb.init(project="filterviz-cifar10", config={"epochs": args.epochs})
        callbacks.append(WandbMetricsLogger())
    callbacks.append(filterviz.FilterLogger(args.logdir, wandb=args.wandb, every_n_steps=200))
    model.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=64,
        validation_data=(x_test, y_test),
        verbose=2,
        callbacks=callbacks,
    )

    return model


if __name__ == "__main__":
    main()
