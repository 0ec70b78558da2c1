"""Hostile input: a clear error or a documented fallback, never a crash mid-training, never lost images.

One test per row of the table in docs/hostile-input.md.
"""

import json
import os
import shutil
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

import filterviz
from filterviz.core.grid import MARKER_COLOUR, MAX_GRID_PIXELS
from filterviz.core.normalize import MID_GRAY
from filterviz.eventfile.index import LogIndex
from tests.helpers import ROOT, cell, logged_images, logged_steps, tile, tiny_data


def grid_of(kernel, **options):
    """kernel_grid with scale 1, and the messages of the FilterVizWarnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = filterviz.kernel_grid(kernel, scale=1, **options)
    return image, [str(w.message) for w in caught if issubclass(w.category, filterviz.FilterVizWarning)]


def tile_pixels(image, count, hw):
    """Every tile's pixels, one row each, from a grid with the default layout."""
    cols = int(np.ceil(np.sqrt(count)))
    return [tile(image, i, cols, hw) for i in range(count)]


def test_a_kernel_full_of_nan_is_all_marker_colour_with_one_warning():
    image, messages = grid_of(np.full((3, 3, 3, 4), np.nan, np.float32))
    for pixels in tile_pixels(image, 4, (3, 3)):
        assert (pixels == MARKER_COLOUR).all()
    assert len(messages) == 1 and "NaN or Inf weights; they are drawn in magenta (255, 0, 255)" in messages[0]


def test_inf_weights_are_marked_and_the_rest_normalized_without_them():
    kernel = np.arange(2 * 2 * 1 * 2, dtype=np.float32).reshape(2, 2, 1, 2)
    kernel[0, 0, 0, 1] = np.inf
    kernel[1, 1, 0, 1] = -np.inf
    image, messages = grid_of(kernel, normalize="per_tile")
    second = tile(image, 1, 2, (2, 2))
    assert tuple(second[0, 0]) == MARKER_COLOUR and tuple(second[1, 1]) == MARKER_COLOUR
    assert tuple(second[0, 1]) == (0, 0, 0) and tuple(second[1, 0]) == (255, 255, 255)  # finite range [3, 5]
    assert len(messages) == 1


@pytest.mark.parametrize("mode", ["per_tile", "global", "symmetric"])
def test_an_all_zero_kernel_is_mid_gray(mode):
    image, messages = grid_of(np.zeros((784, 9), np.float32), tile_shape=(28, 28, 1), normalize=mode)
    for pixels in tile_pixels(image, 9, (28, 28)):
        assert (pixels == MID_GRAY).all()
    assert messages == []


@pytest.mark.parametrize("magnitude", [1e30, 1e-30])
def test_huge_and_tiny_weights_draw_like_ordinary_ones(magnitude):
    kernel = np.random.default_rng(0).standard_normal((5, 5, 3, 8))
    reference, _ = grid_of(kernel)
    scaled, messages = grid_of(kernel * magnitude)
    np.testing.assert_array_equal(scaled, reference)
    assert messages == []


def test_float16_kernels_draw_as_their_float32_values():
    kernel = np.random.default_rng(1).standard_normal((3, 3, 3, 16)).astype(np.float16) * np.float16(1000)
    np.testing.assert_array_equal(grid_of(kernel)[0], grid_of(kernel.astype(np.float32))[0])


