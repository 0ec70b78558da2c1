"""TFRecord framing of event files, both ways, and where each summary value lies inside an event's bytes.

An event file is a sequence of records: length (uint64 little-endian), masked CRC32C of the length, the
data (one serialized `Event`), masked CRC32C of the data. Checksums are computed by google-crc32c in C:
tensorboard's fallback is pure Python (0.4 s for a 3 MB grid, holding the GIL).

Reading is the one place where a file's bytes meet the code, so it is where a hostile or broken file is
stopped, and where what a read costs is bounded by figures of ours, never by numbers the file states:

* a record longer than what is left of the file is not read (it is still being written, or it lies);
* a record longer than RECORD_LIMIT is refused: no record FilterLogger writes comes near it;
* a record is read in CHUNK-sized pieces, checksummed as they pass, and walked as it is read
  (`read_events`): of each summary value only the small fields are kept (its tag, its metadata, a
  tensor's type and shape, a grid's width and height: at most SMALL bytes each, RETAINED for the whole
  record); a grid's PNG or a stored kernel is checksummed and skipped, and its place noted, so that a
  reader later reads the one value it needs. Memory for reading a record is at most CHUNK + RETAINED,
  whatever its length: a sparse file that claims a gigabyte costs a chunk at a time, and its checksum
  fails at the end;
* a checksum that does not match raises `CorruptRecord` with the file and offset.
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


RECORD_LIMIT = 1 << 30  # bytes: the largest record FilterLogger writes is two 48 MiB grids and a kernel
CHUNK = 1 << 20  # bytes read at a time
SMALL = 1 << 20  # the largest field kept whole (a layer description is at most 64 KiB)
SHORT_STRING = 64  # a tensor's strings up to this long are kept (a grid's width and height)
SHORT_CONTENT = 4096  # a tensor's contents up to this long are kept (the flags of a shed marker)
RETAINED = 64 << 20  # the small fields of one record, together
FIELDS = 100_000  # protobuf fields walked in one record at most (an event FilterLogger writes has ~100)


@dataclass(frozen=True)
class ValueSpan:
    """One `Summary.Value` of an event: its tag, where its bytes lie within the event's data, and its
    small fields re-encoded as a `Summary.Value` (`light`): everything but a tensor's large contents."""

    tag: str
    start: int
    stop: int
    light: bytes = b""


