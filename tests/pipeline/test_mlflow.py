"""FilterLogger(mlflow=...) against a real MLflow tracking server on 127.0.0.1 (SQLite store, local
artifacts), and against a store on disk with no server, read back with MlflowClient."""

import re
import sys
import time

import keras
import numpy as np
import pytest

import filterviz
from filterviz.eventfile.history import load_history
from filterviz.pipeline.mlflow import PREVIEW_SIDE
from tests.helpers import TAG, Batches, Renders, RendersByBatch, tiny_data, tiny_model
from tests.helpers.mlflow_server import IMAGE_NAME, MlflowServer, metric, step_images
from tests.helpers.real_models import train_logged

mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield running
    running.stop()


@pytest.fixture
def tracking(server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    yield mlflow.MlflowClient(server.url)
    if mlflow.active_run():
        mlflow.end_run()


def fit(model, epochs=3, callbacks=(), **logger):
    """fit() on tiny data with FilterLogger(**logger); the FilterVizWarnings it gave, as text."""
    return train_logged(model, *tiny_data(32), epochs=epochs, callbacks=callbacks, **logger)


def enlarged(grid):
    """The preview MLflow's panel shows: every pixel a whole number of pixels, none smoothed."""
    factor = PREVIEW_SIDE // max(grid.shape[:2])
    big = np.repeat(np.repeat(grid, factor, axis=0), factor, axis=1)
    return big[..., 0] if big.shape[-1] == 1 else big


def assert_grids(images, expected_steps, renders):
    assert [step for step, _, _ in images] == expected_steps
    for (_, full, preview), rendered in zip(images, renders, strict=True):
        np.testing.assert_array_equal(full, rendered)
        np.testing.assert_array_equal(preview, enlarged(rendered))


def test_every_grid_and_health_value_reach_the_server_beside_mlflows_own_callback(tracking, tmp_path):
    model, renders = tiny_model(), Renders()
    with mlflow.start_run() as run:
        told = fit(
            model,
            callbacks=[renders, mlflow.keras.MlflowCallback()],
            log_dir=tmp_path / "tb",
            mlflow=True,
            log_delta=True,
        )
    assert told == []
    images = step_images(tracking, run.info.run_id)
    assert set(images) == {TAG, f"{TAG}/delta"}
    assert_grids(images[TAG], [0, 1, 2, 3], renders.images)
    history = load_history(tmp_path / "tb")  # the same steps and values TensorBoard has
    assert [step for step, _, _ in images[f"{TAG}/delta"]] == [1, 2, 3]
    for name, values in history.health.items():  # NaN: not logged at that step
        logged = ~np.isnan(values)
        steps, sent = zip(*metric(tracking, run.info.run_id, f"{TAG}/{name}"), strict=True)
        assert list(steps) == history.steps[logged].tolist(), name
        np.testing.assert_allclose(sent, values[logged], rtol=1e-6, err_msg=name)  # TensorBoard keeps float32
    assert set(history.health) >= {"update_ratio", "dead", "drift", "noise"}
    assert tracking.get_run(run.info.run_id).data.tags["mlflow.loggedImages"] == "True"
    # MlflowCallback's metrics: all there, at its own steps.
    assert [step for step, _ in metric(tracking, run.info.run_id, "loss")] == [0, 1, 2]


def test_beside_autolog_nothing_of_either_is_lost_or_moved(tracking):
    model, renders = tiny_model(), Renders()
    mlflow.keras.autolog(log_models=False)
    try:
        with mlflow.start_run() as run:
            fit(model, callbacks=[renders], mlflow=True)
    finally:
        mlflow.keras.autolog(disable=True)
    assert_grids(step_images(tracking, run.info.run_id)[TAG], [0, 1, 2, 3], renders.images)
    assert [step for step, _ in metric(tracking, run.info.run_id, "loss")] == [0, 1, 2]  # autolog's
    assert [step for step, _ in metric(tracking, run.info.run_id, f"{TAG}/dead")] == [0, 1, 2, 3]


def test_the_names_are_the_ones_mlflows_own_log_image_writes(tracking):
    with mlflow.start_run() as run:
        mlflow.log_image(np.zeros((4, 4, 3), np.uint8), key=TAG, step=7)
    names = [a.path.removeprefix("images/") for a in tracking.list_artifacts(run.info.run_id, "images")]
    assert len(names) == 2
    for name in names:
        match = IMAGE_NAME.match(name)
        assert match and match["key"] == TAG.replace("/", "~") and match["step"] == "7", name
    assert tracking.get_run(run.info.run_id).data.tags["mlflow.loggedImages"] == "True"


def test_tensorboard_wandb_and_mlflow_together_get_the_same_steps_and_grids(tracking, tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb", reason="W&B is not installed: pip install -e '.[dev]'")
    monkeypatch.setenv("WANDB_MODE", "offline")
    wandb_run = wandb.init(project="filterviz-tests", dir=tmp_path, mode="offline", reinit="finish_previous")
    model = tiny_model()
    with mlflow.start_run() as run:
        fit(model, log_dir=tmp_path / "tb", wandb=wandb_run, mlflow=run.info.run_id, every_n_steps=5)
    wandb_run.finish()
    from tests.helpers.wandb_records import history, offline_run_dir

    rows = [row for row in history(offline_run_dir(tmp_path)) if f"{TAG}/path" in row]
    board = load_history(tmp_path / "tb")
    images = step_images(tracking, run.info.run_id)[TAG]
    assert [step for step, _, _ in images] == list(board.steps) == [row["filterviz/batch"] for row in rows]
    assert list(board.steps) == [0, 5, 10, 12]
    for (_, full, _), grid in zip(images, board.grids, strict=True):
        np.testing.assert_array_equal(full, grid)


@pytest.mark.parametrize("store", ["file", "sqlite"])
def test_a_store_on_disk_without_a_server(tmp_path, monkeypatch, store):
    uri = (tmp_path / "mlruns").as_uri() if store == "file" else f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3.17 refuses the old file store without it
    monkeypatch.chdir(tmp_path)  # a SQLite store puts its artifacts in ./mlruns: here, not in the clone
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    model, renders = tiny_model(), Renders()
    try:
        with mlflow.start_run() as run:
            fit(model, epochs=2, callbacks=[renders], mlflow=run)
    finally:
        mlflow.set_tracking_uri(None)
    client = mlflow.MlflowClient(uri)
    assert_grids(step_images(client, run.info.run_id)[TAG], [0, 1, 2], renders.images)
    assert [step for step, _ in metric(client, run.info.run_id, f"{TAG}/dead")] == [0, 1, 2]


class KillServer(keras.callbacks.Callback):
    """Kills the server at the end of epoch `epoch` (0-based, before FilterLogger logs that epoch's step),
    once the steps logged so far are in the run."""

    def __init__(self, server, client, epoch):
        super().__init__()
        self.server, self.client, self.epoch = server, client, epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch != self.epoch:
            return
        run_id = mlflow.active_run().info.run_id
        for _ in range(120):
            if len(self.client.list_artifacts(run_id, "images")) == 2 * (epoch + 1):  # steps 0..epoch
                break
            time.sleep(0.25)
        self.server.stop()


def test_a_server_killed_mid_training_warns_once_and_keeps_what_was_sent(tmp_path, caplog, monkeypatch):
    """MLflow's own retries left as they are (about four minutes for a request to a dead server): the
    writer asks the server's /health first, says once that it is unreachable, and fit() returns without
    waiting for them; nothing more is printed about them after fit() returns."""
    server = MlflowServer(tmp_path).start()
    try:
        mlflow.set_tracking_uri(server.url)
        client = mlflow.MlflowClient(server.url)
        model, renders, batches = tiny_model(), Renders(), Batches()
        with mlflow.start_run() as run:
            with caplog.at_level("WARNING", logger="urllib3"):
                told = fit(
                    model, epochs=4, callbacks=[renders, batches, KillServer(server, client, 1)], mlflow=True
                )
                caplog.clear()
                time.sleep(3)  # a request on its way when the server died retries on, unheard
                after = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
            monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the test's own end_run: no retries
            with pytest.raises(mlflow.exceptions.MlflowException):
                mlflow.end_run()  # the server is gone: MLflow cannot end the run
    finally:
        mlflow.set_tracking_uri(None)
        server.stop()
    assert batches.count == 4 * 4  # training finished
    assert len(told) == 1, told
    # refused: the server was gone when asked; reset: it died during a request that was on its way
    assert "the tracking server is unreachable" in told[0], told
    assert "Connection refused" in told[0] or "Connection reset by peer" in told[0], told
    sent = int(re.search(r"the (\d+) steps sent before are in the run", told[0])[1])
    assert sent == 2  # steps 0 and 1
    assert after == [], after
    server.start()  # back, on the same store
    try:
        images = step_images(mlflow.MlflowClient(server.url), run.info.run_id)[TAG]
    finally:
        server.stop()
    assert_grids(images, [0, 1], renders.images[:2])


def test_every_step_of_a_fast_training_reaches_the_server(tracking):
    """Logged at every batch: the steps that wait while one batch of them is sent go in the next."""
    model, renders = tiny_model(), RendersByBatch()
    x, y = tiny_data(96)  # 12 batches of 8, 3 epochs
    with mlflow.start_run() as run:
        told = train_logged(model, x, y, epochs=3, callbacks=[renders], mlflow=True, every_n_steps=1)
    assert told == []
    images = step_images(tracking, run.info.run_id)[TAG]
    assert [step for step, _, _ in images] == list(range(37))
    for step, full, _ in images:
        np.testing.assert_array_equal(full, renders.images[step])


def test_no_active_run_fails_before_the_first_batch(tracking):
    assert mlflow.active_run() is None
    batches = Batches()
    with pytest.raises(
        RuntimeError, match=r"no active MLflow run: call mlflow\.start_run\(\) before training starts"
    ):
        fit(tiny_model(), callbacks=[batches], mlflow=True)
    assert batches.count == 0


def test_a_run_that_is_not_there_or_not_running_fails_before_the_first_batch(tracking):
    with pytest.raises(RuntimeError, match=r"cannot use MLflow run 'no-such-run'"):
        fit(tiny_model(), mlflow="no-such-run")
    with mlflow.start_run() as run:
        pass
    with pytest.raises(RuntimeError, match=r"is FINISHED, not running"):
        fit(tiny_model(), mlflow=run)


@pytest.mark.parametrize("wrong", [None, 3, "", object()])
def test_a_wrong_mlflow_argument_is_refused_when_the_logger_is_made(wrong):
    with pytest.raises(TypeError, match=r"takes True .*, a run id, or a run"):
        filterviz.FilterLogger("logs", mlflow=wrong)


def test_without_mlflow_installed_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'filterviz[mlflow]'")):
        filterviz.FilterLogger(mlflow=True)


def test_steps_line_up_with_mlflows_own_callback_as_the_readme_says(tmp_path, monkeypatch):
    """MlflowCallback logs an epoch's metrics at its index from 0 (filterviz: the state after it, one
    more), and with log_every_n_steps at the optimizer's iterations (filterviz's batch steps, the same)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run() as by_epochs:
            fit(tiny_model(), epochs=3, callbacks=[mlflow.keras.MlflowCallback()], mlflow=True)
        with mlflow.start_run() as by_batches:
            batches = mlflow.keras.MlflowCallback(log_every_epoch=False, log_every_n_steps=1)
            fit(tiny_model(), epochs=2, callbacks=[batches], mlflow=True, every_n_steps=1)
    finally:
        mlflow.set_tracking_uri(None)
    client = mlflow.MlflowClient(uri)
    assert [step for step, _ in metric(client, by_epochs.info.run_id, "loss")] == [0, 1, 2]
    assert [step for step, _, _ in step_images(client, by_epochs.info.run_id)[TAG]] == [0, 1, 2, 3]
    assert [step for step, _ in metric(client, by_batches.info.run_id, "loss")] == list(range(1, 9))
    assert [step for step, _, _ in step_images(client, by_batches.info.run_id)[TAG]] == list(range(9))
