"""A real TensorBoard server for end-to-end tests, started on 127.0.0.1 and asked over HTTP."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TensorBoardServer:
    def __init__(self, port: int, log):
        self.base = f"http://127.0.0.1:{port}"
        self._log = log  # the server's stderr, for a helpful timeout message

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
        self._log.seek(0)
        tail = self._log.read().decode(errors="replace")[-2000:]
        raise TimeoutError(f"TensorBoard never answered {path} as expected; last answer: {answer}\n{tail}")


@contextlib.contextmanager
def tensorboard(logdir, *extra: str):
    """`tensorboard --logdir LOGDIR --host 127.0.0.1 --port P`, as a user starts it, for the with-block."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(logdir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--reload_interval",
        "1",
        *extra,
    ]
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    try:
        yield TensorBoardServer(port, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
