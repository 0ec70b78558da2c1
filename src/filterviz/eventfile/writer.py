"""Logged steps -> a TensorBoard event file, with tensorboard's own protos (no TensorFlow ops).

One event per logged step of a layer, holding in TensorBoard's TF2 summary format:
* the grid, `filters/<layer>`: a string tensor [width, height, png] of the "images" plugin (the Images tab
  shows one card per tag, with a slider over the steps), and with log_delta the grid of the change,
  `filters/<layer>/delta`;
* the health values, `filters/<layer>/<name>`: float scalars of the "scalars" plugin;
* for the Filters tab, tensors of the "filterviz" plugin: `filterviz/<layer>/filters`, the per-filter
  values (one row per name in the metadata's "per_filter"), `filterviz/<layer>/update_ratio`, and when it
  is stored `filterviz/<layer>/kernel`, the float32 kernel; and once per file `filterviz/<layer>/layer`, a
  marker that is there with health off too. Their metadata carries, as JSON, how the layer is drawn.
Summary metadata goes with a tag's first value in each file, as TensorFlow's own writer does.

Tags and the layer's description are `filterviz.eventfile.format`'s; records are framed by
`filterviz.eventfile.records`. In a folder on this machine (`TensorBoardWriter`) writing is synchronous:
each event is in the file when `write` returns. On an object store (`ObjectWriter`), each batch of steps
is a new object, put from a thread of its own (filterviz.storage.uploads).
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import os
import socket
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, types_pb2
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata

from filterviz.core.health import PER_FILTER
from filterviz.core.step import LoggedStep
from filterviz.eventfile.format import (
    PLUGIN_NAME,
    RUN_NAME,
    delta_tag,
    encode_description,
    plugin_tag,
    scalar_tag,
)
from filterviz.eventfile.records import framed, tf_record
from filterviz.storage.stores import LocalStore, RemoteStore
from filterviz.storage.uploads import ObjectUploader

# Tells apart event files opened in the same second by one process. Zero-padded: TensorBoard reads a run's
# files in the order of their names, and ".10" would sort before ".9".
_file_ids = itertools.count()


def event_file_name() -> str:
    """The name tensorboard's own writer gives a new event file, so TensorBoard orders a run's files by
    time: `events.out.tfevents.<seconds>.<host>.<pid>.<number>`."""
    stamp = f"{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_file_ids):06d}"
    return f"events.out.tfevents.{stamp}"


def header_record() -> bytes:
    """The record every event file begins with: its format version, and who wrote it."""
    header = event_pb2.Event(
        wall_time=time.time(),
        file_version="brain.Event:2",
        source_metadata=event_pb2.SourceMetadata(writer="filterviz"),
    )
    return tf_record(header.SerializeToString())


def step_event(step: LoggedStep, described: set[str]) -> event_pb2.Event:
    """One event holding everything of `step`. `described`: the tags whose metadata was written already
    (updated here).

    Built in place: protobuf copies a message passed to a constructor, and three copies of a 3 MB PNG
    cost 4 ms where building it in place costs 0.1 ms.
    """
    event = event_pb2.Event(wall_time=time.time(), step=int(step.step))

    def add(tag: str, metadata: Callable[[str], summary_pb2.SummaryMetadata]) -> summary_pb2.Summary.Value:
        value = event.summary.value.add(tag=tag)
        if tag not in described:
            described.add(tag)
            value.metadata.CopyFrom(metadata(tag))
        return value

    if step.image is not None:
        _image(add(step.tag, partial(_image_metadata, description=step.description)), step.image, step.png)
    if step.delta is not None:
        change = "the change since the step logged before, symmetric normalization"
        _image(
            add(delta_tag(step.tag), partial(_image_metadata, description=change)), step.delta, step.delta_png
        )
    for name, number in step.scalars.items():
        scalar = add(scalar_tag(step.tag, name), _scalar_metadata)
        scalar.tensor.dtype = types_pb2.DT_FLOAT
        scalar.tensor.float_val.append(number)

    def plugin(tag: str) -> summary_pb2.SummaryMetadata:  # the layer's JSON, once per tag and file
        return _plugin_metadata(tag, encode_description(step.layer))

    if plugin_tag(step.tag, "layer") not in described:  # marks the layer for the Filters tab, health or not
        _tensor(add(plugin_tag(step.tag, "layer"), plugin), np.zeros(()))
    if "norm" in step.per_filter:  # a late step carries only the update ratio
        _tensor(
            add(plugin_tag(step.tag, "filters"), plugin), np.stack([step.per_filter[n] for n in PER_FILTER])
        )
    if "update_ratio" in step.per_filter:
        _tensor(add(plugin_tag(step.tag, "update_ratio"), plugin), step.per_filter["update_ratio"])
    if step.kernel is not None:
        _tensor(add(plugin_tag(step.tag, "kernel"), plugin), step.kernel)
    if step.shed:  # what the writer left out of this step, by the description's shed_order
        order = step.layer.get("shed_order", [])
        _tensor(add(plugin_tag(step.tag, "shed"), plugin), np.array([name in step.shed for name in order]))
    return event


def _image_metadata(tag: str, description: str) -> summary_pb2.SummaryMetadata:
    return image_metadata.create_summary_metadata(display_name=tag, description=description)


def _scalar_metadata(tag: str) -> summary_pb2.SummaryMetadata:
    return scalar_metadata.create_summary_metadata(display_name=tag, description="")


def _plugin_metadata(tag: str, content: bytes) -> summary_pb2.SummaryMetadata:
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME, content=content),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


def _image(value: summary_pb2.Summary.Value, image: np.ndarray, png: bytes) -> None:
    height, width = image.shape[:2]
    value.tensor.dtype = types_pb2.DT_STRING
    value.tensor.tensor_shape.dim.add(size=3)
    value.tensor.string_val.extend([str(width).encode(), str(height).encode(), png])


def _tensor(value: summary_pb2.Summary.Value, array: np.ndarray) -> None:
    """A float32 tensor of `array`'s shape."""
    value.tensor.dtype = types_pb2.DT_FLOAT
    for size in array.shape:
        value.tensor.tensor_shape.dim.add(size=size)
    value.tensor.tensor_content = np.ascontiguousarray(array, np.float32).tobytes()


