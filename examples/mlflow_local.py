"""Log first-layer filters to MLflow, locally: no server and no network needed.

Trains the demo's linear classifier on scikit-learn's bundled digits with MLflow's own Keras callback
and FilterLogger side by side, into a SQLite tracking store in a folder. The grids are step images under
`filters/templates` (the run page's image panel shows them on a step slider), the health values metrics
`filters/templates/<name>`. The script ends with the `mlflow ui` command that shows the run.

    pip install "./filterviz[mlflow,demo]"
    python examples/mlflow_local.py [--epochs 20] [--dir DIR]

With a tracking server, set MLFLOW_TRACKING_URI (or call mlflow.set_tracking_uri) instead of --dir.
"""

import argparse
import os
from pathlib import Path

import mlflow

import filterviz
from filterviz.cli.demo import DIGITS_LOOK, SENSIBLE_LR, linear_classifier, load_digits_images
from filterviz.keras.quiet import import_quietly

keras = import_quietly()  # Keras, without TensorFlow's start-up lines (filterviz.keras.quiet)

EXPERIMENT = "filterviz-digits"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=Path("mlflow-local"), help="the tracking store's folder")
    args = parser.parse_args(argv)

    args.dir.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{(args.dir / 'mlflow.db').resolve()}"
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(store)
        client = mlflow.MlflowClient()
        experiment = client.get_experiment_by_name(EXPERIMENT)
        artifacts = (args.dir / "artifacts").resolve().as_uri()  # the grids, in the same folder
        mlflow.set_experiment(
            experiment_id=experiment.experiment_id
            if experiment
            else client.create_experiment(EXPERIMENT, artifacts)
        )

    keras.utils.set_random_seed(0)
    images, labels = load_digits_images()
    model = linear_classifier(SENSIBLE_LR)  # compiled

    with mlflow.start_run() as run:
        model.fit(
            images,
            labels,
            epochs=args.epochs,
            batch_size=32,
            validation_split=0.2,
            verbose=2,
            callbacks=[
                mlflow.keras.MlflowCallback(),  # loss and accuracy, each epoch
                filterviz.FilterLogger(mlflow=True, **DIGITS_LOOK),  # filters/templates, same steps
            ],
        )
    print(f"Logged run {run.info.run_id}. See it with:\n  mlflow ui --backend-store-uri {store}")
    return run.info.run_id


if __name__ == "__main__":
    main()
