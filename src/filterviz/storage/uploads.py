"""Records put into a folder of an object store as new, immutable objects, from a bounded local spool.

An object store cannot append, so nothing here is ever rewritten: every object holds a header and the
records of the steps that were waiting when it was sent, and its name sorts after every earlier one's, so
that TensorBoard (which reads a run's files in name order, each once) and `filterviz.eventfile.index` read
them in order. Bytes sent per step are the step's own bytes plus one request's overhead, however long the
run: nothing grows with it.

Threads: the writer thread calls `add()`, which appends to a file in the local spool and returns at once;
a sender thread of its own, `filterviz-upload`, puts the waiting records on the store, one object at a
time. When the store keeps up, each step is an object of its own; when it is slower than the steps come,
the steps that arrive during one upload go together in the next object (at most OBJECT_BYTES, unless one
step alone is larger).

When the store fails (it is down, the credentials expired, the bucket was deleted), training goes on:
one notice says what happened, the records wait in the spool (at most SPOOL_BYTES; steps beyond are not
kept, and counted) and are retried with a growing pause. At the end, `close()` waits for the last objects
while they go through, and gives up after STALL_SECONDS without one: a dead store costs seconds, not
minutes. What was not sent is counted in one notice, and left in the spool folder as complete event
files under their final names, to be copied into the run folder by hand.
"""

from __future__ import annotations

import collections
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from filterviz.core.step import step_list
from filterviz.storage.stores import RemoteStore, describe_failure

SPOOL_BYTES = 1 << 30  # steps waiting for the store hold at most this much local disk
OBJECT_BYTES = 16 << 20  # an object is closed once it holds this much (a larger step is one object)
STALL_SECONDS = 5.0  # at the end: the wait ends when no object has gone through for this long
RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)  # pauses between attempts while the store fails


@dataclass
class _Waiting:
    """One object waiting in the spool: its file there, its final name, and the steps it holds."""

    path: Path
    name: str
    size: int = 0
    steps: list[int] = field(default_factory=list)


