"""Reading back what FilterLogger wrote, without TensorFlow: every step, not TensorBoard's samples.

`LogIndex` scans a log directory's event files (in a folder on this machine, or the objects of a store:
filterviz.storage), later only what was appended since and the objects that are new, and remembers where
each step's values lie in them rather than holding the runs in memory: the Filters tab, `filterviz
animate` and `load_history` (filterviz.eventfile.history) read this way. Reading a value later decodes that
value alone (a grid without the kernel stored beside it).

A file that cannot be read (a corrupt record, bytes that are no event) is quarantined at the record where
it fails: what came before stays, the rest of the file is not read again, and the run says why
(`problems()`, naming each file relative to the log directory). A layer whose description is not valid is
kept with its problem and nothing else. A record
cut short at the end of a file (a writer appending it, or one that died) ends what is read of that file
until it is complete. A run whose files disappeared or shrank is read again from the start, and a run
without files is gone. Folders are followed through symbolic links, as TensorBoard does.

Within a run, event files are read in the order of their names (the order they were written in); when a
step was written twice (a training restarted into the same folder), the later record wins, as in
TensorBoard.

Threads: a LogIndex belongs to the one thread that calls `update()`. What it hands out (`views()`,
`problems()`) is immutable: LayerView holds copies, made when its layer changed, that no later update
touches, so other threads may read them while the index goes on.
"""

from __future__ import annotations

import logging
import os
import posixpath
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError
from tensorboard.compat.proto import summary_pb2, types_pb2

from filterviz.eventfile.format import (
    BadDescription,
    Description,
    layer_name,
    parse_tag,
    read_description,
)
from filterviz.eventfile.records import HEADER, CorruptRecord, ValueSpan, field_bytes, fields, read_events
from filterviz.storage.stores import FileInfo, LocalStore, RemoteStore, open_store

Store = LocalStore | RemoteStore

logger = logging.getLogger("filterviz")


@dataclass(frozen=True)
class Location:
    """Where one summary value lies: an event file (in `store`) and the value's bytes in it."""

    path: str
    start: int
    stop: int
    store: Store = field(compare=False, repr=False)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.replace(os.sep, "/"))


@dataclass(frozen=True)
class Problem:
    """A file or layer that is read no further, and why."""

    where: str  # the file, relative to the log directory (or the layer's tag)
    offset: int  # the byte at which reading stopped (-1 for a layer)
    reason: str

    def __str__(self) -> str:
        at = f" at byte {self.offset}" if self.offset >= 0 else ""
        return f"{self.where}{at}: {self.reason}"


class _Layer:
    """Everything found of one layer in one run so far. Mutable: owned by the thread that updates."""

    def __init__(self, run: str, tag: str) -> None:
        self.run, self.tag = run, tag
        self.description: Description | None = None
        self.problem = ""
        self.locations: dict[str, dict[int, Location]] = {
            kind: {} for kind in ("grid", "delta", "kernel", "filters", "update_ratio")
        }
        self.grid_sizes: dict[int, tuple[int, int]] = {}  # step -> (height, width), as the event says
        self.scalars: dict[str, dict[int, float]] = {}
        self.shed: dict[int, tuple[str, ...]] = {}  # step -> the parts the writer left out of it
        self.view: LayerView | None = None  # the last view handed out; None once this layer changed

    def published(self) -> LayerView:
        if self.view is None:
            self.view = LayerView(
                run=self.run,
                tag=self.tag,
                description=self.description,
                problem=self.problem,
                locations=types.MappingProxyType(
                    {kind: types.MappingProxyType(dict(steps)) for kind, steps in self.locations.items()}
                ),
                grid_sizes=types.MappingProxyType(dict(self.grid_sizes)),
                scalars=types.MappingProxyType(
                    {name: tuple(sorted(values.items())) for name, values in self.scalars.items()}
                ),
                shed=types.MappingProxyType(dict(self.shed)),
            )
        return self.view


