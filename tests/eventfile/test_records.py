"""Reading event files in bounded pieces: what a record costs to read is bounded by figures of filterviz's
own, never by a length the file states; large values are located without being held."""

import struct
import tracemalloc

import numpy as np
import pytest

from filterviz import RenderOptions
from filterviz.core.renderer import Renderer
from filterviz.eventfile.index import LogIndex, read_array, read_png
from filterviz.eventfile.records import CHUNK, RECORD_LIMIT, masked_crc, tf_record
from filterviz.eventfile.writer import TensorBoardWriter, header_record
from filterviz.pipeline.steps import LayerLog


def sparse_claim(path, claimed: int) -> None:
    """A valid first record, then a header claiming `claimed` bytes with a right checksum, the rest of the
    file a hole: on disk it is a few kB."""
    header = struct.pack("<Q", claimed)
    with open(path, "wb") as file:
        file.write(header_record())
        position = file.tell()
        file.write(header + struct.pack("<I", masked_crc(header)))
    with open(path, "r+b") as file:
        file.truncate(position + 12 + claimed + 4)


def peak_while(function) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("claimed", [1 << 28, (1 << 30) - 16])
def test_a_sparse_file_claiming_a_huge_record_is_read_a_chunk_at_a_time(tmp_path, claimed):
    run = tmp_path / "run"
    run.mkdir()
    sparse_claim(run / "events.out.tfevents.1", claimed)
    index = LogIndex(tmp_path)
    peak = peak_while(index.update)
    assert peak < 4 * CHUNK, f"{peak:,} bytes to read a record of {claimed:,}"
    (problem,) = index.problems()["run"]
    assert "corrupt record" in problem.reason and problem.where == "run/events.out.tfevents.1"


def test_a_record_longer_than_any_filterlogger_writes_is_refused_unread(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    sparse_claim(run / "events.out.tfevents.1", RECORD_LIMIT + 1)
    index = LogIndex(tmp_path)
    peak = peak_while(index.update)
    assert peak < CHUNK
    (problem,) = index.problems()["run"]
    assert "more than any FilterLogger writes" in problem.reason and problem.offset > 0


def test_values_larger_than_a_chunk_are_located_not_held(tmp_path):
    """A 1,024-unit Dense layer on 32x32x3 inputs with its 12 MB kernel stored: a 3 MB grid and the kernel
    are skipped while the record is read, and read back exactly when asked for."""
    shape = (3072, 1024)
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal(shape).astype(np.float32)
    log = LayerLog(
        Renderer(shape, RenderOptions(tile_shape=(32, 32, 3))),
        "filters/d",
        "batch",
        path="d",
        store_kernel=True,
    )
    logged, _ = log.logged(5, kernel)
    assert len(logged.png) > CHUNK
    TensorBoardWriter(tmp_path / "filters").write(logged)
    index = LogIndex(tmp_path)
    peak = peak_while(index.update)
    assert peak < 4 * CHUNK + len(logged.png) // 8, f"{peak:,} bytes to index a {kernel.nbytes:,}-byte kernel"
    (view,) = index.with_grids()
    assert view.grid_sizes[5] == logged.image.shape[:2]
    assert read_png(view.locations["grid"][5], view.tag) == logged.png
    np.testing.assert_array_equal(
        read_array(view.locations["kernel"][5], "filterviz/d/kernel", shape), kernel
    )
    assert view.description is not None and view.scalars["drift"] == ((5, 0.0),)


def test_bytes_that_are_no_event_inside_a_right_checksum_are_a_corrupt_record(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.out.tfevents.1").write_bytes(header_record() + tf_record(b"\x0f" * 64))  # wire type 7
    index = LogIndex(tmp_path)
    index.update()
    (problem,) = index.problems()["run"]
    assert problem.reason.startswith("not an event")
