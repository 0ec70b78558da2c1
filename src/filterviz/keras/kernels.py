"""Which Keras layers have kernels, how filterviz draws each kind, and reading a kernel during training.

Keras only: no pixels here.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from filterviz.keras.dataflow import sublayers


@dataclass(frozen=True)
class KernelKind:
    """How filterviz draws a kind of layer: the kernel's kind (filterviz.core.tiles.KINDS), the attribute that
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


SUPPORTED_NAMES = ", ".join(t.__name__ for t in SUPPORTED[:-1]) + f" or {SUPPORTED[-1].__name__}"


# The names Keras gives the weights by which a layer transforms its input. A layer that owns none
# (InputLayer, Rescaling, Normalization, LayerNormalization, Dropout, pooling, reshaping, a custom layer
# whose own weights are a class token) is passed over; a layer that holds others is looked inside.
_KERNEL_WEIGHTS = ("kernel", "depthwise_kernel", "pointwise_kernel", "embeddings", "recurrent_kernel")


def kernel_kind(layer: keras.layers.Layer) -> KernelKind:
    """How `layer` is drawn. KeyError for a layer filterviz does not draw."""
    for layer_type, kind in KERNEL_KINDS:
        if isinstance(layer, layer_type):
            return kind
    raise KeyError(type(layer).__name__)


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


def kernel_array(layer: keras.layers.Layer) -> np.ndarray:
    """A private copy of the layer's kernel as a numpy array, in its own dtype (bfloat16 included).

    Private: training goes on while it is rendered on another thread. TensorFlow's numpy() reads the
    variable into a new buffer. Elsewhere the conversion may share memory with the parameter (torch's
    optimizers update it in place; jax may reuse donated buffers), so the array is copied. Under jax, a
    kernel sharded across processes is gathered whole, a collective.
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
    if not getattr(value, "is_fully_addressable", True) and not value.is_fully_replicated:
        # Sharded across the devices of several processes (keras.distribution's ModelParallel): the whole
        # kernel, gathered from all of them. A collective: every process must read it at the same time.
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(value, tiled=True))
    return np.array(value)


def current_kernel(model: keras.Model, layer: keras.layers.Layer) -> np.ndarray:
    """`kernel_array` during training. Keras' JAX trainer keeps the weights outside the variables within an
    epoch; `jax_state_sync()` is how it lets a callback put them back before reading them."""
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()
    return kernel_array(layer)