@dataclass(frozen=True)
class LayerView:
    """One layer of one run as it was when handed out: immutable, safe to read on any thread."""

    run: str  # the run's folder relative to the log directory ("." for the log directory itself)
    tag: str  # filters/<layer>
    description: Description | None  # checked; None when none was logged (or it was not valid)
    problem: str  # why this layer cannot be shown, or ""
    locations: Mapping[str, Mapping[int, Location]]  # "grid", "delta", ... -> step -> value
    grid_sizes: Mapping[int, tuple[int, int]]
    scalars: Mapping[str, tuple[tuple[int, float], ...]]  # health name -> (step, value), by step
    shed: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # step -> parts the writer left out

    @cached_property
    def steps(self) -> tuple[int, ...]:
        """The steps with a grid, in order."""
        return tuple(sorted(self.locations["grid"]))

    @property
    def info(self) -> dict[str, Any]:
        return {} if self.description is None else self.description.info

    @property
    def name(self) -> str:
        return self.info.get("layer") or layer_name(self.tag)


class _Run:
    """The event files of one run folder, how far each was read, and the layers found in them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.read_to: dict[str, int] = {}
        self.sizes: dict[str, int] = {}
        self.broken: dict[str, Problem] = {}
        self.layers: dict[str, _Layer] = {}


class LogIndex:
    """Every layer logged under a log directory, by (run, tag); `update()` reads what is new.

    Args:
        log_dir: a folder on this machine, a URL of an object store, or the store itself.

    `update()` raises StoreUnavailable when a store cannot be listed; what was read before stays.
    """

    def __init__(self, log_dir: str | os.PathLike[str] | Store) -> None:
        self.store = log_dir if isinstance(log_dir, LocalStore | RemoteStore) else open_store(log_dir)
        self._runs: dict[str, _Run] = {}

    def update(self) -> None:
        found = self.store.event_files()
        for name in set(self._runs) - set(found):
            del self._runs[name]  # its folder or files were deleted
        for name, files in found.items():
            run = self._runs.get(name)
            sizes = {info.path: info.size for info in files}
            if run is None or any(
                path not in sizes or sizes[path] < run.sizes.get(path, 0) for path in run.read_to
            ):
                run = self._runs[name] = _Run(name)  # new, or files went away or were rewritten: anew
            for info in files:
                self._read(run, info)

    def _read(self, run: _Run, info: FileInfo) -> None:
        path = info.path
        if path in run.broken:
            return
        run.sizes[path] = info.size
        start = run.read_to.get(path, 0)
        if info.size <= start:
            return
        offset = start  # of the record being read, to say where a failure is
        shown = self.store.relative(path)
        try:
            with self.store.open(path) as stream:
                for offset, end, step, values in read_events(stream, start, info.size, shown):
                    self._index(run, path, offset, step, values)
                    run.read_to[path] = end
                    offset = end
        except FileNotFoundError:
            return  # gone since it was listed: the next update drops it
        except (
            CorruptRecord,
            ValueError,
            DecodeError,
            OSError,
            MemoryError,
            OverflowError,
            RecursionError,
        ) as e:
            at = e.offset if isinstance(e, CorruptRecord) else offset
            problem = Problem(shown, at, getattr(e, "reason", None) or f"{type(e).__name__}: {e}")
            run.broken[path] = problem
            logger.warning("filterviz: reading no further in %s", problem)

    def _index(self, run: _Run, path: str, offset: int, step: int, values: list[ValueSpan]) -> None:
        """One event's values: where each lies, and the small ones (health values, descriptions) read from
        what the record reader kept of them (`ValueSpan.light`: no PNG, no kernel)."""
        for span in values:
            meaning = parse_tag(span.tag)
            if meaning is None:
                continue
            layer = run.layers.get(meaning.tag)
            if layer is None:
                layer = run.layers[meaning.tag] = _Layer(run.name, meaning.tag)
            layer.view = None
            value = memoryview(span.light)
            where = Location(path, offset + HEADER + span.start, offset + HEADER + span.stop, self.store)
            if meaning.kind in ("grid", "delta"):
                height, width = _image_size(value)
                layer.locations[meaning.kind][step] = where
                if meaning.kind == "grid":
                    layer.grid_sizes[step] = (height, width)
            elif meaning.kind == "scalar":
                number = _scalar(summary_pb2.Summary.Value.FromString(bytes(value)))
                if number is not None:
                    layer.scalars.setdefault(meaning.name, {})[step] = number
            else:
                if layer.description is None and not layer.problem:
                    self._describe(layer, _metadata(value))
                if meaning.kind == "shed":
                    layer.shed[step] = _left_out(value, layer)
                elif meaning.kind != "layer":
                    layer.locations[meaning.kind][step] = where

    @staticmethod
    def _describe(layer: _Layer, metadata: summary_pb2.SummaryMetadata | None) -> None:
        if metadata is None or not metadata.plugin_data.content:
            return
        try:
            layer.description = read_description(metadata.plugin_data.content)
        except BadDescription as error:
            layer.problem = f"its description in the log is not valid: {error}"
            logger.warning("filterviz: layer %s of run %s: %s", layer.tag, layer.run, layer.problem)

    def views(self) -> dict[tuple[str, str], LayerView]:
        """Every layer with a grid or a problem, by (run, tag), as immutable views."""
        return {
            (run.name, layer.tag): layer.published()
            for run in self._runs.values()
            for layer in run.layers.values()
            if layer.locations["grid"] or layer.problem
        }

    def problems(self) -> dict[str, tuple[Problem, ...]]:
        """The files of each run that are read no further, and why."""
        return {run.name: tuple(run.broken.values()) for run in self._runs.values() if run.broken}

    def with_grids(self) -> list[LayerView]:
        """The layers that have at least one grid, by run and tag."""
        return [view for _, view in sorted(self.views().items()) if view.steps]


def _image_size(value: memoryview) -> tuple[int, int]:
    """(height, width) of a serialized image summary, read from its tensor's first two strings without
    decoding (or copying) the PNG. ValueError for a value that is not one."""
    tensor = field_bytes(value, 8)  # summary.proto: TensorProto tensor = 8
    dtype, strings = None, []
    for number, content in fields(tensor if tensor is not None else b""):
        if number == 1:  # tensor.proto: DataType dtype = 1
            dtype = content
        elif number == 8 and len(strings) < 3:  # repeated bytes string_val = 8
            strings.append(content)
    if dtype != types_pb2.DT_STRING or len(strings) < 3:
        raise ValueError("an image tag whose value is not an image summary")
    width, height = int(bytes(strings[0])), int(bytes(strings[1]))  # ValueError if they are not numbers
    return height, width


def _scalar(value: summary_pb2.Summary.Value) -> float | None:
    if value.tensor.float_val:
        return float(value.tensor.float_val[0])
    if value.HasField("simple_value"):
        return float(value.simple_value)
    return None


def _left_out(value: memoryview, layer: _Layer) -> tuple[str, ...]:
    """The names a shed marker flags, by the layer description's "shed_order"."""
    tensor = summary_pb2.Summary.Value.FromString(bytes(value)).tensor
    flags = np.frombuffer(tensor.tensor_content, "<f4") if tensor.tensor_content else np.zeros(0)
    order = layer.description.info.get("shed_order", []) if layer.description is not None else []
    return tuple(name for name, flag in zip(order, flags, strict=False) if flag and isinstance(name, str))


