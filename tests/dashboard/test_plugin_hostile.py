"""The Filters tab holds: hostile files beside a healthy run, a writer appending while requests read, and
a bounded fuzz of every route's parameters. Over werkzeug's test client on TensorBoard's own WSGI app; the
same corpus over a real TensorBoard and in a real browser is in tests/dashboard/test_dashboard_hostile.py."""

import random
import threading
import time

import numpy as np
import pytest
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug.test import Client

import filterviz
from filterviz.core.png import decode_png
from filterviz.dashboard import plugin as tensorboard_plugin
from filterviz.dashboard.sources import EventFileSource
from filterviz.eventfile.writer import TensorBoardWriter
from tests.helpers import hostile_logs

ROUTE = "/data/plugin/filterviz"
ROUTES = ("/layer", "/grid", "/delta", "/filters", "/kernel", "/tilemap", "/strip", "/filter_series")


def client(logdir, refresh_seconds=None):
    plugin = tensorboard_plugin.FilterVizPlugin(base_plugin.TBContext(logdir=str(logdir)))
    if refresh_seconds is not None:
        plugin._files = EventFileSource(str(logdir), refresh_seconds)
    return Client(application.TensorBoardWSGI([plugin]))


def get(test_client, route, **query):
    return test_client.get(f"{ROUTE}{route}", query_string=query)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    return root, hostile_logs.corpus(root)


def test_every_hostile_file_is_quarantined_and_the_healthy_run_still_draws_exactly(corpus):
    root, kinds = corpus
    test_client = client(root)
    answer = get(test_client, "/runs")
    assert answer.status_code == 200, answer.data
    layers = {layer["run"]: layer for layer in answer.json["layers"]}
    problems = answer.json["problems"]
    assert "healthy/filters" not in problems and layers["healthy/filters"]["problem"] == ""
    _, kernels = hostile_logs.logged_steps()
    for step, kernel in enumerate(kernels):
        grid = get(test_client, "/grid", run="healthy/filters", tag=hostile_logs.TAG, step=step)
        np.testing.assert_array_equal(decode_png(grid.data), filterviz.kernel_grid(kernel), err_msg=str(step))
    for kind, expected in kinds.items():
        run = f"{kind}/filters"
        if expected == "file":
            (problem,) = problems[run]
            assert "at byte" in problem and "events.out.tfevents" in problem, (kind, problem)
            if run in layers:  # the steps before the bad record are there
                assert layers[run]["steps"] >= 1 and layers[run]["problem"] == ""
        elif expected == "layer":
            assert layers[run]["problem"].startswith("its description in the log is not valid"), kind
            assert get(test_client, "/layer", run=run, tag=hostile_logs.TAG).status_code == 422, kind
        elif expected == "partial":
            assert run not in problems and layers[run]["steps"] >= 1, kind
        elif expected == "grid":
            grid = get(test_client, "/grid", run=run, tag=hostile_logs.TAG, step=0)
            assert grid.status_code == 422 and b"not the layer's grid size" in grid.data, kind
            strip = get(test_client, "/strip", run=run, tag=hostile_logs.TAG, filter=0)
            assert strip.status_code == 422, kind
        elif expected == "grid 1":  # the rest of the run is there, and the strip keeps its other steps
            grid = get(test_client, "/grid", run=run, tag=hostile_logs.TAG, step=1)
            assert grid.status_code == 422 and b"not a whole PNG" in grid.data, kind
            assert get(test_client, "/grid", run=run, tag=hostile_logs.TAG, step=2).status_code == 200
            strip = get(test_client, "/strip", run=run, tag=hostile_logs.TAG, filter=0)
            assert strip.status_code == 200, (kind, strip.data)
            assert (
                strip.headers["X-Filterviz-Unreadable"] == "1"
                and strip.headers["X-Filterviz-Steps"] == "0,1,2,3"
            )
            assert_strip_keeps_the_other_steps(decode_png(strip.data), kernels)
        elif expected == "tilemap":
            tilemap = get(test_client, "/tilemap", run=run, tag=hostile_logs.TAG)
            assert tilemap.status_code == 422 and len(tilemap.data) < 1000, kind
            assert get(test_client, "/kernel", run=run, tag=hostile_logs.TAG, step=0).status_code == 422
    assert "newer filterviz (format version 99" in layers["newer-version/filters"]["problem"]


