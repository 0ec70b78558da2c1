"""The Filters tab: a TensorBoard dynamic plugin, found through the `tensorboard_plugins` entry point.

TensorBoard loads `/data/plugin/filterviz/index.js` into the tab's frame; that ES module and the modules it
imports (`static/`) draw everything from the JSON and binary routes below. The routes only parse a request
and delegate: to a source (`dashboard.sources`) for what was logged, to `dashboard.answers` for what is made
of it. They answer only for the runs, tags, steps and filters that exist (400 for a malformed request, 404 for
one that names nothing logged, 422 for something logged that cannot be shown, with the reason, 405 for a
method other than GET or HEAD), never take a file path from the request, never echo one, and never show a
traceback (500 with a plain message, for a fault of filterviz's own). Every answer is bounded by what the
tab shows: a grid, a strip of at most STRIP_STEPS cells, a kernel or tile map of at most REDRAW_VALUES.

Routes, under /data/plugin/filterviz/:
  /runs                          every layer logged, by run and tag, and the files of a run read no further
  /layer?run=&tag=               how it is drawn, its steps, its health curves, where kernels are stored
  /grid?run=&tag=&step=          the grid PNG as logged            /delta?...: the log_delta grid
  /filters?run=&tag=&step=       the per-filter values at a step (norm, min, max, ...; null for NaN)
  /kernel?run=&tag=&step=        the stored kernel, float32 little-endian, in Keras layout
  /tilemap?run=&tag=             which kernel value each pixel of each tile shows (int32), for re-drawing
  /strip?run=&tag=&filter=       one filter's tiles over the run, side by side, as a PNG (its steps in the
                                 X-Filterviz-Steps header)
  /filter_series?run=&tag=&filter=   one filter's per-filter values at every step
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from tensorboard import plugin_util
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from filterviz.core.png import encode_png
from filterviz.dashboard import answers
from filterviz.dashboard.sources import EventFileSource, ProviderSource, decoded_grid
from filterviz.eventfile.format import PLUGIN_NAME
from filterviz.eventfile.index import LayerView, Unreadable
from filterviz.storage.stores import open_store

STATIC = Path(__file__).parent / "static"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
logger = logging.getLogger(__name__)


class RequestError(Exception):
    """A request that names nothing logged, is malformed, or asks for what cannot be shown: answered with
    `status` and the message (which never repeats the request)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FilterVizPlugin(base_plugin.TBPlugin):
    """TensorBoard's Filters tab.

    Args:
        context: TensorBoard's TBContext.
        source: "files" to read the event files under the log directory itself, "provider" to read
            through TensorBoard's data provider; None chooses "files" for a folder on this machine and for
            a URL of an object store that an installed package serves (`s3://` with s3fs, ...).
    """

    plugin_name = PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext, *, source: str | None = None) -> None:
        logdir = context.logdir or ""
        if source is None:
            source = "files" if readable_by_filterviz(logdir) else "provider"
        self._files = EventFileSource(logdir) if source == "files" else None
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
            "/index.js": lambda request: self._file(request, "index.js"),
            "/static/*": lambda request: self._file(request, request.path.rsplit("/", 1)[-1]),
        }
        return {path: _guarded(handler) for path, handler in routes.items()}

    def is_active(self) -> bool:
        return False  # data_plugin_names() answers: FilterLogger marks every layer with a filterviz tensor

    def data_plugin_names(self):
        return (PLUGIN_NAME,)

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Filters")

    # Parsing: which source, which layer, which step or filter.

    def source(self, request) -> EventFileSource | ProviderSource:
        if self._files is not None:
            return self._files
        return self._provider.bind(
            plugin_util.context(request.environ), plugin_util.experiment_id(request.environ)
        )

    def view(self, request, *, shown: bool = True) -> LayerView:
        """The layer the request's run and tag name: 404 when nothing was logged under them, 422 when it
        cannot be shown (`shown`: the route needs its description)."""
        run, tag = _text(request, "run"), _text(request, "tag")
        view = self.source(request).layers().get((run, tag))
        if view is None:
            raise RequestError(404, "no filters were logged under this run and tag")
        if view.problem:
            raise RequestError(422, f"this layer cannot be shown: {view.problem}")
        if shown and view.description is None:
            raise RequestError(422, "this layer was logged without the description its grids are read with")
        return view

    # Routes.

    def _file(self, request, name: str):
        path = self._static.get(name)
        if path is None:
            raise RequestError(404, "no such file")
        return http_util.Respond(request, path.read_bytes(), CONTENT_TYPES[path.suffix])

    def _runs(self, request):
        source = self.source(request)
        layers = [answers.layer_entry(view) for _, view in sorted(source.layers().items())]
        problems = {run: [str(problem) for problem in found] for run, found in source.problems().items()}
        return _json(request, {"layers": layers, "problems": problems})

    def _layer(self, request):
        return _json(request, answers.layer_summary(self.view(request)))

    def _grid(self, request):
        view = self.view(request, shown=False)
        step = _step(request, view.locations["grid"])
        return http_util.Respond(request, self.source(request).png(view, step), "image/png")

    def _delta(self, request):
        view = self.view(request, shown=False)
        step = _step(request, view.locations["delta"])
        return http_util.Respond(request, self.source(request).png(view, step, delta=True), "image/png")

    def _filters(self, request):
        view = self.view(request)
        step = _step(request, view.locations["grid"])
        return _json(request, answers.filter_values(self.source(request).filters(view, step)))

    def _kernel(self, request):
        view = self.view(request)
        answers.check_redrawable(view)
        step = _step(request, view.locations["kernel"])
        kernel = self.source(request).kernel(view, step)
        return http_util.Respond(request, kernel.astype("<f4").tobytes(), "application/octet-stream")

    def _tilemap(self, request):
        view = self.view(request)
        tiles = answers.tile_map(view.description.renderer)
        return http_util.Respond(request, tiles.astype("<i4").tobytes(), "application/octet-stream")

    def _strip(self, request):
        view = self.view(request)
        unit = _filter(request, view)
        source = self.source(request)
        steps = answers.strip_steps(view.steps)

        def grid_at(step: int):
            return decoded_grid(source.png(view, step), step)  # checked to be of the layer's grid size

        strip, missing = answers.filter_strip(view.description.renderer, unit, steps, grid_at)
        if len(missing) == len(steps):
            raise RequestError(422, "cannot be shown: none of this layer's grids can be read")
        response = http_util.Respond(request, encode_png(strip, colour=True), "image/png")
        response.headers["X-Filterviz-Steps"] = ",".join(map(str, steps))
        response.headers["X-Filterviz-Unreadable"] = ",".join(map(str, missing))  # left empty in it
        return response

    def _filter_series(self, request):
        view = self.view(request)
        unit = _filter(request, view)
        return _json(request, answers.series(self.source(request).filter_series(view, unit)))


