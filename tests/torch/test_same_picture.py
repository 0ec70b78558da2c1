"""A torch layer and a Keras layer holding the same weights give the same grid, pixel for pixel.

Each pair is first shown to compute the same function (the same input, in each framework's own layout, gives
the same output), so the weights copied across are truly the same weights; then filterviz draws both.
"""

import keras
import numpy as np
import pytest
import torch
from keras import layers
from torch import nn

import filterviz
import filterviz.torch
from filterviz.torch.kernels import keras_layout, torch_kind

rng = np.random.default_rng(0)


def channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, *space) -> (N, *space, C)."""
    return np.moveaxis(x, 1, -1)


def copied(module: nn.Module, keras_layer: layers.Layer, input_shape: tuple[int, ...]) -> keras.Model:
    """A Keras model of `keras_layer` holding `module`'s weights (bias included), built for an input of
    torch's `input_shape` (N, C, *space)."""
    model = keras.Sequential([keras.Input(input_shape[2:] + input_shape[1:2]), keras_layer])
    weight = module.weight.detach().numpy()
    keras_layer.set_weights(
        [np.ascontiguousarray(keras_layout(weight, torch_kind(module))), module.bias.detach().numpy()]
    )
    return model


PAIRS = {
    "Conv2d": (lambda: nn.Conv2d(3, 8, 5), lambda: layers.Conv2D(8, 5), (2, 3, 12, 12)),
    "Conv2d grouped": (
        lambda: nn.Conv2d(4, 8, 3, groups=2),
        lambda: layers.Conv2D(8, 3, groups=2),
        (2, 4, 9, 9),
    ),
    "Conv2d depthwise": (
        lambda: nn.Conv2d(4, 8, 3, groups=4),
        lambda: layers.DepthwiseConv2D(3, depth_multiplier=2),
        (2, 4, 9, 9),
    ),
    "Conv1d": (lambda: nn.Conv1d(2, 5, 3), lambda: layers.Conv1D(5, 3), (2, 2, 11)),
    "Conv1d depthwise": (
        lambda: nn.Conv1d(3, 6, 3, groups=3),
        lambda: layers.DepthwiseConv1D(3, depth_multiplier=2),
        (2, 3, 11),
    ),
    "Conv3d": (lambda: nn.Conv3d(2, 4, 3), lambda: layers.Conv3D(4, 3), (2, 2, 6, 7, 8)),
    "ConvTranspose2d": (
        lambda: nn.ConvTranspose2d(3, 6, 4),
        lambda: layers.Conv2DTranspose(6, 4),
        (2, 3, 5, 5),
    ),
    "ConvTranspose1d": (lambda: nn.ConvTranspose1d(3, 4, 3), lambda: layers.Conv1DTranspose(4, 3), (2, 3, 7)),
}


@pytest.mark.parametrize("name", PAIRS)
def test_a_convolution_copied_to_keras_computes_the_same_and_draws_the_same(name):
    make_module, make_layer, input_shape = PAIRS[name]
    torch.manual_seed(0)
    module = make_module()
    model = copied(module, make_layer(), input_shape)
    x = rng.normal(size=input_shape).astype(np.float32)
    with torch.no_grad():
        expected = channels_last(module(torch.from_numpy(x)).numpy())
    np.testing.assert_allclose(model.predict(channels_last(x), verbose=0), expected, atol=1e-4)

    for options in (
        {},
        {"normalize": "global", "scale": 3},
        {"normalize": "symmetric", "ncols": 2, "padding": 0},
    ):
        keras_grid = filterviz.render(model, **options)
        torch_grid = filterviz.torch.render(module, example_input=torch.from_numpy(x), **options)
        np.testing.assert_array_equal(torch_grid, keras_grid)


@pytest.mark.parametrize("image", [(3, 8, 8), (1, 7, 7), (5, 4, 6)], ids=["rgb", "gray", "5 channels"])
def test_a_linear_layer_after_flatten_draws_the_image_its_inputs_came_from(image):
    """torch flattens (N, C, H, W) channels first; Keras' Flatten of (N, H, W, C), channels last. The same
    weights, moved to where each framework reads them, give the same tiles."""
    channels, height, width = image
    torch.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, 6))
    weight = net[1].weight.detach().numpy()  # (6, C*H*W), inputs in (C, H, W) order
    keras_kernel = weight.reshape(6, channels, height, width).transpose(2, 3, 1, 0).reshape(-1, 6)
    dense = layers.Dense(6)
    model = keras.Sequential([keras.Input((height, width, channels)), layers.Flatten(), dense])
    dense.set_weights([keras_kernel, net[1].bias.detach().numpy()])
    x = rng.normal(size=(2, *image)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(channels_last(x), verbose=0), expected, atol=1e-4)

    torch_grid = filterviz.torch.render(net, example_input=torch.from_numpy(x))
    np.testing.assert_array_equal(torch_grid, filterviz.render(model))
    # Told the image's shape instead, the default order is nn.Flatten's: the same grid again.
    np.testing.assert_array_equal(
        filterviz.torch.render(net, "1", tile_shape=(height, width, channels)), torch_grid
    )


def test_the_same_weights_give_the_same_health_values_in_either_framework(tmp_path):
    """Step 0 of a torch training and of a Keras one, logged by each front end from the same weights."""
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(3, 16, 5), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 8 * 8, 2))
    conv = layers.Conv2D(16, 5, activation="relu")
    model = keras.Sequential([keras.Input((12, 12, 3)), conv, layers.Flatten(), layers.Dense(2)])
    conv.set_weights([net[0].weight.detach().numpy().transpose(2, 3, 1, 0), net[0].bias.detach().numpy()])
    model.compile(keras.optimizers.SGD(0.0), "mse")  # no update: only step 0 is compared

    x = rng.normal(size=(4, 3, 12, 12)).astype(np.float32)
    model.fit(
        channels_last(x),
        np.zeros((4, 2)),
        epochs=1,
        verbose=0,
        callbacks=[filterviz.FilterLogger(tmp_path / "keras")],
    )
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
    with filterviz.torch.watch(net, optimizer, tmp_path / "torch", every_n_steps=1):
        net(torch.from_numpy(x)).sum().backward()
        optimizer.step()

    keras_history = filterviz.load_history(tmp_path / "keras")
    torch_history = filterviz.load_history(tmp_path / "torch")
    np.testing.assert_array_equal(torch_history.grids[0], keras_history.grids[0])
    for name in ("dead", "noise", "redundancy", "opposites", "nonfinite", "drift"):
        np.testing.assert_allclose(torch_history.health[name][0], keras_history.health[name][0], rtol=1e-6)
    for name, values in keras_history.per_filter.items():
        if name != "update_ratio":
            np.testing.assert_allclose(torch_history.per_filter[name][0], values[0], rtol=1e-6, err_msg=name)