def test_a_dense_layer_with_one_unit():
    model = keras.Sequential([keras.Input((5, 5, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    weights = np.arange(25, dtype=np.float32).reshape(25, 1)
    model.layers[-1].kernel.assign(weights)
    image = filterviz.render(model, scale=1)
    assert image.shape == (7, 7, 3)  # one tile and its border
    expected = np.floor(np.arange(25) / 24 * 255 + 0.5).astype(np.uint8).reshape(5, 5, 1)
    np.testing.assert_array_equal(tile(image, 0, 1, (5, 5)), np.repeat(expected, 3, axis=2))


def test_a_dense_layer_with_50000_units_is_drawn_within_the_size_bound():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(50_000)])
    image = filterviz.render(model)
    assert image.shape[0] * image.shape[1] <= MAX_GRID_PIXELS
    # 28x28 tiles: 50,000 of them do not fit in 4096 x 4096, so the first ones are drawn, with a warning.
    kernel = np.random.default_rng(2).standard_normal((784, 50_000)).astype(np.float32)
    big, messages = grid_of(kernel, tile_shape=(28, 28, 1))
    assert big.shape[0] * big.shape[1] <= MAX_GRID_PIXELS
    assert len(messages) == 1 and "drawing the first 19881 of 50000 tiles" in messages[0]  # 141 x 141
    assert big.shape == (141 * 29 + 1, 141 * 29 + 1, 3)
    again, _ = grid_of(kernel[:, :19881], tile_shape=(28, 28, 1))
    np.testing.assert_array_equal(big, again)  # the first 19,881 units, as if there were no more


def test_a_conv2d_layer_with_1024_filters():
    kernel = np.random.default_rng(3).standard_normal((3, 3, 3, 1024))
    image, _ = grid_of(kernel, normalize="symmetric")
    assert image.shape == (32 * 4 + 1, 32 * 4 + 1, 3)  # a 32 x 32 grid
    levels = np.floor((kernel / (2 * np.abs(kernel).max()) + 0.5) * 255 + 0.5).astype(np.uint8)
    for index in (0, 31, 32, 555, 1023):  # first, end of the first row, second row, ..., last
        np.testing.assert_array_equal(tile(image, index, 32, (3, 3)), levels[..., index], err_msg=str(index))
    auto, plain = filterviz.kernel_grid(kernel), grid_of(kernel)[0]  # automatic scale: each weight 10 x 10
    assert auto.shape == (32 * 31 + 1, 32 * 31 + 1, 3) and auto.shape[0] * auto.shape[1] <= 2048 * 2048
    for index in (0, 555, 1023):
        np.testing.assert_array_equal(tile(auto, index, 32, (3, 3), scale=10), tile(plain, index, 32, (3, 3)))


def test_a_conv2d_layer_with_512_input_channels():
    kernel = np.random.default_rng(4).standard_normal((3, 3, 512, 64)).astype(np.float32)
    plain, _ = grid_of(kernel, normalize="global")
    assert plain.shape == (64 * 4 + 1, 512 * 4 + 1, 3)  # a row per filter, a column per channel
    low, high = kernel.min(), kernel.max()
    for f, c in [(0, 0), (0, 511), (63, 0), (17, 300)]:
        expected = np.floor((kernel[:, :, c, f].astype(np.float64) - low) / (high - low) * 255 + 0.5)
        np.testing.assert_array_equal(cell(plain, f, c, (3, 3))[..., 0], expected, err_msg=str((f, c)))
    image = filterviz.kernel_grid(kernel, normalize="global")  # upscaled less, to stay within 2048 x 2048
    assert image.shape == (64 * 10 + 1, 512 * 10 + 1, 3) and image.shape[0] * image.shape[1] <= 2048 * 2048
    for f, c in [(0, 511), (63, 0)]:  # scale 3, not the 10 that 3x3 filters get when there is room
        np.testing.assert_array_equal(cell(image, f, c, (3, 3), scale=3)[::3, ::3], cell(plain, f, c, (3, 3)))


def test_a_1x1_kernel_is_upscaled_to_visible_tiles():
    kernel = np.random.default_rng(5).standard_normal((1, 1, 3, 16))
    image = filterviz.kernel_grid(kernel)
    assert image.shape == (4 * 33 + 1, 4 * 33 + 1, 3)  # each weight a 32 x 32 block
    for i in range(16):
        block = cell(image, i // 4, i % 4, (1, 1), scale=32)
        assert (block == block[0, 0]).all()


def test_a_model_with_several_inputs():
    image = keras.Input((4, 4, 3), name="image")
    extra = keras.Input((5,), name="extra")
    features = keras.layers.Dense(6, name="image_dense")(keras.layers.Flatten()(image))
    merged = keras.layers.Concatenate()([features, keras.layers.Dense(2, name="extra_dense")(extra)])
    model = keras.Model([image, extra], keras.layers.Dense(1, name="out")(merged))
    from filterviz.keras.choice import find_layer
    from filterviz.keras.image_shape import infer_tile_shape

    found = find_layer(model)
    assert found.layer.name == "image_dense"
    assert infer_tile_shape(found) == ((4, 4, 3), "hwc")
    assert infer_tile_shape(find_layer(model, "extra_dense")) is None  # flat: a gray 1 x 5 tile
    kernel = keras.ops.convert_to_numpy(model.get_layer("extra_dense").kernel)
    np.testing.assert_array_equal(
        filterviz.render(model, layer="extra_dense", scale=1), filterviz.kernel_grid(kernel, scale=1)
    )
    image = filterviz.render(model, scale=1, normalize="global")  # the image branch: 4x4 RGB tiles
    weights = (
        keras.ops.convert_to_numpy(model.get_layer("image_dense").kernel)
        .astype(np.float64)
        .reshape(4, 4, 3, 6)
    )
    levels = np.floor((weights - weights.min()) / (weights.max() - weights.min()) * 255 + 0.5)
    for unit in range(6):
        np.testing.assert_array_equal(tile(image, unit, 3, (4, 4)), levels[..., unit], err_msg=str(unit))


def test_unsafe_layer_names_become_safe_tags_and_slashes_are_refused_by_keras(tmp_path):
    with pytest.raises(ValueError, match="cannot contain character `/`"):
        keras.layers.Dense(3, name="a/b")
    # TensorFlow refuses spaces in names when the layer runs; ">" it allows, and no file system likes it.
    name = "my>dense" if keras.backend.backend() == "tensorflow" else "my dense"
    model = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(4, name=name)]
    )
    model.compile("sgd", "mse")
    x, _ = tiny_data(8)
    model.fit(x, np.zeros((8, 4)), epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path)])
    assert logged_steps(tmp_path / "filters", "filters/my_dense") == [0, 1]


