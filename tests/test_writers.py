"""Writers on their own: event files TensorBoard's readers accept, PNG round trips."""

import os
import struct

import numpy as np
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

from filterviz.writers import GridImage, safe_name
from filterviz.writers.png import decode_png, encode_png
from filterviz.writers.tensorboard import TensorBoardWriter, tf_record


def test_records_carry_the_masked_crc32c_tensorboard_computes():
    data = os.urandom(10_000)
    record = tf_record(data)
    length = struct.pack("<Q", len(data))
    assert record[:8] == length
    assert struct.unpack("<I", record[8:12])[0] == masked_crc32c(length)  # tensorboard's reference code
    assert record[12:-4] == data
    assert struct.unpack("<I", record[-4:])[0] == masked_crc32c(data)


def test_an_event_file_tensorboard_reads_back(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    writer = TensorBoardWriter(tmp_path / "run")
    writer.write(GridImage("filters/conv", 3, "epoch", image, "what it shows"))
    writer.write(GridImage("filters/conv", 4, "epoch", image[::-1].copy(), "what it shows"))
    writer.close()
    events = list(EventFileLoader(str(writer.path)).Load())
    assert events[0].file_version == "brain.Event:2"
    assert [e.step for e in events[1:]] == [3, 4]
    value = events[1].summary.value[0]
    assert value.tag == "filters/conv"
    assert value.metadata.plugin_data.plugin_name == "images"
    assert value.metadata.summary_description == "what it shows"
    width, height, png = value.tensor.string_val
    assert (width, height) == (b"7", b"5")
    np.testing.assert_array_equal(decode_png(png), image)


def test_png_round_trip_gray_and_rgb():
    rng = np.random.default_rng(1)
    for channels in (1, 3):
        image = rng.integers(0, 256, (9, 4, channels), dtype=np.uint8)
        np.testing.assert_array_equal(decode_png(encode_png(image)), image)


def test_safe_names_for_tags_keys_and_files():
    assert safe_name("conv 1") == "conv_1"
    assert safe_name("block/conv:0") == "block_conv_0"
    assert safe_name("dense.2-a") == "dense.2-a"
    assert safe_name("///") == "layer"


def test_png_files_get_the_usual_permissions(tmp_path):
    from filterviz.writers.png import write_png

    old = os.umask(0o022)
    try:
        path = write_png(np.zeros((2, 2, 3), np.uint8), tmp_path / "grid.png")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary file left behind