def assert_strip_keeps_the_other_steps(strip, kernels):
    """Filter 0's cells in a strip of the 4 steps of a 5x5x3x8 kernel: 0, 2 and 3 as drawn, 1 left empty."""
    from filterviz.core.grid import PADDING_COLOUR

    renderer = filterviz.core.renderer.Renderer(hostile_logs.SHAPE, filterviz.RenderOptions())
    top, left, height, width = renderer.plan.unit_box(0)
    for k, kernel in enumerate(kernels):
        cell = strip[1 : 1 + height, 1 + k * (width + 1) :][:, :width]
        if k == 1:
            assert (cell == PADDING_COLOUR).all()
        else:
            grid = filterviz.kernel_grid(kernel)
            np.testing.assert_array_equal(cell, grid[top : top + height, left : left + width], err_msg=str(k))


def test_a_sparse_file_and_a_huge_tile_map_cost_bounded_memory(tmp_path):
    """The first /runs over a file whose record claims a gigabyte of holes, and /tilemap of a valid
    description of 1,800,000 filters, each beside a healthy run: peak memory within what the docs state
    (docs/hostile-input.md: a chunk of 1 MiB and a record's small fields; a tile map of at most 16 MiB)."""
    import tracemalloc

    kinds = hostile_logs.corpus(tmp_path)
    assert kinds["sparse-claim"] == "file" and kinds["huge-tilemap"] == "tilemap"
    test_client = client(tmp_path)
    tracemalloc.start()
    try:
        runs = get(test_client, "/runs")
        after_runs = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        tilemaps = [
            get(test_client, "/tilemap", run="huge-tilemap/filters", tag=hostile_logs.TAG) for _ in range(4)
        ]
        after_tilemaps = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert runs.status_code == 200 and "healthy/filters" in {layer["run"] for layer in runs.json["layers"]}
    (problem,) = runs.json["problems"]["sparse-claim/filters"]
    assert problem.startswith("sparse-claim/filters/events.out.tfevents") and "corrupt record" in problem
    assert after_runs < 64 << 20, f"{after_runs:,} bytes for the first /runs"
    assert all(answer.status_code == 422 for answer in tilemaps)
    assert after_tilemaps < 8 << 20, f"{after_tilemaps:,} bytes for /tilemap"


