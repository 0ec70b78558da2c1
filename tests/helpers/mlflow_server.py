"""A real MLflow tracking server for the tests, on 127.0.0.1, and what a run holds, read back with
MlflowClient as a user (or the run page) reads it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from filterviz.core.png import decode_png

STARTUP_TIMEOUT = 120.0
IMAGE_NAME = re.compile(
    r"^(?P<key>.+)\+step\+(?P<step>\d+)\+timestamp\+\d+\+[0-9a-f-]{36}(?P<preview>\+compressed)?\.(png|webp)$"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MlflowServer:
    """`mlflow server` with a SQLite backend store and a local artifact folder, under `folder`. It can be
    stopped and started again on the same store (a server that dies mid-training, then comes back)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> MlflowServer:
        command = [
            str(Path(sys.executable).with_name("mlflow")),
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(self.folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        self._log = open(self.folder / "server.log", "ab")  # noqa: SIM115 (closed in stop)
        # A session of its own, so that stop() kills uvicorn's workers with it.
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{self.log()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/health", timeout=5) as answer,
            ):
                if answer.status == 200:
                    return self
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"mlflow server did not start in {STARTUP_TIMEOUT:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        """Kill it, as a crashed or unreachable server."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self._log.close()

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def step_images(client, run_id: str) -> dict[str, list[tuple[int, np.ndarray, np.ndarray]]]:
    """key -> [(step, full image, preview)] of every step image in the run, by step, downloaded and
    decoded; the names parsed as MLflow's image panel parses them."""
    found: dict[str, dict[int, dict[str, np.ndarray]]] = defaultdict(lambda: defaultdict(dict))
    names = [artifact.path for artifact in client.list_artifacts(run_id, "images")]
    folder = Path(client.download_artifacts(run_id, "images"))
    for path in names:
        name = path.removeprefix("images/")
        match = IMAGE_NAME.match(name)
        assert match, f"{name} is not named as MLflow names step images"
        part = "preview" if match["preview"] else "full"
        image = (
            np.asarray(Image.open(folder / name))
            if part == "preview"
            else decode_png((folder / name).read_bytes())
        )
        step = found[match["key"].replace("~", "/")][int(match["step"])]
        assert part not in step, f"two images of step {match['step']}"
        step[part] = image
    return {
        key: [(step, parts["full"], parts["preview"]) for step, parts in sorted(steps.items())]
        for key, steps in found.items()
    }


def metric(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]
