"""FilterLogger(wandb=...) with real offline W&B runs, read back from the run's files on disk."""

import sys

import keras
import numpy as np
import pytest

import filterviz
from tests.helpers import TAG, Batches, Renders, RendersByBatch, logged_images, tiny_data, tiny_model
from tests.helpers.wandb_records import history, logged, metric_definitions, offline_run_dir, start_run

wandb = pytest.importorskip("wandb")
from wandb.integration.keras import WandbMetricsLogger  # noqa: E402


@pytest.mark.parametrize("log_freq", ["epoch", "batch"])
@pytest.mark.parametrize("order", ["metrics logger first", "filterviz first"])
def test_no_image_and_no_metric_is_lost_or_moved(offline, order, log_freq):
    run = start_run(offline)
    model, renders = tiny_model(), Renders()
    metrics, filters = WandbMetricsLogger(log_freq=log_freq), filterviz.FilterLogger(wandb=True)
    callbacks = [metrics, filters] if order == "metrics logger first" else [filters, metrics]
    x, y = tiny_data(32)  # 4 batches of 8 per epoch
    fit = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[*callbacks, renders])
    run.finish()

    images, rows, axis = logged(offline_run_dir(offline))
    assert axis == "filterviz/epoch"
    assert [step for step, _, _ in images] == [0, 1, 2, 3]  # the same steps as TensorBoard
    for (step, image, caption), render in zip(images, renders.images, strict=True):
        np.testing.assert_array_equal(image, render, err_msg=f"epoch {step}")
        assert "layer 'dense'" in caption and f"epoch {step}" in caption and "normalize=per_tile" in caption
    np.testing.assert_array_equal(images[-1][1], filterviz.render(model))

    epoch_rows = [row for row in rows if "epoch/epoch" in row]
    assert [row["epoch/epoch"] for row in epoch_rows] == [0, 1, 2]
    assert [row["epoch/loss"] for row in epoch_rows] == pytest.approx(fit.history["loss"])
    batch_rows = [row for row in rows if "batch/batch_step" in row]
    assert [row["batch/batch_step"] for row in batch_rows] == (list(range(12)) if log_freq == "batch" else [])
    assert all("batch/loss" in row for row in batch_rows)
    for row in rows:  # our rows and the metrics logger's never share a row
        assert not (f"{TAG}/path" in row and any(key.startswith(("epoch/", "batch/")) for key in row))
    assert metric_definitions(offline_run_dir(offline))[TAG] == "filterviz/epoch"


def test_every_n_steps_and_an_explicit_run_and_tensorboard_together(offline):
    run = start_run(offline)
    model = tiny_model()
    x, y = tiny_data(32)
    logger = filterviz.FilterLogger(
        offline / "tb", wandb=run, every_n_steps=5, normalize="symmetric", cmap="diverging"
    )
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[logger])
    run.finish()
    images, _, axis = logged(offline_run_dir(offline))
    assert axis == "filterviz/batch"
    assert [step for step, _, _ in images] == [0, 5, 10, 12]
    assert "batch 10" in images[2][2]
    board = logged_images(offline / "tb" / "filters", TAG)
    assert [step for step, _ in board] == [0, 5, 10, 12]
    for (_, from_wandb, _), (_, from_board) in zip(images, board, strict=True):
        np.testing.assert_array_equal(from_wandb, from_board)


def test_single_channel_grids_reach_wandb_as_gray(offline):
    run = start_run(offline)
    model = tiny_model()
    x, y = tiny_data(16)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(wandb=True, padding=0, scale=1)])
    run.finish()
    images, _, _ = logged(offline_run_dir(offline))
    np.testing.assert_array_equal(images[-1][1], filterviz.render(model, padding=0, scale=1))
    assert images[-1][1].shape[-1] == 1


def test_no_active_run_fails_before_the_first_batch(offline):
    assert wandb.run is None
    batches = Batches()
    x, y = tiny_data(16)
    with pytest.raises(RuntimeError, match=r"no active W&B run: call wandb.init\(\) before training starts"):
        tiny_model().fit(x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(wandb=True), batches])
    assert batches.count == 0


