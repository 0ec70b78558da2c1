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

Records are framed as TFRecords (length, masked CRC32C of the length, data, masked CRC32C of the data),
written synchronously and read back by `read_records` without TensorFlow. tensorboard's own writer and
readers compute CRC32C in pure Python when TensorFlow is absent (about 0.4 s for a 3 MB grid, holding the
GIL), or import TensorFlow; google-crc32c does the same checksum in C in well under a millisecond.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import google_crc32c
import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, types_pb2
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata

from filterviz.health import PER_FILTER
from filterviz.writers import LoggedStep

PLUGIN_NAME = "filterviz"  # the Filters tab's plugin, and the name of its tensors' plugin data

# Tells apart event files opened in the same second by one process. Zero-padded: TensorBoard reads a run's
# files in the order of their names, and ".10" would sort before ".9".
_file_ids = itertools.count()


def plugin_tag(tag: str, part: str) -> str:
    """`filters/<layer>` -> `filterviz/<layer>/<part>`: the tags of the Filters tab's tensors."""
    return f"{PLUGIN_NAME}/{tag.partition('/')[2]}/{part}"


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
            add(f"{step.tag}/delta", partial(_image_metadata, description=change)), step.delta, step.delta_png
        )
    for name, number in step.scalars.items():
        scalar = add(f"{step.tag}/{name}", _scalar_metadata)
        scalar.tensor.dtype = types_pb2.DT_FLOAT
        scalar.tensor.float_val.append(number)

    def plugin(tag: str) -> summary_pb2.SummaryMetadata:  # the layer's JSON, once per tag and file
        return _plugin_metadata(tag, json.dumps(step.layer, sort_keys=True).encode())

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


def tf_record(data: bytes) -> bytes:
    """`data` framed as one TFRecord, the unit of an event file."""
    return b"".join(_framed(data))


def _framed(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(header, data, footer) of a TFRecord: written one after the other, a 3 MB grid is not copied."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked_crc(length)), data, struct.pack("<I", _masked_crc(data))


def read_records(path: str | os.PathLike[str], start: int = 0) -> Iterator[tuple[int, int, bytes]]:
    """(offset, end, data) of each complete record of an event file from byte `start` on (a record's
    offset is where its header begins; `end` is where the next one would). Stops at a record cut short;
    raises ValueError at one whose checksum is wrong."""
    with open(path, "rb") as file:
        file.seek(start)
        offset = start
        while header := file.read(12):
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            if struct.unpack("<I", header[8:])[0] != _masked_crc(header[:8]):
                raise ValueError(f"{path}: corrupt record length at byte {offset}")
            data, footer = file.read(length), file.read(4)
            if len(data) < length or len(footer) < 4:
                return
            if struct.unpack("<I", footer)[0] != _masked_crc(data):
                raise ValueError(f"{path}: corrupt record at byte {offset}")
            end = offset + 16 + length
            yield offset, end, data
            offset = end


def read_event_at(path: str | os.PathLike[str], offset: int) -> event_pb2.Event:
    """The event whose record begins at byte `offset` (from `read_records`)."""
    for _, _, data in read_records(path, offset):
        return event_pb2.Event.FromString(data)
    raise ValueError(f"{path}: no complete record at byte {offset}")


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class TensorBoardWriter:
    """Appends logged steps to a new event file in `run_dir`; each is on disk when `write` returns.

    The file is opened for each event and closed again, so no file is held open between events: a disk
    that fills up, is remounted read-only or is cleaned up during training fails one write, cleanly.

    Raises OSError at construction when `run_dir` cannot be created or written.
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # The name tensorboard's own writer gives, so TensorBoard orders the files of a run by time.
        stamp = f"{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_file_ids):06d}"
        self.path = self.run_dir / f"events.out.tfevents.{stamp}"
        header = event_pb2.Event(
            wall_time=time.time(),
            file_version="brain.Event:2",
            source_metadata=event_pb2.SourceMetadata(writer="filterviz"),
        )
        with open(self.path, "xb") as file:
            file.write(tf_record(header.SerializeToString()))
        self._described: set[str] = set()  # tags whose summary metadata this file holds

    @property
    def destination(self) -> str:
        return str(self.run_dir)

    def write(self, step: LoggedStep) -> None:
        self._append(step_event(step, self._described))

    def close(self) -> None:
        """Nothing is held open between events."""

    def _append(self, event: event_pb2.Event) -> None:
        with open(self.path, "ab") as file:  # closed at once: readable, and kept if training dies next
            file.writelines(_framed(event.SerializeToString()))
