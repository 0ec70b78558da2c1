"""Everything logged of one layer, read back whole as numpy arrays: `load_history`, for notebooks, and
`choose_layer`, which finds the one layer a log directory holds (or the one named)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from filterviz.core import health
from filterviz.core.png import decode_png
from filterviz.eventfile.format import image_tag, layer_name, plugin_tag
from filterviz.eventfile.index import LayerView, LogIndex, read_array, read_png
from filterviz.storage.stores import open_store


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
        readings: what the health values say at each step (`filterviz.core.health.read`), or [] with
            health off.
    """

    layer: str
    run: str
    steps: np.ndarray
    grids: list[np.ndarray]
    deltas: list[np.ndarray | None]
    kernels: np.ndarray | None
    health: dict[str, np.ndarray]
    per_filter: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)
    readings: list[health.Reading] = field(default_factory=list)


def load_history(log_dir: str | os.PathLike[str], layer: str | None = None) -> History:
    """Read back everything FilterLogger logged of one layer under `log_dir`, as numpy arrays.

    Args:
        log_dir: the log directory given to FilterLogger, or any folder above or inside it; a URL of an
            object store (`s3://bucket/logs`) as well.
        layer: the layer's name (or its tag, `filters/<name>`); None when only one layer was logged.

    Raises ValueError naming the layers found when `layer` is not given and there are several, or when it
    was logged in several runs (then give one run's folder); StoreUnavailable (an OSError) when a store
    cannot be read, naming what to set.

    Example:
        >>> history = filterviz.load_history("logs/run1")  # doctest: +SKIP
        >>> history.steps, history.health["update_ratio"]  # doctest: +SKIP
    """
    found = choose_layer(log_dir, layer)
    steps = list(found.steps)
    grids = [decode_png(read_png(found.locations["grid"][step], found.tag)) for step in steps]
    delta_tag = f"{found.tag}/delta"
    deltas = [
        decode_png(read_png(found.locations["delta"][step], delta_tag))
        if step in found.locations["delta"]
        else None
        for step in steps
    ]
    health_logged = bool(found.scalars)
    health_values = {
        name: _aligned(steps, dict(points), np.float64) for name, points in found.scalars.items()
    }
    per_filter: dict[str, np.ndarray] = {}
    rows = _arrays(found, "filters")
    for i, name in enumerate(found.info.get("per_filter", [])):
        per_filter[name] = _aligned(steps, {step: values[i] for step, values in rows.items()})
    ratios = _arrays(found, "update_ratio")
    if ratios:
        per_filter["update_ratio"] = _aligned(steps, ratios)
    kernels = _arrays(found, "kernel")
    return History(
        layer=layer_name(found.tag),
        run=found.run,
        steps=np.array(steps, np.int64),
        grids=grids,
        deltas=deltas,
        kernels=_aligned(steps, kernels, np.float32) if kernels else None,
        health=health_values,
        per_filter=per_filter,
        info=found.info,
        readings=[health.read(values) for values in health.by_step(found.scalars, steps)]
        if health_logged
        else [],
    )


def choose_layer(log_dir: str | os.PathLike[str], layer: str | None = None) -> LayerView:
    """The one layer logged under `log_dir` (or the one named). ValueError naming what there is."""
    store = open_store(log_dir)
    if not store.is_folder():
        what = "holds nothing" if store.remote else "is not a folder"
        raise ValueError(f"{store.url} {what}: give the log directory FilterLogger wrote to.")
    index = LogIndex(store)
    index.update()
    layers = index.with_grids()
    listing = ", ".join(f"{found.tag} (run {found.run})" for found in layers) or "none"
    wanted = layers
    if layer is not None:
        tag = layer if layer.startswith(image_tag("")) else image_tag(layer)
        wanted = [found for found in layers if found.tag == tag]
    if not wanted:
        what = f"tag {layer!r}" if layer else "filter images (tags filters/...)"
        raise ValueError(f"{store.url} holds no {what}; image tags found: {listing}.")
    if len(wanted) > 1:
        if len({found.tag for found in wanted}) > 1:
            raise ValueError(f"{store.url} holds several filter tags: {listing}. Choose one.")
        runs = ", ".join(found.run for found in wanted)
        raise ValueError(
            f"{store.url} holds {wanted[0].tag!r} in several runs ({runs}): give the run's folder."
        )
    return wanted[0]


def _arrays(found: LayerView, part: str) -> dict[int, np.ndarray]:
    tag = plugin_tag(found.tag, part)
    return {step: read_array(where, tag) for step, where in found.locations[part].items()}


def _aligned(steps: list[int], values: dict[int, Any], dtype=np.float64) -> np.ndarray:
    """One row per step, NaN where `values` has none."""
    shape = np.shape(next(iter(values.values())))
    out = np.full((len(steps), *shape), np.nan, dtype)
    for i, step in enumerate(steps):
        if step in values:
            out[i] = values[step]
    return out
