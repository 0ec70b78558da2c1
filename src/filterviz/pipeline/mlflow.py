"""Logged steps -> an MLflow run.

Each logged grid becomes one of MLflow's step images, the artifacts `mlflow.log_image(image, key=...,
step=...)` writes and the run page's image panel shows on a step slider: under `images/`, the full image
`<key>+step+<step>+timestamp+<ms>+<uuid>.png` and beside it the preview the panel draws,
`...+compressed.webp`, with the run tag `mlflow.loggedImages`. The key is the tag, `filters/<layer>` (and
`filters/<layer>/delta`): a layer's part of a tag is a `safe_name`, so every character of it is one that
MLflow's keys allow. The full image is the PNG already encoded for TensorBoard, byte for byte: no second
encoding, no re-conversion. The preview is the grid enlarged by a whole factor with nearest
neighbour (or, for a grid larger than MLflow's 256 pixels, reduced by averaging), lossless: no pixel of it
is smoothed into a colour the filter does not have. The health values are metrics `filters/<layer>/<name>`
at the same step. Nothing of other callbacks (`mlflow.keras.MlflowCallback`, autolog) is touched: their
metrics have keys of their own, and this writer talks to the run through its own `MlflowClient`.

The network is used from a thread of this writer's own, `filterviz-mlflow`, never from FilterLogger's
writer thread, and in batches: the steps waiting when it is free go in one `log_artifacts` call and one
`log_batch` of their metrics (at every step of a fast training, the sender keeps up). MLflow's client
retries a request to an unreachable server for about four minutes (MLFLOW_HTTP_REQUEST_MAX_RETRIES and
_BACKOFF_FACTOR); before each batch the sender asks the server's /health with a PROBE_SECONDS timeout
instead, so that a server that is gone is told in one warning, at once, and nothing more is sent in that
training; what was sent before stays in the run. At the end of training `close()` waits while the server
answers (at most CLOSE_WAIT), and not at all once it does not: the retries of a request that was on its
way when the server died go on in the background, without the warnings urllib3 would print for them.
"""

from __future__ import annotations

import itertools
import logging
import queue
import shutil
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from filterviz.core.step import LoggedStep

EXTRA = "pip install 'filterviz[mlflow]'"
PREVIEW_SIDE = 256  # pixels: MLflow's compressed image size (mlflow.tracking.multimedia)
PENDING = 256  # steps waiting for the server, at most; more are not sent, and counted
CLOSE_WAIT = 60.0  # seconds close() waits for a server that answers to take the steps still waiting
PROBE_SECONDS = 2.0  # how long the server's /health may take to answer before it counts as gone
BATCH_STEPS = 64  # steps sent together, at most (MLflow's log_batch takes 1,000 metrics)
_senders = itertools.count()
LOGGED_IMAGES_TAG = "mlflow.loggedImages"  # MLflow's run tag: the run has step images


def import_mlflow(owner: str = "FilterLogger"):
    try:
        import mlflow
    except ImportError:
        raise ImportError(f"{owner}(mlflow=...) needs MLflow: {EXTRA}") from None
    return mlflow


def check_run_argument(run: Any, owner: str = "FilterLogger") -> None:
    """The `mlflow=` argument of a front end, checked when it is made: True, a run id or a run."""
    if run is True or (isinstance(run, str) and run.strip()):
        return
    if isinstance(getattr(getattr(run, "info", None), "run_id", None), str):
        return
    raise TypeError(
        f"{owner}(mlflow=...) takes True (the active run when training starts), a run id, or a run "
        f"(what mlflow.start_run() or MlflowClient.get_run() returns); got {run!r}."
    )


def run_id_of(run: Any, owner: str = "FilterLogger") -> str:
    """The id of the run `run` names; True: the active run. RuntimeError when there is none."""
    mlflow = import_mlflow(owner)
    if run is True:
        active = mlflow.active_run()
        if active is None:
            raise RuntimeError(
                f"{owner}(mlflow=True) found no active MLflow run: call mlflow.start_run() before "
                "training starts (or train inside `with mlflow.start_run():`), or pass a run or run id as "
                f"{owner}(mlflow=run)."
            )
        return active.info.run_id
    return run if isinstance(run, str) else run.info.run_id


