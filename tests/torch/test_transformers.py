"""filterviz.transformers.FilterCallback in real Hugging Face Trainer runs on a tiny ViT built from its
configuration, writing where the Trainer reports, read back from disk."""

import numpy as np
import pytest
import torch
import transformers

import filterviz
import filterviz.transformers
from tests.helpers import logged_images
from tests.helpers.torch_models import digits, hf_vit, kernel_picture

LAYER = "vit.embeddings.patch_embeddings.projection"


def tiny_vit():
    torch.manual_seed(0)
    return hf_vit(
        image_size=8, patch_size=4, num_channels=1, hidden_size=16, intermediate_size=16, num_labels=10
    )


class WeightsAtSteps(transformers.TrainerCallback):
    def __init__(self, module):
        self.module = module
        self.after = {0: module.weight.detach().clone()}

    def on_step_end(self, args, state, control, **kwargs):
        self.after[state.global_step] = self.module.weight.detach().clone()


def train(tmp_path, callback, **arguments):
    model = tiny_vit()
    weights = WeightsAtSteps(model.get_submodule(LAYER))
    images, labels = digits(64)
    data = [{"pixel_values": image, "labels": label} for image, label in zip(images, labels, strict=True)]
    args = transformers.TrainingArguments(
        str(tmp_path / "out"),
        per_device_train_batch_size=16,
        learning_rate=1e-2,
        disable_tqdm=True,
        use_cpu=True,
        save_strategy="no",
        **arguments,
    )
    trainer = transformers.Trainer(model, args, train_dataset=data, callbacks=[callback, weights])
    trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    trainer.train()
    return model, weights


def test_grids_go_beside_the_trainers_own_tensorboard_logs_at_its_logging_steps(tmp_path):
    """report_to=["tensorboard"], logging_steps=2: the Trainer's loss and filterviz's grids at steps 2 and
    4 of the same run folder (its TensorBoard callback's, output_dir/runs/<time>_<host>)."""
    callback = filterviz.transformers.FilterCallback()
    model, weights = train(tmp_path, callback, report_to=["tensorboard"], logging_steps=2, num_train_epochs=2)
    (run,) = (tmp_path / "out" / "runs").iterdir()
    written = logged_images(run / "filters", f"filters/{LAYER}")
    assert [step for step, _ in written] == [0, 2, 4, 6, 8]  # 4 steps an epoch, 2 epochs
    module = model.get_submodule(LAYER)
    for step, image in written:
        np.testing.assert_array_equal(image, kernel_picture(module, weights.after[step]), err_msg=step)

    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    runs = EventMultiplexer().AddRunsFromDirectory(str(run))
    runs.Reload()
    loss_steps = [event.step for event in runs.Scalars(".", "train/loss")]
    assert set(loss_steps) <= {step for step, _ in written}  # each loss has its grid of the same moment
    assert callback.tags == [f"filters/{LAYER}"]


def test_a_log_dir_and_a_step_interval_of_ones_own(tmp_path):
    callback = filterviz.transformers.FilterCallback(tmp_path / "mine", every_n_steps=3)
    train(tmp_path, callback, report_to="none", max_steps=4)
    assert list(filterviz.load_history(tmp_path / "mine").steps) == [0, 3, 4]


def test_a_trainer_that_reports_nowhere_is_told_before_training(tmp_path):
    with pytest.raises(ValueError, match=r"report_to=\[\]\) names none of tensorboard, wandb or mlflow"):
        train(tmp_path, filterviz.transformers.FilterCallback(), report_to="none", max_steps=1)


def test_grids_go_to_the_wandb_and_mlflow_runs_the_trainer_reports_to(offline, monkeypatch):
    """report_to=["wandb", "mlflow"]: the runs the Trainer's own W&B and MLflow callbacks log to, which
    exist once training begins (its MLflow callback starts one; its W&B callback takes the active run, made
    here so that W&B writes under this test's folder whatever W&B set up before in this process); every
    grid and health value in both, at the Trainer's logging steps."""
    import mlflow
    import wandb

    from tests.helpers.mlflow_server import metric, step_images
    from tests.helpers.wandb_records import logged, offline_run_dir, start_run

    monkeypatch.chdir(offline)  # a SQLite store puts its artifacts in ./mlruns: here
    uri = f"sqlite:///{offline / 'mlflow.db'}"
    # the Trainer's MLflow callback takes MLFLOW_TRACKING_URI only where no tracking URI is set in this
    # process (an earlier test's may be): set it, as a user with several stores would
    mlflow.set_tracking_uri(uri)
    start_run(offline)
    try:
        callback = filterviz.transformers.FilterCallback()
        model, weights = train(offline, callback, report_to=["wandb", "mlflow"], logging_steps=2, max_steps=4)
    finally:
        if wandb.run is not None:
            wandb.run.finish()
        if mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)
    module = model.get_submodule(LAYER)
    rows, _, axis = logged(offline_run_dir(offline), f"filters/{LAYER}")
    assert axis == "filterviz/batch" and [step for step, _, _ in rows] == [0, 2, 4]
    for step, image, _ in rows:
        np.testing.assert_array_equal(image, kernel_picture(module, weights.after[step]), err_msg=step)
    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("Default").experiment_id])
    grids = step_images(client, run.info.run_id)[f"filters/{LAYER}"]
    assert [step for step, _, _ in grids] == [0, 2, 4]
    np.testing.assert_array_equal(grids[-1][1], kernel_picture(module, weights.after[4]))
    assert [step for step, _ in metric(client, run.info.run_id, f"filters/{LAYER}/dead")] == [0, 2, 4]
