"""Writers on their own: event files TensorBoard's readers accept, PNG round trips."""

import importlib.util
import os
import struct

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

import filterviz
from filterviz.core import png
from filterviz.core.grid import MARKER_COLOUR
from filterviz.core.png import decode_png, encode_png, encode_png_with_pillow
from filterviz.core.step import LoggedStep, safe_name
from filterviz.eventfile.writer import TensorBoardWriter, tf_record
from tests.helpers import run_python


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
    writer.write(LoggedStep("filters/conv", 3, "epoch", image, "what it shows"))
    writer.write(LoggedStep("filters/conv", 4, "epoch", image[::-1].copy(), "what it shows"))
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


def reference_grids():
    """Grids as filterviz draws them: name -> (grid, whether its tiles are in colour)."""
    rng = np.random.default_rng(1)
    conv = rng.standard_normal((5, 5, 3, 16)).astype(np.float32)
    dense = rng.standard_normal((64, 20)).astype(np.float32)
    with_nan = conv.copy()
    with_nan[2, 2, :, 3] = np.nan
    with pytest.warns(filterviz.FilterVizWarning):
        marked = filterviz.kernel_grid(with_nan)
    return {
        "gray": (filterviz.kernel_grid(dense, tile_shape=(8, 8, 1), padding=0, scale=1), False),
        "gray tiles, RGB grid": (filterviz.kernel_grid(dense, tile_shape=(8, 8, 1)), False),
        "RGB": (filterviz.kernel_grid(conv), True),
        "colour-mapped": (filterviz.kernel_grid(dense, tile_shape=(8, 8, 1), cmap="diverging"), True),
        "marker": (marked, True),
        "large (stored)": (
            filterviz.kernel_grid(rng.standard_normal((3072, 300)), tile_shape=(32, 32, 3)),
            True,
        ),
    }


GRIDS = reference_grids()


@pytest.mark.parametrize("encode", [encode_png, encode_png_with_pillow], ids=["fast", "Pillow"])
@pytest.mark.parametrize("name", list(GRIDS))
def test_both_encoders_write_pngs_that_decode_to_exactly_the_grid(encode, name):
    grid, colour = GRIDS[name]
    data = encode(grid, colour=colour)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    np.testing.assert_array_equal(decode_png(data), grid)  # Pillow's decoder
    if importlib.util.find_spec("imagecodecs"):  # and libpng's
        import imagecodecs

        decoded = imagecodecs.png_decode(data)
        np.testing.assert_array_equal(decoded.reshape(grid.shape), grid)


def test_the_marker_and_the_channel_count_survive_encoding():
    marked, _ = GRIDS["marker"]
    magenta = (decode_png(encode_png(marked)) == MARKER_COLOUR).all(axis=-1)
    assert magenta.sum() == 6 * 6  # one NaN pixel, upscaled 6 times
    assert decode_png(encode_png(GRIDS["gray"][0])).shape[-1] == 1  # a gray PNG, not RGB


@pytest.mark.skipif(not importlib.util.find_spec("imagecodecs"), reason="imagecodecs is not installed here")
def test_the_fast_encoder_is_used_and_compresses_small_grids_but_stores_large_ones():
    assert png.ENCODER == "imagecodecs"
    small, _ = GRIDS["RGB"]  # upscaled 5x5 filters: rows repeat
    assert small.nbytes <= png.SMALL_GRID_BYTES and len(encode_png(small)) < small.nbytes / 4
    large, _ = GRIDS["large (stored)"]
    assert large.nbytes > png.SMALL_GRID_BYTES and len(encode_png(large)) > large.nbytes  # stored: no deflate


FALLBACK_SCRIPT = """
import sys
sys.modules["imagecodecs"] = None  # `import imagecodecs` now fails, as where it has no wheel
import numpy as np, filterviz
from filterviz.core import png
from tests.helpers import run_python, tiny_data, tiny_model, logged_images
assert png.ENCODER == "Pillow", png.ENCODER
x, y = tiny_data(16)
model = tiny_model()
model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(sys.argv[1])])
(step, image), = logged_images(sys.argv[1] + "/filters", "filters/dense")[-1:]
assert step == 2 and np.array_equal(image, filterviz.render(model)), "the last grid differs"
print("Pillow wrote", len(logged_images(sys.argv[1] + "/filters", "filters/dense")), "grids")
"""


def test_without_the_fast_encoder_pillow_writes_the_same_pixels(tmp_path):
    result = run_python("-c", FALLBACK_SCRIPT, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Pillow wrote 3 grids" in result.stdout


def test_safe_names_for_tags_keys_and_files():
    assert safe_name("conv 1") == "conv_1"
    assert safe_name("block/conv:0") == "block_conv_0"
    assert safe_name("dense.2-a") == "dense.2-a"
    assert safe_name("///") == "layer"


def test_event_files_sort_by_name_in_the_order_they_were_opened(tmp_path):
    """TensorBoard reads a run's event files in name order: twelve files opened in one second by one
    process must sort as they were opened (an unpadded counter puts ".10" before ".9")."""
    paths = [TensorBoardWriter(tmp_path).path for _ in range(12)]
    assert sorted(paths) == paths


def test_png_files_get_the_usual_permissions(tmp_path):
    from filterviz.core.png import write_png

    old = os.umask(0o022)
    try:
        path = write_png(np.zeros((2, 2, 3), np.uint8), tmp_path / "grid.png")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary file left behind