def test_invalid_schedules_fail_at_construction():
    for kwargs, error in (
        ({"every_n_steps": 0}, ValueError),
        ({"every_n_steps": -3}, ValueError),
        ({"every_n_epochs": -1}, ValueError),
        ({"every_n_steps": 2.5}, TypeError),
    ):
        with pytest.raises(error, match="must be a whole number >= 1"):
            filterviz.FilterLogger("logs", **kwargs)


DISK_SCRIPT = """
import json, subprocess, sys, warnings
import keras, numpy as np, filterviz
from tests.helpers import RendersByBatch

log_dir, mode = sys.argv[1], sys.argv[2]

class ReadOnlyAfter(keras.callbacks.Callback):  # the disk turns read-only during the second epoch
    def on_epoch_begin(self, epoch, logs=None):
        if mode == "read-only" and epoch == 1:
            subprocess.run(["mount", "-o", "remount,ro", log_dir], check=True)

rng = np.random.default_rng(0)
channels = 3 if mode == "kernels" else 1  # kernels: a 768 x 64 kernel, 196 kB stored with every step
x, y = rng.random((32, 16, 16, channels), dtype=np.float32), rng.random((32, 2), dtype=np.float32)
keras.utils.set_random_seed(0)
first, head = keras.layers.Dense(64, name="dense"), keras.layers.Dense(2, name="head")
model = keras.Sequential([keras.Input((16, 16, channels)), keras.layers.Flatten(), first, head])
model.compile("sgd", "mse")
logger = filterviz.FilterLogger(log_dir, every_n_steps=1, scale=1)  # noisy 137 x 137 grids, ~45 kB each
renders = RendersByBatch(scale=1)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    # The logger first: its epoch barrier writes the epoch's grids before the disk turns read-only.
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[logger, ReadOnlyAfter(), renders])
np.savez(sys.argv[3], **{str(step): image for step, image in renders.images.items()})
ours = [str(w.message) for w in caught if issubclass(w.category, filterviz.FilterVizWarning)]
failures = [message for message in ours if "failed with" in message]  # skips may be reported too
print(json.dumps({
    "failures": failures,
    "kernel notices": [message for message in ours if "no longer stored" in message],
    "batches": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
}))
"""


