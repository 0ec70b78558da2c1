"""A corpus of hostile event files, made here, beside a healthy run: each kind of file that once took the
Filters tab down for every run, as its own run folder `<kind>/filters`.

Every file starts as FilterLogger writes it (LayerLog and the TensorBoard writer's own event building) and
is then broken in one way: records that are no events, tags that are not UTF-8, descriptions that are not
JSON objects, nested 100,000 deep, hold NaN or claim a huge kernel or grid, lengths no disk holds, a PNG of
81 megapixels, a wrong checksum, a record cut short; a grid whose PNG header is right and the rest garbage,
or cut in half; a valid description of a 1,800,000-filter kernel in a few kB; a sparse file whose record
claims a gigabyte of holes.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from tensorboard.compat.proto import event_pb2

from filterviz import RenderOptions
from filterviz.core.renderer import Renderer
from filterviz.eventfile.format import PLUGIN_NAME
from filterviz.eventfile.records import masked_crc, tf_record
from filterviz.eventfile.writer import step_event
from filterviz.pipeline.steps import LayerLog

SHAPE = (5, 5, 3, 8)
TAG = "filters/conv"
STEPS = 4


def logged_steps(seed: int = 0, steps: int = STEPS):
    """The LoggedSteps FilterLogger would write for a random walk of a 5x5x3x8 kernel, and the kernels."""
    rng = np.random.default_rng(seed)
    log = LayerLog(Renderer(SHAPE, RenderOptions()), TAG, "epoch", path="conv", store_kernel=True)
    kernel = rng.standard_normal(SHAPE).astype(np.float32)
    out, kernels = [], []
    for step in range(steps):
        before = kernel
        kernel = (kernel + 0.05 * rng.standard_normal(SHAPE)).astype(np.float32)
        out.append(log.logged(step, kernel, before if step else None)[0])
        kernels.append(kernel)
    return out, kernels


def events(edit: Callable[[event_pb2.Event], None] | None = None, seed: int = 0) -> list[bytes]:
    """The serialized events of a healthy run, each edited by `edit` first."""
    described: set[str] = set()
    out = []
    for step in logged_steps(seed)[0]:
        event = step_event(step, described)
        if edit is not None:
            edit(event)
        out.append(event.SerializeToString())
    return out


def header() -> bytes:
    return tf_record(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())


def write_run(root: Path, name: str, body: bytes) -> Path:
    folder = root / name / "filters"
    folder.mkdir(parents=True)
    path = folder / "events.out.tfevents.1700000000.host.1.000000"
    path.write_bytes(header() + body)
    return path


def described(content: bytes):
    """An edit that puts `content` in place of every layer description."""

    def edit(event: event_pb2.Event) -> None:
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == PLUGIN_NAME:
                value.metadata.plugin_data.content = content

    return edit


def description_with(change: Callable[[dict], None]):
    """An edit that changes the layer description's JSON with `change` (NaN allowed)."""

    def edit(event: event_pb2.Event) -> None:
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == PLUGIN_NAME:
                info = json.loads(value.metadata.plugin_data.content)
                change(info)
                value.metadata.plugin_data.content = json.dumps(info).encode()

    return edit