def open_run(
    run: Any,
    notice: Callable[[str], None],
    tracking_uri: str | None = None,
    owner: str = "FilterLogger",
) -> MlflowWriter:
    """A writer to the run `run` names, at `tracking_uri` (None: the tracking URI set now); the run must
    exist and be active. `notice` tells the user of a failure on the sending thread."""
    mlflow = import_mlflow(owner)
    run_id = run_id_of(run, owner)
    uri = tracking_uri or mlflow.get_tracking_uri()
    client = mlflow.MlflowClient(uri)
    try:
        status = client.get_run(run_id).info.status
    except mlflow.exceptions.MlflowException as error:
        raise RuntimeError(
            f"{owner}(mlflow=...) cannot use MLflow run {run_id!r} at {uri}: "
            f"{error}. Start a run with mlflow.start_run() and pass it, or its id."
        ) from None
    if status != "RUNNING":
        raise RuntimeError(
            f"MLflow run {run_id!r} is {status}, not running: start a new run with mlflow.start_run() "
            "before training starts, or resume this one with mlflow.start_run(run_id=...)."
        )
    return MlflowWriter(client, run_id, uri, notice)


def probe(uri: str, timeout: float = PROBE_SECONDS) -> str:
    """ "" when the tracking server at `uri` answers its /health within `timeout` seconds, else why not. A
    store that is no server (a SQLite file, a folder) always answers."""
    if not uri.startswith(("http://", "https://")):
        return ""
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            response.read(64)
    except OSError as error:  # refused, timed out, no such host, an HTTP error
        return f"{type(error).__name__}: {str(error)[:200]}"
    return ""


def image_file_name(key: str, step: int, timestamp_ms: int) -> str:
    """The name MLflow's image panel reads a step image's key, step and time from (as log_image names it;
    `/` in a key becomes `~`)."""
    return f"{key.replace('/', '~')}+step+{step}+timestamp+{timestamp_ms}+{uuid.uuid4()}"


