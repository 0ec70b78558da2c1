"""Where a training's logged steps go: TensorBoard's log directory, a W&B run, an MLflow run.

Every front end (Keras' FilterLogger, filterviz.torch's watch, the Lightning and Hugging Face callbacks)
takes the same three arguments. `Destinations` checks them when the front end is made (nowhere to write, a
package not installed, a URL nothing serves), and `open` makes the writers when training begins, in an
order that leaves nothing behind when one of them cannot be opened.
"""

from __future__ import annotations

import os
from typing import Any

from filterviz.eventfile.writer import open_writer
from filterviz.pipeline import mlflow as mlflow_writer
from filterviz.pipeline import wandb as wandb_writer
from filterviz.pipeline.worker import Writer
from filterviz.storage.stores import StoreUnavailable, open_store


class Destinations:
    """The destinations a front end was given, checked now and opened when training begins.

    Args:
        owner: the front end, as the user wrote it ("FilterLogger", "filterviz.torch.watch"), for errors.
        log_dir: a TensorBoard log directory (a folder, or an object store's URL), or None.
        wandb: False, True (the active run when training begins) or a W&B run.
        mlflow: False, True (the active run when training begins), a run id or a run.
        mlflow_tracking_uri: the tracking URI of the MLflow run; None: the one set when training begins.
    """

    def __init__(
        self,
        owner: str,
        log_dir: str | os.PathLike[str] | None,
        wandb: bool | Any = False,
        mlflow: bool | str | Any = False,
        mlflow_tracking_uri: str | None = None,
    ) -> None:
        if log_dir is None and wandb is False and mlflow is False:
            raise ValueError(
                f"{owner} has nowhere to write: give log_dir='logs/run1' for TensorBoard, "
                "wandb=True for Weights & Biases, mlflow=True for MLflow, or several of them."
            )
        if wandb is not False:
            wandb_writer.import_wandb(owner)  # not installed: an ImportError naming the extra, now
        if mlflow is not False:
            mlflow_writer.import_mlflow(owner)
            mlflow_writer.check_run_argument(mlflow, owner)
        self.owner = owner
        # A URL of an object store is checked now (a scheme nothing serves, a package not installed); the
        # store itself is reached when training begins, before the first batch.
        self.store = None if log_dir is None else open_store(log_dir)
        self.wandb = wandb
        self.mlflow = mlflow
        self.mlflow_tracking_uri = mlflow_tracking_uri

    @property
    def log_dir(self) -> str | os.PathLike[str] | None:
        """The log directory as the user reads it back: a folder's path, or the store's URL."""
        if self.store is None:
            return None
        return self.store.url if self.store.remote else self.store.root

    def open(self, axis: str, notice) -> list[Writer]:
        """The writers, runs first and the event file last; those opened before a failure are closed
        again. `axis` is what steps count ("epoch" or "batch"); `notice` tells the user of what fails
        later, off the training thread."""
        writers: list[Writer] = []
        try:
            if self.wandb is not False:
                run = wandb_writer.active_run(self.wandb, self.owner)
                writers.append(wandb_writer.WandbWriter(run, axis))
            if self.mlflow is not False:
                writers.append(
                    mlflow_writer.open_run(
                        self.mlflow, notice, tracking_uri=self.mlflow_tracking_uri, owner=self.owner
                    )
                )
            if self.store is not None:
                writers.append(self._tensorboard_writer(notice))
        except BaseException:
            for writer in writers:
                writer.close()
            raise
        return writers

    def _tensorboard_writer(self, notice) -> Writer:
        try:
            return open_writer(self.store, notice=notice)
        except StoreUnavailable as error:
            raise StoreUnavailable(f"{self.owner}(log_dir={self.store.url!r}) {error}") from None
        except OSError as error:
            raise OSError(
                f"{self.owner} cannot write to log_dir={self.store.url!r}: {error}. "
                "Give a log_dir in a folder you can write to."
            ) from error
