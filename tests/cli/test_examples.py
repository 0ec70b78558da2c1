"""Every offline example runs, with a tiny epoch count; the download examples at least parse their flags."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator

import filterviz
from filterviz.core.png import decode_png
from tests.helpers import logged_images, logged_steps, run_python
from tests.helpers.wandb_records import history, offline_run_dir

EXAMPLES = Path(__file__).parents[2] / "examples"


def run_example(name, *args, env=None):
    result = run_python(EXAMPLES / name, *args, cwd=None, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_digits_templates(tmp_path):
    run_example("digits_templates.py", "--epochs", "2", "--logdir", tmp_path)
    assert logged_steps(tmp_path / "filters", "filters/templates") == [0, 1, 2]
    # Keras' TensorBoard shares the log_dir: its loss curve, one point per epoch, in the run "train".
    accumulator = EventAccumulator(str(tmp_path / "train"), size_guidance={TENSORS: 0})
    accumulator.Reload()
    assert [event.step for event in accumulator.Tensors("epoch_loss")] == [0, 1]


def test_photo_edges(tmp_path):
    run_example("photo_edges.py", "--epochs", "2", "--patches", "3200", "--logdir", tmp_path)
    logged = logged_images(tmp_path / "filters", "filters/conv1")
    assert [step for step, _ in logged] == [0, 50]  # 25 batches an epoch: step 50 is also the end state
    np.testing.assert_array_equal(decode_png((tmp_path / "filters.png").read_bytes()), logged[-1][1])


def test_wandb_offline(tmp_path):
    pytest.importorskip("wandb")
    env = {
        "WANDB_DIR": str(tmp_path),
        "WANDB_CACHE_DIR": str(tmp_path / "cache"),
        "WANDB_CONFIG_DIR": str(tmp_path / "config"),
        "WANDB_DATA_DIR": str(tmp_path / "data"),
    }
    run_example("wandb_offline.py", "--epochs", "2", "--dir", tmp_path, env=env)
    rows = history(offline_run_dir(tmp_path))
    assert [row["filterviz/epoch"] for row in rows if "filterviz/epoch" in row] == [0, 1, 2]
    assert [row["epoch/epoch"] for row in rows if "epoch/epoch" in row] == [0, 1]


def test_mlflow_local(tmp_path):
    mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[dev]'")
    result = run_example(
        "mlflow_local.py", "--epochs", "2", "--dir", tmp_path, env={"MLFLOW_TRACKING_URI": ""}
    )
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert f"mlflow ui --backend-store-uri {store}" in result.stdout
    client = mlflow.MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("filterviz-digits").experiment_id])
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "filters/templates/dead")]
    assert steps == [0, 1, 2]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1]
    images = [a.path for a in client.list_artifacts(run.info.run_id, "images")]
    assert sorted(name.split("+step+")[1].split("+")[0] for name in images if name.endswith(".png")) == [
        "0",
        "1",
        "2",
    ]
    assert len(list((tmp_path / "artifacts").rglob("*.png"))) == 3  # the grids are in the folder asked for


def fake_dataset(shape, seed=0):
    """What keras.datasets' load_data returns, for 256 random training and 64 test images."""
    rng = np.random.default_rng(seed)

    def load_data():
        images = rng.integers(0, 256, (320, *shape), dtype=np.uint8)
        labels = rng.integers(0, 10, 320)
        return (images[:256], labels[:256]), (images[256:], labels[256:])

    return load_data


@pytest.mark.parametrize(
    "name, shape, tag, batches, options",
    [
        ("mnist_mlp.py", (28, 28), "filters/hidden", 2, {"normalize": "symmetric", "cmap": "diverging"}),
        ("cifar10_cnn.py", (32, 32, 3), "filters/conv1", 4, {}),
    ],
)
def test_download_examples_run_on_data_of_their_dataset_shape(tmp_path, name, shape, tag, batches, options):
    """Everything but the download: the example's own model and logging, on random data of that shape."""
    spec = importlib.util.spec_from_file_location(name[:-3], EXAMPLES / name)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    model = example.main(["--epochs", "1", "--logdir", str(tmp_path)], load_data=fake_dataset(shape))
    logged = logged_images(tmp_path / "filters", tag)
    assert [step for step, _ in logged] == [0, batches]  # the start and the end state
    np.testing.assert_array_equal(logged[-1][1], filterviz.render(model, **options))


def test_torch_digits(tmp_path):
    """A plain PyTorch loop: the templates at the optimizer steps the loss is written at, in one log dir."""
    result = run_example("torch_digits.py", "--epochs", "2", "--every-n-steps", "20", "--logdir", tmp_path)
    logged = logged_images(tmp_path / "filters", "filters/1")
    assert [step for step, _ in logged] == [0, 20, 40, 60, 80, 100, 114]  # 57 batches an epoch
    assert filterviz.load_history(tmp_path).info["image_shape"] == [16, 16, 1]
    accumulator = EventAccumulator(str(tmp_path), size_guidance={TENSORS: 0})
    accumulator.Reload()
    assert [event.step for event in accumulator.Scalars("loss")] == list(range(1, 115))
    assert "114 steps" in result.stdout