def test_without_wandb_installed_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # makes `import wandb` fail, as if not installed
    with pytest.raises(ImportError, match=r"pip install 'filterviz\[wandb\]'"):
        filterviz.FilterLogger(wandb=True)


def test_the_metrics_logger_keeps_its_own_x_axis(offline):
    run = start_run(offline)
    x, y = tiny_data(16)
    tiny_model().fit(
        x,
        y,
        epochs=2,
        verbose=0,
        callbacks=[filterviz.FilterLogger(wandb=True), WandbMetricsLogger(), keras.callbacks.History()],
    )
    run.finish()
    definitions = metric_definitions(offline_run_dir(offline))
    assert definitions.get("epoch/*") == "epoch/epoch", definitions
    assert definitions.get(TAG) == "filterviz/epoch", definitions


def test_health_values_and_the_delta_grid_share_the_image_row(offline):
    from filterviz.core import health

    run = start_run(offline)
    model = tiny_model()
    x, y = tiny_data(32)
    history = model.fit(
        x,
        y,
        epochs=2,
        batch_size=8,
        verbose=0,
        callbacks=[filterviz.FilterLogger(wandb=True, log_delta=True)],
    )
    run.finish()
    assert len(history.history["loss"]) == 2
    rows = [row for row in history_rows(offline) if f"{TAG}/path" in row]
    assert [row["filterviz/epoch"] for row in rows] == [0, 1, 2]
    for row in rows:
        for name in ("drift", "dead", "noise", "redundancy", "nonfinite"):
            assert f"{TAG}/{name}" in row, name
    assert "filters/dense/update_ratio" not in rows[0] and rows[1]["filters/dense/update_ratio"] > 0
    assert rows[0]["filters/dense/drift"] == 0 and rows[2]["filters/dense/drift"] > 0
    assert "filters/dense/delta/path" not in rows[0] and "filters/dense/delta/path" in rows[1]
    definitions = metric_definitions(offline_run_dir(offline))
    assert definitions[f"{TAG}/*"] == "filterviz/epoch"
    assert set(health.SCALARS) <= {key.split("/")[-1] for row in rows for key in row}


def history_rows(root):
    return history(offline_run_dir(root))


def test_grids_stay_in_a_run_that_links_its_media_instead_of_copying(offline):
    """wandb.Settings(allow_media_symlink=True): W&B links each image to the file it was given, and uploads
    it when the run ends. Those files must outlive the training."""
    run = wandb.init(
        project="filterviz-tests",
        dir=offline,
        mode="offline",
        reinit="finish_previous",
        settings=wandb.Settings(allow_media_symlink=True),
    )
    model, renders = tiny_model(), Renders()
    x, y = tiny_data(16)
    model.fit(
        x, y, epochs=2, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(wandb=True), renders]
    )
    run.finish()
    images, _, _ = logged(offline_run_dir(offline))  # reads each image through the run's media link
    assert [step for step, _, _ in images] == [0, 1, 2]
    for (_, image, _), rendered in zip(images, renders.images, strict=True):
        np.testing.assert_array_equal(image, rendered)


def test_no_image_is_lost_on_a_loaded_machine(offline):
    """Busy cores (two processes per core), memory churned and a disk written with fsync while the run
    logs: the case an audit once saw lose its images (the metrics logger at every batch, after
    FilterLogger). Every grid due is in the run, each once."""
    from tests.helpers.load import loaded

    run = start_run(offline)
    model, renders = tiny_model(), RendersByBatch()
    x, y = tiny_data(64)  # 8 batches of 8
    filters = filterviz.FilterLogger(wandb=True, every_n_steps=1)
    with loaded(offline):
        model.fit(
            x,
            y,
            epochs=3,
            batch_size=8,
            verbose=0,
            callbacks=[filters, WandbMetricsLogger(log_freq="batch"), renders],
        )
        run.finish()
    images, _, axis = logged(offline_run_dir(offline))
    assert axis == "filterviz/batch"
    assert [step for step, _, _ in images] == list(range(25))
    for step, image, _ in images:
        np.testing.assert_array_equal(image, renders.images[step])
