"""What the trainers' callbacks (Lightning's FilterLogger, Hugging Face's FilterCallback) share: the
user's choices checked when the callback is made, and a Watcher for each training it sees."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from torch import nn

from filterviz.pipeline.destinations import Destinations
from filterviz.pipeline.steps import StoreKernel
from filterviz.torch import choice
from filterviz.torch.watcher import Choices, Watcher


class WatchingCallback:
    """The base of a trainer's callback: `OWNER` names it in messages; subclasses say when a training
    starts (`_start`), when an optimizer step begins and ends (on `self.watcher`), and when it is over
    (`_close`)."""

    OWNER = "filterviz"

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        *,
        wandb: bool | Any = False,
        mlflow: bool | str | Any = False,
        layer: choice.LayerChoice = None,
        every_n_steps: int | None = None,
        log_initial: bool = True,
        health: bool = True,
        store_kernel: StoreKernel = "auto",
        log_delta: bool = False,
        **options: Any,
    ) -> None:
        super().__init__()
        self.choices = Choices.checked(
            layer, every_n_steps, log_initial, health, store_kernel, log_delta, **options
        )
        # None: write where the trainer's own logging writes, found when training starts
        given = log_dir is not None or wandb is not False or mlflow is not False
        self.chosen_destinations = Destinations(self.OWNER, log_dir, wandb, mlflow) if given else None
        self.watcher: Watcher | None = None
        self.tags: list[str] = []  # `filters/<layer>` of the layers logged in the last training

    def _start(
        self,
        model: nn.Module,
        destinations: Destinations | None,
        every_n_steps: int | None,
        writes: bool,
        step: int,
    ) -> None:
        """A training of `model` starts after `step` optimizer steps; this process `writes` or not."""
        self._close()
        choices = dataclasses.replace(self.choices, every_n_steps=every_n_steps)
        self.watcher = Watcher(model, destinations, choices, owner=self.OWNER, writes=writes, step=step)

    def _close(self) -> None:
        """The training is over (or failed): the final state logged, every grid written."""
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            watcher.close()
            self.tags = watcher.tags
