"""A real S3 API server for the object-storage tests and benchmarks: moto's server mode on 127.0.0.1, and a
TCP proxy in front of it that counts what clients send and can be cut off and restored (a store that goes
away mid-training and comes back, while the server keeps what it was sent).

Clients find the server through the environment, as users point them at an S3-compatible store:
`AWS_ENDPOINT_URL`, which boto3 and s3fs (through aiobotocore) read whenever a client is made, with dummy
credentials. (fsspec reads its own FSSPEC_S3_ENDPOINT_URL once, when it is imported: too early for tests
that start a server of their own.)
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

STARTUP_TIMEOUT = 60.0


@dataclass
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    process: subprocess.Popen

    def environment(self, endpoint: str | None = None) -> dict[str, str]:
        """What points boto3 and s3fs at this server (or at `endpoint`, a proxy in front of it)."""
        endpoint = endpoint or self.endpoint
        return {
            "AWS_ACCESS_KEY_ID": "filterviz-test",
            "AWS_SECRET_ACCESS_KEY": "filterviz-test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",  # no instance metadata lookups: there is no cloud here
        }

    def client(self):
        import boto3

        env = self.environment()
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix`, by key, with its bytes."""
        client = self.client()
        keys = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in sorted(keys)}

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@contextlib.contextmanager
def s3_server():
    """`python -m moto.server -H 127.0.0.1 -p 0`, for the with-block; the port is read from what it prints."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield S3Server(_address(process, log), process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def _address(process: subprocess.Popen, log) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        log.seek(0)
        text = log.read().decode(errors="replace")
        found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", text)
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"moto's server exited with code {process.returncode}:\n{text[-3000:]}")
        time.sleep(0.1)
    raise TimeoutError(f"moto's server did not start listening within {STARTUP_TIMEOUT} s")


@dataclass
class Proxy:
    """A TCP proxy on 127.0.0.1 in front of `target` (host, port). It counts the bytes clients send and
    keeps the first line of each HTTP request they send (`PUT /bucket/key HTTP/1.1`); `cut()` closes every
    connection and refuses new ones, as a server that died; `restore()` listens again on the same port."""

    target: tuple[str, int]
    sent: int = 0
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self.restore()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def reset_counts(self) -> None:
        with self._lock:
            self.sent, self.requests = 0, []

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        pending = b""  # the start of a request, until its first line is whole
        try:
            while data := source.recv(1 << 16):
                if upstream:
                    with self._lock:
                        self.sent += len(data)
                    pending = self._request_lines(pending, data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def _request_lines(self, pending: bytes, data: bytes) -> bytes:
        """Keep the first line of every request that ends in `data` (a method, a path, HTTP/1.1); `pending`
        is the end of what came before, searched already. Returns the new end."""
        text = pending + data
        for found in re.finditer(rb"(?:^|\r\n)((?:GET|PUT|POST|HEAD|DELETE) \S+ HTTP/1\.[01])\r\n", text):
            if found.end() > len(pending):
                with self._lock:
                    self.requests.append(found.group(1).decode())
        return text[-200:]
