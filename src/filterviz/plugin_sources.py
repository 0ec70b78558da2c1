"""Where the Filters tab reads FilterLogger's logs from. No Keras, no HTTP here.

* `LocalSource`, for a log directory on this machine: the event files themselves, through `LogIndex`, so
  every logged step is there whatever TensorBoard's sampling. It re-reads what was appended at most every
  REFRESH_SECONDS, and holds only where each step is, plus the health values.
* `ProviderSource`, for remote log directories (gs://, s3://, ...): TensorBoard's data provider, which
  keeps a sample of each tag (10 steps by default; `--samples_per_plugin images=all,filterviz=all` keeps
  every one).

Both answer the same questions, by run and tag (`filters/<layer>`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from filterviz.health import PER_FILTER
from filterviz.logs import IMAGE_PREFIX, LayerIndex, LogIndex, read_array, read_png
from filterviz.writers.tensorboard import PLUGIN_NAME, plugin_tag

REFRESH_SECONDS = 2.0
ALL = 10**9  # "downsample" to this many steps: every step the data provider holds


@dataclass
class LayerSummary:
    """What the tab shows of one layer in one run before it asks for a step."""

    run: str
    tag: str
    info: dict[str, Any]  # how the layer is drawn (filterviz.layer_log.layer_info)
    steps: list[int]  # the steps with a grid, in order
    kernel_steps: set[int] = field(default_factory=set)
    delta_steps: set[int] = field(default_factory=set)
    health: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # name -> (step, value)

    def public(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "tag": self.tag,
            "layer": self.info.get("layer") or self.tag.removeprefix(IMAGE_PREFIX),
            "info": self.info,
            "steps": self.steps,
            "kernel_steps": sorted(self.kernel_steps),
            "delta_steps": sorted(self.delta_steps),
            "health": {
                name: [[step, _json_number(value)] for step, value in points]
                for name, points in self.health.items()
            },
        }


def _json_number(value: float) -> float | None:
    """JSON has no NaN or infinity: they go over as null."""
    return value if np.isfinite(value) else None


class LocalSource:
    """Every step logged under a local log directory."""

    def __init__(self, logdir: str) -> None:
        self._index = LogIndex(logdir)
        self._lock = threading.Lock()  # TensorBoard serves requests on several threads
        self._read_at = -REFRESH_SECONDS

    def refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._read_at >= REFRESH_SECONDS:
                self._index.update()
                self._read_at = time.monotonic()

    def summaries(self) -> list[LayerSummary]:
        self.refresh()
        with self._lock:
            return [_summary(layer) for layer in self._index.with_grids()]

    def _layer(self, run: str, tag: str) -> LayerIndex:
        with self._lock:
            return self._index.layers[(run, tag)]

    def png(self, run: str, tag: str, step: int, delta: bool = False) -> bytes:
        layer = self._layer(run, tag)
        return read_png((layer.deltas if delta else layer.grids)[step], f"{tag}/delta" if delta else tag)

    def kernel(self, run: str, tag: str, step: int) -> np.ndarray:
        return read_array(self._layer(run, tag).kernels[step], plugin_tag(tag, "kernel"))

    def filters(self, run: str, tag: str, step: int) -> dict[str, np.ndarray]:
        layer = self._layer(run, tag)
        values: dict[str, np.ndarray] = {}
        if step in layer.filters:
            rows = read_array(layer.filters[step], plugin_tag(tag, "filters"))
            values.update(zip(layer.info.get("per_filter", PER_FILTER), rows, strict=False))
        if step in layer.update_ratios:
            values["update_ratio"] = read_array(layer.update_ratios[step], plugin_tag(tag, "update_ratio"))
        return values

    def filter_series(self, run: str, tag: str) -> dict[str, dict[int, np.ndarray]]:
        """Every step's per-filter values at once: name -> step -> one value per filter."""
        layer = self._layer(run, tag)
        series: dict[str, dict[int, np.ndarray]] = {}
        for step in layer.filters:
            for name, values in self.filters(run, tag, step).items():
                series.setdefault(name, {})[step] = values
        for step in set(layer.update_ratios) - set(layer.filters):
            series.setdefault("update_ratio", {})[step] = self.filters(run, tag, step)["update_ratio"]
        return series


