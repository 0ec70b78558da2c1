"""When to log a grid, and at which step. Pure bookkeeping: no Keras, no pixels.

One step axis per run, and steps only grow:

* by epochs (the default): the initial weights at step 0, then after every N-th epoch at
  step = epochs completed;
* with every_n_steps: step = batches completed, counted across epochs, for every image;
* the state at the end of training is logged unless the schedule has just logged it;
* a second fit() continues the count, and so does a training resumed with initial_epoch or with a
  restored optimizer (its iteration count says how many batches were done before). A resumed training
  logs its start at that step too, unless this schedule logged it already (the end of its fit before);
  FilterLogger also leaves it out where the log directory has a grid at that step.
"""

from __future__ import annotations


class Schedule:
    """Turns training events into "log now at step s" decisions.

    Each method returns the step to log at, or None.
    """

    def __init__(self, every_n_epochs: int = 1, every_n_steps: int | None = None, log_initial: bool = True):
        self.every_n_epochs = every_n_epochs
        self.every_n_steps = every_n_steps
        self.log_initial = log_initial
        self.epochs_done = 0
        self.batches_done = 0
        self.last_logged: int | None = None
        self._epoch_offset = 0  # epochs_done - Keras' epoch index, for this fit
        self._epoch_start = 0  # batches_done when the current epoch began
        self._progressed = False

    @property
    def by_steps(self) -> bool:
        return self.every_n_steps is not None

    @property
    def axis(self) -> str:
        """What the step counts: "epoch" or "batch"."""
        return "batch" if self.by_steps else "epoch"

    @property
    def step(self) -> int:
        return self.batches_done if self.by_steps else self.epochs_done

    def fit_begins(self, initial_epoch: int, batches_before: int = 0, epochs_before: int = 0) -> int | None:
        """A fit() starts at Keras epoch `initial_epoch`; the model had seen `batches_before` batches
        and `epochs_before` epochs (from its optimizer) before it. Returns the step of the initial state."""
        self.epochs_done = max(self.epochs_done, initial_epoch, epochs_before)
        self.batches_done = max(self.batches_done, batches_before)
        self._epoch_offset = self.epochs_done - initial_epoch
        self._progressed = False
        return self._log(self.step) if self.log_initial else None

    def epoch_begins(self) -> None:
        self._epoch_start = self.batches_done

    def batch_begins(self, batch: int) -> int | None:
        """Keras' batch `batch` of the epoch is about to run: the weights are those after `batch` batches
        of it (with steps_per_execution > 1, batch jumps by that many)."""
        return self._batches_now(self._epoch_start + batch)

    def epoch_ends(self, epoch: int, batches: int) -> int | None:
        """Keras' epoch `epoch` ended after `batches` batches."""
        self.epochs_done = self._epoch_offset + epoch + 1
        self._progressed = True
        step = self._batches_now(self._epoch_start + batches)
        if not self.by_steps and self.epochs_done % self.every_n_epochs == 0:
            step = self._log(self.epochs_done)
        return step

    def _batches_now(self, done: int) -> int | None:
        before, self.batches_done = self.batches_done, done
        self._progressed = self._progressed or done > before
        if self.by_steps and done // self.every_n_steps > before // self.every_n_steps:
            return self._log(done)  # a multiple of every_n_steps was reached (or passed, in one jump)
        return None

    def logs_after(self, batch: int, stride: int, batches_in_epoch: int | None, last_epoch: bool) -> bool:
        """Will the state after the `stride` batches that begin with batch `batch` of this epoch be logged?
        Asked before they run, so that the kernel can be copied to measure their update. Changes nothing.

        `batches_in_epoch` is None when Keras does not know it: then an epoch's end is not foreseen.
        """
        now = self._epoch_start + batch
        epoch_end = batches_in_epoch is not None and batch + stride >= batches_in_epoch
        if epoch_end and last_epoch:
            return True  # the end of training is always logged
        if self.by_steps:
            after = (
                now + stride
                if batches_in_epoch is None
                else min(now + stride, self._epoch_start + batches_in_epoch)
            )
            return after // self.every_n_steps > now // self.every_n_steps
        return epoch_end and (self.epochs_done + 1) % self.every_n_epochs == 0

    def fit_ends(self) -> int | None:
        """The state at the end of training, unless it was just logged (or nothing was trained)."""
        return self._log(self.step) if self._progressed else None

    def _log(self, step: int) -> int | None:
        if self.last_logged is not None and step <= self.last_logged:
            return None  # never write a step twice, never go back
        self.last_logged = step
        return step