def _metadata(value: bytes) -> summary_pb2.SummaryMetadata | None:
    """The metadata of a serialized Summary.Value, parsed without its tensor (a kernel may be large)."""
    content = field_bytes(value, 9)  # summary.proto: SummaryMetadata metadata = 9
    return None if content is None else summary_pb2.SummaryMetadata.FromString(bytes(content))


class Unreadable(ValueError):
    """A value the index located is not there, or not what it was (the file changed since)."""


def read_value(where: Location, tag: str) -> summary_pb2.Summary.Value:
    """The summary value `tag` at `where`."""
    length = where.stop - where.start
    try:
        data = where.store.read(where.path, where.start, length)
        if len(data) != length:
            raise Unreadable(f"{where.name} no longer holds a value it held")
        value = summary_pb2.Summary.Value.FromString(data)
    except FileNotFoundError:
        raise
    except (OSError, DecodeError) as error:
        raise Unreadable(f"{where.name}: {error}") from None
    if value.tag != tag:
        raise Unreadable(f"{where.name} changed since it was read")
    return value


def read_png(where: Location, tag: str) -> bytes:
    return read_value(where, tag).tensor.string_val[2]


def read_array(where: Location, tag: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A float32 tensor written by FilterLogger, of its shape (which must be `shape` when given)."""
    tensor = read_value(where, tag).tensor
    dims = tuple(dim.size for dim in tensor.tensor_shape.dim)
    if tensor.dtype != types_pb2.DT_FLOAT or (shape is not None and dims != tuple(shape)):
        raise Unreadable(f"{tag} holds a {dims} tensor where {shape} was described")
    if len(tensor.tensor_content) != 4 * int(np.prod(dims)):
        raise Unreadable(f"{tag} holds {len(tensor.tensor_content)} bytes for a {dims} float32 tensor")
    return np.frombuffer(tensor.tensor_content, "<f4").reshape(dims)
