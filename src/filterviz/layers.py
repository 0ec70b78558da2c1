"""A Keras model -> which layer to draw, its kernel, and the image shape behind a Dense layer.

Keras only: no pixels here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import keras
import numpy as np


@dataclass(frozen=True)
class KernelKind:
    """How filterviz draws a kind of layer: the kernel's kind (filterviz.tiles.KINDS), the attribute that
    holds the kernel drawn, and what captions add."""

    kind: str
    attribute: str = "kernel"
    note: str = ""


_SEPARABLE = "its depthwise kernel, the spatial part (the pointwise 1x1 kernel has no picture)"
# Every Keras layer with a kernel that filterviz draws, most specific first.
KERNEL_KINDS: tuple[tuple[type, KernelKind], ...] = (
    (keras.layers.Dense, KernelKind("dense")),
    (keras.layers.Conv1D, KernelKind("conv1d")),
    (keras.layers.Conv2D, KernelKind("conv2d")),
    (keras.layers.Conv3D, KernelKind("conv3d")),
    (keras.layers.DepthwiseConv1D, KernelKind("depthwise1d")),
    (keras.layers.DepthwiseConv2D, KernelKind("depthwise2d")),
    (keras.layers.SeparableConv1D, KernelKind("depthwise1d", "depthwise_kernel", _SEPARABLE)),
    (keras.layers.SeparableConv2D, KernelKind("depthwise2d", "depthwise_kernel", _SEPARABLE)),
    (keras.layers.Conv1DTranspose, KernelKind("conv1d_transpose")),
    (keras.layers.Conv2DTranspose, KernelKind("conv2d_transpose")),
    (keras.layers.Conv3DTranspose, KernelKind("conv3d_transpose")),
)
SUPPORTED = tuple(layer_type for layer_type, _ in KERNEL_KINDS)
SUPPORTED_NAMES = (
    "Dense, Conv1D, Conv2D, Conv3D, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D, "
    "Conv1DTranspose, Conv2DTranspose or Conv3DTranspose"
)

# Attributes by which Keras layers hold a learned input transform. A layer with none of them
# (InputLayer, Rescaling, Normalization, Dropout, pooling, reshaping, ...) is passed over.
_KERNEL_ATTRIBUTES = ("kernel", "depthwise_kernel", "embeddings", "cell", "layer")


@dataclass(frozen=True)
class Found:
    """The layer to draw and the chain of models it sits in, outermost first (the model itself excluded)."""

    layer: keras.layers.Layer
    containers: tuple[keras.Model, ...]

    @property
    def path(self) -> str:
        return "/".join([*(m.name for m in self.containers), self.layer.name])

    @property
    def kind(self) -> KernelKind:
        return kernel_kind(self.layer)


def kernel_kind(layer: keras.layers.Layer) -> KernelKind:
    """How `layer` is drawn. KeyError for a layer filterviz does not draw."""
    for layer_type, kind in KERNEL_KINDS:
        if isinstance(layer, layer_type):
            return kind
    raise KeyError(type(layer).__name__)


def kernel_variable(layer: keras.layers.Layer):
    """The Keras variable of the kernel drawn for `layer`."""
    return getattr(layer, kernel_kind(layer).attribute)


def find_layer(model: keras.Model, layer: str | keras.layers.Layer | None = None) -> Found:
    """The first layer with a kernel filterviz draws, in data-flow order, or the one named or given.

    Nested models (a Sequential inside a Functional model, a backbone) are searched too, and a name may
    be a path such as "backbone/conv1". Raises ValueError naming the problem and the fix.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Expected a keras.Model, got {type(model).__name__}. For a bare kernel array use "
            "filterviz.kernel_grid(kernel)."
        )
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} is not built yet, so its layers have no weights. Build it first: "
            "start it with keras.Input(shape), call it on a batch, or call model.build(input_shape)."
        )
    if layer is None:
        return _first_kernel_layer(model)
    if isinstance(layer, keras.layers.Layer):
        for found in _walk(model):
            if found.layer is layer:
                return _check_supported(found)
        return _check_supported(Found(layer, ()))
    if isinstance(layer, str):
        matches = [f for f in _walk(model) if layer in (f.layer.name, f.path)]
        if len(matches) > 1:
            raise ValueError(
                f"More than one layer is named {layer!r}: {', '.join(f.path for f in matches)}. "
                "Pass the path of the one you mean."
            )
        if not matches:
            raise ValueError(
                f"Model {model.name!r} has no layer named {layer!r}. Layers with kernels: "
                f"{_listing(f for f in _walk(model) if _has_kernel(f.layer))}."
            )
        return _check_supported(matches[0])
    raise TypeError(f"layer must be a layer name, a Keras layer or None, not {type(layer).__name__}.")


