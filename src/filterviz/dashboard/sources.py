"""Where the Filters tab reads FilterLogger's logs from. No Keras, no HTTP here.

* `EventFileSource`, for a log directory filterviz reads itself: a folder on this machine, or the URL of an
  object store (`s3://`, `gs://`, any scheme fsspec serves, through filterviz.storage): the event files
  themselves, through `LogIndex`, so every logged step is there whatever TensorBoard's sampling. On a
  store, each refresh lists the run folders and reads only the objects that are new.
* `ProviderSource`, for what filterviz cannot read itself (several log directories given with
  `--logdir_spec`, a scheme no installed package serves): TensorBoard's data provider, which keeps a sample
  of each tag (10 steps by default; `--samples_per_plugin images=all,filterviz=all` keeps every one).

Both answer the same questions with the same immutable `LayerView`s, by run and tag (`filters/<layer>`),
and check what they read against the layer's checked description before anything is sized from it.

Threads, in EventFileSource: one refresher thread owns the LogIndex and is the only one to call its
`update()`; it runs every REFRESH_SECONDS while the tab is in use and stops after IDLE_SECONDS without a
request. After each update it publishes the index's immutable views in one assignment under `_lock`.
Request threads (TensorBoard serves each request on its own) only take the published views and read event
files: no request walks the log directory, and none touches a run it does not name.
"""

from __future__ import annotations

import contextlib
import io
import logging
import struct
import threading
import time
import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from PIL import Image

from filterviz.core.png import decode_png
from filterviz.eventfile.format import (
    PLUGIN_NAME,
    BadDescription,
    Tag,
    delta_tag,
    parse_tag,
    plugin_tag,
    read_description,
)
from filterviz.eventfile.index import LayerView, LogIndex, Problem, Unreadable, read_array, read_png
from filterviz.storage.stores import StoreUnavailable, open_store

REFRESH_SECONDS = 2.0
REMOTE_REFRESH_SECONDS = 10.0  # a store is listed this often: each listing is a request (billed, on S3)
IDLE_SECONDS = 300.0  # the refresher stops after this long without a request; the next one restarts it
ALL = 10**9  # "downsample" to this many steps: every step the data provider holds
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
logger = logging.getLogger("filterviz")

Layers = Mapping[tuple[str, str], LayerView]