KEEP_STEPS = 32  # kernels are stored only while the disk keeps room for this many more steps without one


class TensorBoardWriter:
    """Appends logged steps to a new event file in `run_dir`; each is on disk when `write` returns.

    The file is opened for each event and closed again, so no file is held open between events: a disk
    that fills up, is remounted read-only or is cleaned up during training fails one write, cleanly. A
    write that fails is cut off the file again, so no torn record is left for a reader to stop at.

    The stored kernels give way to the grids when the disk fills up: a kernel is stored only while the disk
    keeps room for KEEP_STEPS more steps without one (and a step that does not fit with its kernel is
    written again without it); from then on no step stores one, and `notice` is told once. Only a step
    that does not fit even without its kernel fails.

    Args:
        run_dir: the run folder, made if needed.
        notice: called with a message for the user when the writer changes what it writes.

    Raises OSError at construction when `run_dir` cannot be created or written.
    """

    def __init__(self, run_dir: str | os.PathLike[str], notice: Callable[[str], None] = lambda message: None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / event_file_name()
        with open(self.path, "xb") as file:
            file.write(header_record())
        self._described: set[str] = set()  # tags whose summary metadata this file holds
        self._notice = notice
        self.stores_kernels = True  # until the disk fills up

    @property
    def destination(self) -> str:
        return str(self.run_dir)

    def write(self, step: LoggedStep) -> None:
        if step.kernel is not None and self.stores_kernels and not self._room_for_kernel(step):
            self._stop_storing_kernels(step.step)
        if step.kernel is not None and not self.stores_kernels:
            step = dataclasses.replace(step, kernel=None)
        try:
            self._append(step)
        except OSError as error:
            if error.errno != errno.ENOSPC or step.kernel is None:
                raise
            self._stop_storing_kernels(step.step)
            self._append(dataclasses.replace(step, kernel=None))

    def _room_for_kernel(self, step: LoggedStep) -> bool:
        """Storing this step's kernel leaves room for KEEP_STEPS more steps without one."""
        try:
            disk = os.statvfs(self.run_dir)
        except (AttributeError, OSError):  # not a POSIX system: find out by writing
            return True
        without = max(len(step.png) if step.image is not None else 0, 4096)
        return disk.f_bavail * disk.f_frsize >= step.kernel.nbytes + KEEP_STEPS * without

    def _stop_storing_kernels(self, step: int) -> None:
        self.stores_kernels = False
        self._notice(
            f"FilterLogger: the disk under {self.run_dir} is nearly full, so the kernels are no longer "
            f"stored from step {step} on; grids and health values go on while they fit (the Filters tab "
            "then shows the grids as logged)."
        )

    def close(self) -> None:
        """Nothing is held open between events."""

    def _append(self, step: LoggedStep) -> None:
        """Write one step's event, or nothing: a write that fails is cut off again."""
        described = set(self._described)
        data = step_event(step, described).SerializeToString()
        with open(self.path, "ab") as file:  # closed at once: readable, and kept if training dies next
            size = file.tell()
            try:
                file.writelines(framed(data))
                file.flush()
            except OSError:
                file.truncate(size)  # a torn record would stop every reader of the rest of the file
                raise
        self._described = described


class ObjectWriter:
    """Puts logged steps into `<log_dir>/filters` on an object store, each batch of steps a new event file
    (an object is never appended to or rewritten): the steps that wait when the store is ready for the
    next object go in it, named `<event_file_name()>.<sequence>` so that TensorBoard reads them in order.
    The network is used from the uploader's own thread; `write` only spools the step on the local disk
    (filterviz.storage.uploads has what happens when the store fails).

    Args:
        store: the log directory's store.
        run: the run folder's name within it.
        notice: called with a message for the user.

    Raises StoreUnavailable at construction when the store cannot be written (a missing bucket, missing
    credentials): its first object, the header alone, is put then.
    """

    def __init__(self, store: RemoteStore, run: str, notice: Callable[[str], None] = lambda message: None):
        header = header_record()
        self._uploader = ObjectUploader(store, run, f"{event_file_name()}.", header, notice)
        self._described: set[str] = set()  # tags whose metadata an earlier object holds: once per run

    @property
    def destination(self) -> str:
        return self._uploader.destination

    def write(self, step: LoggedStep) -> None:
        described = set(self._described)
        if self._uploader.add(framed(step_event(step, described).SerializeToString()), step.step):
            self._described = described

    def close(self) -> None:
        self._uploader.close()


def open_writer(
    store: LocalStore | RemoteStore, notice: Callable[[str], None]
) -> TensorBoardWriter | ObjectWriter:
    """The writer of FilterLogger's run `<log_dir>/filters` in `store`."""
    if store.remote:
        return ObjectWriter(store, RUN_NAME, notice)
    return TensorBoardWriter(store.root / RUN_NAME, notice)
