"""Every offline example runs, with a tiny epoch count; the download examples at least parse their flags."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._helpers import logged_steps
from tests.wandb_records import history, offline_run_dir

EXAMPLES = Path(__file__).parents[1] / "examples"


def run_example(name, *args, env=None):
    result = subprocess.run(
        [sys.executable, EXAMPLES / name, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_digits_mlp(tmp_path):
    run_example("digits_mlp.py", "--epochs", "2", "--logdir", tmp_path)
    assert logged_steps(tmp_path / "filters", "filters/strokes") == [0, 1, 2]
    assert (tmp_path / "train").is_dir()  # Keras' TensorBoard shares the log_dir


def test_sample_photos_cnn(tmp_path):
    run_example("sample_photos_cnn.py", "--epochs", "1", "--patches", "3200", "--logdir", tmp_path)
    assert logged_steps(tmp_path / "filters", "filters/conv1") == [0, 45]  # 45 batches: the end state
    assert (tmp_path / "filters.png").stat().st_size > 0


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


@pytest.mark.parametrize("name", ["mnist_mlp.py", "cifar10_cnn.py"])
def test_download_examples_parse_their_flags_without_downloading(name):
    result = run_example(name, "--help")
    assert "--epochs" in result.stdout
