"""What FilterLogger has to tell its user about the work done off the training thread.

The worker thread notes what happened (a grid skipped, NaN weights, a failed render or write); the training
thread takes the messages and raises them as FilterVizWarnings, since a warning raised on another thread
would not reach the user reliably. Both threads share one `Notices` under one lock. Each kind of event is
told once, not at every step: the first skip (and, at the end of training, how many there were), each
layer's first step with NaN or Inf weights, the first render failure, each writer's failure (a failed writer
is dropped, so it fails once).
"""

from __future__ import annotations

import threading

from filterviz.core.step import step_list


class Notices:
    """Events of one FilterLogger, and the messages about them not yet told.

    Args:
        tag: what is logged, `filters/<layer>` (or several, comma-separated), for the messages.
    """

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self._lock = threading.Lock()
        self._untold: list[str] = []
        self.skipped: list[int] = []  # steps dropped in this training, in order
        self.shed: dict[str, list[int]] = {}  # part left out -> the steps it was left out of, this training
        self._skips_told = 0
        self._nonfinite_told: set[str] = set()
        self._render_failure_told = False

    def training_begins(self) -> None:
        """Skips and shed parts are counted per training (fit)."""
        with self._lock:
            self.skipped, self._skips_told, self.shed = [], 0, {}

    def left_out(self, step: int, parts: tuple[str, ...]) -> None:
        """The writer was behind and left `parts` out of `step` (its grid was written)."""
        with self._lock:
            for part in parts:
                self.shed.setdefault(part, []).append(step)

    def skipped_step(self, step: int) -> None:
        with self._lock:
            self.skipped.append(step)
            if len(self.skipped) == 1:
                self._skips_told = 1
                self._untold.append(
                    f"FilterLogger: writing {self.tag} grids is slower than the schedule and the snapshots "
                    f"waiting hold more memory than its bound, so the oldest waiting one (step {step}) was "
                    "skipped; the newest are always kept, in order. Log less often to keep them all."
                )

    def nonfinite_weights(self, step: int, message: str) -> None:
        """A layer's weights have NaN or Inf values (`message` says which layer): told once per layer."""
        with self._lock:
            if message not in self._nonfinite_told:
                self._nonfinite_told.add(message)
                self._untold.append(f"{message} (first at step {step})")

    def render_failed(self, error: BaseException) -> None:
        """A render that fails once fails at every step: it is told once."""
        with self._lock:
            if not self._render_failure_told:
                self._render_failure_told = True
                self._untold.append(_failure("rendering", error))

    def notice(self, message: str) -> None:
        """Something the user should know, told by a writer once (it keeps track of that itself)."""
        with self._lock:
            self._untold.append(message)

    def write_failed(self, destination: str, error: BaseException) -> None:
        with self._lock:
            self._untold.append(_failure(f"writing to {destination}", error))

    def training_ends(self) -> None:
        """Count the skips once more, if there were more than the first warning told, and what was shed."""
        with self._lock:
            if self.shed:
                parts = "; ".join(
                    f"{part} at {len(steps)} step{'s' * (len(steps) > 1)} ({step_list(steps)})"
                    for part, steps in self.shed.items()
                )
                self._untold.append(
                    f"FilterLogger fell behind in this training and, to keep every grid of {self.tag}, left "
                    f"out: {parts}. The Filters tab shows them as not computed at those steps."
                )
            if len(self.skipped) > self._skips_told:
                self._skips_told = len(self.skipped)
                self._untold.append(
                    f"FilterLogger skipped {len(self.skipped)} grids of {self.tag} in this training "
                    f"(steps {step_list(self.skipped)})."
                )

    def take(self) -> list[str]:
        """The messages not told yet, in the order of their events; they count as told now."""
        with self._lock:
            untold, self._untold = self._untold, []
        return untold


def _failure(where: str, error: BaseException) -> str:
    return (
        f"FilterLogger: {where} failed with {type(error).__name__}: {error}. Training goes on; "
        "the images written before are kept."
    )
