"""Logging to an object store, against logging to a local folder, side by side in one run.

A real S3 API server (moto's server mode on 127.0.0.1) behind a TCP proxy that counts every byte and
request a client sends. Steps are those of ResNet-50's conv1 (7x7x3x64), written through FilterLogger's
own path (LayerLog: grid, health, the 37 kB kernel stored), a random walk, rendered before any timing.
It prints, at 10, 100 and 1,000 logged steps:

  local folder        TensorBoardWriter: ms per step (the row twice: the second is the noise floor)
  s3, filterviz       ObjectWriter: ms per step of write() (the writer thread's cost: the step goes into
                      the local spool), ms per step until every step is on the store, bytes sent over
                      the steps' event bytes, requests and objects per step                  ratio <= 1.1
                      written as fast as it takes them (the steps that wait go together in one object),
                      and a step every 20 ms (a training between them: an object per step)
  s3, TensorBoard     TensorBoard's own EventFileWriter to s3:// (without TensorFlow, through boto3),
                      flushed at each step, as a writer of a growing file must: its ratio grows with
                      the run (10 and 100 steps; 1,000 would send about 35 GB)

then the Filters tab's /grid over HTTP on a run of 200 steps in the bucket, served by `filterviz
tensorboard`, against the same run in a local folder (measured twice, interleaved: the noise floor), and
how long closing the writer takes when the store has died (what a dead store adds to fit()).

Run:  python benchmarks/remote.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import types
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # the tests' S3 server and TensorBoard helpers

import numpy as np

from filterviz import RenderOptions
from filterviz.cli.serve import NO_TENSORFLOW
from filterviz.core.renderer import Renderer
from filterviz.eventfile.writer import ObjectWriter, TensorBoardWriter, step_event
from filterviz.pipeline.steps import LayerLog
from filterviz.storage.stores import open_store
from tests.helpers.s3_server import Proxy, s3_server
from tests.helpers.tensorboard_server import tensorboard

SHAPE = (7, 7, 3, 64)
COUNTS = (10, 100, 1000)
TENSORBOARD_COUNTS = (10, 100)
TAB_STEPS = 200
PACE = 0.02  # seconds between steps in the paced row: a training that logs 50 steps a second


def logged_steps(count: int) -> list:
    """`count` logged steps of a random walk of ResNet-50's conv1, rendered and encoded now."""
    rng = np.random.default_rng(0)
    log = LayerLog(
        Renderer(SHAPE, RenderOptions()), "filters/conv1", "batch", path="conv1", store_kernel=True
    )
    kernel = rng.standard_normal(SHAPE).astype(np.float32) * 0.1
    steps = []
    for step in range(count):
        before = kernel
        kernel = (kernel + 0.002 * rng.standard_normal(SHAPE)).astype(np.float32)
        logged, _ = log.logged(step, kernel, before if step else None)
        _ = logged.png  # encoded before any timing
        steps.append(logged)
    return steps


def local_row(steps: list, folder: Path) -> tuple[float, int]:
    """(ms per step, the steps' event bytes) of TensorBoardWriter."""
    writer = TensorBoardWriter(folder)
    header = writer.path.stat().st_size
    started = time.perf_counter()
    for step in steps:
        writer.write(step)
    seconds = time.perf_counter() - started
    return seconds * 1e3 / len(steps), writer.path.stat().st_size - header


def filterviz_row(steps: list, url: str, proxy: Proxy, pace: float = 0.0) -> dict:
    """ObjectWriter's costs; `pace`: seconds between steps (training between them), not counted."""
    proxy.reset_counts()
    writer = ObjectWriter(open_store(url), "filters")
    started = time.perf_counter()
    spooled = 0.0
    for step in steps:
        if pace:
            time.sleep(pace)
        now = time.perf_counter()
        writer.write(step)
        spooled += time.perf_counter() - now
    writer.close()
    stored = time.perf_counter() - started - pace * len(steps)
    return {
        "write": spooled * 1e3 / len(steps),
        "stored": stored * 1e3 / len(steps),
        "sent": proxy.sent,
        "requests": len(proxy.requests),
        "objects": writer._uploader.sent_objects,
    }


def tensorboard_row(steps: list, url: str, proxy: Proxy) -> dict:
    # TensorBoard's own writer reaches s3:// only through its stub of TensorFlow (as `filterviz
    # tensorboard` runs it): never TensorFlow in this process.
    sys.modules.setdefault(NO_TENSORFLOW, types.ModuleType(NO_TENSORFLOW))
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    proxy.reset_counts()
    writer = EventFileWriter(url, flush_secs=10**6)
    described: set[str] = set()
    started = time.perf_counter()
    for step in steps:
        writer.add_event(step_event(step, described))
        writer.flush()  # each step on the store before the next, as a growing file can only be
    writer.close()
    seconds = time.perf_counter() - started
    return {"stored": seconds * 1e3 / len(steps), "sent": proxy.sent, "requests": len(proxy.requests)}


