"""filterviz for the Hugging Face Trainer: a TrainerCallback that logs where the Trainer reports."""

from __future__ import annotations

import math
import os
import sys

from filterviz.pipeline.destinations import Destinations
from filterviz.torch.callbacks import WatchingCallback

try:
    from transformers import TrainerCallback
    from transformers.integrations import TensorBoardCallback
    from transformers.trainer_callback import CallbackHandler
except ImportError:
    raise ImportError(
        "filterviz.transformers needs transformers and accelerate: pip install 'filterviz[transformers]'"
    ) from None

OWNER = "filterviz.transformers.FilterCallback"


class FilterCallback(WatchingCallback, TrainerCallback):
    """Logs a grid of the model's first layer, with its health values, while a Hugging Face Trainer trains.

    By default it follows the TrainingArguments: it writes where `report_to` sends the Trainer's logs
    ("tensorboard": the folder of the Trainer's own TensorBoard callback, `TENSORBOARD_LOGGING_DIR` or
    `output_dir/runs/<time>_<host>`, in a run folder of its own `<that folder>/filters`; "wandb": the W&B
    run; "mlflow": the MLflow run), every `logging_steps` steps (at each epoch's end with
    `logging_strategy="epoch"`), so that grids line up with the logged loss. Give `log_dir`, `wandb`,
    `mlflow` or `every_n_steps` to choose yourself instead. Steps are the Trainer's `global_step`: the
    weights before training at the step it starts from (taken at the first forward pass), then the logged
    steps, and the state at the end of training.

    The layer is the first Linear or convolution that a forward pass calls (for a ViT, the patch
    embedding's projection), as `filterviz.torch.watch` chooses it; only the main process writes.

    Args:
        log_dir: a TensorBoard log directory (a folder or an object store's URL) instead of report_to's.
        wandb: True for the active W&B run, or a run, instead of report_to's.
        mlflow: True for the active MLflow run, a run id, or a run, instead of report_to's.
        layer: None for the first layer the input reaches; a module path
            ("vit.embeddings.patch_embeddings.projection") or its unambiguous end
            ("patch_embeddings.projection"), a module, a list of them, or "all".
        every_n_steps: log every N global steps; None: as the Trainer logs (`logging_steps`).
        log_initial: log the weights before training.
        health: log the health values beside each grid.
        store_kernel: keep the float32 kernel with each step for the Filters tab: True, False or "auto".
        log_delta: also log the change since the step logged before.
        **options: rendering options, as for `filterviz.torch.watch`.

    Example:
        >>> import torch, transformers, filterviz.transformers
        >>> config = transformers.ViTConfig(image_size=8, patch_size=4, hidden_size=8, num_hidden_layers=1,
        ...                                 num_attention_heads=2, intermediate_size=8, num_labels=2)
        >>> model = transformers.ViTForImageClassification(config)
        >>> data = [{"pixel_values": torch.randn(3, 8, 8), "labels": i % 2} for i in range(8)]
        >>> args = transformers.TrainingArguments("out", report_to=["tensorboard"], logging_steps=2,
        ...                                       num_train_epochs=2, per_device_train_batch_size=4,
        ...                                       disable_tqdm=True, use_cpu=True)
        >>> callback = filterviz.transformers.FilterCallback()
        >>> trainer = transformers.Trainer(model, args, train_dataset=data, callbacks=[callback])
        >>> trainer.remove_callback(transformers.trainer_callback.PrinterCallback)  # no printed logs here
        >>> _ = trainer.train()
        >>> callback.tags
        ['filters/vit.embeddings.patch_embeddings.projection']
    """

    OWNER = OWNER
    _by_epoch = False  # the Trainer logs at epochs' ends rather than every N steps

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        writes = state.is_world_process_zero
        destinations = self.chosen_destinations
        if destinations is None and writes:
            destinations = reported_destinations(args, _handler())
        every_n_steps, self._by_epoch = self.choices.every_n_steps, False
        if every_n_steps is None:
            every_n_steps, self._by_epoch = logging_interval(args, state)
        self._start(model, destinations, every_n_steps, writes, state.global_step)

    # After the forward and backward passes, right before the optimizer's update.
    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if self.watcher is not None:
            self.watcher.step_begins(state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self.watcher is not None:
            self.watcher.step_ends(state.global_step)

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.watcher is not None and self._by_epoch:
            self.watcher.log_now(state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        self._close()


def logging_interval(args, state) -> tuple[int | None, bool]:
    """(every how many steps the Trainer logs, whether it logs at epochs' ends instead), from
    TrainingArguments: `logging_steps` may be a share of the training's steps when below 1."""
    strategy = str(getattr(args.logging_strategy, "value", args.logging_strategy))
    if strategy == "epoch":
        return None, True
    if strategy == "no":
        return None, False
    steps = args.logging_steps
    if steps < 1:
        steps = math.ceil(state.max_steps * steps)
    return max(1, int(steps)), False


def reported_destinations(args, handler: CallbackHandler | None) -> Destinations:
    """Where `report_to` sends the Trainer's logs: its TensorBoard callback's folder, the W&B run, the
    MLflow run."""
    report_to = set(args.report_to or ())
    log_dir = None
    if "tensorboard" in report_to:
        callbacks = handler.callbacks if handler is not None else []
        board = next((c for c in callbacks if isinstance(c, TensorBoardCallback)), None)
        # transformers 5 keeps the folder on its callback; 4.x took TrainingArguments.logging_dir
        log_dir = (
            getattr(board, "logging_dir", None)
            or getattr(args, "logging_dir", None)
            or os.environ.get("TENSORBOARD_LOGGING_DIR")
        )
    wandb = "wandb" in report_to
    mlflow = "mlflow" in report_to
    if log_dir is None and not wandb and not mlflow:
        raise ValueError(
            f"{OWNER}() writes where the Trainer reports, and TrainingArguments(report_to="
            f"{args.report_to!r}) names none of tensorboard, wandb or mlflow. Set report_to=['tensorboard'] "
            "(or wandb, mlflow), "
            "or give FilterCallback(log_dir='logs/run1'), wandb=True or mlflow=True."
        )
    return Destinations(OWNER, log_dir, wandb, mlflow)


def _handler() -> CallbackHandler | None:
    """The Trainer's CallbackHandler calling this callback now (it passes no reference to itself): found
    on the call stack, so that the folder of the Trainer's own TensorBoard callback can be read."""
    frame = sys._getframe(1)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, CallbackHandler):
            return candidate
        frame = frame.f_back
    return None
