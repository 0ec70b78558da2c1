"""filterviz.torch.watch on plain training loops: the steps, the pixels and the health values written, read
back from disk, and the destinations beside torch's own SummaryWriter, W&B and MLflow."""

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

import filterviz
import filterviz.torch
from filterviz.core.warning import FilterVizWarning
from tests.helpers import logged_images
from tests.helpers.torch_models import StepRecorder, digits, digits_cnn, kernel_picture, train


def test_a_plain_loop_logs_the_state_after_every_n_optimizer_steps(tmp_path):
    images, labels = digits(224)  # 7 batches of 32 a pass: 14 steps in two
    model = digits_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    recorder = StepRecorder(model[0], optimizer)
    with filterviz.torch.watch(model, optimizer, tmp_path, every_n_steps=5):
        steps = train(model, optimizer, images, labels, epochs=2)
    assert steps == 14

    written = logged_images(tmp_path / "filters", "filters/0")  # as TensorBoard reads them
    assert [step for step, _ in written] == [0, 5, 10, 14]
    for step, image in written:
        np.testing.assert_array_equal(image, kernel_picture(model[0], recorder.after[step]), err_msg=step)
    history = filterviz.load_history(tmp_path)
    ratios = history.health["update_ratio"]
    assert math.isnan(ratios[0]) and math.isnan(ratios[3])  # step 0 has none; 14 was not foreseen
    for index, step in ((1, 5), (2, 10)):
        assert ratios[index] == pytest.approx(recorder.update_ratio(step), rel=1e-5)
    drift = np.linalg.norm((recorder.after[14] - recorder.after[0]).numpy()) / np.linalg.norm(
        recorder.after[0]
    )
    assert history.health["drift"][3] == pytest.approx(drift, rel=1e-5)
    assert history.info["axis"] == "batch" and history.info["kind"] == "conv2d"


def test_a_linear_layer_on_colour_images_draws_the_image_its_inputs_were_flattened_from(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 6 * 6, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with filterviz.torch.watch(model, optimizer, tmp_path, every_n_steps=1):
        optimizer.zero_grad()
        model(torch.randn(8, 3, 6, 6)).square().mean().backward()
        optimizer.step()
    history = filterviz.load_history(tmp_path)
    assert history.info["image_shape"] == [6, 6, 3] and history.info["flatten_order"] == "chw"
    # Tile 0, pixel (y, x), channel c is weight [0, c * 36 + y * 6 + x]: nn.Flatten's order.
    weight = model[1].weight.detach().numpy()
    expected = filterviz.kernel_grid(weight.T, tile_shape=(6, 6, 3), flatten_order="chw")
    np.testing.assert_array_equal(history.grids[-1], expected)
    assert history.info["shape_source"] == "model"


def test_a_resumed_optimizer_continues_the_step_count(tmp_path):
    images, labels = digits(96)
    model = digits_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    train(model, optimizer, images, labels)  # 3 steps, before watching
    with filterviz.torch.watch(model, optimizer, tmp_path, every_n_steps=2):
        train(model, optimizer, images, labels)  # steps 4, 5, 6
    assert list(filterviz.load_history(tmp_path).steps) == [3, 4, 6]


def test_grids_go_beside_summary_writers_scalars_in_the_same_log_directory(tmp_path):
    images, labels = digits(64)
    model = digits_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = SummaryWriter(tmp_path)
    with filterviz.torch.watch(model, optimizer, tmp_path, every_n_steps=1):
        for step, (x, y) in enumerate([(images[:32], labels[:32]), (images[32:], labels[32:])], start=1):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            writer.add_scalar("loss", loss.item(), step)
    writer.close()

    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    runs = EventMultiplexer().AddRunsFromDirectory(str(tmp_path))
    runs.Reload()
    assert sorted(runs.Runs()) == [".", "filters"]
    assert [event.step for event in runs.Scalars(".", "loss")] == [1, 2]  # the loss after step s at s
    assert [event.step for event in runs.Tensors("filters", "filters/0")] == [0, 1, 2]  # its grid at s too


def test_a_failure_on_the_writer_thread_never_stops_training(tmp_path, monkeypatch):
    images, labels = digits(160)
    model = digits_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    from filterviz.core.renderer import Renderer

    draw, calls = Renderer.draw, []

    def draw_twice(self, kernel):
        calls.append(1)
        if len(calls) > 2:
            raise MemoryError("no memory left for a grid")
        return draw(self, kernel)

    monkeypatch.setattr(Renderer, "draw", draw_twice)
    failed = r"rendering failed with MemoryError: no memory left"
    with (
        pytest.warns(FilterVizWarning, match=failed) as told,
        filterviz.torch.watch(model, optimizer, tmp_path, every_n_steps=1),
    ):
        assert train(model, optimizer, images, labels) == 5
    assert sum("rendering failed" in str(w.message) for w in told) == 1  # told once
    assert list(filterviz.load_history(tmp_path).steps) == [0, 1]  # what was written stays


def test_nothing_to_call_inside_the_loop_and_close_twice_is_harmless(tmp_path):
    images, labels = digits(64)
    model = digits_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    watcher = filterviz.torch.watch(model, optimizer, tmp_path, every_n_steps=100)
    train(model, optimizer, images, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        watcher.close()
        watcher.close()
    train(model, optimizer, images, labels)  # the hooks are gone: nothing more is logged
    assert list(filterviz.load_history(tmp_path).steps) == [0, 2]


def test_steps_and_grids_reach_wandb(offline):
    wandb = pytest.importorskip("wandb", reason="W&B is not installed: pip install -e '.[dev]'")
    from tests.helpers.wandb_records import logged, offline_run_dir, start_run

    start_run(offline)
    images, labels = digits(64)
    model = digits_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    recorder = StepRecorder(model[0], optimizer)
    with filterviz.torch.watch(model, optimizer, wandb=True, every_n_steps=1):
        train(model, optimizer, images, labels)
    wandb.finish()
    rows, _, axis = logged(offline_run_dir(offline), "filters/0")
    assert axis == "filterviz/batch"
    assert [step for step, _, _ in rows] == [0, 1, 2]
    for step, image, _ in rows:
        np.testing.assert_array_equal(image, kernel_picture(model[0], recorder.after[step]))


def test_steps_grids_and_health_reach_mlflow(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[dev]'")
    from tests.helpers.mlflow_server import metric, step_images

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)  # a SQLite store puts its artifacts in ./mlruns: here
    mlflow.set_tracking_uri(uri)
    images, labels = digits(64)
    model = digits_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    recorder = StepRecorder(model[0], optimizer)
    try:
        with mlflow.start_run() as run, filterviz.torch.watch(model, optimizer, mlflow=True, every_n_steps=1):
            train(model, optimizer, images, labels)
    finally:
        mlflow.set_tracking_uri(None)
    client = mlflow.MlflowClient(uri)
    grids = step_images(client, run.info.run_id)["filters/0"]
    assert [step for step, _, _ in grids] == [0, 1, 2]
    for step, image, _ in grids:
        np.testing.assert_array_equal(image, kernel_picture(model[0], recorder.after[step]))
    ratios = metric(client, run.info.run_id, "filters/0/update_ratio")
    assert [step for step, _ in ratios] == [1, 2]
    assert ratios[0][1] == pytest.approx(recorder.update_ratio(1), rel=1e-5)