def grid_ms(base: str, repeats: int = 60) -> float:
    """The median ms of /grid over HTTP, over steps spread across the run."""
    times = []
    for i in range(repeats):
        step = (i * 37) % TAB_STEPS
        url = f"{base}/data/plugin/filterviz/grid?run=filters&tag=filters%2Fconv1&step={step}"
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def wait_for_steps(server, count: int) -> None:
    server.wait_for(
        "/data/plugin/filterviz/runs", lambda runs: runs["layers"] and runs["layers"][0]["steps"] == count
    )


def main() -> None:
    steps = logged_steps(max(COUNTS))
    with s3_server() as s3, tempfile.TemporaryDirectory() as scratch:
        host, port = s3.endpoint.removeprefix("http://").split(":")
        proxy = Proxy((host, int(port)))
        os.environ.update(s3.environment(proxy.endpoint))
        os.environ["S3_ENDPOINT"] = proxy.endpoint  # TensorBoard's own S3 client reads this one
        bucket = s3.make_bucket("filterviz-bench")
        print(f"Writing logged steps of ResNet-50's conv1 {SHAPE} (grid, health, kernel stored)\n")
        print(
            f"{'steps':>6} {'writer':22} {'ms/step':>8} {'until stored':>13} {'sent/event bytes':>17} "
            f"{'requests/step':>14} {'objects':>8}"
        )
        for count in COUNTS:
            chosen = steps[:count]
            local, event_bytes = local_row(chosen, Path(scratch) / f"local-{count}")
            again, _ = local_row(chosen, Path(scratch) / f"again-{count}")
            print(f"{count:6} {'local folder':22} {local:8.2f} {'':>13} {1:17.3f}")
            print(f"{count:6} {'local folder (again)':22} {again:8.2f} {'':>13} {1:17.3f}")
            ours = filterviz_row(chosen, f"s3://{bucket}/fv-{count}", proxy)
            paced = filterviz_row(chosen, f"s3://{bucket}/paced-{count}", proxy, PACE)
            for name, row in (("s3, filterviz", ours), (f"  ... a step per {PACE * 1e3:.0f} ms", paced)):
                print(
                    f"{count:6} {name:22} {row['write']:8.2f} {row['stored']:10.2f} ms "
                    f"{row['sent'] / event_bytes:17.3f} {row['requests'] / count:14.2f} {row['objects']:8}"
                )
            if count in TENSORBOARD_COUNTS:
                theirs = tensorboard_row(chosen, f"s3://{bucket}/tb-{count}", proxy)
                print(
                    f"{count:6} {'s3, TensorBoard writer':22} {'':8} {theirs['stored']:10.2f} ms "
                    f"{theirs['sent'] / event_bytes:17.3f} {theirs['requests'] / count:14.2f}"
                )
            print(f"{'':6} (event bytes per step: {event_bytes / count / 1e3:.1f} kB)")

        print(f"\nThe Filters tab's /grid on a run of {TAB_STEPS} steps (median of 60 requests, interleaved)")
        chosen = steps[:TAB_STEPS]
        local_dir = Path(scratch) / "tab"
        local_row(chosen, local_dir / "filters")
        filterviz_row(chosen, f"s3://{bucket}/tab", proxy)
        with (
            tensorboard(local_dir) as local_server,
            tensorboard(f"s3://{bucket}/tab", filterviz_tensorboard=True) as remote_server,
        ):
            wait_for_steps(local_server, TAB_STEPS)
            wait_for_steps(remote_server, TAB_STEPS)
            rows = {"local": [], "s3": [], "local (again)": []}
            for _ in range(3):
                rows["local"].append(grid_ms(local_server.base))
                rows["s3"].append(grid_ms(remote_server.base))
                rows["local (again)"].append(grid_ms(local_server.base))
        base = statistics.median(rows["local"])
        for name, values in rows.items():
            value = statistics.median(values)
            print(f"  {name:14} {value:7.2f} ms   {value / base:5.2f}x")

        print("\nClosing the writer (the end of fit()) when the store has died, 20 steps waiting")
        writer = ObjectWriter(open_store(f"s3://{bucket}/dead"), "filters")
        proxy.cut()
        for step in steps[:20]:
            writer.write(step)
        started = time.perf_counter()
        writer.close()
        print(f"  close() returned after {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
