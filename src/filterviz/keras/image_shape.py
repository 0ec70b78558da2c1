"""The image behind a Dense layer's inputs: the (H, W, C) its kernel's columns are drawn in, and what to
tell a user whose model does not show it (flattened patches). Keras only."""

from __future__ import annotations

import math

import keras

from filterviz.core import patches
from filterviz.keras.dataflow import Found, flow, image_input, is_graph, sublayers
from filterviz.keras.kernels import kernel_variable, owns_kernel


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
    if not all(isinstance(c, keras.Model) and is_graph(c) for c in found.containers):
        return None  # a Dense inside a custom layer is called without a graph
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
        if owns_kernel(operation) or sublayers(operation) or len(node.input_tensors) != 1:
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


def patch_hint(model: keras.Model, found: Found) -> str:
    """For the first Dense layer data reaches, when the model shows no image behind its inputs (a projection
    of flattened patches, as in ViT or MLP-Mixer): which tile_shape to pass, from a `patch_size` that a
    layer before it holds and the image input's channels; "" when nothing suggests patches."""
    layer = found.layer
    channels = _image_channels(model)
    if not isinstance(layer, keras.layers.Dense) or channels is None:
        return ""
    inputs = int(kernel_variable(layer).shape[0])
    sizes = []  # (path, patch_size) of the layers data passes before it
    for other in flow(model).layers:
        if other.layer is layer:
            break
        if owns_kernel(other.layer):
            return ""  # a learned layer comes first: its inputs are features, not pixels
        size = getattr(other.layer, "patch_size", None)
        if size is not None:
            sizes.append((other.path, size))
    else:
        return ""
    return patches.patch_hint(inputs, channels, sizes, other_order="chw")


def _image_channels(model: keras.Model) -> int | None:
    position = image_input(model)
    if position is None:
        shapes = getattr(model, "_build_shapes_dict", None) or {}
        shape = next(iter(shapes.values()), None)
    else:
        shape = model.inputs[position].shape
    if not isinstance(shape, tuple | list) or len(shape) != 4 or not isinstance(shape[-1], int):
        return None  # (batch, height, width, channels): an image
    return shape[-1] if keras.config.image_data_format() == "channels_last" else shape[1]
