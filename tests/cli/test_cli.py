"""The `filterviz` command end to end, through a subprocess, as a user runs it."""

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import filterviz
from filterviz import RenderOptions
from filterviz.core.png import decode_png
from tests.helpers import (
    PAD,
    TAG,
    as_rgb,
    assert_usage_error,
    filterviz_cli,
    gif_frames,
    logged_images,
    tiny_data,
    tiny_model,
)
from tests.helpers.tensorboard_server import tensorboard

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    model = tiny_model()
    model.layers[1].kernel.assign(np.random.default_rng(0).standard_normal((36, 4)).astype(np.float32))
    model.save(folder / "tiny.keras")
    model.save(folder / "tiny.h5")
    return folder, model


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("logs")
    x, y = tiny_data(16)
    tiny_model().fit(x, y, epochs=3, verbose=0, callbacks=[filterviz.FilterLogger(folder / "run")])
    return folder / "run"


def test_help_for_every_command_names_its_options():
    for command, expected in [("animate", ["--tag", "--fps", "-o"]), ("demo", ["--out", "--epochs"])]:
        result = filterviz_cli(command, "--help")
        assert result.returncode == 0 and all(flag in result.stdout for flag in expected), command
    result = filterviz_cli("render", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines
    for field in dataclasses.fields(RenderOptions):  # every rendering option, with its own help text
        flag = f"--{field.name.replace('_', '-')}"
        assert flag in text and " ".join(field.metadata["help"].split())[:60] in text, field.name
    assert "--layer" in text and "MODEL_FILE" in text


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_render_writes_the_grid_of_a_saved_model(saved_model, tmp_path, suffix):
    folder, model = saved_model
    out = tmp_path / "grid.png"
    result = filterviz_cli(
        "render",
        folder / f"tiny{suffix}",
        "-o",
        out,
        "--normalize",
        "symmetric",
        "--scale",
        "2",
        "--tile-shape",
        "6,6,1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"Wrote {out}: layer 'dense' (Dense): the first layer with a kernel that the model's input reaches"
    )
    expected = filterviz.render(model, normalize="symmetric", scale=2, tile_shape=(6, 6, 1))
    np.testing.assert_array_equal(decode_png(out.read_bytes()), expected)


def test_render_another_layer_with_flags_in_either_spelling(saved_model, tmp_path):
    folder, model = saved_model
    out = tmp_path / "head.png"
    result = filterviz_cli(
        "render",
        folder / "tiny.keras",
        "-o",
        out,
        "--layer",
        "head",
        "--clip_percentile",
        "99",
        "--padding",
        "0",
    )
    assert result.returncode == 0, result.stderr
    expected = filterviz.render(model, layer="head", clip_percentile=99, padding=0)
    np.testing.assert_array_equal(decode_png(out.read_bytes()), expected)


def test_render_errors_are_one_line_and_exit_code_2(saved_model, tmp_path):
    folder, _ = saved_model
    assert_usage_error(filterviz_cli("render", tmp_path / "missing.keras"), "missing.keras: no such file")
    text = tmp_path / "notes.keras"
    text.write_text("not a model")
    assert_usage_error(filterviz_cli("render", text), "notes.keras: cannot be loaded as a Keras model")
    other = tmp_path / "weights.npy"
    other.write_bytes(b"\x93NUMPY")
    assert_usage_error(filterviz_cli("render", other), "give a .keras file, or a legacy .h5")
    assert_usage_error(
        filterviz_cli("render", folder / "tiny.keras", "--layer", "conv9"), "no layer named 'conv9'"
    )
    assert_usage_error(
        filterviz_cli("render", folder / "tiny.keras", "--clip-percentile", "30"),
        "clip_percentile=30.0 must be a number with 50 < p <= 100",
    )
    bad_choice = filterviz_cli("render", folder / "tiny.keras", "--normalize", "minmax")
    assert bad_choice.returncode == 2 and "invalid choice: 'minmax'" in bad_choice.stderr
    bad_shape = filterviz_cli("render", folder / "tiny.keras", "--tile-shape", "6,x,1")
    assert bad_shape.returncode == 2 and "'6,x,1' is not a shape such as 28,28,1" in bad_shape.stderr
    # Only `filterviz tensorboard` passes arguments it does not know on (to TensorBoard).
    unknown = filterviz_cli("render", folder / "tiny.keras", "--logdir", "logs")
    assert unknown.returncode == 2 and "unrecognized arguments: --logdir logs" in unknown.stderr


def test_tensorboard_starts_where_keras_backend_names_torch(tmp_path, monkeypatch):
    """TensorFlow imports Keras; with KERAS_BACKEND=torch, Keras imports torch after TensorFlow, which
    crashes torch's CUDA build (installed with the dev extra). `filterviz tensorboard` sets Keras' backend
    aside: TensorBoard trains nothing."""
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3, name="conv")])
    model.compile("sgd", "mse")
    x = np.zeros((4, 4, 4, 1), np.float32)
    model.fit(x, np.zeros((4, 2, 2, 2)), verbose=0, callbacks=[filterviz.FilterLogger(tmp_path / "run")])
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    with tensorboard(tmp_path, filterviz_tensorboard=True) as server:
        answer = server.wait_for("/data/plugin/filterviz/runs", lambda runs: runs["layers"])
        assert [(layer["run"], layer["tag"], layer["steps"]) for layer in answer["layers"]] == [
            ("run/filters", "filters/conv", 2)
        ]


