"""Reading back what FilterLogger wrote, without TensorFlow: every step, not TensorBoard's samples.

`LogIndex` scans a log directory's event files, later only what was appended since, and remembers where
each step's record is rather than holding the run in memory: the Filters tab and `filterviz animate` read
this way. `load_history` reads one layer whole, as numpy arrays, for notebooks.

Within a run, event files are read in the order of their names (the order they were written in); when a
step was written twice (a training restarted into the same folder), the later record wins, as in
TensorBoard. A record cut short at the end of a file (a writer that died mid-write) ends what is read of
that file until it is complete; a record whose checksum is wrong ends it for good.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto import event_pb2, types_pb2

from filterviz.writers.png import decode_png
from filterviz.writers.tensorboard import PLUGIN_NAME, plugin_tag, read_event_at, read_records

IMAGE_PREFIX = "filters/"
Location = tuple[Path, int]  # an event file and the offset of a record in it


@dataclass
class LayerIndex:
    """Where everything logged of one layer in one run is."""

    run: str  # the run's folder relative to the log directory ("." for the log directory itself)
    tag: str  # "filters/<layer>"
    info: dict[str, Any] = field(default_factory=dict)  # how the layer is drawn ({} before health logging)
    grids: dict[int, Location] = field(default_factory=dict)  # step -> record
    deltas: dict[int, Location] = field(default_factory=dict)
    kernels: dict[int, Location] = field(default_factory=dict)
    filters: dict[int, Location] = field(default_factory=dict)  # the per-filter values
    update_ratios: dict[int, Location] = field(default_factory=dict)  # per filter
    scalars: dict[str, dict[int, float]] = field(default_factory=dict)  # health name -> step -> value

    @property
    def steps(self) -> list[int]:
        """The steps with a grid, in order."""
        return sorted(self.grids)


class LogIndex:
    """Every layer logged under a log directory, by (run, tag); `update()` reads what is new."""

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        self.log_dir = Path(log_dir)
        self.layers: dict[tuple[str, str], LayerIndex] = {}
        self._read_to: dict[Path, int] = {}  # how far each file has been read
        self._broken: set[Path] = set()  # files with a corrupt record: read no further

    def update(self) -> None:
        paths = sorted(self.log_dir.rglob("*tfevents*"), key=lambda p: (p.parent, p.name))
        for path in paths:
            if path in self._broken or not path.is_file():
                continue
            size = path.stat().st_size
            if size <= self._read_to.get(path, 0):
                continue
            run = path.parent.relative_to(self.log_dir).as_posix()
            try:
                for offset, end, data in read_records(path, self._read_to.get(path, 0)):
                    self._index(run, (path, offset), event_pb2.Event.FromString(data))
                    self._read_to[path] = end
            except ValueError:
                self._broken.add(path)

    def _index(self, run: str, where: Location, event: event_pb2.Event) -> None:
        for value in event.summary.value:
            parts = value.tag.split("/")
            if parts[0] == PLUGIN_NAME and len(parts) == 3:
                layer = self._layer(run, IMAGE_PREFIX + parts[1])
                if value.metadata.plugin_data.plugin_name == PLUGIN_NAME and not layer.info:
                    layer.info = json.loads(value.metadata.plugin_data.content or b"{}")
                kinds = {"kernel": layer.kernels, "filters": layer.filters}
                kinds["update_ratio"] = layer.update_ratios
                if parts[2] in kinds:
                    kinds[parts[2]][event.step] = where
            elif value.tag.startswith(IMAGE_PREFIX) and len(parts) in (2, 3):
                layer = self._layer(run, "/".join(parts[:2]))
                is_image = value.tensor.dtype == types_pb2.DT_STRING and len(value.tensor.string_val) >= 3
                if is_image:
                    (layer.grids if len(parts) == 2 else layer.deltas)[event.step] = where
                elif len(parts) == 3 and value.tensor.float_val:
                    layer.scalars.setdefault(parts[2], {})[event.step] = float(value.tensor.float_val[0])

    def _layer(self, run: str, tag: str) -> LayerIndex:
        key = (run, tag)
        if key not in self.layers:
            self.layers[key] = LayerIndex(run, tag)
        return self.layers[key]

    def with_grids(self) -> list[LayerIndex]:
        """The layers that have at least one grid, by run and tag."""
        return [self.layers[key] for key in sorted(self.layers) if self.layers[key].grids]


def read_value(where: Location, tag: str):
    """The summary value `tag` of the event at `where`."""
    for value in read_event_at(*where).summary.value:
        if value.tag == tag:
            return value
    raise KeyError(f"{where[0]} has no value {tag!r} at byte {where[1]}")


def read_png(where: Location, tag: str) -> bytes:
    return read_value(where, tag).tensor.string_val[2]


def read_array(where: Location, tag: str) -> np.ndarray:
    """A float32 tensor written by FilterLogger, as a numpy array of its shape."""
    tensor = read_value(where, tag).tensor
    shape = [dim.size for dim in tensor.tensor_shape.dim]
    return np.frombuffer(tensor.tensor_content, np.float32).reshape(shape)


@dataclass(frozen=True)
class History:
    """Everything logged of one layer, aligned on the steps that have a grid (NaN where a value is missing).

    Attributes:
        layer: the layer's name, as in its tag `filters/<layer>`.
        run: the run's folder, relative to the log directory.
        steps: (T,) the logged steps.
        grids: T uint8 images, (H, W, 1) or (H, W, 3), as logged.
        deltas: the log_delta grid of each step, or None.
        kernels: (T, *kernel shape) float32 where the kernel was stored (NaN at the other steps), or None.
        health: health name -> (T,) values.
        per_filter: name -> (T, filters) values: norm, min, max, noise, max_cosine, partner, update_ratio.
        info: how the layer is drawn (kernel shape, layout, options), or {} when none was logged.
    """

    layer: str
    run: str
    steps: np.ndarray
    grids: list[np.ndarray]
    deltas: list[np.ndarray | None]
    kernels: np.ndarray | None
    health: dict[str, np.ndarray]
    per_filter: dict[str, np.ndarray]
    info: dict[str, Any]


def load_history(log_dir: str | os.PathLike[str], layer: str | None = None) -> History:
    """Read back everything FilterLogger logged of one layer under `log_dir`, as numpy arrays.

    Args:
        log_dir: the log directory given to FilterLogger, or any folder above or inside it.
        layer: the layer's name (or its tag, `filters/<name>`); None when only one layer was logged.

    Raises ValueError naming the layers found when `layer` is not given and there are several, or when it
    was logged in several runs (then give one run's folder).

    Example:
        >>> history = filterviz.load_history("logs/run1")  # doctest: +SKIP
        >>> history.steps, history.health["update_ratio"]  # doctest: +SKIP
    """
    found = choose_layer(log_dir, layer)
    steps = found.steps
    grids = [decode_png(read_png(found.grids[step], found.tag)) for step in steps]
    deltas = [
        decode_png(read_png(found.deltas[step], f"{found.tag}/delta")) if step in found.deltas else None
        for step in steps
    ]
    health = {
        name: np.array([values.get(step, np.nan) for step in steps], np.float64)
        for name, values in found.scalars.items()
    }
    per_filter: dict[str, np.ndarray] = {}
    rows = _arrays(found, "filters", found.filters)
    for i, name in enumerate(found.info.get("per_filter", [])):
        per_filter[name] = _aligned(steps, {step: values[i] for step, values in rows.items()})
    ratios = _arrays(found, "update_ratio", found.update_ratios)
    if ratios:
        per_filter["update_ratio"] = _aligned(steps, ratios)
    kernels = _arrays(found, "kernel", found.kernels)
    return History(
        layer=found.tag.removeprefix(IMAGE_PREFIX),
        run=found.run,
        steps=np.array(steps, np.int64),
        grids=grids,
        deltas=deltas,
        kernels=_aligned(steps, kernels, np.float32) if kernels else None,
        health=health,
        per_filter=per_filter,
        info=found.info,
    )


def choose_layer(log_dir: str | os.PathLike[str], layer: str | None = None) -> LayerIndex:
    """The one layer logged under `log_dir` (or the one named). ValueError naming what there is."""
    log_dir = Path(log_dir)
    if not log_dir.is_dir():
        raise ValueError(f"{log_dir} is not a folder: give the log directory FilterLogger wrote to.")
    index = LogIndex(log_dir)
    index.update()
    layers = index.with_grids()
    listing = ", ".join(f"{found.tag} (run {found.run})" for found in layers) or "none"
    wanted = layers
    if layer is not None:
        tag = layer if layer.startswith(IMAGE_PREFIX) else IMAGE_PREFIX + layer
        wanted = [found for found in layers if found.tag == tag]
    if not wanted:
        what = f"tag {layer!r}" if layer else "filter images (tags filters/...)"
        raise ValueError(f"{log_dir} holds no {what}; image tags found: {listing}.")
    if len(wanted) > 1:
        if len({found.tag for found in wanted}) > 1:
            raise ValueError(f"{log_dir} holds several filter tags: {listing}. Choose one.")
        runs = ", ".join(found.run for found in wanted)
        raise ValueError(
            f"{log_dir} holds {wanted[0].tag!r} in several runs ({runs}): give the run's folder."
        )
    return wanted[0]


def _arrays(found: LayerIndex, part: str, locations: dict[int, Location]) -> dict[int, np.ndarray]:
    return {step: read_array(where, plugin_tag(found.tag, part)) for step, where in locations.items()}


def _aligned(steps: list[int], values: dict[int, np.ndarray], dtype=np.float64) -> np.ndarray:
    """One row per step, NaN where `values` has none."""
    shape = np.shape(next(iter(values.values())))
    out = np.full((len(steps), *shape), np.nan, dtype)
    for i, step in enumerate(steps):
        if step in values:
            out[i] = values[step]
    return out
