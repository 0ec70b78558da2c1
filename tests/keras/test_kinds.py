"""Every kernel layer Keras has: each tile's pixels follow the README's definition (padding 0, scale 1,
"global" levels), and for Conv1D, DepthwiseConv2D and Conv2DTranspose the truth comes from Keras itself:
the layer's response to a one-hot input is the weight the tile must show there."""

import keras
import numpy as np
import pytest
from keras import layers

import filterviz
from filterviz.keras.choice import NoLayerToDraw, find_layer, find_layers
from filterviz.keras.kernels import kernel_kind
from tests.helpers import global_levels, tile, unique_weights

FLAT = {"normalize": "global", "padding": 0, "scale": 1}


def built(layer, input_shape):
    model = keras.Sequential([keras.Input(input_shape), layer])
    kernel = unique_weights(
        tuple(layer.kernel.shape if hasattr(layer, "kernel") else layer.depthwise_kernel.shape)
    )
    (layer.kernel if hasattr(layer, "kernel") else layer.depthwise_kernel).assign(kernel)
    return model, kernel


def one_hot_responses(model, input_shape):
    """response[..., position]: the model's output for an input that is 1 at one position and 0 elsewhere,
    positions in the input's C order."""
    size = int(np.prod(input_shape))
    outputs = model.predict(np.eye(size, dtype=np.float32).reshape(size, *input_shape), verbose=0)
    return np.moveaxis(outputs, 0, -1)


def test_conv1d_tiles_are_strips_of_input_channels_by_taps_and_match_keras():
    model, kernel = built(layers.Conv1D(4, 5, use_bias=False), (5, 3))  # kernel (k=5, in=3, filters=4)
    image = filterviz.render(model, **FLAT)
    assert image.shape == (2 * 3, 2 * 5, 1)  # 4 gray strips of 3 rows x 5 columns, 2 x 2
    response = one_hot_responses(model, (5, 3))[0].reshape(4, 5, 3)  # (filter, tap, channel)
    levels = global_levels(kernel)
    for i in range(4):
        strip = tile(image, i, 2, (3, 5), padding=0)[..., 0]
        np.testing.assert_array_equal(strip, levels[:, :, i].T, err_msg=f"filter {i}")  # kernel[:, :, i].T
        np.testing.assert_array_equal(response[i].T, kernel[:, :, i].T)  # what Keras computes with


def test_depthwise_conv2d_has_a_gray_tile_per_channel_and_multiplier_and_matches_keras():
    model, kernel = built(layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False), (3, 3, 3))
    image = filterviz.render(model, **FLAT)
    assert image.shape == (2 * 3, 3 * 3, 1)  # 6 tiles in 2 rows of ceil(sqrt(6)) = 3
    response = one_hot_responses(model, (3, 3, 3))[0, 0]  # (out channel, y, x, c) flattened
    response = response.reshape(6, 3, 3, 3)
    levels = global_levels(kernel)
    for c in range(3):
        for m in range(2):
            index = c * 2 + m
            np.testing.assert_array_equal(
                tile(image, index, 3, (3, 3), padding=0)[..., 0], levels[:, :, c, m]
            )
            np.testing.assert_array_equal(
                response[index, :, :, c], kernel[:, :, c, m], err_msg=f"tile {index}"
            )


def test_separable_conv2d_draws_its_depthwise_kernel_and_says_so(tmp_path):
    layer = layers.SeparableConv2D(5, 3, depth_multiplier=1, use_bias=False, name="sep")
    model = keras.Sequential([keras.Input((6, 6, 2)), layer])
    depthwise = keras.ops.convert_to_numpy(layer.depthwise_kernel)
    np.testing.assert_array_equal(
        filterviz.render(model, **FLAT), filterviz.kernel_grid(depthwise, kind="depthwise2d", **FLAT)
    )
    model.compile("sgd", "mse")
    x = np.zeros((4, 6, 6, 2), np.float32)
    model.fit(x, np.zeros((4, 4, 4, 5)), epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path)])
    description = filterviz.load_history(tmp_path).info
    assert description["kind"] == "depthwise2d" and description["kernel_shape"] == [3, 3, 2, 1]