LAYER_TYPES = "layer must be a layer name, a path, a Keras layer, a list of them, 'all' or None, not {}."


def check_layer_choice(layer: object) -> None:
    """FilterLogger's `layer` argument has a type it can use: checked when the callback is made, while
    whether the model has such a layer can only be checked when training starts."""
    if layer is None or isinstance(layer, str | keras.layers.Layer):
        return
    if not isinstance(layer, list | tuple):
        raise TypeError(LAYER_TYPES.format(type(layer).__name__))
    if not layer:
        raise ValueError("layer=[] names no layer: give at least one name, path or layer, or layer=None.")
    for item in layer:
        if not isinstance(item, str | keras.layers.Layer):
            raise TypeError(LAYER_TYPES.format(type(item).__name__))


ALL_MAX_LAYERS = 64  # layer="all" logs at most this many layers,
ALL_MAX_WEIGHTS = 8 * 1024 * 1024  # and at most this many weights in total (32 MiB of float32)

LayerChoice = str | keras.layers.Layer | None | list | tuple


def find_layers(model: keras.Model, layer: LayerChoice = None) -> list[Found]:
    """The layers FilterLogger's `layer` argument names: one (None, a name, path or layer), several (a
    list of those) or "all": every layer filterviz draws, in data-flow order, up to ALL_MAX_LAYERS layers
    and ALL_MAX_WEIGHTS weights in total (the first that fit; a FilterVizWarning names the count left out).
    Raises ValueError or TypeError naming the problem and the fix."""
    check_layer_choice(layer)
    if isinstance(layer, list | tuple):
        found = [find_layer(model, item) for item in layer]
        paths = [entry.path for entry in found]
        if len(set(paths)) < len(paths):
            twice = sorted({path for path in paths if paths.count(path) > 1})
            raise ValueError(f"layer= names {', '.join(twice)} more than once: name each layer once.")
        return found
    if layer == "all" and not any(f.layer.name == "all" for f in _walk(model)):
        return _all_layers(model)
    return [find_layer(model, layer)]


def _all_layers(model: keras.Model) -> list[Found]:
    find_layer(model)  # the errors of a model that is not built or has nothing to draw
    found, weights, left_out = [], 0, 0
    for entry in _walk(model):
        if not isinstance(entry.layer, SUPPORTED) or not entry.layer.built:
            continue
        size = int(np.prod(kernel_variable(entry.layer).shape))
        if not left_out and len(found) < ALL_MAX_LAYERS and weights + size <= ALL_MAX_WEIGHTS:
            found.append(entry)
            weights += size
        else:  # the first layers in data-flow order, without gaps
            left_out += 1
    if left_out:
        from filterviz import FilterVizWarning

        warnings.warn(
            f"layer='all': logging the first {len(found)} layers ({weights:,} weights); {left_out} more are "
            f"left out to stay within {ALL_MAX_LAYERS} layers and {ALL_MAX_WEIGHTS:,} weights a step. Name "
            "the layers you want with layer=[...].",
            FilterVizWarning,
            stacklevel=4,
        )
    return found


def kernel_array(layer: keras.layers.Layer) -> np.ndarray:
    """A private copy of the layer's kernel as a numpy array, in its own dtype (bfloat16 included).

    Private: training goes on while it is rendered on another thread. TensorFlow's numpy() reads the
    variable into a new buffer. Elsewhere the conversion may share memory with the parameter (torch's
    optimizers update it in place; jax may reuse donated buffers), so the array is copied.
    """
    backend = keras.backend.backend()
    variable = kernel_variable(layer)
    if backend == "tensorflow":
        return np.asarray(variable.numpy())
    value = variable.value
    if backend == "torch":
        tensor = value.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":  # torch cannot hand it to numpy; float32 holds it exactly
            tensor = tensor.float()
        return tensor.numpy().copy()
    return np.array(value)


def current_kernel(model: keras.Model, layer: keras.layers.Layer) -> np.ndarray:
    """`kernel_array` during training. Keras' JAX trainer keeps the weights outside the variables within an
    epoch; `jax_state_sync()` is how it lets a callback put them back before reading them."""
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()
    return kernel_array(layer)


