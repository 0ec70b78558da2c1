"""A Keras model -> which layer to draw, its kernel, and the image shape behind a Dense layer.

Keras only: no pixels here. Which layers there are and in which order data reaches them is
`filterviz.dataflow`'s; this module chooses among them and reads the chosen kernel.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import keras
import numpy as np

from filterviz.dataflow import Flow, Found, flow, is_graph, sublayers, tracked


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

# The names Keras gives the weights by which a layer transforms its input. A layer that owns none
# (InputLayer, Rescaling, Normalization, LayerNormalization, Dropout, pooling, reshaping, a custom layer
# whose own weights are a class token) is passed over; a layer that holds others is looked inside.
_KERNEL_WEIGHTS = ("kernel", "depthwise_kernel", "pointwise_kernel", "embeddings", "recurrent_kernel")
ORDER_SOURCES = {
    "graph": "",
    "traced": "",
    "recorded": ", in the order of the first training step",
    "tracking": ", in the order the model's attributes were set (no forward pass could be traced)",
}


class NoLayerToDraw(ValueError):
    """The model has no layer filterviz draws where data enters it: nothing, or another kind first."""


class NotReadyYet(ValueError):
    """What to draw is known only once the model has run: it is not built, or no forward pass could be
    traced to tell the order of its layers. FilterLogger waits for the first training step then."""


def kernel_kind(layer: keras.layers.Layer) -> KernelKind:
    """How `layer` is drawn. KeyError for a layer filterviz does not draw."""
    for layer_type, kind in KERNEL_KINDS:
        if isinstance(layer, layer_type):
            return kind
    raise KeyError(type(layer).__name__)


def kind_of(found: Found) -> KernelKind:
    return kernel_kind(found.layer)


def kernel_variable(layer: keras.layers.Layer):
    """The Keras variable of the kernel drawn for `layer`."""
    return getattr(layer, kernel_kind(layer).attribute)


def owns_kernel(layer: keras.layers.Layer) -> bool:
    """`layer` itself (not a layer it holds) has weights that transform its input."""
    if isinstance(layer, SUPPORTED):
        return True
    own = [*getattr(layer, "_trainable_variables", []), *getattr(layer, "_non_trainable_variables", [])]
    if any(str(v.name).rsplit("/", 1)[-1] in _KERNEL_WEIGHTS for v in own):
        return True
    if sublayers(layer):
        return False
    for attribute in _KERNEL_WEIGHTS:
        try:
            if getattr(layer, attribute, None) is not None:
                return True
        except Exception:  # a property that needs the layer built, for example
            return True
    return False


def check_model(model: object) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Expected a keras.Model, got {type(model).__name__}. For a bare kernel array use "
            "filterviz.kernel_grid(kernel)."
        )


def is_built(model: keras.Model) -> bool:
    """Every layer with a kernel that the model holds has its weights (`model.built` alone does not say:
    `build()` marks a subclassed model built before its layers are, and a distiller that only holds
    trained networks is never called itself)."""
    return all(f.layer.built for f in tracked(model) if owns_kernel(f.layer))


def not_built_error(model: keras.Model) -> NotReadyYet:
    return NotReadyYet(
        f"Model {model.name!r} is not built yet, so its layers have no weights. Build it first: "
        "start it with keras.Input(shape), call it on a batch, or call model.build(input_shape)."
    )


def find_layer(
    model: keras.Model,
    layer: str | keras.layers.Layer | None = None,
    *,
    calls: list[int] | None = None,
    trained: frozenset[int] | None = None,
    traced_only: bool = False,
) -> Found:
    """The first layer with a kernel filterviz draws in data-flow order (dataflow.flow), or the one named
    or given. A name may be the layer's path, or any end of it that names one layer only.

    Args:
        model: a Keras model.
        layer: None, a name or path, or a layer object.
        calls: the layers' first-call order of a training step, when it was recorded.
        trained: for a training: ids of the variables the optimizer updates (empty: not known yet). With
            it, a frozen first layer is passed over for the first trainable one.
        traced_only: raise NotReadyYet rather than fall back to the order of the model's attributes.

    Raises NoLayerToDraw when the model has nothing filterviz draws where data enters it, ValueError for a
    name that is not there or a layer that is not built, each naming the fix.
    """
    check_model(model)
    if layer is None:
        if not is_built(model):
            raise not_built_error(model)
        data = flow(model, calls)
        if traced_only and data.source == "tracking":
            raise NotReadyYet(f"no forward pass of model {model.name!r} could be traced")
        return _first_kernel_layer(model, data, trained)
    if isinstance(layer, keras.layers.Layer):
        found = next((f for f in tracked(model) if f.layer is layer), Found(layer, ()))
        return _check_supported(found)
    if isinstance(layer, str):
        return _check_supported(_by_name(model, layer, calls))
    raise TypeError(f"layer must be a layer name, a Keras layer or None, not {type(layer).__name__}.")


def _by_name(model: keras.Model, name: str, calls: list[int] | None) -> Found:
    every = tracked(model)
    exact = [f for f in every if name in (f.path, f"{model.name}/{f.path}")]
    if exact:
        return exact[0]
    ends = [f for f in every if f.path.endswith(f"/{name}") or f.layer.name == name]
    if len(ends) == 1:
        return ends[0]
    if ends:
        raise ValueError(
            f"More than one layer's path ends in {name!r}: {', '.join(f.path for f in ends)}. "
            "Pass the path of the one you mean."
        )
    raise ValueError(
        f"Model {model.name!r} has no layer named {name!r}. Layers with kernels, in the order data reaches "
        f"them: {_listing(_kernel_layers_in_order(model, calls))}. Name one by its path or by the end of "
        "it, or pass the layer object itself."
    )


def _kernel_layers_in_order(model: keras.Model, calls: list[int] | None) -> list[Found]:
    """Every layer with a kernel: those the followed input reaches in data-flow order, then the rest."""
    try:
        ordered = list(flow(model, calls).layers) if is_built(model) else []
    except Exception:  # listing layers for an error message must not fail itself
        ordered = []
    seen = {id(f.layer) for f in ordered}
    ordered += [f for f in tracked(model) if id(f.layer) not in seen]
    return [f for f in ordered if owns_kernel(f.layer)]


def _first_kernel_layer(model: keras.Model, data: Flow, trained: frozenset[int] | None) -> Found:
    kernels = [f for f in data.layers if owns_kernel(f.layer)]
    drawable = [f for f in kernels if isinstance(f.layer, SUPPORTED)]
    where = _from_where(data)
    if not kernels:
        seen = [f for f in data.layers if not sublayers(f.layer)]
        raise NoLayerToDraw(
            f"Model {model.name!r} has no layer with a kernel that {where} reaches; it has "
            f"{_listing(seen) or 'no layers'}. filterviz draws the kernels of {SUPPORTED_NAMES} layers."
        )
    first = kernels[0]
    if not isinstance(first.layer, SUPPORTED):
        next_one = drawable[0] if drawable else None
        further = (
            f"The first layer it draws further on is {next_one.path!r} ({type(next_one.layer).__name__}): "
            f"pass layer={next_one.path!r} to draw it, or another layer's path or object."
            if next_one
            else f"No layer further on is one it draws ({SUPPORTED_NAMES})."
        )
        raise NoLayerToDraw(
            f"The first layer with a kernel that {where} reaches is {first.path!r} "
            f"({type(first.layer).__name__}), a kind filterviz does not draw; it does not draw a deeper "
            f"layer as if it were the first. {further}"
        )
    order = ORDER_SOURCES[data.source]
    chosen, note = first, f"the first layer with a kernel that {where} reaches{order}"
    if trained is not None and is_frozen(first.layer, trained):
        trainable = next((f for f in drawable if not is_frozen(f.layer, trained)), None)
        if trainable is not None:
            chosen = trainable
            note = (
                f"the first trainable layer with a kernel that {where} reaches{order}; {first.path!r} comes "
                "first but is frozen (not trained), so its update ratio and drift would be 0"
            )
    return dataclasses.replace(chosen, note=note)


def _from_where(data: Flow) -> str:
    if data.input_name is None or len(data.input_names) == 1:
        return "the model's input"
    if len(data.input_names) > 1:
        others = ", ".join(repr(name) for name in data.input_names)
        return f"input {data.input_name!r} (the first image-like one of {others})"
    return f"input {data.input_name!r}"


def is_frozen(layer: keras.layers.Layer, trained: frozenset[int]) -> bool:
    """The layer's kernel is not trained: the layer or the variable is not trainable, or the optimizer
    (when it is known what it updates) does not update it."""
    variable = kernel_variable(layer)
    if not layer.trainable or not getattr(variable, "trainable", True):
        return True
    return bool(trained) and id(variable) not in trained


def optimizer_variables(model: keras.Model) -> frozenset[int] | None:
    """Ids of the variables the model's optimizer updates, or None while that is not known (an optimizer
    that is not built yet: its first step builds it)."""
    optimizer = getattr(model, "optimizer", None)
    variables = getattr(optimizer, "_trainable_variables", None)
    if optimizer is None or not getattr(optimizer, "built", False) or not variables:
        return None
    return frozenset(id(variable) for variable in variables)


def frozen_warning(found: Found) -> str:
    return (
        f"layer {found.path!r} is frozen (not trained): its update ratio and drift will be 0 and its grid "
        "will not change. Pass the layer you train, if you meant another."
    )


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


def find_layers(
    model: keras.Model,
    layer: LayerChoice = None,
    *,
    calls: list[int] | None = None,
    trained: frozenset[int] | None = None,
    traced_only: bool = False,
) -> list[Found]:
    """The layers FilterLogger's `layer` argument names: one (None, a name, path or layer), several (a
    list of those) or "all": every layer filterviz draws, in data-flow order, up to ALL_MAX_LAYERS layers
    and ALL_MAX_WEIGHTS weights in total (the first that fit; a FilterVizWarning names the count left out).
    Raises ValueError or TypeError naming the problem and the fix."""
    check_layer_choice(layer)
    if isinstance(layer, list | tuple):
        found = [find_layer(model, item, calls=calls) for item in layer]
        paths = [entry.path for entry in found]
        if len(set(paths)) < len(paths):
            twice = sorted({path for path in paths if paths.count(path) > 1})
            raise ValueError(f"layer= names {', '.join(twice)} more than once: name each layer once.")
        return found
    if layer == "all" and not any(f.layer.name == "all" for f in tracked(model)):
        return _all_layers(model, calls)
    return [find_layer(model, layer, calls=calls, trained=trained, traced_only=traced_only)]


def _all_layers(model: keras.Model, calls: list[int] | None) -> list[Found]:
    check_model(model)
    if not is_built(model):
        raise not_built_error(model)
    candidates = [f for f in _kernel_layers_in_order(model, calls) if isinstance(f.layer, SUPPORTED)]
    if not candidates:
        find_layer(model, calls=calls)  # the error of a model with nothing to draw
    found, weights, left_out = [], 0, 0
    for entry in candidates:
        if not entry.layer.built:
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
    for path, size in sizes:
        sides = (
            (size, size) if isinstance(size, int) else tuple(size) if isinstance(size, list | tuple) else ()
        )
        if (
            len(sides) == 2
            and all(isinstance(s, int) for s in sides)
            and math.prod(sides) * channels == inputs
        ):
            return (
                f"its {inputs} inputs look like flattened {sides[0]}x{sides[1]}x{channels} patches ({path!r} "
                f"has patch_size={size}); if they are, pass tile_shape={(*sides, channels)} (and "
                "flatten_order='chw' if each patch was flattened channels first)"
            )
    side = math.isqrt(inputs // channels)
    if inputs % channels == 0 and side > 1 and side * side * channels == inputs:
        return (
            f"its {inputs} inputs could be flattened {side}x{side}x{channels} patches of the image; if they "
            f"are, pass tile_shape={(side, side, channels)}"
        )
    return ""


def _image_channels(model: keras.Model) -> int | None:
    from filterviz.dataflow import image_input

    position = image_input(model)
    if position is None:
        shapes = getattr(model, "_build_shapes_dict", None) or {}
        shape = next(iter(shapes.values()), None)
    else:
        shape = model.inputs[position].shape
    if not isinstance(shape, tuple | list) or len(shape) != 4 or not isinstance(shape[-1], int):
        return None  # (batch, height, width, channels): an image
    return shape[-1] if keras.config.image_data_format() == "channels_last" else shape[1]


def _check_supported(found: Found) -> Found:
    layer = found.layer
    if not isinstance(layer, SUPPORTED):
        raise ValueError(
            f"Layer {found.path!r} is a {type(layer).__name__}; filterviz draws the kernels of "
            f"{SUPPORTED_NAMES} layers. Pass layer=<name> to pick one of those."
        )
    if not layer.built:
        raise NotReadyYet(
            f"Layer {found.path!r} is not built yet, so it has no kernel. Build the model first: "
            "call it on a batch, or call model.build(input_shape)."
        )
    return found


def _listing(found: list[Found], limit: int = 12) -> str:
    items = [f"{f.path} ({type(f.layer).__name__})" for f in found]
    more = f", and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