def preview(grid: np.ndarray, side: int = PREVIEW_SIDE) -> bytes:
    """The grid as the panel's lossless WebP preview, its longer side at most `side`: enlarged by a whole
    factor (nearest neighbour), or, when already larger, reduced by averaging whole pixels."""
    from PIL import Image

    picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    longer = max(picture.size)
    if longer <= side:
        factor = side // longer
        picture = picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)
    else:
        size = (max(1, picture.width * side // longer), max(1, picture.height * side // longer))
        picture = picture.resize(size, Image.Resampling.BOX)
    out = BytesIO()
    # method=0, quality=0: the fastest lossless effort, 15 times the default's speed for the same pixels
    picture.save(out, format="WEBP", lossless=True, method=0, quality=0)
    return out.getvalue()


class MlflowWriter:
    """Logs the grids and health values of layers to one MLflow run, from a sending thread of its own.

    Args:
        client: an `mlflow.MlflowClient` for the run's tracking server.
        run_id: the run.
        uri: the tracking URI, for messages.
        notice: called with a message for the user (from either thread) when steps are not sent.
    """

    def __init__(self, client: Any, run_id: str, uri: str, notice: Callable[[str], None]) -> None:
        self.client = client
        self.run_id = run_id
        self.uri = uri
        self.notice = notice
        self.sent = 0  # steps the server took
        self.unsent = 0  # steps not sent: the server failed, or did not keep up
        self._failed = False
        self._gave_up = False  # close() stopped waiting: the sender's last request is on its own
        self._tagged = False
        self._queue: queue.Queue[tuple[list[tuple[str, bytes, bytes]], list[Any], int, int] | None] = (
            queue.Queue()
        )
        self._folder = Path(tempfile.mkdtemp(prefix="filterviz-mlflow-"))  # files on their way into the run
        name = f"filterviz-mlflow-{next(_senders)}"
        self._quiet = _QuietAfterGivingUp(name, self)
        logging.getLogger("urllib3.connectionpool").addFilter(self._quiet)
        self._thread = threading.Thread(target=self._send_all, name=name, daemon=True)
        self._thread.start()

    @property
    def destination(self) -> str:
        return f"MLflow run {self.run_id} at {self.uri}"

    def write(self, logged: LoggedStep) -> None:
        """Make what goes to the run (on the writer thread: the preview costs CPU, not network) and leave it
        for the sending thread."""
        if self._failed or self._queue.qsize() >= PENDING:
            self.unsent += 1
            return
        from mlflow.entities import Metric

        millis = int(time.time() * 1000)
        images = []
        if logged.image is not None:
            images.append((logged.tag, logged.png, preview(logged.image)))
        if logged.delta is not None:
            images.append((f"{logged.tag}/delta", logged.delta_png, preview(logged.delta)))
        metrics = [
            Metric(f"{logged.tag}/{name}", float(value), millis, logged.step)
            for name, value in logged.scalars.items()
        ]
        self._queue.put((images, metrics, logged.step, millis))

    def close(self) -> None:
        """Wait while the server takes the steps still waiting (at most CLOSE_WAIT), not at all once it does
        not answer; the run stays open (it is the user's)."""
        self._queue.put(None)
        deadline = time.monotonic() + CLOSE_WAIT
        while self._thread.is_alive():
            self._thread.join(0.25)
            if not self._thread.is_alive():
                break
            why = probe(self.uri)
            if why or time.monotonic() > deadline:
                self._give_up(
                    f"the tracking server is unreachable ({why})"
                    if why
                    else f"it did not take the last grids within {CLOSE_WAIT:.0f} s"
                )
                break
        if not self._gave_up and self.unsent and not self._failed:
            self.notice(
                f"FilterLogger: {self.destination} did not keep up: {self.unsent} logged steps were not "
                f"sent to it (every one is in the TensorBoard log, if log_dir was given)."
            )
        if not self._thread.is_alive():
            shutil.rmtree(self._folder, ignore_errors=True)

    def _give_up(self, why: str) -> None:
        """Stop waiting for the sender (close() does, once the server does not answer)."""
        self._gave_up = True
        self._stop(why)

    def _stop(self, why: str) -> None:
        """Send nothing more in this training, and say so once, with what is in the run."""
        if self._failed:
            return
        self._failed = True
        self.notice(
            f"FilterLogger: {self.destination}: {why}. Nothing more is sent to it in this training; the "
            f"{self.sent} steps sent before are in the run."
        )

    def _send_all(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                batch = [item]
                while len(batch) < BATCH_STEPS:  # whatever else waits goes too
                    try:
                        following = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if following is None:
                        self._queue.put(None)  # the end, after this batch
                        break
                    batch.append(following)
                if self._failed:
                    self.unsent += len(batch)
                    continue
                why = probe(self.uri)
                if why:
                    self.unsent += len(batch)
                    self._stop(f"the tracking server is unreachable ({why})")
                    continue
                try:
                    self._send(batch)
                    self.sent += len(batch)
                except Exception as error:  # the server or the network: told once, the training goes on
                    self.unsent += len(batch)
                    self._stop(f"sending failed ({type(error).__name__}: {str(error)[:300]})")
        finally:
            logging.getLogger("urllib3.connectionpool").removeFilter(self._quiet)
            if self._gave_up:
                shutil.rmtree(self._folder, ignore_errors=True)

    def _send(self, batch: list[tuple[list[tuple[str, bytes, bytes]], list[Any], int, int]]) -> None:
        """Steps into the run: their images in one `log_artifacts`, their metrics in one `log_batch`, each
        under the time it was logged at."""
        folder = self._folder / "images"
        folder.mkdir(exist_ok=True)
        metrics = []
        try:
            for images, step_metrics, step, millis in batch:
                metrics += step_metrics
                for key, png, webp in images:
                    name = image_file_name(key, step, millis)
                    (folder / f"{name}.png").write_bytes(png)
                    (folder / f"{name}+compressed.webp").write_bytes(webp)
            if any(images for images, *_ in batch):
                self.client.log_artifacts(self.run_id, str(folder), artifact_path="images")
                if not self._tagged:
                    self.client.set_tag(self.run_id, LOGGED_IMAGES_TAG, "True")  # as log_image sets it
                    self._tagged = True
            for start in range(0, len(metrics), 1000):  # MLflow takes at most 1,000 metrics a call
                self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000])
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class _QuietAfterGivingUp(logging.Filter):
    """Drops urllib3's retry warnings from one sender thread once its writer gave up on the server: they
    would go on for minutes after training ended, about a request nobody waits for."""

    def __init__(self, thread_name: str, writer: MlflowWriter) -> None:
        super().__init__()
        self.thread_name, self.writer = thread_name, writer

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.writer._gave_up and record.threadName == self.thread_name)
