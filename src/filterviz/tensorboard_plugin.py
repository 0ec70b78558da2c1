"""The Filters tab: a TensorBoard dynamic plugin, found through the `tensorboard_plugins` entry point.

TensorBoard loads `/data/plugin/filterviz/index.js` into the tab's frame; that ES module and the modules it
imports (`static/`) draw everything from the JSON and binary routes below. The routes answer only for the
runs, tags, steps and filters that exist (400 for a malformed request, 404 for one that names nothing
logged), never take a file path from the request, and never show a traceback (500 with a plain message).

Routes, under /data/plugin/filterviz/:
  /runs                          every layer logged, by run and tag, with its number of steps
  /layer?run=&tag=               how it is drawn, its steps, its health curves, where kernels are stored
  /grid?run=&tag=&step=          the grid PNG as logged            /delta?...: the log_delta grid
  /filters?run=&tag=&step=       the per-filter values at a step (norm, min, max, ...; null for NaN)
  /kernel?run=&tag=&step=        the stored kernel, float32 little-endian, in Keras layout
  /tilemap?run=&tag=             which kernel value each pixel of each tile shows (int32), for re-drawing
  /strip?run=&tag=&filter=       one filter's tiles at every logged step, side by side, as a PNG
  /filter_series?run=&tag=&filter=   one filter's per-filter values at every step
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard import plugin_util
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from filterviz.plugin_sources import LayerSummary, LocalSource, ProviderSource
from filterviz.writers.png import decode_png, encode_png
from filterviz.writers.tensorboard import PLUGIN_NAME

STATIC = Path(__file__).parent / "static"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}
logger = logging.getLogger(__name__)


class RequestError(Exception):
    """A request that names nothing logged, or is malformed: answered with `status` and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FilterVizPlugin(base_plugin.TBPlugin):
    """TensorBoard's Filters tab.

    Args:
        context: TensorBoard's TBContext.
        source: "local" to read the event files under the log directory, "provider" to read through
            TensorBoard's data provider; None chooses "local" for a folder on this machine.
    """

    plugin_name = PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext, *, source: str | None = None) -> None:
        logdir = context.logdir or ""
        if source is None:
            source = "local" if logdir and "://" not in logdir and os.path.isdir(logdir) else "provider"
        self._local = LocalSource(logdir) if source == "local" else None
        self._provider = ProviderSource(context.data_provider) if source == "provider" else None
        # Static files by name, fixed when TensorBoard starts: a request can only pick one of these.
        self._static = {path.name: path for path in STATIC.iterdir() if path.suffix in CONTENT_TYPES}

    def get_plugin_apps(self):
        routes = {
            "/runs": self._runs,
            "/layer": self._layer,
            "/grid": self._grid,
            "/delta": self._delta,
            "/filters": self._filters,
            "/kernel": self._kernel,
            "/tilemap": self._tilemap,
            "/strip": self._strip,
            "/filter_series": self._filter_series,
        }
        apps = {path: _guarded(handler, self) for path, handler in routes.items()}
        apps["/index.js"] = _guarded(self._index_js, self)
        apps["/static/*"] = _guarded(self._static_file, self)
        return apps

    def is_active(self) -> bool:
        return False  # data_plugin_names() answers: FilterLogger marks every layer with a filterviz tensor

    def data_plugin_names(self):
        return (PLUGIN_NAME,)

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Filters")

    # Reading.

    def source(self, request) -> LocalSource | ProviderSource:
        if self._local is not None:
            return self._local
        return self._provider.bind(
            plugin_util.context(request.environ), plugin_util.experiment_id(request.environ)
        )

    def summary(self, request) -> LayerSummary:
        """The layer the request's run and tag name: 404 when nothing was logged under them."""
        run, tag = _text(request, "run"), _text(request, "tag")
        for summary in self.source(request).summaries():
            if summary.run == run and summary.tag == tag:
                return summary
        raise RequestError(404, "no filters were logged under this run and tag")

    # Routes.

    def _index_js(self, request):
        return self._file(request, "index.js")

    def _static_file(self, request):
        return self._file(request, request.path.rsplit("/", 1)[-1])

    def _file(self, request, name: str):
        path = self._static.get(name)
        if path is None:
            raise RequestError(404, "no such file")
        return http_util.Respond(request, path.read_bytes(), CONTENT_TYPES[path.suffix])

    def _runs(self, request):
        layers = [
            {"run": s.run, "tag": s.tag, "layer": s.public()["layer"], "steps": len(s.steps)}
            for s in self.source(request).summaries()
        ]
        return _json(request, layers)

    def _layer(self, request):
        summary = self.summary(request)
        answer = summary.public()
        if summary.info:
            answer["drawing"] = drawing(summary.info)
        return _json(request, answer)

    def _grid(self, request):
        summary = self.summary(request)
        step = _step(request, summary.steps)
        return http_util.Respond(
            request, self.source(request).png(summary.run, summary.tag, step), "image/png"
        )

    def _delta(self, request):
        summary = self.summary(request)
        step = _step(request, summary.delta_steps)
        png = self.source(request).png(summary.run, summary.tag, step, delta=True)
        return http_util.Respond(request, png, "image/png")

    def _filters(self, request):
        summary = self.summary(request)
        step = _step(request, summary.steps)
        values = self.source(request).filters(summary.run, summary.tag, step)
        return _json(request, {name: [_number(v) for v in array] for name, array in values.items()})

    def _kernel(self, request):
        summary = self.summary(request)
        step = _step(request, summary.kernel_steps)
        kernel = self.source(request).kernel(summary.run, summary.tag, step)
        return http_util.Respond(request, kernel.astype("<f4").tobytes(), "application/octet-stream")

    def _tilemap(self, request):
        summary = self.summary(request)
        if not summary.info:
            raise RequestError(404, "this layer was logged without the description the map is made from")
        return http_util.Respond(
            request, tile_map(summary.info).astype("<i4").tobytes(), "application/octet-stream"
        )

    def _strip(self, request):
        summary = self.summary(request)
        index = _filter(request, summary)
        source = self.source(request)
        grids = (decode_png(source.png(summary.run, summary.tag, step)) for step in summary.steps)
        strip = filter_strip(grids, summary.info["plan"], index, len(summary.steps))
        return http_util.Respond(request, encode_png(strip, colour=True), "image/png")

    def _filter_series(self, request):
        summary = self.summary(request)
        index = _filter(request, summary)
        series = self.source(request).filter_series(summary.run, summary.tag)
        answer = {
            name: [[step, _number(values[index])] for step, values in sorted(by_step.items())]
            for name, by_step in series.items()
        }
        return _json(request, answer)


