"""Grid images -> a TensorBoard event file, with tensorboard's own protos (no TensorFlow ops).

An image summary in the TF2 format is a string tensor [width, height, png] whose summary metadata names
the "images" plugin; TensorBoard's Images tab shows one card per tag, with a slider over the steps.

Records are framed as TFRecords (length, masked CRC32C of the length, data, masked CRC32C of the data),
written synchronously and read back by `read_events` without TensorFlow. tensorboard's own writer and
readers compute CRC32C in pure Python when TensorFlow is absent (about 0.4 s for a 3 MB grid, holding the
GIL), or import TensorFlow; google-crc32c does the same checksum in C in well under a millisecond.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import google_crc32c
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.image import metadata as image_metadata

from filterviz.writers import GridImage

_file_ids = itertools.count()  # tells apart event files opened in the same second by one process


def image_event(
    tag: str, step: int, png: bytes, width: int, height: int, description: str = ""
) -> event_pb2.Event:
    """One TF2-format image summary event holding one PNG."""
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=3)]),
        string_val=[str(width).encode(), str(height).encode(), png],
    )
    value = summary_pb2.Summary.Value(
        tag=tag,
        tensor=tensor,
        metadata=image_metadata.create_summary_metadata(display_name=tag, description=description),
    )
    return event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=[value]))


def tf_record(data: bytes) -> bytes:
    """`data` framed as one TFRecord, the unit of an event file."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked_crc(length)) + data + struct.pack("<I", _masked_crc(data))


def read_events(path: str | os.PathLike[str]) -> Iterator[event_pb2.Event]:
    """The events of one event file, in order. A record cut short at the end (a writer that died mid-write)
    ends the file, as in TensorBoard; a record whose checksum is wrong raises ValueError."""
    with open(path, "rb") as file:
        while header := file.read(12):
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            if struct.unpack("<I", header[8:])[0] != _masked_crc(header[:8]):
                raise ValueError(f"{path}: corrupt record length")
            data, footer = file.read(length), file.read(4)
            if len(data) < length or len(footer) < 4:
                return
            if struct.unpack("<I", footer)[0] != _masked_crc(data):
                raise ValueError(f"{path}: corrupt record")
            yield event_pb2.Event.FromString(data)


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class TensorBoardWriter:
    """Appends image events to a new event file in `run_dir`; each is on disk when `write` returns.

    The file is opened for each event and closed again, so no file is held open between events: a disk
    that fills up, is remounted read-only or is cleaned up during training fails one write, cleanly.

    Raises OSError at construction when `run_dir` cannot be created or written.
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # The name tensorboard's own writer gives, so TensorBoard orders the files of a run by time.
        stamp = f"{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_file_ids)}"
        self.path = self.run_dir / f"events.out.tfevents.{stamp}"
        header = event_pb2.Event(
            wall_time=time.time(),
            file_version="brain.Event:2",
            source_metadata=event_pb2.SourceMetadata(writer="filterviz"),
        )
        with open(self.path, "xb") as file:
            file.write(tf_record(header.SerializeToString()))

    @property
    def destination(self) -> str:
        return str(self.run_dir)

    def write(self, grid: GridImage) -> None:
        height, width = grid.image.shape[:2]
        self._append(image_event(grid.tag, grid.step, grid.png, width, height, grid.description))

    def close(self) -> None:
        """Nothing is held open between events."""

    def _append(self, event: event_pb2.Event) -> None:
        with open(self.path, "ab") as file:  # closed at once: readable, and kept if training dies next
            file.write(tf_record(event.SerializeToString()))