@pytest.mark.parametrize("out_channels", [3, 4])
def test_conv2d_transpose_tiles_are_what_each_input_paints_and_match_keras(out_channels):
    model, kernel = built(layers.Conv2DTranspose(out_channels, 3, use_bias=False), (1, 1, 2))
    image = filterviz.render(model, **FLAT)
    painted = one_hot_responses(model, (1, 1, 2))  # (y, x, out, input channel)
    np.testing.assert_array_equal(painted, kernel)  # the patch input i paints is kernel[:, :, :, i]
    levels = global_levels(kernel)
    if out_channels == 3:  # RGB patches, as a generator's last layer paints them
        for i in range(2):
            np.testing.assert_array_equal(tile(image, i, 2, (3, 3), padding=0), levels[..., i])
    else:  # the channel rule: a row per input channel, a column per output channel
        assert image.shape == (2 * 3, 4 * 3, 1)
        for i in range(2):
            for o in range(4):
                np.testing.assert_array_equal(
                    tile(image, i * 4 + o, 4, (3, 3), padding=0)[..., 0], levels[:, :, o, i]
                )


def test_conv2d_with_groups_applies_the_channel_rule_to_its_third_axis():
    model, kernel = built(layers.Conv2D(4, 3, groups=2, use_bias=False), (5, 5, 6))  # (3, 3, 3, 4)
    image = filterviz.render(model, **FLAT)
    levels = global_levels(kernel)
    for i in range(4):
        np.testing.assert_array_equal(tile(image, i, 2, (3, 3), padding=0), levels[..., i])


@pytest.mark.parametrize("channels", [1, 3, 2])
def test_conv3d_tiles_show_the_depth_slices_side_by_side(channels):
    kernel = unique_weights((2, 3, 4, channels, 5))  # kd=2, kh=3, kw=4
    image = filterviz.kernel_grid(kernel, **FLAT)
    levels = global_levels(kernel)
    for i in range(5):
        for c in range(channels):
            index, cols = (i, 3) if channels in (1, 3) else (i * channels + c, channels)
            block = tile(image, index, cols, (3, 2 * 4), padding=0)
            for d in range(2):
                expected = levels[d, :, :, c, i] if channels != 3 else levels[d, :, :, :, i][..., c]
                np.testing.assert_array_equal(
                    block[:, d * 4 : d * 4 + 4, 0 if channels != 3 else c], expected
                )


def test_the_one_dimensional_and_three_dimensional_variants_follow_their_two_dimensional_rules():
    depthwise = unique_weights((5, 2, 3))  # DepthwiseConv1D (k, in, multiplier): a 1 x 5 strip per (c, m)
    image = filterviz.kernel_grid(depthwise, kind="depthwise1d", **FLAT)
    levels = global_levels(depthwise)
    for c in range(2):
        for m in range(3):
            np.testing.assert_array_equal(
                tile(image, c * 3 + m, 3, (1, 5), padding=0)[0, :, 0], levels[:, c, m]
            )
    transpose = unique_weights((4, 3, 2))  # Conv1DTranspose (k, out, in): per input, out rows x k columns
    image = filterviz.kernel_grid(transpose, kind="conv1d_transpose", **FLAT)
    for i in range(2):
        np.testing.assert_array_equal(
            tile(image, i, 2, (3, 4), padding=0)[..., 0], global_levels(transpose)[:, :, i].T
        )
    volume = unique_weights((2, 2, 2, 3, 4))  # Conv3DTranspose (kd, kh, kw, out=3, in): RGB slices per input
    np.testing.assert_array_equal(
        filterviz.kernel_grid(volume, kind="conv3d_transpose", **FLAT), filterviz.kernel_grid(volume, **FLAT)
    )


