"""The Filters tab's routes, through werkzeug's test client over TensorBoard's own WSGI app, on logs that
real FilterLogger runs wrote: what they answer, and what they refuse."""

import json
import shutil

import keras
import numpy as np
import pytest
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from werkzeug.test import Client

import filterviz
from filterviz.core.png import decode_png
from filterviz.dashboard import plugin as tensorboard_plugin
from tests.helpers import Renders, tiny_data, tiny_model

ROUTE = "/data/plugin/filterviz"
HOSTILE = "<img src=x onerror=alert(1)>"


class KernelsAtEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.kernels = []

    def on_train_begin(self, logs=None):
        self.kernels.append(keras.ops.convert_to_numpy(self.model.get_layer("dense").kernel).copy())

    def on_epoch_end(self, epoch, logs=None):
        self.on_train_begin()


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Two runs of three epochs: one with every option on, one in a folder with a hostile name."""
    root = tmp_path_factory.mktemp("logs")
    model, renders, kernels = tiny_model(), Renders(), KernelsAtEpochs()
    x, y = tiny_data(32)
    logger = filterviz.FilterLogger(root / "good", log_delta=True, store_kernel=True)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[logger, renders, kernels])
    tiny_model(seed=3).fit(x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(root / HOSTILE)])
    return root, renders.images, kernels.kernels


def client(logdir, source=None):
    context = base_plugin.TBContext(logdir=str(logdir))
    if source == "provider":
        multiplexer = plugin_event_multiplexer.EventMultiplexer()
        multiplexer.AddRunsFromDirectory(str(logdir))
        multiplexer.Reload()
        context = base_plugin.TBContext(
            logdir=str(logdir), data_provider=data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
        )
    plugin = tensorboard_plugin.FilterVizPlugin(context, source=source)
    return Client(application.TensorBoardWSGI([plugin]))


def get(test_client, route, **query):
    return test_client.get(f"{ROUTE}{route}", query_string=query)


def test_runs_and_layers_list_every_layer_logged(logs):
    root, _, _ = logs
    answer = get(client(root), "/runs")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.json["problems"] == {}
    layers = {(layer["run"], layer["tag"]): layer for layer in answer.json["layers"]}
    assert layers[("good/filters", "filters/dense")]["kind"] == "dense"
    assert layers[("good/filters", "filters/dense")]["kernel_shape"] == [36, 4]
    assert layers[("good/filters", "filters/dense")]["steps"] == 4
    assert layers[(f"{HOSTILE}/filters", "filters/dense")]["steps"] == 2  # names are data, never markup
    layer = get(client(root), "/layer", run="good/filters", tag="filters/dense").json
    assert (
        layer["steps"] == [0, 1, 2, 3]
        and layer["kernel_steps"] == [0, 1, 2, 3]
        and layer["delta_steps"] == [1, 2, 3]
    )
    assert layer["layer"] == "dense" and layer["info"]["kernel_shape"] == [36, 4]
    assert [step for step, _ in layer["health"]["drift"]] == [0, 1, 2, 3]
    assert layer["health"]["update_ratio"][0][0] == 1  # none at step 0
    assert layer["drawing"]["plan"]["units"] == 4 and layer["drawing"]["padding_colour"] == [0, 150, 136]


@pytest.mark.parametrize("source", [None, "provider"])
def test_every_grid_is_the_png_logged_at_that_step(logs, source):
    root, renders, _ = logs
    test_client = client(root, source)
    for step, render in enumerate(renders):
        answer = get(test_client, "/grid", run="good/filters", tag="filters/dense", step=step)
        assert answer.status_code == 200 and answer.mimetype == "image/png"
        np.testing.assert_array_equal(decode_png(answer.data), render, err_msg=f"step {step}")


def test_kernels_filters_and_the_tile_map_are_what_was_logged(logs):
    root, _, kernels = logs
    test_client = client(root)
    query = {"run": "good/filters", "tag": "filters/dense"}
    for step, kernel in enumerate(kernels):
        answer = get(test_client, "/kernel", step=step, **query)
        np.testing.assert_array_equal(np.frombuffer(answer.data, "<f4").reshape(36, 4), kernel)
        norms = get(test_client, "/filters", step=step, **query).json["norm"]
        np.testing.assert_allclose(norms, np.linalg.norm(kernel.astype(np.float64), axis=0), rtol=1e-6)
    tiles = np.frombuffer(get(test_client, "/tilemap", **query).data, "<i4").reshape(4, 6, 6, 1)
    np.testing.assert_array_equal(tiles[2, ..., 0], (np.arange(36) * 4 + 2).reshape(6, 6))  # kernel[:, 2]


def test_the_strip_shows_one_filters_tile_at_every_step(logs):
    root, renders, _ = logs
    answer = get(client(root), "/strip", run="good/filters", tag="filters/dense", filter=3)
    strip = decode_png(answer.data)
    plan = get(client(root), "/layer", run="good/filters", tag="filters/dense").json["info"]["plan"]
    size, scale, pad = plan["tile_height"] * plan["scale"], plan["scale"], plan["padding"]
    row, column = divmod(3, plan["cols"])
    for k, render in enumerate(renders):
        cell = render[pad + row * (size + pad) :][:size, pad + column * (size + pad) :][:, :size]
        thumbnail = strip[1 : 1 + size, 1 + k * (size + 1) :][:, :size]
        np.testing.assert_array_equal(thumbnail, np.broadcast_to(cell, (size, size, 3)), err_msg=f"step {k}")
    assert scale >= 1


@pytest.mark.parametrize(
    "route, query, status",
    [
        ("/layer", {"run": "good/filters"}, 400),  # no tag
        ("/layer", {"run": "nope", "tag": "filters/dense"}, 404),
        ("/layer", {"run": "good/filters", "tag": "filters/nope"}, 404),
        ("/grid", {"run": "good/filters", "tag": "filters/dense", "step": "7"}, 404),
        ("/grid", {"run": "good/filters", "tag": "filters/dense", "step": "1e3"}, 400),
        ("/grid", {"run": "good/filters", "tag": "filters/dense", "step": "../../etc/passwd"}, 400),
        ("/grid", {"run": "../../..", "tag": "filters/dense", "step": "0"}, 404),
        ("/delta", {"run": "good/filters", "tag": "filters/dense", "step": "0"}, 404),  # no delta at step 0
        ("/strip", {"run": "good/filters", "tag": "filters/dense", "filter": "4"}, 404),
        ("/strip", {"run": "good/filters", "tag": "filters/dense", "filter": "-1"}, 404),
        ("/static/../../../pyproject.toml", {}, 404),
        ("/static/app.py", {}, 404),
    ],
)
def test_routes_answer_only_for_what_exists_with_a_plain_message(logs, route, query, status):
    root, _, _ = logs
    answer = get(client(root), route, **query)
    assert answer.status_code == status, answer.data
    assert answer.mimetype == "text/plain" and b"Traceback" not in answer.data and b"<" not in answer.data


def test_a_failure_inside_is_a_500_without_a_traceback(logs, monkeypatch):
    root, _, _ = logs

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /home/user/path")

    monkeypatch.setattr(tensorboard_plugin.EventFileSource, "png", broken)
    answer = get(client(root), "/grid", run="good/filters", tag="filters/dense", step=0)
    assert answer.status_code == 500 and answer.data == b"filterviz could not answer this request"


def test_a_run_that_died_mid_write_shows_what_is_readable(logs, tmp_path):
    root, renders, _ = logs
    run = tmp_path / "crashed" / "filters"
    shutil.copytree(root / "good" / "filters", run)
    (event_file,) = run.iterdir()
    data = event_file.read_bytes()
    event_file.write_bytes(data[: len(data) - 500])  # the last record cut short
    layer = get(client(tmp_path), "/layer", run="crashed/filters", tag="filters/dense").json
    assert layer["steps"] == [0, 1, 2]
    grid = get(client(tmp_path), "/grid", run="crashed/filters", tag="filters/dense", step=2)
    np.testing.assert_array_equal(decode_png(grid.data), renders[2])


def test_the_module_and_its_imports_are_served_as_javascript(logs):
    root, _, _ = logs
    test_client = client(root)
    index = get(test_client, "/index.js")
    assert (
        index.status_code == 200
        and index.mimetype == "text/javascript"
        and b"export async function render" in index.data
    )
    for name in ("app.js", "api.js", "draw.js"):
        answer = get(test_client, f"/static/{name}")
        assert answer.status_code == 200 and answer.mimetype == "text/javascript", name
    assert get(test_client, "/static/style.css").mimetype == "text/css"


def test_the_plugin_is_registered_for_tensorboard_to_find():
    from importlib import metadata

    (entry,) = [e for e in metadata.entry_points(group="tensorboard_plugins") if e.name == "filterviz"]
    assert entry.load() is tensorboard_plugin.FilterVizPlugin
    metadata_ = tensorboard_plugin.FilterVizPlugin(base_plugin.TBContext(logdir=".")).frontend_metadata()
    assert metadata_.tab_name == "Filters" and metadata_.es_module_path == "/index.js"


@pytest.mark.filterwarnings("ignore:.*NaN or Inf weights")  # the run diverges on purpose
def test_json_answers_never_hold_nan(logs, tmp_path):
    x, y = tiny_data(16)
    x[3, 0, 0, 0] = np.nan
    tiny_model().fit(
        x, y, epochs=1, batch_size=8, shuffle=False, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path)]
    )
    layer = get(client(tmp_path), "/layer", run="filters", tag="filters/dense")
    assert layer.status_code == 200

    def refuse(constant):  # NaN and Infinity are not JSON: a browser's JSON.parse refuses them
        raise AssertionError(f"{constant} in a JSON answer")

    answer = json.loads(layer.data, parse_constant=refuse)
    values = answer["health"]["dead"]
    assert values[-1][1] is None  # NaN went over as null
    assert answer["readings"]["1"]["value"] == "nonfinite"  # and the step reads as diverged