def png_size(data: bytes) -> tuple[int, int]:
    """(height, width) of a PNG from its header, before anything is decoded. Unreadable if it is none."""
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise Unreadable("the grid is not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return height, width


def checked_png(view: LayerView, data: bytes, step: int) -> bytes:
    """`data`, when it is a PNG of the size this layer's grids have (its description's plan, else what the
    event says). Unreadable otherwise: no reader decodes an image of a size no grid of the layer has."""
    size = png_size(data)
    description = view.description
    expected = (
        (description.renderer.plan.height, description.renderer.plan.width)
        if description is not None
        else view.grid_sizes.get(step)
    )
    if size != expected:
        raise Unreadable(f"the grid at step {step} is {size[1]}x{size[0]}, not the layer's grid size")
    try:  # every chunk there and its checksum right (no pixel is decoded): a browser would fail on it
        with Image.open(io.BytesIO(data)) as png:
            png.verify()
    except Exception as error:  # Pillow raises SyntaxError, OSError, struct.error ... for a broken PNG
        raise Unreadable(f"the grid at step {step} is not a whole PNG ({error})") from None
    return data


def decoded_grid(data: bytes, step: int) -> np.ndarray:
    """A checked grid's pixels (`checked_png`'s bytes). Unreadable where its pixel data cannot be decoded."""
    try:
        return decode_png(data)
    except Exception as error:  # a compressed stream that is no zlib stream, cut short, ...
        raise Unreadable(f"the grid at step {step} cannot be decoded ({error})") from None


def filters_at(
    view: LayerView, step: int, read: Callable[[str, tuple[int, ...]], np.ndarray]
) -> dict[str, np.ndarray]:
    """The per-filter values of `step`: name -> one value per filter. `read(part, shape)` reads the
    layer's tensor `part` at that step, checked to have `shape`."""
    values: dict[str, np.ndarray] = {}
    names, units = view.info["per_filter"], view.description.units
    if step in view.locations["filters"]:
        values.update(zip(names, read("filters", (len(names), units)), strict=True))
    if step in view.locations["update_ratio"]:
        values["update_ratio"] = read("update_ratio", (units,))
    return values


class EventFileSource:
    """Every step logged under a log directory: a folder, or a URL of an object store.

    Args:
        logdir: the log directory.
        refresh_seconds: how often new steps are looked for; None: every REFRESH_SECONDS on this machine,
            every REMOTE_REFRESH_SECONDS on a store.
    """

    def __init__(self, logdir: str, refresh_seconds: float | None = None) -> None:
        store = open_store(logdir)
        self._index = LogIndex(store)  # owned by whichever thread holds _updating (the refresher)
        self._updating = threading.Lock()
        self._lock = threading.Lock()  # guards the published views and the refresher's start
        self._published: tuple[Layers, Mapping[str, tuple[Problem, ...]]] = ({}, {})
        self._fresh = False  # published at least once
        self._refresh_seconds = refresh_seconds or (
            REMOTE_REFRESH_SECONDS if store.remote else REFRESH_SECONDS
        )
        self._last_request = time.monotonic()
        self._refresher: threading.Thread | None = None
        self._unavailable = ""  # why the store could not be listed last time, while it cannot

    def layers(self) -> Layers:
        return self._current()[0]

    def problems(self) -> Mapping[str, tuple[Problem, ...]]:
        return self._current()[1]

    def _current(self):
        self._last_request = time.monotonic()
        if not self._fresh:
            self._update()  # the first request waits for the first reading, once
        with self._lock:
            if self._refresher is None or not self._refresher.is_alive():
                self._refresher = threading.Thread(target=self._refresh, name="filterviz-logs", daemon=True)
                self._refresher.start()
            return self._published

    def _refresh(self) -> None:
        while time.monotonic() - self._last_request < IDLE_SECONDS:
            time.sleep(self._refresh_seconds)
            self._update()

    def _update(self) -> None:
        with self._updating:
            problems = dict(self._index.problems())
            try:
                self._index.update()
                problems = dict(self._index.problems())
                self._unavailable = ""
            except StoreUnavailable as error:  # what was read before stays; the tab says why nothing is new
                if not self._unavailable:
                    logger.warning("filterviz: %s", error)
                self._unavailable = str(error)
                problems["."] = (*problems.get(".", ()), Problem(".", -1, self._unavailable))
            published = (types.MappingProxyType(self._index.views()), types.MappingProxyType(problems))
            with self._lock:
                self._published = published
                self._fresh = True

    # Reading one layer's values: each reads its own bytes of one file.

    def png(self, view: LayerView, step: int, delta: bool = False) -> bytes:
        where = view.locations["delta" if delta else "grid"][step]
        return checked_png(view, read_png(where, delta_tag(view.tag) if delta else view.tag), step)

    def kernel(self, view: LayerView, step: int) -> np.ndarray:
        shape = tuple(view.description.renderer.kernel_shape)
        return read_array(view.locations["kernel"][step], plugin_tag(view.tag, "kernel"), shape)

    def filters(self, view: LayerView, step: int) -> dict[str, np.ndarray]:
        return filters_at(
            view,
            step,
            lambda part, shape: read_array(view.locations[part][step], plugin_tag(view.tag, part), shape),
        )

    def filter_series(self, view: LayerView, unit: int) -> dict[str, list[tuple[int, float]]]:
        """One filter's per-filter values at every step: name -> (step, value)."""
        series: dict[str, list[tuple[int, float]]] = {}
        steps = sorted(set(view.locations["filters"]) | set(view.locations["update_ratio"]))
        for step in steps:
            with contextlib.suppress(Unreadable):  # one bad step leaves a gap, not an error
                for name, values in self.filters(view, step).items():
                    series.setdefault(name, []).append((step, float(values[unit])))
        return series


class ProviderSource:
    """The steps TensorBoard's data provider keeps, for log directories filterviz cannot read itself.

    Every call reads through the provider, with the request's context and experiment.
    """

    def __init__(self, provider) -> None:
        self._provider = provider
        self.ctx: Any = None
        self.experiment_id = ""

    def bind(self, ctx: Any, experiment_id: str) -> ProviderSource:
        bound = ProviderSource(self._provider)
        bound.ctx, bound.experiment_id = ctx, experiment_id
        return bound

    def _call(self, method: str, **arguments):
        return getattr(self._provider, method)(self.ctx, experiment_id=self.experiment_id, **arguments)

    def _filter(self, run: str, tag: str):
        from tensorboard.data import provider

        return provider.RunTagFilter(runs=[run], tags=[tag])

    def problems(self) -> Mapping[str, tuple[Problem, ...]]:
        return {}  # the data provider reads the files and keeps what it can

    def layers(self) -> Layers:
        images = self._call("list_blob_sequences", plugin_name="images")
        tensors = self._call("list_tensors", plugin_name=PLUGIN_NAME)
        scalars = self._call("list_scalars", plugin_name="scalars")
        layers: dict[tuple[str, str], LayerView] = {}
        for run, tags in sorted(images.items()):
            for tag in sorted(tags):
                if parse_tag(tag) != Tag("grid", tag):
                    continue
                description, problem = self._description(tensors.get(run, {}), tag)
                locations: dict[str, Mapping[int, None]] = {
                    "grid": dict.fromkeys(self._steps(run, tag)),
                    "delta": dict.fromkeys(
                        self._steps(run, delta_tag(tag)) if delta_tag(tag) in tags else ()
                    ),
                }
                for part in ("kernel", "filters", "update_ratio"):
                    present = plugin_tag(tag, part) in tensors.get(run, {})
                    steps = (
                        [datum.step for datum in self._tensors(run, plugin_tag(tag, part))] if present else []
                    )
                    locations[part] = dict.fromkeys(steps)
                health = {}
                for name in (t for t in scalars.get(run, {}) if t.startswith(f"{tag}/")):
                    data = self._call(
                        "read_scalars",
                        plugin_name="scalars",
                        downsample=ALL,
                        run_tag_filter=self._filter(run, name),
                    )
                    points = data.get(run, {}).get(name, [])
                    health[name.rsplit("/", 1)[1]] = tuple((d.step, float(d.value)) for d in points)
                layers[(run, tag)] = LayerView(
                    run, tag, description, problem, types.MappingProxyType(locations), {}, health
                )
        return layers

    def _description(self, tensors: dict, tag: str):
        for part in ("layer", "filters", "kernel", "update_ratio"):
            series = tensors.get(plugin_tag(tag, part))
            if series is not None and series.plugin_content:
                try:
                    return read_description(series.plugin_content), ""
                except BadDescription as error:
                    return None, f"its description in the log is not valid: {error}"
        return None, ""

    def _steps(self, run: str, tag: str) -> list[int]:
        data = self._call(
            "read_blob_sequences", plugin_name="images", downsample=ALL, run_tag_filter=self._filter(run, tag)
        )
        return [datum.step for datum in data.get(run, {}).get(tag, [])]

    def _tensors(self, run: str, tag: str) -> list:
        data = self._call(
            "read_tensors", plugin_name=PLUGIN_NAME, downsample=ALL, run_tag_filter=self._filter(run, tag)
        )
        return data.get(run, {}).get(tag, [])

    def png(self, view: LayerView, step: int, delta: bool = False) -> bytes:
        tag = delta_tag(view.tag) if delta else view.tag
        data = self._call(
            "read_blob_sequences",
            plugin_name="images",
            downsample=ALL,
            run_tag_filter=self._filter(view.run, tag),
        )
        for datum in data.get(view.run, {}).get(tag, []):
            if datum.step == step:
                return checked_png(
                    view, self._provider.read_blob(self.ctx, blob_key=datum.values[2].blob_key), step
                )
        raise Unreadable(f"no grid at step {step}")

    def _tensor_at(self, view: LayerView, part: str, step: int, shape: tuple[int, ...]) -> np.ndarray:
        for datum in self._tensors(view.run, plugin_tag(view.tag, part)):
            if datum.step == step:
                array = np.asarray(datum.numpy, np.float32)
                if array.shape != shape:
                    raise Unreadable(f"{part} at step {step} is {array.shape}, not {shape}")
                return array
        raise Unreadable(f"no {part} at step {step}")

    def kernel(self, view: LayerView, step: int) -> np.ndarray:
        return self._tensor_at(view, "kernel", step, tuple(view.description.renderer.kernel_shape))

    def filters(self, view: LayerView, step: int) -> dict[str, np.ndarray]:
        return filters_at(view, step, lambda part, shape: self._tensor_at(view, part, step, shape))

    def filter_series(self, view: LayerView, unit: int) -> dict[str, list[tuple[int, float]]]:
        series: dict[str, list[tuple[int, float]]] = {}
        names, units = view.info["per_filter"], view.description.units
        for datum in self._tensors(view.run, plugin_tag(view.tag, "filters")):
            rows = np.asarray(datum.numpy, np.float32)
            if rows.shape == (len(names), units):
                for name, values in zip(names, rows, strict=True):
                    series.setdefault(name, []).append((datum.step, float(values[unit])))
        for datum in self._tensors(view.run, plugin_tag(view.tag, "update_ratio")):
            values = np.asarray(datum.numpy, np.float32)
            if values.shape == (units,):
                series.setdefault("update_ratio", []).append((datum.step, float(values[unit])))
        return series