def bomb_png() -> bytes:
    """A PNG of 9000 x 9000 pixels (81 Mpx) that compresses to a few kB."""
    buffer = io.BytesIO()
    Image.new("L", (9000, 9000)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def with_bomb(event: event_pb2.Event) -> None:
    for value in event.summary.value:
        if value.tag == TAG:
            value.tensor.string_val[2] = bomb_png()


def raw_record(data: bytes) -> bytes:
    return tf_record(data)


def bad_utf8_event() -> bytes:
    """An event whose one summary value has a tag that is not UTF-8 (protobuf refuses to parse it)."""
    value = b"\x0a\x02\xff\xfe"  # field 1 (tag), 2 bytes
    summary = b"\x0a" + bytes([len(value)]) + value  # field 1 (value)
    return event_pb2.Event(step=1).SerializeToString() + b"\x2a" + bytes([len(summary)]) + summary


def length_header(length: int) -> bytes:
    """A record header whose length checksum is right, for a length no file holds."""
    packed = struct.pack("<Q", length)
    return packed + struct.pack("<I", masked_crc(packed))


def with_png_at(step: int, spoil: Callable[[bytes], bytes]):
    """An edit that spoils the grid's PNG of `step` (its header, and so its size, left right)."""
    steps = iter(range(STEPS))

    def edit(event: event_pb2.Event) -> None:
        if next(steps) == step:
            for value in event.summary.value:
                if value.tag == TAG:
                    value.tensor.string_val[2] = spoil(value.tensor.string_val[2])

    return edit


def huge_layer(info: dict) -> None:
    """A valid description of a 3x3x3x1,800,000 kernel: its plan is the one the renderer makes for it."""
    from filterviz.eventfile.format import plan_of

    info["kernel_shape"] = [3, 3, 3, 1_800_000]
    info["plan"] = plan_of(Renderer(tuple(info["kernel_shape"]), RenderOptions(), quiet=True).plan)


def corpus(root: Path) -> dict[str, str]:
    """Write the healthy run `healthy/filters` and one run per hostile kind under `root`. Returns kind ->
    what the tab must do with it: "file" (a problem in the run's files; the steps before it are shown),
    "layer" (the layer is listed as one that cannot be shown), "grid" (the grids that cannot be shown
    answer 422), "partial" (the whole records are shown), "grid 1" (the grid of step 1 answers 422, the
    strip keeps the other steps), "tilemap" (too large a kernel to re-draw: 422, nothing allocated for it)."""
    good = events()
    records = [tf_record(data) for data in good]
    nested = ("[" * 100_000 + "]" * 100_000).encode()
    kinds: dict[str, tuple[bytes, str]] = {
        "healthy": (b"".join(records), "healthy"),
        "undecodable": (records[0] + raw_record(b"\x0a\xff\xff\xff\xff\x0f") + records[1], "file"),
        "zz-undecodable": (records[0] + raw_record(b"\x2a\x05\x0a\x03\x0a\x01"), "file"),
        "bad-utf8-tag": (records[0] + raw_record(bad_utf8_event()), "file"),
        "huge-length": (records[0] + length_header(1 << 40) + b"\0" * 64, "partial"),
        "overflow-length": (records[0] + length_header((1 << 63) + 5) + b"\0" * 64, "partial"),
        "bad-checksum": (records[0] + records[1][:-1] + bytes([records[1][-1] ^ 0xFF]) + records[2], "file"),
        "torn": (records[0] + records[1] + records[2][: len(records[2]) // 2], "partial"),
        "deep-json": (b"".join(tf_record(data) for data in events(described(nested))), "layer"),
        "metadata-list": (b"".join(tf_record(d) for d in events(described(b"[1, 2]"))), "layer"),
        "metadata-string": (b"".join(tf_record(d) for d in events(described(b'"conv"'))), "layer"),
        "metadata-null": (b"".join(tf_record(d) for d in events(described(b"null"))), "layer"),
        "metadata-number": (b"".join(tf_record(d) for d in events(described(b"3"))), "layer"),
        "metadata-nan": (
            b"".join(
                tf_record(d) for d in events(description_with(lambda i: i["plan"].update(scale=float("nan"))))
            ),
            "layer",
        ),
        "huge-kernel": (
            b"".join(
                tf_record(d)
                for d in events(description_with(lambda i: i.update(kernel_shape=[100000, 100000, 3, 64])))
            ),
            "layer",
        ),
        "huge-plan": (
            b"".join(
                tf_record(d)
                for d in events(description_with(lambda i: i["plan"].update(rows=100000, cols=100000)))
            ),
            "layer",
        ),
        "newer-version": (
            b"".join(tf_record(d) for d in events(description_with(lambda i: i.update(version=99)))),
            "layer",
        ),
        "png-bomb": (b"".join(tf_record(d) for d in events(with_bomb)), "grid"),
        "png-garbage": (
            b"".join(
                tf_record(d) for d in events(with_png_at(1, lambda png: png[:33] + bytes(len(png) - 33)))
            ),
            "grid 1",
        ),
        "png-half": (
            b"".join(tf_record(d) for d in events(with_png_at(1, lambda png: png[: len(png) // 2]))),
            "grid 1",
        ),
        "huge-tilemap": (b"".join(tf_record(d) for d in events(description_with(huge_layer))), "tilemap"),
        "sparse-claim": (records[0] + length_header(1 << 30), "file"),
    }
    for name, (body, _) in kinds.items():
        path = write_run(root, name, body)
        if name == "sparse-claim":  # the claimed gigabyte, a hole on disk: the file takes a few kB
            with open(path, "r+b") as file:
                file.truncate(path.stat().st_size + (1 << 30) + 4)
    return {name: expected for name, (_, expected) in kinds.items()}