def _summary(layer: LayerIndex) -> LayerSummary:
    return LayerSummary(
        run=layer.run,
        tag=layer.tag,
        info=layer.info,
        steps=layer.steps,
        kernel_steps=set(layer.kernels),
        delta_steps=set(layer.deltas),
        health={name: sorted(values.items()) for name, values in layer.scalars.items()},
    )


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

    def refresh(self) -> None:
        """The data provider loads in the background itself."""

    def _call(self, method: str, **arguments):
        return getattr(self._provider, method)(self.ctx, experiment_id=self.experiment_id, **arguments)

    def _filter(self, run: str, tag: str):
        from tensorboard.data import provider

        return provider.RunTagFilter(runs=[run], tags=[tag])

    def summaries(self) -> list[LayerSummary]:
        images = self._call("list_blob_sequences", plugin_name="images")
        tensors = self._call("list_tensors", plugin_name=PLUGIN_NAME)
        scalars = self._call("list_scalars", plugin_name="scalars")
        summaries = []
        for run, tags in sorted(images.items()):
            for tag in sorted(tags):
                if not tag.startswith(IMAGE_PREFIX) or tag.count("/") != 1:
                    continue
                summary = LayerSummary(run, tag, self._info(tensors.get(run, {}), tag), self._steps(run, tag))
                summary.kernel_steps = set(self._tensor_steps(run, plugin_tag(tag, "kernel"), tensors))
                if f"{tag}/delta" in tags:
                    summary.delta_steps = set(self._steps(run, f"{tag}/delta"))
                names = [t for t in scalars.get(run, {}) if t.startswith(f"{tag}/")]
                for name in names:
                    data = self._call(
                        "read_scalars",
                        plugin_name="scalars",
                        downsample=ALL,
                        run_tag_filter=self._filter(run, name),
                    )
                    points = data.get(run, {}).get(name, [])
                    summary.health[name.rsplit("/", 1)[1]] = [(d.step, float(d.value)) for d in points]
                summaries.append(summary)
        return summaries

    def _info(self, tensors: dict, tag: str) -> dict[str, Any]:
        for part in ("filters", "kernel", "layer", "update_ratio"):
            series = tensors.get(plugin_tag(tag, part))
            if series is not None and series.plugin_content:
                return json.loads(series.plugin_content)
        return {}

    def _steps(self, run: str, tag: str) -> list[int]:
        data = self._call(
            "read_blob_sequences", plugin_name="images", downsample=ALL, run_tag_filter=self._filter(run, tag)
        )
        return [datum.step for datum in data.get(run, {}).get(tag, [])]

    def _tensor_steps(self, run: str, tag: str, tensors: dict) -> list[int]:
        if tag not in tensors.get(run, {}):
            return []
        return [datum.step for datum in self._tensors(run, tag)]

    def _tensors(self, run: str, tag: str) -> list:
        data = self._call(
            "read_tensors", plugin_name=PLUGIN_NAME, downsample=ALL, run_tag_filter=self._filter(run, tag)
        )
        return data.get(run, {}).get(tag, [])

    def png(self, run: str, tag: str, step: int, delta: bool = False) -> bytes:
        tag = f"{tag}/delta" if delta else tag
        data = self._call(
            "read_blob_sequences", plugin_name="images", downsample=ALL, run_tag_filter=self._filter(run, tag)
        )
        for datum in data.get(run, {}).get(tag, []):
            if datum.step == step:
                return self._provider.read_blob(self.ctx, blob_key=datum.values[2].blob_key)
        raise KeyError(step)

    def _tensor_at(self, run: str, tag: str, step: int) -> np.ndarray:
        for datum in self._tensors(run, tag):
            if datum.step == step:
                return np.asarray(datum.numpy, np.float32)
        raise KeyError(step)

    def kernel(self, run: str, tag: str, step: int) -> np.ndarray:
        return self._tensor_at(run, plugin_tag(tag, "kernel"), step)

    def filters(self, run: str, tag: str, step: int) -> dict[str, np.ndarray]:
        values: dict[str, np.ndarray] = {}
        with contextlib.suppress(KeyError):  # logged without health
            values.update(
                zip(PER_FILTER, self._tensor_at(run, plugin_tag(tag, "filters"), step), strict=False)
            )
        with contextlib.suppress(KeyError):  # no step before it was seen
            values["update_ratio"] = self._tensor_at(run, plugin_tag(tag, "update_ratio"), step)
        return values

    def filter_series(self, run: str, tag: str) -> dict[str, dict[int, np.ndarray]]:
        series: dict[str, dict[int, np.ndarray]] = {}
        for datum in self._tensors(run, plugin_tag(tag, "filters")):
            for name, values in zip(PER_FILTER, np.asarray(datum.numpy), strict=False):
                series.setdefault(name, {})[datum.step] = values
        for datum in self._tensors(run, plugin_tag(tag, "update_ratio")):
            series.setdefault("update_ratio", {})[datum.step] = np.asarray(datum.numpy)
        return series
