"""filterviz.lightning.FilterLogger in real Lightning Trainer.fit runs, writing where the Trainer's loggers
write, read back from disk."""

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch import nn

import filterviz
import filterviz.lightning
from tests.helpers import logged_images
from tests.helpers.torch_models import digits, digits_cnn, kernel_picture


class DigitsClassifier(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = digits_cnn()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_index):
        images, labels = batch
        loss = nn.functional.cross_entropy(self(images), labels)
        self.log("loss", loss)
        return loss

    def validation_step(self, batch, batch_index):
        images, labels = batch
        self.log("val_loss", nn.functional.cross_entropy(self(images), labels))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)


class WeightsAtSteps(pl.Callback):
    """The first convolution's weight at every global step, as the test sees it."""

    def __init__(self, module):
        self.module = module
        self.after = {0: module.weight.detach().clone()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_index):
        self.after[trainer.global_step] = self.module.weight.detach().clone()


def loaders(n=96):
    images, labels = digits(n)
    data = torch.utils.data.TensorDataset(images, labels)
    return torch.utils.data.DataLoader(data, batch_size=32), torch.utils.data.DataLoader(data, batch_size=48)


def fit(logger, callback, epochs=2, **trainer_options):
    module = DigitsClassifier()
    weights = WeightsAtSteps(module.net[0])
    trainer = pl.Trainer(
        max_epochs=epochs,
        logger=logger,
        callbacks=[callback, weights],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        accelerator="cpu",
        **{"log_every_n_steps": 3, **trainer_options},
    )
    train, validation = loaders()
    trainer.fit(module, train, validation)
    return module, weights


def test_grids_go_to_the_tensorboard_loggers_folder_at_global_steps(tmp_path):
    """Lightning runs a sanity check of the validation step before training: the first forward pass, with
    the weights as they were; step 0 is logged from it. Then every log_every_n_steps global steps."""
    logger = pl.loggers.TensorBoardLogger(tmp_path, name="digits")
    module, weights = fit(logger, filterviz.lightning.FilterLogger(), log_every_n_steps=2)
    run = tmp_path / "digits" / "version_0"
    written = logged_images(run / "filters", "filters/net.0")
    assert [step for step, _ in written] == [0, 2, 4, 6]  # 3 steps an epoch, 2 epochs
    for step, image in written:
        np.testing.assert_array_equal(image, kernel_picture(module.net[0], weights.after[step]), err_msg=step)
    history = filterviz.load_history(run)
    assert history.info["path"] == "net.0"
    assert np.all(np.isfinite(history.health["update_ratio"][1:]))  # measured before each logged update


def test_grids_go_to_the_wandb_loggers_run(offline):
    pytest.importorskip("wandb", reason="W&B is not installed: pip install -e '.[dev]'")
    from tests.helpers.wandb_records import logged, offline_run_dir

    logger = pl.loggers.WandbLogger(project="filterviz-tests", save_dir=str(offline), offline=True)
    module, weights = fit(logger, filterviz.lightning.FilterLogger(every_n_steps=3), epochs=1)
    logger.experiment.finish()
    rows, _, axis = logged(offline_run_dir(offline), "filters/net.0")
    assert axis == "filterviz/batch" and [step for step, _, _ in rows] == [0, 3]
    for step, image, _ in rows:
        np.testing.assert_array_equal(image, kernel_picture(module.net[0], weights.after[step]))


def test_grids_and_health_go_to_the_mlflow_loggers_run(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[dev]'")
    from tests.helpers.mlflow_server import metric, step_images

    monkeypatch.chdir(tmp_path)  # a SQLite store puts its artifacts in ./mlruns: here
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = pl.loggers.MLFlowLogger(experiment_name="filterviz", tracking_uri=uri)
    module, weights = fit(logger, filterviz.lightning.FilterLogger(every_n_steps=3), epochs=1)
    client = mlflow.MlflowClient(uri)
    grids = step_images(client, logger.run_id)["filters/net.0"]
    assert [step for step, _, _ in grids] == [0, 3]
    np.testing.assert_array_equal(grids[-1][1], kernel_picture(module.net[0], weights.after[3]))
    assert [step for step, _ in metric(client, logger.run_id, "filters/net.0/dead")] == [0, 3]


def test_a_trainer_without_a_logger_filterviz_writes_to_is_told_before_training(tmp_path):
    logger = pl.loggers.CSVLogger(tmp_path)
    with pytest.raises(
        ValueError, match=r"this Trainer has none of them \(its loggers: CSVLogger\).*log_dir="
    ):
        fit(logger, filterviz.lightning.FilterLogger())
    fit(logger, filterviz.lightning.FilterLogger(tmp_path / "mine", every_n_steps=3), epochs=1)
    assert list(filterviz.load_history(tmp_path / "mine").steps) == [0, 3]
