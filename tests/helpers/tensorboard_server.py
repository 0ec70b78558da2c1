"""A real TensorBoard server for end-to-end tests, started on 127.0.0.1 and asked over HTTP.

The server binds port 0 itself (the system picks a free port) and the port is read from what it prints,
so no port is chosen, released and bound again later by someone else.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

STARTUP_TIMEOUT = 120.0  # seconds; TensorBoard imports TensorFlow when it can, which is slow


class TensorBoardServer:
    def __init__(self, base: str, log, process: subprocess.Popen | None = None):
        self.base = base
        self._log = log  # the server's stderr, for a helpful timeout message
        self.process = process

    def get(self, path: str, **query) -> bytes:
        url = f"{self.base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read()

    def json(self, path: str, **query):
        return json.loads(self.get(path, **query))

    def wait_for(self, path: str, ready, timeout: float = 90.0, **query):
        """Poll `path` until ready(answer) is true: TensorBoard loads event files in the background."""
        deadline = time.monotonic() + timeout
        answer = None
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                answer = self.json(path, **query)
                if ready(answer):
                    return answer
            time.sleep(0.5)
        raise TimeoutError(
            f"TensorBoard never answered {path} as expected; last answer: {answer}\n{self.log()}"
        )

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-3000:]


def tensorboard_command(filterviz_tensorboard: bool = False) -> list[str]:
    """This Python's TensorBoard, or the `tensorboard` program FILTERVIZ_TENSORBOARD names (CI tests the
    Filters tab with TensorBoard 2.16 from a second environment this way, which has no TensorFlow).

    `filterviz_tensorboard`: `filterviz tensorboard` instead, which reads s3:// log directories through
    fsspec as TensorBoard does without TensorFlow (where TensorFlow is installed, it refuses them).
    """
    other = os.environ.get("FILTERVIZ_TENSORBOARD")
    if other:
        return [other]
    if filterviz_tensorboard:
        return [sys.executable, "-m", "filterviz", "tensorboard"]
    return [sys.executable, "-m", "tensorboard.main"]


@contextlib.contextmanager
def tensorboard(logdir, *extra: str, filterviz_tensorboard: bool = False):
    """`tensorboard --logdir LOGDIR --host 127.0.0.1 --port 0`, as a user starts it, for the with-block."""
    command = [
        *tensorboard_command(filterviz_tensorboard),
        "--logdir",
        str(logdir),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--reload_interval",
        "1",
        *extra,
    ]
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    # Plain TensorBoard as users start it, without Keras' backend of the tests that start it: TensorFlow
    # imports Keras, and with the torch backend named, torch's CUDA build loaded after TensorFlow crashes
    # the process (README, "PyTorch"). `filterviz tensorboard` takes the environment as it is.
    plain = "tensorboard.main" in command
    environment = {k: v for k, v in os.environ.items() if not (plain and k == "KERAS_BACKEND")}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=environment)
    try:
        yield TensorBoardServer(_address(process, log), log, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _address(process: subprocess.Popen, log) -> str:
    """The http://127.0.0.1:PORT address TensorBoard prints once it listens."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        log.seek(0)
        text = log.read().decode(errors="replace")
        found = re.search(r"TensorBoard \S+ at (http://127\.0\.0\.1:\d+)/", text)
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"TensorBoard exited with code {process.returncode}:\n{text[-3000:]}")
        time.sleep(0.2)
    raise TimeoutError(f"TensorBoard did not start listening within {STARTUP_TIMEOUT} s")
