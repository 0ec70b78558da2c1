"""filterviz for Lightning: a Callback that logs where the Trainer's loggers write, at its global steps."""

from __future__ import annotations

from filterviz.pipeline.destinations import Destinations
from filterviz.torch.callbacks import WatchingCallback

try:  # the `lightning` package, or the older `pytorch_lightning`: a Trainer takes its own Callbacks only
    from lightning.pytorch import Callback
    from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger, WandbLogger
except ImportError:  # pragma: no cover - depends on which of the two is installed
    try:
        from pytorch_lightning import Callback
        from pytorch_lightning.loggers import MLFlowLogger, TensorBoardLogger, WandbLogger
    except ImportError:
        raise ImportError("filterviz.lightning needs Lightning: pip install 'filterviz[lightning]'") from None

OWNER = "filterviz.lightning.FilterLogger"


class FilterLogger(WatchingCallback, Callback):
    """Logs a grid of the model's first layer, with its health values, while a Lightning Trainer fits it.

    By default it writes where the Trainer's loggers write: TensorBoardLogger's `log_dir` (in its own run
    folder `<log_dir>/filters`, so TensorBoard shows the grids beside Lightning's scalars), WandbLogger's
    run, MLFlowLogger's run. Give `log_dir`, `wandb` or `mlflow` to choose yourself instead. Steps are the
    Trainer's `global_step` (optimizer steps, across epochs and resumed trainings): the weights before
    training at the global step training starts from (taken when the first forward pass, often Lightning's
    sanity check, first calls the layers), then every `every_n_steps` steps (by default the Trainer's
    `log_every_n_steps`, so grids line up with the logged loss), and the state at the end of `fit`.

    The layer is the first Linear or convolution that a forward pass calls (frozen ones passed over), as
    `filterviz.torch.watch` chooses it; only the global-zero process writes.

    Args:
        log_dir: a TensorBoard log directory (a folder or an object store's URL) instead of the loggers'.
        wandb: True for the active W&B run, or a run, instead of the loggers'.
        mlflow: True for the active MLflow run, a run id, or a run, instead of the loggers'.
        layer: None for the first layer the input reaches; a module path in the LightningModule
            ("model.conv1") or its unambiguous end ("conv1"), a module, a list of them, or "all".
        every_n_steps: log every N global steps; None: the Trainer's `log_every_n_steps`.
        log_initial: log the weights before training.
        health: log the health values beside each grid.
        store_kernel: keep the float32 kernel with each step for the Filters tab: True, False or "auto".
        log_delta: also log the change since the step logged before.
        **options: rendering options, as for `filterviz.torch.watch`.

    Example:
        >>> import torch, lightning.pytorch as pl, filterviz.lightning
        >>> class Classifier(pl.LightningModule):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(),
        ...                                        torch.nn.Linear(8 * 6 * 6, 2))
        ...     def training_step(self, batch, batch_index):
        ...         images, labels = batch
        ...         return torch.nn.functional.cross_entropy(self.net(images), labels)
        ...     def configure_optimizers(self):
        ...         return torch.optim.SGD(self.parameters(), lr=0.1)
        >>> data = torch.utils.data.TensorDataset(torch.randn(16, 3, 8, 8), torch.arange(16) % 2)
        >>> callback = filterviz.lightning.FilterLogger()  # every log_every_n_steps, as the loss
        >>> trainer = pl.Trainer(max_epochs=2, logger=pl.loggers.TensorBoardLogger("logs"),
        ...                      callbacks=[callback], log_every_n_steps=2, enable_progress_bar=False,
        ...                      enable_model_summary=False)
        >>> trainer.fit(Classifier(), torch.utils.data.DataLoader(data, batch_size=4))
        >>> callback.tags
        ['filters/net.0']
    """

    OWNER = OWNER

    def on_fit_start(self, trainer, pl_module) -> None:
        writes = trainer.is_global_zero
        destinations = self.chosen_destinations or (loggers_destinations(trainer) if writes else None)
        every_n_steps = self.choices.every_n_steps or trainer.log_every_n_steps or None
        self._start(pl_module, destinations, every_n_steps, writes, trainer.global_step)

    # Lightning calls this after the closure (forward and backward), right before the update.
    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if self.watcher is not None:
            self.watcher.step_begins(trainer.global_step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.watcher is not None:
            self.watcher.step_ends(trainer.global_step)

    def on_fit_end(self, trainer, pl_module) -> None:
        self._close()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._close()  # what was logged is written; the final state is logged at the step reached


def loggers_destinations(trainer) -> Destinations:
    """Where the Trainer's loggers write: TensorBoardLogger's log_dir, WandbLogger's run, MLFlowLogger's
    run (the first of each kind)."""
    log_dir = wandb = mlflow = None
    tracking_uri = None
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger) and log_dir is None:
            log_dir = logger.log_dir
        elif isinstance(logger, WandbLogger) and wandb is None:
            wandb = logger.experiment
        elif isinstance(logger, MLFlowLogger) and mlflow is None:
            mlflow, tracking_uri = logger.run_id, getattr(logger, "_tracking_uri", None)
    if log_dir is None and wandb is None and mlflow is None:
        kinds = ", ".join(type(logger).__name__ for logger in trainer.loggers) or "none"
        raise ValueError(
            f"{OWNER}() writes where the Trainer's TensorBoardLogger, WandbLogger or MLFlowLogger write, and "
            f"this Trainer has none of them (its loggers: {kinds}). Give the Trainer one of them, or give "
            "FilterLogger(log_dir='logs/run1'), wandb=True or mlflow=True."
        )
    return Destinations(
        OWNER, log_dir, False if wandb is None else wandb, False if mlflow is None else mlflow, tracking_uri
    )