def read_events(
    stream: BinaryIO, start: int, size: int, name: str = ""
) -> Iterator[tuple[int, int, int, list[ValueSpan]]]:
    """(offset, end, step, summary values) of each complete record of an event file from byte `start` on
    (a record's offset is where its header begins; `end` is where the next one would). `stream` reads the
    file (a file on this machine, or an object of a store), `size` is its length, `name` names it in errors.

    Stops, without error, at a record that is not complete yet (a writer is appending it, or died while
    it did): a later call from the same offset reads it once it is whole. Raises CorruptRecord at a record
    whose checksum does not match, that is longer than RECORD_LIMIT, or whose bytes are no event.
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
        if length > RECORD_LIMIT:
            raise CorruptRecord(
                name, offset, f"a record of {length:,} bytes, more than any FilterLogger writes"
            )
        record = _Record(stream, length)
        try:
            step, values = _event(record)
            whole = record.finish()
        except EOFError:
            return  # the file shrank under us
        except ValueError as error:  # bytes that are no event; a wrong checksum says more, when there is one
            whole = _finish_quietly(record)
            reason = (
                "corrupt record" if whole and not record.crc_matches(stream) else f"not an event: {error}"
            )
            raise CorruptRecord(name, offset, reason) from error
        if not whole:
            return
        if not record.crc_matches(stream):
            raise CorruptRecord(name, offset, "corrupt record")
        yield offset, end, step, values
        offset = end


def _finish_quietly(record: _Record) -> bool:
    try:
        return record.finish()
    except (EOFError, ValueError):
        return False


class _Record:
    """The data of one record, read from `stream` in CHUNK pieces as the parser asks for bytes, every byte
    checksummed on the way. `at` is the position within the data."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self._stream, self.length = stream, length
        self._buffer, self._start = b"", 0  # bytes read and not passed yet, from position _start
        self._read = 0  # bytes read from the stream
        self._crc = 0
        self.at = 0
        self.retained = 0
        self.fields = 0  # walked, against FIELDS

    def _more(self) -> bytes:
        data = self._stream.read(min(CHUNK, self.length - self._read))
        if not data:
            raise EOFError
        self._read += len(data)
        self._crc = google_crc32c.extend(self._crc, data)
        return data

    def _within(self, count: int) -> int:
        if self.at + count > self.length:
            raise ValueError("a field runs past the end of the event")
        return self.at + count

    def take(self, count: int) -> bytes:
        """The next `count` bytes."""
        target = self._within(count)
        while self._start + len(self._buffer) < target:
            self._buffer = self._buffer[self.at - self._start :] + self._more()
            self._start = self.at
        data = self._buffer[self.at - self._start : target - self._start]
        self.at = target
        return data

    def skip(self, count: int) -> None:
        """Pass over the next `count` bytes, checksumming them, holding at most a chunk."""
        target = self._within(count)
        while self._start + len(self._buffer) < target:
            self._start += len(self._buffer)
            self._buffer = self._more()
        self.at = target

    def varint(self) -> int:
        here = self.at - self._start
        if len(self._buffer) - here >= 10 and self.length - self.at >= 10:  # in the buffer: read in place
            value, after = _varint(self._buffer, here, here + 10)
            self.at += after - here
            return value
        value, shift = 0, 0
        while True:
            if shift > 63:
                raise ValueError("a varint runs past 64 bits")
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def keep(self, count: int) -> bytes:
        """`take`, for bytes that are kept: at most SMALL of them, RETAINED in all."""
        if count > SMALL:
            raise ValueError(f"a field of {count:,} bytes where a small one belongs")
        self.retained += count
        if self.retained > RETAINED:
            raise ValueError("an event whose small fields hold more than any FilterLogger writes")
        return self.take(count)

    def finish(self) -> bool:
        """Read (and checksum) what the parser left; raises EOFError when the stream ends first."""
        self.skip(self.length - self.at)
        return self._read == self.length

    def crc_matches(self, stream: BinaryIO) -> bool:
        footer = stream.read(FOOTER)
        if len(footer) < FOOTER:
            return False
        expected = (((self._crc >> 15) | (self._crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        return struct.unpack("<I", footer)[0] == expected


# The protobuf wire format, as far as events need it.
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_EVENT_STEP, _EVENT_SUMMARY = 2, 5  # tensorboard's event.proto
_SUMMARY_VALUE = 1  # summary.proto: repeated Value value = 1
_VALUE_TAG, _VALUE_TENSOR = 1, 8
_TENSOR_CONTENT, _TENSOR_STRING = 4, 8  # tensor.proto


def _fields_of(record: _Record, end: int) -> Iterator[tuple[int, int, int]]:
    """(field number, wire type, varint value or byte length) of each field up to `end`; the caller reads
    or skips a field's bytes before it asks for the next."""
    while record.at < end:
        key = record.varint()
        number, kind = _key(key)
        record.fields += 1
        if record.fields > FIELDS:
            raise ValueError("an event of more fields than any FilterLogger writes")
        if kind == _VARINT:
            yield number, kind, record.varint()
        elif kind == _BYTES:
            length = record.varint()
            if record.at + length > end:
                raise ValueError("a field runs past the end of its message")
            yield number, kind, length
        elif kind in (_FIXED64, _FIXED32):
            yield number, kind, 8 if kind == _FIXED64 else 4
        else:
            raise ValueError(f"wire type {kind} has no place in an event")
    if record.at != end:
        raise ValueError("a field runs past the end of its message")


def _event(record: _Record) -> tuple[int, list[ValueSpan]]:
    step, values = 0, []
    for number, kind, size in _fields_of(record, record.length):
        if kind == _VARINT:
            if number == _EVENT_STEP:
                step = size - (1 << 64) if size >= 1 << 63 else size  # int64, two's complement
        elif kind == _BYTES and number == _EVENT_SUMMARY:
            for value_number, value_kind, value_size in _fields_of(record, record.at + size):
                if value_number == _SUMMARY_VALUE and value_kind == _BYTES:
                    start = record.at
                    if value_size <= SMALL:  # kept whole: a health value, a small grid
                        light = record.keep(value_size)
                        tag = _tag(light, 0, value_size)
                    else:  # a large grid or a stored kernel: its small fields only
                        tag, light = _value(record, start + value_size)
                    values.append(ValueSpan(tag, start, record.at, light))
                elif value_kind != _VARINT:
                    record.skip(value_size)
        elif kind != _VARINT:
            record.skip(size)
    return step, values


def _value(record: _Record, end: int) -> tuple[str, bytes]:
    """(tag, the value's small fields re-encoded) of a Summary.Value whose bytes end at `end`."""
    tag, light = "", []
    for number, kind, size in _fields_of(record, end):
        if kind == _VARINT:
            light.append(_encoded(number, kind, size))
        elif number == _VALUE_TENSOR and kind == _BYTES:
            light.append(_encoded(number, kind, _tensor(record, record.at + size)))
        elif kind != _BYTES or size <= SMALL:
            content = record.keep(size)
            if number == _VALUE_TAG and kind == _BYTES:
                tag = content.decode("utf-8")  # UnicodeDecodeError is a ValueError
            light.append(_encoded(number, kind, content))
        else:
            record.skip(size)  # a large field that is not a tensor: none that FilterLogger writes
    return tag, b"".join(light)


def _tensor(record: _Record, end: int) -> bytes:
    """A TensorProto's small fields re-encoded: its type and shape, its short strings (a grid's width and
    height) and an empty string in place of each long one (a PNG); its contents only when short (a shed
    marker's flags, not a kernel)."""
    light = []
    for number, kind, size in _fields_of(record, end):
        if kind == _VARINT:
            light.append(_encoded(number, kind, size))
        elif number == _TENSOR_STRING and kind == _BYTES and size > SHORT_STRING:
            record.skip(size)
            light.append(_encoded(number, kind, b""))
        elif (number == _TENSOR_CONTENT and size > SHORT_CONTENT) or (kind == _BYTES and size > SMALL):
            record.skip(size)
        else:
            light.append(_encoded(number, kind, record.keep(size)))
    return b"".join(light)


def _encoded(number: int, kind: int, content: int | bytes) -> bytes:
    key = _varint_bytes(number << 3 | kind)
    if kind == _VARINT:
        return key + _varint_bytes(content)
    if kind == _BYTES:
        return key + _varint_bytes(len(content)) + content
    return key + content


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


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
    """A Summary.Value's tag: its field 1, which a serialized value holds first."""
    for number, kind, field_start, field_stop, _ in _fields(data, start, stop):
        if number == _VALUE_TAG and kind == _BYTES:
            return bytes(data[field_start:field_stop]).decode("utf-8")  # UnicodeDecodeError is a ValueError
    return ""


def _key(key: int) -> tuple[int, int]:
    """(field number, wire type) of a field's key; protobuf numbers fields from 1."""
    if key >> 3 == 0:
        raise ValueError("a field numbered 0: no protobuf message has one")
    return key >> 3, key & 7


def _fields(data: bytes | memoryview, start: int, stop: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, start, stop, integer) of each field in data[start:stop] of a message in
    memory: for a length-delimited field, where its bytes lie; for a varint, its value."""
    at, count = start, 0
    while at < stop:
        key, at = _varint(data, at, stop)
        number, kind = _key(key)
        count += 1
        if count > FIELDS:
            raise ValueError("a message of more fields than any FilterLogger writes")
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