def test_problem_notes_name_files_relative_to_the_log_directory(corpus):
    root, _ = corpus
    answer = get(client(root), "/runs")
    text = answer.data.decode()
    assert str(root) not in text and "/tmp/" not in text
    assert any(
        p.startswith("undecodable/filters/events.out") for p in answer.json["problems"]["undecodable/filters"]
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("route", ["/runs", "/layer", "/grid", "/index.js"])
def test_routes_that_only_read_answer_405_to_other_methods(corpus, method, route):
    root, _ = corpus
    answer = client(root).open(f"{ROUTE}{route}", method=method, query_string={"run": "healthy/filters"})
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET, HEAD"


def test_no_route_of_any_run_answers_5xx(corpus):
    root, _ = corpus
    test_client = client(root)
    layers = get(test_client, "/runs").json["layers"]
    for layer in layers:
        for route in ROUTES:
            for step in (0, 1, 3):
                answer = get(test_client, route, run=layer["run"], tag=layer["tag"], step=step, filter=step)
                assert answer.status_code < 500, (layer["run"], route, answer.data)


def test_a_bad_file_is_read_no_further_but_the_same_error_is_not_repeated(corpus, caplog):
    root, _ = corpus
    test_client = client(root)
    with caplog.at_level("WARNING", logger="filterviz"):
        get(test_client, "/runs")
        get(test_client, "/runs")
    told = [record.getMessage() for record in caplog.records if "undecodable" in record.getMessage()]
    assert len(told) == 2  # one line each for undecodable and zz-undecodable, once


def test_a_file_that_grows_past_a_torn_record_is_read_on(tmp_path):
    good = hostile_logs.events()
    records = [hostile_logs.tf_record(data) for data in good]
    path = hostile_logs.write_run(tmp_path, "live", records[0] + records[1][:40])
    test_client = client(tmp_path, refresh_seconds=0.05)
    assert get(test_client, "/layer", run="live/filters", tag=hostile_logs.TAG).json["steps"] == [0]
    with open(path, "ab") as file:
        file.write(records[1][40:] + records[2])

    def steps():
        return get(test_client, "/layer", run="live/filters", tag=hostile_logs.TAG).json["steps"]

    deadline = time.monotonic() + 10
    while steps() != [0, 1, 2] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert steps() == [0, 1, 2] and get(test_client, "/runs").json["problems"] == {}


def test_deleted_runs_disappear_and_symlinked_runs_are_listed(tmp_path):
    good = b"".join(hostile_logs.tf_record(data) for data in hostile_logs.events())
    hostile_logs.write_run(tmp_path / "elsewhere", "real", good)
    logdir = tmp_path / "logs"
    hostile_logs.write_run(logdir, "doomed", good)
    (logdir / "linked").symlink_to(tmp_path / "elsewhere" / "real", target_is_directory=True)
    (logdir / "loop").symlink_to(logdir, target_is_directory=True)  # a cycle is followed once
    test_client = client(logdir, refresh_seconds=0.05)
    runs = {layer["run"] for layer in get(test_client, "/runs").json["layers"]}
    assert runs == {"doomed/filters", "linked/filters"}
    for path in (logdir / "doomed" / "filters").iterdir():
        path.unlink()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = {layer["run"] for layer in get(test_client, "/runs").json["layers"]}
        if runs == {"linked/filters"}:
            break
        time.sleep(0.05)
    assert runs == {"linked/filters"}
    assert get(test_client, "/grid", run="doomed/filters", tag=hostile_logs.TAG, step=0).status_code == 404


def test_requests_read_safely_while_a_writer_appends(tmp_path):
    """Request threads read /filter_series, /layer, /runs and /grid while a writer appends a step every
    few milliseconds and the index is updated as often: every answer is whole and none is a 5xx."""
    steps, _ = hostile_logs.logged_steps(steps=1)
    writer = TensorBoardWriter(tmp_path / "live" / "filters")
    writer.write(steps[0])
    test_client = client(tmp_path, refresh_seconds=0.001)
    query = {"run": "live/filters", "tag": hostile_logs.TAG}
    assert get(test_client, "/layer", **query).status_code == 200
    stop, failures, answers = threading.Event(), [], [0]

    def write():
        more, _ = hostile_logs.logged_steps(seed=1, steps=300)
        for step in more[1:]:
            if stop.is_set():
                return
            writer.write(step)
            time.sleep(0.002)

    def read():
        own = client(tmp_path)
        own_plugin_source = test_client  # the shared plugin: one index, many request threads
        while not stop.is_set():
            for route, extra in (
                ("/filter_series", {"filter": 0}),
                ("/layer", {}),
                ("/runs", {}),
                ("/grid", {"step": 0}),
            ):
                answer = get(own_plugin_source, route, **query, **extra)
                answers[0] += 1
                if answer.status_code >= 500:
                    failures.append((route, answer.data))
        del own

    source = test_client.application._plugins[0]._files  # the plugin's own source, as requests use it
    changed = []

    def hold():  # a view handed out never changes under its reader, however the index goes on
        while not stop.is_set():
            view = source.layers()[("live/filters", hostile_logs.TAG)]
            seen = {kind: list(steps) for kind, steps in view.locations.items()}
            time.sleep(0.01)
            if {kind: list(steps) for kind, steps in view.locations.items()} != seen:
                changed.append(seen)

    threads = [threading.Thread(target=write), threading.Thread(target=hold)]
    threads += [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    threads[0].join(timeout=60)
    stop.set()
    for thread in threads[1:]:
        thread.join(timeout=60)
    assert failures == [] and answers[0] > 100 and changed == []
    series = get(test_client, "/filter_series", filter=0, **query).json
    assert len(series["norm"]) >= 1


HOSTILE_TEXT = [
    "",
    " ",
    "--1",
    "-0",
    "1e3",
    "0x10",
    "٣",
    "1" * 40,
    "<script>alert(1)</script>",
    "../../etc",
    "\x00",
    "%ff",
    "☃" * 300,
]


def test_a_bounded_fuzz_of_every_routes_parameters_never_answers_5xx_nor_echoes_them(corpus, caplog):
    root, _ = corpus
    caplog.set_level("WARNING", logger="tensorboard")  # its security validator's complaints
    test_client = client(root)
    rng = random.Random(0)
    runs = ["healthy/filters", "png-bomb/filters", "huge-plan/filters", "nope"]
    tags = [hostile_logs.TAG, "filters/", "filters/conv/delta", "<b>"]
    numbers = ["0", "3", "-1", "99999999999999999", *HOSTILE_TEXT]
    for _ in range(600):
        route = rng.choice([*ROUTES, "/runs", "/static/app.js", "/static/<x>.js", "/index.js"])
        query = {}
        for name, choices in (
            ("run", runs + HOSTILE_TEXT),
            ("tag", tags + HOSTILE_TEXT),
            ("step", numbers),
            ("filter", numbers),
        ):
            if rng.random() < 0.85:
                query[name] = rng.choice(choices)
        answer = get(test_client, route, **query)
        assert answer.status_code < 500, (route, query, answer.data)
        if answer.status_code >= 400:
            assert answer.mimetype == "text/plain" and b"<" not in answer.data, (route, query, answer.data)
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", (route, query)
    assert not [record for record in caplog.records if "In 3.0" in record.getMessage()]
