"""Rendering, PNG encoding and writing, off the training thread.

The training thread hands over a snapshot of the kernel and returns at once; one worker thread renders
the snapshots in order and passes each grid to the writers. The queue is bounded:

* When it is full (the writers are slower than the schedule), the oldest waiting snapshot is dropped and
  reported, so training never waits for writing, memory stays bounded, and the grids that are written are
  still in step order and the newest state is never lost.
* `wait()` returns once everything handed over is written: FilterLogger calls it at epoch boundaries
  and at the end of training, and an exit handler calls it before the interpreter shuts down, so an
  interrupted script still writes every grid it logged.
* A writer that fails is dropped (the others go on), and so is one render that fails; both are noted in
  the `Reports` for the training thread to tell.
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
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from filterviz.reports import Reports
from filterviz.writers import LoggedStep, Writer

# Snapshots that may wait besides the one being rendered: always 4, and up to 64 while they hold at most
# 16 MiB together. Small kernels thus ride out a burst (a writer at the lowest CPU priority can be starved
# for a while by training on every core) and large ones stay bounded in memory.
CAPACITY = 4
MOST = 64
BUDGET = 16 * 1024 * 1024
EXIT_TIMEOUT = 60.0  # seconds the exit handler waits for a writer that hangs

_live: weakref.WeakSet[BackgroundLogger] = weakref.WeakSet()


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

    @property
    def nbytes(self) -> int:
        return sum(kernel.nbytes for kernel in self.kernels + (self.before or ()))


class BackgroundLogger:
    """Renders and writes grids on a worker thread, in the order they were submitted."""

    def __init__(
        self,
        process: Callable[[Snapshot], list[LoggedStep]],
        writers: Sequence[Writer],
        reports: Reports,
        capacity: int = CAPACITY,
        most: int = MOST,
        budget: int = BUDGET,
    ) -> None:
        self._process = process
        self.writers = list(writers)
        self.reports = reports
        self._capacity, self._most, self._budget = capacity, max(most, capacity), budget
        self._pending: collections.deque[Snapshot] = collections.deque()
        self._pending_bytes = 0
        self._busy = False
        self._closing = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="filterviz-writer", daemon=True)
        self._thread.start()
        _live.add(self)

    def submit(self, snapshot: Snapshot) -> None:
        """Queue a snapshot. Never blocks: a full queue drops its oldest waiting snapshot."""
        with self._condition:
            while self._pending and self._full(snapshot.nbytes):
                dropped = self._take()
                if not dropped.late:  # a late update ratio is no grid: it is lost without a word
                    self.reports.skipped_step(dropped.step)
            self._pending.append(snapshot)
            self._pending_bytes += snapshot.nbytes
            self._condition.notify_all()

    def _full(self, incoming: int) -> bool:
        """No room for `incoming` more bytes: the queue is at its count, or past the always-allowed
        count and over its budget."""
        waiting = len(self._pending)
        over_budget = self._pending_bytes + incoming > self._budget
        return waiting >= self._most or (waiting >= self._capacity and over_budget)

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
                self.reports.write_failed(writer.destination, error)
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
                self._busy = True
            try:
                for logged in self._process(snapshot):
                    self._write(logged)
            except Exception as error:  # rendering failed: nothing to write for this step
                self.reports.render_failed(error)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def _write(self, logged: LoggedStep) -> None:
        for writer in list(self.writers):
            try:
                writer.write(logged)
            except Exception as error:
                with self._condition:  # close() may read the list if this thread hangs
                    self.writers.remove(writer)
                self.reports.write_failed(writer.destination, error)


def _lowest_priority() -> None:
    """Nice 19 for the calling thread only (Linux gives each thread its own nice value)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: normal priority then
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


@atexit.register
def _drain_at_exit() -> None:
    """An interrupted training leaves grids queued: write them before the interpreter goes."""
    for logger in list(_live):
        logger.close(EXIT_TIMEOUT)