class ObjectUploader:
    """Puts records into `folder` of `store` as new objects named `<prefix><sequence>`, in order.

    The first object (the header alone) is put when the uploader is made: a missing bucket, missing
    credentials or a store that refuses writes raise `StoreUnavailable` then, before any training step.

    Args:
        store: the object store.
        folder: the run folder, a path within the store.
        prefix: the objects' names up to their sequence number (sorting by time, as TensorBoard's own).
        header: the bytes every object begins with (an event file's version record).
        notice: called with a message for the user, from the sender thread or in `close()`.
    """

    def __init__(
        self,
        store: RemoteStore,
        folder: str,
        prefix: str,
        header: bytes,
        notice: Callable[[str], None],
        *,
        spool_bytes: int = SPOOL_BYTES,
        object_bytes: int = OBJECT_BYTES,
    ) -> None:
        self.store, self.folder, self.prefix, self.header = store, folder, prefix, header
        self.notice = notice
        self._spool_bytes, self._object_bytes = spool_bytes, object_bytes
        self._sequence = 0
        try:
            store.put(self._address(self._name()), header)
        except Exception as error:
            raise store.unavailable("write to", error) from None
        self.sent_objects = 1
        self.sent_bytes = len(header)  # of objects, as sent (each with its header)
        self.sent_steps: set[int] = set()
        self.unkept_steps: list[int] = []  # not kept: the spool was full
        self._spool = Path(tempfile.mkdtemp(prefix="filterviz-spool-"))
        self._sealed: collections.deque[_Waiting] = collections.deque()
        self._open: _Waiting | None = None
        self._held = 0  # bytes in the spool
        self._failure = ""  # the first failure, while the store fails
        self._failures = 0  # attempts that failed in a row
        self._ever_failed = ""
        self._progress = time.monotonic()  # when an object last went through
        self._closing = False
        self._abandoned = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._send_all, name="filterviz-upload", daemon=True)
        self._thread.start()

    def _name(self) -> str:
        name = f"{self.prefix}{self._sequence:09d}"
        self._sequence += 1
        return name

    def _address(self, name: str) -> str:
        return self.store.join(self.folder, name)

    @property
    def destination(self) -> str:
        return self.store.address(self.store.join(self.folder))

    def add(self, parts: Iterable[bytes], step: int) -> bool:
        """Spool one record (given in parts, written one after the other) of `step`. False when the spool
        is full: the record is not kept, and counted."""
        parts = list(parts)
        size = sum(map(len, parts))
        with self._condition:
            if self._held + size > self._spool_bytes:
                self.unkept_steps.append(step)
                if len(self.unkept_steps) == 1:
                    self.notice(
                        f"FilterLogger: {self.destination} has not taken the steps waiting for it, and "
                        f"they fill the local spool ({self._spool_bytes >> 20} MiB): from step {step} on, "
                        "steps are not kept until it takes them."
                    )
                return False
            if self._open is None or (self._open.size and self._open.size + size > self._object_bytes):
                self._seal()
                self._open = _Waiting(self._spool / f"open-{self._sequence}", "")
                with open(self._open.path, "wb") as file:
                    file.write(self.header)
                self._open.size = len(self.header)
                self._held += len(self.header)
            with open(self._open.path, "ab") as file:
                file.writelines(parts)
            self._open.size += size
            self._held += size
            if not self._open.steps or self._open.steps[-1] != step:
                self._open.steps.append(step)
            self._condition.notify_all()
        return True

    def _seal(self) -> None:
        """Close the open object: it gets its final name and waits its turn. Called with the lock held."""
        if self._open is not None and self._open.steps:
            self._open.name = self._name()
            final = self._spool / self._open.name
            self._open.path.rename(final)
            self._open.path = final
            self._sealed.append(self._open)
        self._open = None

    def _send_all(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(
                    lambda: self._sealed or (self._open and self._open.steps) or self._closing
                )
                if self._abandoned:
                    return
                if not self._sealed:
                    self._seal()  # what came during the last upload goes as one object
                if not self._sealed:
                    return  # closing, and nothing is left
                waiting = self._sealed[0]
            try:
                self.store.put(self._address(waiting.name), waiting.path.read_bytes())
            except Exception as error:
                self._failed(error)
                continue
            with self._condition:
                if self._abandoned:
                    return  # close() has counted it as not sent: its file stays in the spool
                self._sealed.popleft()
                waiting.path.unlink(missing_ok=True)
                self._held -= waiting.size
                self.sent_objects += 1
                self.sent_bytes += waiting.size
                self.sent_steps.update(waiting.steps)
                self._failure, self._failures = "", 0
                self._progress = time.monotonic()
                self._condition.notify_all()

    def _failed(self, error: BaseException) -> None:
        """A put that failed: told once, then retried after a pause that grows (short while closing)."""
        with self._condition:
            if self._abandoned:
                return  # close() has told the user already
            self._failures += 1
            if not self._failure:
                self._failure = describe_failure(error, self.store.package)
                if not self._ever_failed:
                    self._ever_failed = self._failure
                    self.notice(
                        f"FilterLogger: putting steps on {self.destination} failed ({self._failure}). "
                        "Training goes on; the steps wait in a local spool and are sent again while the "
                        "store comes back."
                    )
            pause = 0.5 if self._closing else RETRY_SECONDS[min(self._failures, len(RETRY_SECONDS)) - 1]
            self._condition.wait_for(lambda: self._closing or self._abandoned, pause)
            if self._closing:  # woken by close(): one more attempt after a short pause
                self._condition.wait_for(lambda: self._abandoned, 0.5)

    def close(self, stall_seconds: float = STALL_SECONDS) -> None:
        """Send what waits, for as long as objects go through; then tell what was not sent, and where it
        is kept."""
        with self._condition:
            self._closing = True
            self._progress = max(self._progress, time.monotonic())
            self._condition.notify_all()
        while self._thread.is_alive():
            self._thread.join(0.05)
            with self._condition:
                if time.monotonic() - self._progress > stall_seconds:
                    self._abandoned = True
                    self._seal()
                    self._condition.notify_all()
                    break
        with self._condition:
            unsent = sorted({step for waiting in self._sealed for step in waiting.steps})
            unkept = self.unkept_steps
        if unsent or unkept:
            kept = (
                f"{len(unsent)} logged steps ({step_list(unsent)}) are kept in {self._spool} as complete "
                f"event files under their final names: copy them into {self.destination}/ to complete the run"
                if unsent
                else ""
            )
            lost = f"{len(unkept)} more ({step_list(unkept)}) did not fit in the spool" if unkept else ""
            why = self._failure or self._ever_failed or f"it took nothing in the last {stall_seconds:g} s"
            self.notice(
                f"FilterLogger: not every step reached {self.destination} ({why}): "
                + "; ".join(part for part in (kept, lost) if part)
                + f". {len(self.sent_steps)} steps are there."
            )
        else:
            if self._ever_failed:
                self.notice(
                    f"FilterLogger: {self.destination} failed during training ({self._ever_failed}), but "
                    "every step waited in the local spool and was sent in the end."
                )
            shutil.rmtree(self._spool, ignore_errors=True)