def infer_tile_shape(found: Found) -> tuple[tuple[int, int, int], str] | None:
    """((H, W, C), flatten order) of the image behind a Dense layer's inputs, or None if there is none.

    Walks back from the layer's input through layers without kernels to a model input. The Flatten or
    Reshape closest to the layer gives the shape and order: Keras' Flatten always yields (H, W, C)
    order (it moves channels last first under data_format="channels_first"); a Reshape keeps memory
    order, read as keras.config.image_data_format() says. A learned layer on the way, a merge of several
    tensors, or no Flatten/Reshape at all means there is no image: None.
    """
    layer = found.layer
    if not isinstance(layer, keras.layers.Dense) or not layer._inbound_nodes:
        return None  # a subclassed model keeps no graph to walk
    tensor = layer._inbound_nodes[0].input_tensors[0]
    if len(tensor.shape) != 2:
        return None
    inputs = kernel_variable(layer).shape[0]
    # How each enclosing model was called in its parent (None: never called symbolically).
    calls = [(m, m._inbound_nodes[0] if m._inbound_nodes else None) for m in found.containers]
    image = None
    while True:
        operation, node_index, tensor_index = tensor._keras_history
        if isinstance(operation, keras.layers.InputLayer):
            if not calls or calls[-1][1] is None:
                break  # the model's own input
            # The input of a nested model: continue from the tensor that fed it in its parent.
            model, call = calls.pop()
            position = next(i for i, t in enumerate(model.inputs) if t is tensor)
            tensor = keras.tree.flatten(call.input_tensors)[position]
            continue
        node = operation._inbound_nodes[node_index]
        if isinstance(operation, keras.Model):  # a nested model made this tensor: walk inside it
            calls.append((operation, node))
            tensor = operation.outputs[tensor_index]
            continue
        if _has_kernel(operation) or len(node.input_tensors) != 1:
            return None
        source = node.input_tensors[0]
        if image is None and isinstance(operation, keras.layers.Flatten | keras.layers.Reshape):
            image = _flattened_image(operation, tuple(source.shape[1:]))
        tensor = source
    if image is None or math.prod(image[0]) != inputs:
        return None
    return image


def _flattened_image(operation, shape: tuple) -> tuple[tuple[int, int, int], str] | None:
    if any(d is None for d in shape) or len(shape) not in (2, 3):
        return None
    if len(shape) == 2:  # a gray image without a channel axis, such as MNIST's (28, 28)
        return (shape[0], shape[1], 1), "hwc"
    if isinstance(operation, keras.layers.Flatten):
        if operation.data_format == "channels_first":
            return (shape[1], shape[2], shape[0]), "hwc"
        return (shape[0], shape[1], shape[2]), "hwc"
    if keras.config.image_data_format() == "channels_first":
        return (shape[1], shape[2], shape[0]), "chw"
    return (shape[0], shape[1], shape[2]), "hwc"


def _walk(model: keras.Model, containers: tuple[keras.Model, ...] = ()) -> Iterator[Found]:
    """Every layer in data-flow order (Keras keeps functional layers topologically sorted), nested
    models entered where they stand. Subclassed models list layers in the order they were assigned."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk(layer, (*containers, layer))
        else:
            yield Found(layer, containers)


def _first_kernel_layer(model: keras.Model) -> Found:
    seen = []
    for found in _walk(model):
        if _has_kernel(found.layer):
            return _check_supported(found)
        seen.append(found)
    raise ValueError(
        f"Model {model.name!r} has no layer with a kernel filterviz draws; it has "
        f"{_listing(seen) or 'no layers'}. filterviz draws the kernels of {SUPPORTED_NAMES} layers."
    )


def _check_supported(found: Found) -> Found:
    layer = found.layer
    if not isinstance(layer, SUPPORTED):
        raise ValueError(
            f"Layer {found.path!r} is a {type(layer).__name__}; filterviz draws the kernels of "
            f"{SUPPORTED_NAMES} layers. Pass layer=<name> to pick one of those."
        )
    if not layer.built:
        raise ValueError(
            f"Layer {found.path!r} is not built yet, so it has no kernel. Build the model first: "
            "call it on a batch, or call model.build(input_shape)."
        )
    return found


def _has_kernel(layer: keras.layers.Layer) -> bool:
    for attribute in _KERNEL_ATTRIBUTES:
        try:
            if getattr(layer, attribute, None) is not None:
                return True
        except Exception:  # a property that needs the layer built, for example
            return True
    return False


def _listing(found: Iterator[Found] | list[Found], limit: int = 12) -> str:
    items = [f"{f.path} ({type(f.layer).__name__})" for f in found]
    more = f", and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