STRIP_COLUMNS = 100  # thumbnails per row of a filter's strip


def filter_strip(grids, plan: dict[str, int], unit: int, count: int) -> np.ndarray:
    """Unit `unit`'s cells (its tile, or its row of channel tiles) cropped from each of `count` grids, left
    to right in rows of STRIP_COLUMNS, one separator pixel apart, on the separator colour."""
    from filterviz.grid import PADDING_COLOUR

    scale, padding = plan["scale"], plan["padding"]
    cell_height = plan["tile_height"] * scale
    cell_width = plan["tile_width"] * scale
    per_unit = plan["tiles_per_unit"]
    if per_unit > 1:  # a row per unit, a column per channel: the whole row
        top, left, width = (
            padding + unit * (cell_height + padding),
            padding,
            per_unit * (cell_width + padding) - padding,
        )
    else:
        row, column = divmod(unit, plan["cols"])
        top, left, width = (
            padding + row * (cell_height + padding),
            padding + column * (cell_width + padding),
            cell_width,
        )
    columns = min(count, STRIP_COLUMNS)
    rows = -(-count // columns)
    strip = np.empty((rows * (cell_height + 1) + 1, columns * (width + 1) + 1, 3), np.uint8)
    strip[...] = PADDING_COLOUR
    for k, grid in enumerate(grids):
        cell = grid[top : top + cell_height, left : left + width]
        y, x = divmod(k, columns)
        strip[1 + y * (cell_height + 1) :][:cell_height, 1 + x * (width + 1) :][:, :width] = (
            cell  # gray: broadcast
        )
    return strip


def drawing(info: dict[str, Any]) -> dict[str, Any]:
    """What the browser needs to draw the layer's tiles from a stored kernel as `filterviz.render` does."""
    from filterviz.grid import MARKER_COLOUR, PADDING_COLOUR

    renderer = renderer_from_info(info)
    lut = renderer.lut
    return {
        "tiles": renderer.plan.tiles,
        "tile_channels": renderer.layout.tile_channels,
        "lut": None if lut is None else lut.tolist(),
        "padding_colour": list(PADDING_COLOUR),
        "marker_colour": list(MARKER_COLOUR),
        "options": info["options"],
        "plan": info["plan"],
    }


def renderer_from_info(info: dict[str, Any]):
    """The Renderer FilterLogger drew this layer with, from what it logged about it."""
    from filterviz.options import RenderOptions
    from filterviz.renderer import Renderer

    options = {
        key: tuple(value) if isinstance(value, list) else value for key, value in info["options"].items()
    }
    inferred = None
    if info["shape_source"] == "model":
        inferred = (tuple(info["image_shape"]), info["flatten_order"])
    return Renderer(
        tuple(info["kernel_shape"]), RenderOptions(**options), kind=info["kind"], inferred_tile_shape=inferred
    )


def tile_map(info: dict[str, Any]) -> np.ndarray:
    """(tiles, height, width, channels): the flat index in the kernel of the value each tile pixel shows,
    tiles in grid order, colour channels as drawn (BGR flipped)."""
    from filterviz.tiles import tile_values, tiles_from_levels

    renderer = renderer_from_info(info)
    layout, plan = renderer.layout, renderer.plan
    indices = np.arange(int(np.prod(renderer.kernel_shape)), dtype=np.int64).reshape(renderer.kernel_shape)
    columns = tile_values(indices, layout, plan.units, plan.tiles_per_unit)
    tiles = tiles_from_levels(np.ascontiguousarray(columns.T), layout, plan.units, plan.tiles_per_unit)
    height, width = layout.tile_size
    return tiles.reshape(-1, height, width, tiles.shape[-1])


def _guarded(handler, plugin):
    @wrappers.Request.application
    def app(request):
        try:
            return handler(request)
        except RequestError as error:
            return http_util.Respond(request, str(error), "text/plain", code=error.status)
        except Exception:
            logger.exception("filterviz: %s failed", request.path)
            return http_util.Respond(
                request, "filterviz could not answer this request", "text/plain", code=500
            )

    return app


def _text(request, name: str) -> str:
    value = request.args.get(name)
    if value is None:
        raise RequestError(400, f"missing parameter {name!r}")
    return value


def _int(request, name: str) -> int:
    text = _text(request, name)
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 18:
        raise RequestError(400, f"parameter {name!r} must be a whole number")
    return int(text)


def _step(request, steps) -> int:
    step = _int(request, "step")
    if step not in steps:
        raise RequestError(404, "nothing of that kind was logged at this step")
    return step


def _filter(request, summary: LayerSummary) -> int:
    """A unit (filter) drawn in this layer's grid."""
    index = _int(request, "filter")
    if not 0 <= index < summary.info.get("plan", {}).get("units", 0):
        raise RequestError(404, "no such filter in this layer's grid")
    return index


def _number(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _json(request, value) -> wrappers.Response:
    return http_util.Respond(request, json.dumps(value, allow_nan=False), "application/json")