@pytest.mark.parametrize(
    "layer, input_shape, kind",
    [
        (layers.DepthwiseConv1D(3), (8, 2), "depthwise1d"),
        (layers.SeparableConv1D(4, 3), (8, 2), "depthwise1d"),
        (layers.Conv1DTranspose(4, 3), (8, 2), "conv1d_transpose"),
        (layers.Conv3D(4, 2), (4, 4, 4, 1), "conv3d"),
        (layers.Conv3DTranspose(3, 2), (2, 2, 2, 2), "conv3d_transpose"),
    ],
)
def test_every_kernel_layer_is_found_first_and_drawn_as_its_kind(layer, input_shape, kind):
    model = keras.Sequential([keras.Input(input_shape), layer, layers.Flatten(), layers.Dense(2)])
    found = find_layer(model)
    assert found.layer is layer and kernel_kind(found.layer).kind == kind
    variable = (
        layer.kernel
        if kind != "depthwise1d" or not hasattr(layer, "depthwise_kernel")
        else layer.depthwise_kernel
    )
    expected = filterviz.kernel_grid(keras.ops.convert_to_numpy(variable), kind=kind)
    np.testing.assert_array_equal(filterviz.render(model), expected)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (layers.Embedding(10, 4, name="emb"), (5,)),
        (layers.EinsumDense("ab,bc->ac", output_shape=4, name="einsum"), (6,)),
    ],
)
def test_other_kernel_layers_stay_a_clear_error_naming_what_is_supported(layer, shape):
    model = keras.Sequential([keras.Input(shape), layer])
    with pytest.raises(
        NoLayerToDraw,
        match=rf"reaches is '{layer.name}' \({type(layer).__name__}\), a kind filterviz does not draw; .*"
        r"No layer further on is one it draws \(Dense, Conv1D",
    ):
        find_layer(model)
    with pytest.raises(
        ValueError, match=rf"is a {type(layer).__name__}; filterviz draws the kernels of Dense"
    ):
        find_layer(model, layer.name)


def mixed_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", name="stem")(inputs)
    x = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = layers.Conv2DTranspose(3, 3, padding="same", name="up")(x)
    outputs = layers.Dense(2, name="head")(layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


def test_one_callback_logs_several_layers_of_three_kinds_at_every_step(tmp_path):
    model = mixed_model()
    rng = np.random.default_rng(0)
    x, y = (
        rng.standard_normal((32, 8, 8, 3)).astype(np.float32),
        rng.standard_normal((32, 2)).astype(np.float32),
    )
    logger = filterviz.FilterLogger(tmp_path, layer=["stem", "dw", model.get_layer("up")], every_n_steps=2)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[logger])
    for name, kind in [("stem", "conv2d"), ("dw", "depthwise2d"), ("up", "conv2d_transpose")]:
        history = filterviz.load_history(tmp_path, layer=name)
        assert list(history.steps) == [0, 2, 4, 6, 8], name
        assert history.info["kind"] == kind
        assert not np.isnan(history.health["update_ratio"][1:]).any(), name  # each with its own health
        variable = model.get_layer(name).kernel
        np.testing.assert_array_equal(
            history.grids[-1],
            filterviz.kernel_grid(keras.ops.convert_to_numpy(variable), kind=kind),
            err_msg=name,
        )


def test_layer_all_takes_every_supported_layer_and_names_the_ones_left_out(monkeypatch):
    model = mixed_model()
    assert [found.layer.name for found in find_layers(model, "all")] == ["stem", "dw", "up", "head"]
    from filterviz.pipeline import steps

    monkeypatch.setattr(steps, "ALL_MAX_WEIGHTS", 150)  # stem 108 + dw 36 = 144 fit; up (108) does not
    with pytest.warns(
        filterviz.FilterVizWarning, match=r"logging the first 2 layers \(144 weights\); 2 more are left out"
    ):
        assert [found.layer.name for found in find_layers(model, "all")] == ["stem", "dw"]


def test_several_layers_named_twice_or_not_at_all_are_errors():
    model = mixed_model()
    with pytest.raises(ValueError, match="names stem more than once"):
        find_layers(model, ["stem", model.get_layer("stem")])
    with pytest.raises(ValueError, match=r"layer=\[\] names no layer"):
        find_layers(model, [])
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        find_layers(model, ["stem", "nope"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "application, first",
    [
        ("MobileNetV2", "Conv1"),
        ("EfficientNetB0", "stem_conv"),
        ("ResNet50", "conv1_conv"),
        ("ConvNeXtTiny", "convnext_tiny_stem"),
    ],
)
def test_keras_applications_draw_their_first_layer_without_being_told_which(application, first):
    """Builds each architecture with weights=None (nothing is downloaded): 2 to 10 s each."""
    model = getattr(keras.applications, application)(weights=None, input_shape=(64, 64, 3), include_top=False)
    found = find_layer(model)
    assert found.layer.name.startswith(first), found.path
    kernel = keras.ops.convert_to_numpy(found.layer.kernel)
    np.testing.assert_array_equal(
        filterviz.render(model), filterviz.kernel_grid(kernel, kind=kernel_kind(found.layer).kind)
    )