def train_on_a_small_disk(tmp_path, mode: str, size: str):
    """Run DISK_SCRIPT with a real tmpfs of `size` as log_dir, in a private mount namespace; (what it said,
    a copy of the log_dir afterwards)."""
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1) to mount a small filesystem in a private namespace")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    copy = tmp_path / "copy"
    script = tmp_path / "train_on_a_small_disk.py"
    script.write_text(DISK_SCRIPT)
    command = (
        f"mount -t tmpfs -o size={size} tmpfs {mount_point} && "
        f"{sys.executable} {script} {mount_point} {mode} {tmp_path / 'renders.npz'}; status=$?; "
        f"cp -r {mount_point} {copy}; umount {mount_point}; exit $status"
    )
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"this machine does not allow a private mount namespace: {probe.stderr.decode().strip()}")
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1]), copy


@pytest.mark.parametrize("mode", ["full", "read-only"])
def test_a_disk_that_fills_up_or_turns_read_only_during_training(tmp_path, mode):
    """A real 256 kB tmpfs as log_dir, in a private mount namespace: it fills up (ENOSPC), or it is remounted
    read-only in the second epoch (EROFS). Training finishes, one warning, the images before stay readable."""
    said, copy = train_on_a_small_disk(tmp_path, mode, "256k" if mode == "full" else "4m")
    assert len(said["failures"]) == 1 and said["batches"] == 12, said  # one warning; all 12 batches trained
    errno = "No space left on device" if mode == "full" else "Read-only file system"
    message = said["failures"][0]
    assert errno in message and "Training goes on; the images written before are kept" in message
    steps = logged_steps(copy / "filters", "filters/dense")  # every record readable, in order
    assert steps == sorted(set(steps)) and steps[0] == 0 and len(steps) < 13
    if mode == "read-only":  # the first epoch's grids were written before the second began: its end, 4, too
        assert steps[-1] == 4
    renders = np.load(tmp_path / "renders.npz")
    for step, image in logged_images(copy / "filters", "filters/dense"):
        np.testing.assert_array_equal(image, renders[str(step)], err_msg=f"step {step}")


def test_a_full_disk_stops_storing_kernels_before_it_stops_the_grids(tmp_path):
    """A 768 x 64 Dense layer stores 196 kB of kernel with every step: on a 256 KiB disk its first step does
    not fit whole. The kernels go first, with one warning; the grids go on while they fit; every record
    left is readable, none torn."""
    said, copy = train_on_a_small_disk(tmp_path, "kernels", "256k")
    assert len(said["kernel notices"]) == 1 and said["batches"] == 12, said
    assert "is nearly full, so the kernels are no longer stored from step 0 on" in said["kernel notices"][0]
    history = filterviz.load_history(copy)
    stored = ~np.isnan(history.kernels).all(axis=(1, 2)) if history.kernels is not None else np.zeros(1, bool)
    assert list(history.steps[:4]) == [0, 1, 2, 3] and not stored[1:].any()  # at most step 0 has one
    renders = np.load(tmp_path / "renders.npz")
    for step, grid in zip(history.steps, history.grids, strict=True):
        np.testing.assert_array_equal(grid, renders[str(step)], err_msg=f"step {step}")
    index = LogIndex(copy)
    index.update()
    assert index.problems() == {}  # no torn record was left where a reader would stop