def test_a_model_without_dense_or_conv2d_layers(tmp_path):
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.MaxPooling2D(), keras.layers.Flatten()])
    model.save(tmp_path / "pooling.keras")
    assert_usage_error(
        filterviz_cli("render", tmp_path / "pooling.keras"),
        "has no layer with a kernel that the model's input reaches",
    )


def test_models_with_code_in_them_are_refused_not_run(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2), keras.layers.Dense(2)])
    model.save(tmp_path / "lambda.keras")
    result = filterviz_cli("render", tmp_path / "lambda.keras")
    assert_usage_error(result, "cannot be loaded as a Keras model")
    assert "holds Python code" in result.stderr and "safe_mode=False" not in result.stderr


def test_animate_writes_a_frame_per_logged_step_showing_that_steps_png(logdir, tmp_path):
    out = tmp_path / "evolution.gif"
    result = filterviz_cli("animate", logdir, "-o", out, "--fps", "5")
    assert result.returncode == 0, result.stderr
    assert "4 frames of filters/dense, steps 0 to 3" in result.stdout
    frames, _ = gif_frames(out)
    logged = logged_images(logdir / "filters", TAG)
    assert len(frames) == len(logged) == 4
    for frame, (step, png) in zip(frames, logged, strict=True):
        np.testing.assert_array_equal(
            frame[: png.shape[0], : png.shape[1]], as_rgb(png), err_msg=f"step {step}"
        )
    with Image.open(out) as gif:
        assert gif.info["duration"] == 200 and gif.info["loop"] == 0


def test_animate_to_a_lossless_animated_png(logdir, tmp_path):
    out = tmp_path / "evolution.png"
    assert filterviz_cli("animate", logdir, "-o", out).returncode == 0
    frames, _ = gif_frames(out)
    logged = logged_images(logdir / "filters", TAG)
    for frame, (_, png) in zip(frames, logged, strict=True):
        np.testing.assert_array_equal(frame[: png.shape[0], : png.shape[1]], as_rgb(png))


def test_a_gif_of_rgb_filters_with_more_than_256_colours_keeps_flat_areas_flat(tmp_path):
    """A GIF frame holds 256 colours: the grid is reduced to them without dithering, so every pixel of one
    colour stays one colour (dithering would scatter it), the separators stay exactly teal, and the
    colours move little."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(64, 5, name="conv")])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x = np.random.default_rng(0).random((16, 8, 8, 3), dtype=np.float32)
    model.fit(x, np.zeros((16, 4, 4, 64)), epochs=2, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path)])
    out = tmp_path / "rgb.gif"
    assert filterviz_cli("animate", tmp_path, "-o", out).returncode == 0
    frames, _ = gif_frames(out)
    logged = logged_images(tmp_path / "filters", "filters/conv")
    assert len(frames) == len(logged) == 3
    for frame, (step, original) in zip(frames, logged, strict=True):
        frame = frame[: original.shape[0], : original.shape[1]]
        colours, index = np.unique(original.reshape(-1, 3), axis=0, return_inverse=True)
        assert len(colours) > 256, f"step {step}: too few colours to test the reduction"
        reduced = frame.reshape(-1, 3)
        for colour in range(len(colours)):  # one colour in, one colour out
            assert len(np.unique(reduced[index.ravel() == colour], axis=0)) == 1, f"step {step}"
        assert np.abs(frame.astype(int) - original).mean() < 12, f"step {step}"  # 10.4 measured
        separators = (original == PAD).all(axis=-1)
        assert (frame[separators] == PAD).all(), f"step {step}"


def test_animate_reads_every_step_not_tensorboards_ten(tmp_path):
    x, y = tiny_data(8)
    tiny_model().fit(x, y, epochs=14, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path)])
    out = tmp_path / "all.gif"
    result = filterviz_cli("animate", tmp_path, "-o", out)
    assert result.returncode == 0 and "15 frames" in result.stdout
    assert len(gif_frames(out)[0]) == 15


def test_animate_errors_are_one_line_and_exit_code_2(logdir, tmp_path):
    assert_usage_error(filterviz_cli("animate", tmp_path / "nowhere"), "is not a folder")
    (tmp_path / "empty").mkdir()
    assert_usage_error(filterviz_cli("animate", tmp_path / "empty"), "holds no filter images")
    assert_usage_error(
        filterviz_cli("animate", logdir, "--tag", "filters/other"),
        "holds no tag 'filters/other'; image tags found: filters/dense",
    )
    two = tmp_path / "two"
    x, y = tiny_data(8)
    model = tiny_model()
    model.fit(
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[filterviz.FilterLogger(two), filterviz.FilterLogger(two / "head", layer="head")],
    )
    assert_usage_error(filterviz_cli("animate", two), "holds several filter tags")
    assert filterviz_cli("animate", two, "--tag", "filters/head", "-o", tmp_path / "h.gif").returncode == 0
    assert_usage_error(
        filterviz_cli("animate", logdir, "-o", tmp_path / "x.bmp"), "write the animation as .gif"
    )


def test_version():
    result = filterviz_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"filterviz {filterviz.__version__}"
