"""Rendering, PNG encoding and writing, off the training thread.

The training thread hands over a snapshot of the kernel and returns at once; one worker thread renders
the snapshots in order and passes each grid to the writers. When the worker falls behind, it does less for
each step rather than lose one:

* It sheds optional work first, in filterviz.pipeline.steps.SHED_ORDER (the heavy health values, then the
  stored kernel, then every health value), by how far behind it is: the work waiting, in seconds of this
  worker's recent pace (SHED_BEHIND), or the memory the waiting snapshots hold (SHED_MEMORY, as shares of
  MEMORY_BOUND). What it sheds is said in each step and counted in the `Notices`.
* A whole step (its grid) is dropped only when the waiting snapshots hold more than MEMORY_BOUND bytes: the
  oldest waiting one goes, reported, so training never waits for writing, memory stays bounded, the grids
  that are written are still in step order and the newest state is never lost.
* `wait()` returns once everything handed over is written: FilterLogger calls it at epoch boundaries
  and at the end of training, and an exit handler calls it before the interpreter shuts down, so an
  interrupted script still writes every grid it logged.
* A writer that fails is dropped (the others go on), and so is one render that fails; both are noted in
  the `Notices` for the training thread to tell.
* The worker runs at the lowest CPU priority where the system allows it (Linux): training keeps its
  cores, and rendering uses the time training leaves idle.

No Keras here: `process` turns each Snapshot into the LoggedSteps to write.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from filterviz.core.step import LoggedStep
from filterviz.pipeline.notices import Notices

# Snapshots waiting besides the one being rendered hold at most this many bytes (and number at most MOST):
# beyond, the oldest is dropped. A writer at the lowest CPU priority can be starved for seconds by training
# on every core; this lets it ride that out, and bounds the memory it takes.
MEMORY_BOUND = 512 * 1024 * 1024
MOST = 4096
# How far behind the worker is before it sheds the 1st, 2nd and 3rd optional part of each step: in seconds
# of work waiting, at its recent pace, or in shares of MEMORY_BOUND held by the waiting snapshots.
SHED_BEHIND = (0.5, 1.0, 2.0)
SHED_MEMORY = (0.25, 0.5, 0.75)
EXIT_TIMEOUT = 60.0  # seconds the exit handler waits for a writer that hangs

_live: weakref.WeakSet[BackgroundLogger] = weakref.WeakSet()


class Writer(Protocol):
    """A destination for logged steps. The worker thread calls `write` for one step at a time, in step
    order; an exception from it drops this writer (the others go on) and is reported as `destination`
    failing."""

    @property
    def destination(self) -> str:
        """Where the steps go, for messages: a folder, a W&B run."""
        ...

    def write(self, step: LoggedStep) -> None: ...

    def close(self) -> None:
        """Release what the writer holds; called once, after its last write."""
        ...


@dataclass(frozen=True)
class Snapshot:
    """What the training thread hands over for one logged step: private copies of the kernels (one per
    layer logged), and for the update ratio the kernels one optimizer step earlier (None where that step
    was not seen). A `late` snapshot completes step `step`, logged before: `before` holds its kernels and
    `kernels` those one step later."""

    step: int
    kernels: tuple[np.ndarray, ...]
    before: tuple[np.ndarray, ...] | None = None
    late: bool = False
    taken: float = field(default_factory=time.monotonic)  # when, on the training thread
    batches: int | None = None  # optimizer steps done when it was taken (None: not known)

    @property
    def nbytes(self) -> int:
        return sum(kernel.nbytes for kernel in self.kernels + (self.before or ()))


class BackgroundLogger:
    """Renders and writes grids on a worker thread, in the order they were submitted."""

    def __init__(
        self,
        process: Callable[[Snapshot, int], list[LoggedStep]],
        writers: Sequence[Writer],
        notices: Notices,
        bound: int | None = None,
        most: int = MOST,
    ) -> None:
        self._process = process  # (snapshot, how many optional parts to shed) -> the steps to write
        self.writers = list(writers)
        self.notices = notices
        self._bound, self._most = bound or MEMORY_BOUND, most
        self._pending: collections.deque[Snapshot] = collections.deque()
        self._pending_bytes = 0
        self._pace = 0.0  # seconds of this worker's CPU per snapshot, recently
        self._busy = False
        self._closing = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="filterviz-writer", daemon=True)
        self._thread.start()
        _live.add(self)

    def submit(self, snapshot: Snapshot) -> None:
        """Queue a snapshot. Never blocks: past the memory bound, the oldest waiting snapshot is dropped."""
        with self._condition:
            while self._pending and (
                self._pending_bytes + snapshot.nbytes > self._bound or len(self._pending) >= self._most
            ):
                dropped = self._take()
                if not dropped.late:  # a late update ratio is no grid: it is lost without a word
                    self.notices.skipped_step(dropped.step)
            self._pending.append(snapshot)
            self._pending_bytes += snapshot.nbytes
            self._condition.notify_all()

    def _shed(self) -> int:
        """How many optional parts to shed from the next step: by the work waiting behind it, in seconds at
        the recent pace, and by the memory it holds. Called with the condition held."""
        behind = len(self._pending) * self._pace
        held = self._pending_bytes / self._bound
        return max(sum(behind >= limit for limit in SHED_BEHIND), sum(held >= share for share in SHED_MEMORY))

    def _take(self) -> Snapshot:
        snapshot = self._pending.popleft()
        self._pending_bytes -= snapshot.nbytes
        return snapshot

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted grid is written (or `timeout` seconds pass). True when done."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued, stop the worker and close the writers."""
        done = self.wait(timeout)
        with self._condition:
            self._closing = True
            self._condition.notify_all()
        self._thread.join(timeout)
        for writer in self.writers:
            try:
                writer.close()
            except Exception as error:  # already flushed event by event; report, do not raise
                self.notices.write_failed(writer.destination, error)
        self.writers = []
        _live.discard(self)
        return done

    def _work(self) -> None:
        _lowest_priority()
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._pending or self._closing)
                if not self._pending:
                    return  # closing, and nothing left
                snapshot = self._take()
                shed = self._shed()
                self._busy = True
            started = time.thread_time()
            try:
                for logged in self._process(snapshot, shed):
                    if logged.shed:
                        self.notices.left_out(logged.step, logged.shed)
                    self._write(logged)
            except Exception as error:  # rendering failed: nothing to write for this step
                self.notices.render_failed(error)
            finally:
                spent = time.thread_time() - started
                with self._condition:
                    self._pace = spent if not self._pace else 0.8 * self._pace + 0.2 * spent
                    self._busy = False
                    self._condition.notify_all()

    def _write(self, logged: LoggedStep) -> None:
        for writer in list(self.writers):
            try:
                writer.write(logged)
            except Exception as error:
                with self._condition:  # close() may read the list if this thread hangs
                    self.writers.remove(writer)
                self.notices.write_failed(writer.destination, error)
                with contextlib.suppress(Exception):  # release what it holds (a file, a thread); told once
                    writer.close()


class Discard:
    """Takes snapshots and does nothing with them: what a process hands its snapshots to when another
    process of the same training writes the logs (it still takes them, at the same steps: reading a kernel
    sharded across processes is a collective that every process joins)."""

    def submit(self, snapshot: Snapshot) -> None:
        pass

    def wait(self, timeout: float | None = None) -> bool:
        return True

    def close(self, timeout: float | None = None) -> bool:
        return True


def _lowest_priority() -> None:
    """Nice 19 for the calling thread only (Linux gives each thread its own nice value)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: normal priority then
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


@atexit.register
def _drain_at_exit() -> None:
    """An interrupted training leaves grids queued: write them before the interpreter goes."""
    for logger in list(_live):
        logger.close(EXIT_TIMEOUT)
