"""TFRecord framing of event files, both ways, and where each summary value lies inside an event's bytes.

An event file is a sequence of records: length (uint64 little-endian), masked CRC32C of the length, the
data (one serialized `Event`), masked CRC32C of the data. Checksums are computed by google-crc32c in C:
tensorboard's fallback is pure Python (0.4 s for a 3 MB grid, holding the GIL).

Reading is the one place where a file's bytes meet the code, so it is where a hostile or broken file is
stopped: a record longer than what is left of the file is not read (it is still being written, or it lies);
nothing is allocated from a length before the file is known to hold that many bytes; a checksum that does
not match raises `CorruptRecord` with the file and offset.

`summary_values` walks the protobuf wire format of one event (varints and length-delimited fields only) to
find where each `Summary.Value` lies, so that a reader later decodes only the value it needs: a grid
without the 200 MB kernel stored in the same event.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import google_crc32c

HEADER = 12  # length and its checksum
FOOTER = 4  # the data's checksum


class CorruptRecord(ValueError):
    """A record that can never be read: a checksum that does not match, bytes that are no event."""

    def __init__(self, path: str | os.PathLike[str], offset: int, reason: str) -> None:
        super().__init__(f"{path}: {reason} at byte {offset}")
        self.path, self.offset, self.reason = str(path), offset, reason


def masked_crc(data: bytes | memoryview) -> int:
    crc = google_crc32c.value(bytes(data) if isinstance(data, memoryview) else data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def framed(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(header, data, footer) of a TFRecord: written one after the other, a 3 MB grid is not copied."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)), data, struct.pack("<I", masked_crc(data))


def tf_record(data: bytes) -> bytes:
    """`data` framed as one TFRecord, the unit of an event file."""
    return b"".join(framed(data))


def read_records(stream: BinaryIO, start: int, size: int, name: str = "") -> Iterator[tuple[int, int, bytes]]:
    """(offset, end, data) of each complete record of an event file from byte `start` on (a record's
    offset is where its header begins; `end` is where the next one would). `stream` reads the file (a file
    on this machine, or an object of a store), `size` is its length, `name` names it in errors.

    Stops, without error, at a record that is not complete yet (a writer is appending it, or died while
    it did): a later call from the same offset reads it once it is whole. Raises CorruptRecord at a record
    whose checksum does not match.
    """
    stream.seek(start)
    offset = start
    while offset + HEADER <= size:
        header = stream.read(HEADER)
        if len(header) < HEADER:
            return
        if struct.unpack("<I", header[8:])[0] != masked_crc(header[:8]):
            raise CorruptRecord(name, offset, "corrupt record length")
        (length,) = struct.unpack("<Q", header[:8])
        end = offset + HEADER + length + FOOTER
        if end > size:
            return  # not complete yet, or a length no file this size holds: nothing is allocated
        data, footer = stream.read(length), stream.read(FOOTER)
        if len(data) < length or len(footer) < FOOTER:
            return  # the file shrank under us
        if struct.unpack("<I", footer)[0] != masked_crc(data):
            raise CorruptRecord(name, offset, "corrupt record")
        yield offset, end, data
        offset = end


# The protobuf wire format, as far as events need it.
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_EVENT_STEP, _EVENT_SUMMARY = 2, 5  # tensorboard's event.proto
_SUMMARY_VALUE = 1  # summary.proto: repeated Value value = 1
_VALUE_TAG = 1


@dataclass(frozen=True)
class ValueSpan:
    """One `Summary.Value` of an event: its tag, and where its bytes lie within the event's data."""

    tag: str
    start: int
    stop: int


def summary_values(data: bytes | memoryview) -> tuple[int, list[ValueSpan]]:
    """(step, the summary values) of one serialized `Event`, without decoding the values themselves.

    Raises ValueError when the bytes are not a well-formed event (a length past the end, an unknown wire
    type, a tag that is not UTF-8).
    """
    step, values = 0, []
    for number, kind, start, stop, integer in _fields(data, 0, len(data)):
        if number == _EVENT_STEP and kind == _VARINT:
            step = integer - (1 << 64) if integer >= 1 << 63 else integer  # int64, two's complement
        elif number == _EVENT_SUMMARY and kind == _BYTES:
            for value_number, value_kind, value_start, value_stop, _ in _fields(data, start, stop):
                if value_number == _SUMMARY_VALUE and value_kind == _BYTES:
                    values.append(ValueSpan(_tag(data, value_start, value_stop), value_start, value_stop))
    return step, values


def field_bytes(message: bytes | memoryview, number: int) -> bytes | memoryview | None:
    """The bytes of the first length-delimited field `number` of a serialized message (a view, for a
    memoryview: nothing is copied), or None; the fields around it are skipped, not decoded."""
    for field_number, kind, start, stop, _ in _fields(message, 0, len(message)):
        if field_number == number and kind == _BYTES:
            return message[start:stop]
    return None


def fields(message: bytes | memoryview) -> Iterator[tuple[int, bytes | memoryview | int]]:
    """(field number, its bytes or its varint) of each length-delimited or varint field of a message."""
    for number, kind, start, stop, integer in _fields(message, 0, len(message)):
        if kind == _BYTES:
            yield number, message[start:stop]
        elif kind == _VARINT:
            yield number, integer


def _tag(data: bytes | memoryview, start: int, stop: int) -> str:
    tag = ""
    for number, kind, field_start, field_stop, _ in _fields(data, start, stop):
        if number == _VALUE_TAG and kind == _BYTES:
            tag = bytes(data[field_start:field_stop]).decode("utf-8")  # UnicodeDecodeError is a ValueError
    return tag


def _fields(data: bytes | memoryview, start: int, stop: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, start, stop, integer) of each field in data[start:stop]: for a
    length-delimited field, where its bytes lie; for a varint, its value."""
    at = start
    while at < stop:
        key, at = _varint(data, at, stop)
        number, kind = key >> 3, key & 7
        if kind == _VARINT:
            value, at = _varint(data, at, stop)
            yield number, kind, at, at, value
        elif kind == _BYTES:
            length, at = _varint(data, at, stop)
            if at + length > stop:
                raise ValueError("a field runs past the end of its message")
            yield number, kind, at, at + length, 0
            at += length
        elif kind in (_FIXED64, _FIXED32):
            at += 8 if kind == _FIXED64 else 4
            if at > stop:
                raise ValueError("a field runs past the end of its message")
        else:
            raise ValueError(f"wire type {kind} has no place in an event")


def _varint(data: bytes | memoryview, at: int, stop: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= stop or shift > 63:
            raise ValueError("a varint runs past the end of its message")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