def readable_by_filterviz(logdir: str) -> bool:
    """A folder on this machine, or a URL of a store an installed package serves (`s3://` with s3fs)."""
    if not logdir:
        return False  # several log directories (--logdir_spec): TensorBoard's data provider reads them
    try:
        store = open_store(logdir)
    except (ValueError, ImportError) as error:
        logger.warning("filterviz: the Filters tab reads %s through TensorBoard's samples: %s", logdir, error)
        return False
    return store.remote or os.path.isdir(logdir)


def _guarded(handler):
    @wrappers.Request.application
    def app(request):
        if request.method not in ("GET", "HEAD"):  # every route only reads
            response = http_util.Respond(request, "only GET is answered here", "text/plain", code=405)
            response.headers["Allow"] = "GET, HEAD"
            return response
        try:
            return handler(request)
        except RequestError as error:
            return http_util.Respond(request, str(error), "text/plain", code=error.status)
        except (Unreadable, answers.TooLarge) as error:
            return http_util.Respond(request, f"cannot be shown: {error}", "text/plain", code=422)
        except FileNotFoundError:
            return http_util.Respond(request, "this run's files were deleted", "text/plain", code=404)
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
    if not _WHOLE_NUMBER.fullmatch(_text(request, name)):
        raise RequestError(400, f"parameter {name!r} must be a whole number")
    return int(request.args[name])


def _step(request, steps) -> int:
    step = _int(request, "step")
    if step not in steps:
        raise RequestError(404, "nothing of that kind was logged at this step")
    return step


def _filter(request, view: LayerView) -> int:
    """A unit (filter) drawn in this layer's grid."""
    index = _int(request, "filter")
    if not 0 <= index < view.description.renderer.plan.units:
        raise RequestError(404, "no such filter in this layer's grid")
    return index


def _json(request, value) -> wrappers.Response:
    return http_util.Respond(request, json.dumps(value, allow_nan=False), "application/json")
