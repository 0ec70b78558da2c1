"""Reading an offline W&B run back from disk: its history rows (from run-<id>.wandb) and its media.

The .wandb file is a LevelDB-style log: a 7-byte header (":W&B", magic 0xBEE1, version), then 32 KiB blocks
of chunks, each with a 7-byte header (checksum, length, type: full, first, middle or last). Every record
is a wandb_internal_pb2.Record. wandb 0.31 ships no Python reader for it any more.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path):
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    ident, magic, _version = struct.unpack("<4sHB", data[:HEADER])
    assert ident == b":W&B" and magic == 0xBEE1, "not a .wandb file"
    position, pending = HEADER, b""
    while position + HEADER <= len(data):
        left = BLOCK - position % BLOCK
        if left < HEADER:  # the rest of a block too small for a chunk header is padding
            position += left
            continue
        _checksum, length, kind = struct.unpack("<IHB", data[position : position + HEADER])
        if kind == 0:  # zero padding to the end of the block
            position += left
            continue
        chunk = data[position + HEADER : position + HEADER + length]
        position += HEADER + length
        if kind in (FULL, FIRST):
            pending = chunk
        else:
            pending += chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def complete_records(run_dir: Path, timeout: float = 30.0) -> list:
    """The run's records once its file ends with the exit record: wandb-core, a separate process, may
    still be writing when run.finish() returns."""
    (wandb_file,) = Path(run_dir).glob("run-*.wandb")
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = list(records(wandb_file))
        except Exception:  # a record still being written does not parse yet
            found = []
        if found and found[-1].WhichOneof("record_type") == "exit":
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{wandb_file} never got its exit record ({len(found)} records)")
        time.sleep(0.2)


def history(run_dir: Path) -> list[dict]:
    """Every logged row, in order, as {key: value}; nested keys are joined with '/'."""
    rows = []
    for record in complete_records(run_dir):
        if record.WhichOneof("record_type") == "history":
            row = {}
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                row[key] = json.loads(item.value_json)
            rows.append(row)
    return rows


def metric_definitions(run_dir: Path) -> dict[str, str]:
    """{metric name or glob: its step_metric}, from define_metric calls."""
    out = {}
    for record in complete_records(run_dir):
        if record.WhichOneof("record_type") == "metric":
            out[record.metric.name or record.metric.glob_name] = record.metric.step_metric
    return out


def offline_run_dir(root: Path) -> Path:
    (run_dir,) = (Path(root) / "wandb").glob("offline-run-*")
    return run_dir


def start_run(root: Path):
    """An offline run writing under `root`; the test skips if wandb's helper process cannot start here."""
    import pytest
    import wandb

    try:
        return wandb.init(project="filterviz-tests", dir=root, mode="offline", reinit="finish_previous")
    except Exception as error:  # wandb-core, its helper binary, could not start on this machine
        pytest.skip(
            f"W&B's helper process could not start here, so no W&B run: {type(error).__name__}: {error}"
        )


def logged(run_dir: Path, tag: str = "filters/dense"):
    """[(x-axis value, image, caption)] of every row holding `tag`, every row, and the x-axis key."""
    from filterviz.core.png import decode_png

    rows = history(run_dir)
    mine = [row for row in rows if f"{tag}/path" in row]
    axis = next(key for key in mine[0] if key.startswith("filterviz/"))
    images = [decode_png((run_dir / "files" / row[f"{tag}/path"]).read_bytes()) for row in mine]
    return (
        [(row[axis], image, row[f"{tag}/caption"]) for row, image in zip(mine, images, strict=True)],
        rows,
        axis,
    )
