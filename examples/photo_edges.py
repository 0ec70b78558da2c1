"""A Conv2D layer learning edges and colour blobs from scikit-learn's two bundled photographs. Runs offline.

    pip install "./filterviz[demo]"
    python examples/photo_edges.py [--epochs 20] [--patches 40000] [--logdir logs/edges]
    tensorboard --logdir logs

64 12x12 colour filters learn to reconstruct patches of the photographs, whitened with a low-pass
roll-off, from few active filters (reconstruction ICA). They turn from noise into smooth, oriented edges
and colour-opponent stripes: watch it happen in TensorBoard's Filters tab, logged every 50 batches, or
write the steps as a GIF with `filterviz animate logs/edges`.
"""

import argparse
import os

import filterviz
from filterviz.cli.demo import edge_learner, photo_patches
from filterviz.keras.quiet import import_quietly

keras = import_quietly()  # Keras, without TensorFlow's start-up lines (filterviz.keras.quiet)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patches", type=int, default=40_000)
    parser.add_argument("--logdir", default="logs/edges")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    x = photo_patches(args.patches)
    batch_size = 128
    model = edge_learner(steps=args.epochs * -(-len(x) // batch_size))  # compiled
    model.fit(
        x,
        x,  # it reconstructs its input
        epochs=args.epochs,
        batch_size=batch_size,
        verbose=2,
        callbacks=[filterviz.FilterLogger(args.logdir, layer="conv1", every_n_steps=50)],
    )
    filterviz.save_png(model, os.path.join(args.logdir, "filters.png"), layer="conv1")
    print(f"Logged to {args.logdir}. tensorboard --logdir {args.logdir}, then the Filters tab")


if __name__ == "__main__":
    main()
