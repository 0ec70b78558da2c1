"""Which torch modules filterviz draws, and their weights in the layout filterviz.core reads (Keras').

torch keeps a convolution's weight as (out, in / groups, *kernel) and a transposed one as
(in, out / groups, *kernel); Keras keeps (*kernel, in / groups, out) and (*kernel, out, in). A depthwise
convolution (groups == in_channels, out = in * m) is Keras' DepthwiseConv (*kernel, in, m): torch's output
channel c * m + j is Keras' (c, j). A Linear weight is (out, in), Keras' Dense (in, out). Moving the axes
is all it takes: each weight keeps its value and its place within its filter, so the same weights give the
same tiles in either framework.

The training thread copies the weight as torch holds it (`copy_weight`); moving the axes (`keras_layout`)
happens on the writer thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class TorchKind:
    """How one torch module's weight is drawn: its kind (filterviz.core.tiles.KINDS), the axes that take
    torch's weight to Keras' layout, and what captions add."""

    kind: str
    axes: tuple[int, ...]
    channels: int = 0  # a depthwise convolution's input channels (its groups); 0 for the others
    note: str = ""


_CONV = {1: (2, 1, 0), 2: (2, 3, 1, 0), 3: (2, 3, 4, 1, 0)}  # (out, in, *k) -> (*k, in, out)
_TRANSPOSED = _CONV  # (in, out, *k) -> (*k, out, in): the same move
_DEPTHWISE = {1: (2, 0, 1), 2: (2, 3, 0, 1)}  # (in, m, *k) -> (*k, in, m)
_CONVOLUTIONS = {
    nn.Conv1d: ("conv1d", 1),
    nn.Conv2d: ("conv2d", 2),
    nn.Conv3d: ("conv3d", 3),
    nn.ConvTranspose1d: ("conv1d_transpose", 1),
    nn.ConvTranspose2d: ("conv2d_transpose", 2),
    nn.ConvTranspose3d: ("conv3d_transpose", 3),
}

# The modules filterviz draws; in messages by their class names.
SUPPORTED = (nn.Linear, *_CONVOLUTIONS)
SUPPORTED_NAMES = ", ".join(t.__name__ for t in SUPPORTED[:-1]) + f" or {SUPPORTED[-1].__name__}"

# Modules whose weights transform their input but have no picture: a lookup table, attention's packed
# projections. Reached first, they are refused by name rather than passed over.
UNDRAWABLE = (nn.Embedding, nn.EmbeddingBag, nn.MultiheadAttention)


def torch_kind(module: nn.Module) -> TorchKind:
    """How `module` is drawn. KeyError for a module filterviz does not draw."""
    if isinstance(module, nn.Linear):
        return TorchKind("dense", (1, 0))
    kind, dimensions = next(
        (named for module_type, named in _CONVOLUTIONS.items() if isinstance(module, module_type)),
        (None, 0),
    )
    if kind is None:
        raise KeyError(type(module).__name__)
    groups = module.groups
    if kind.endswith("_transpose"):
        note = f"{groups} groups: each input channel paints its group's outputs" if groups > 1 else ""
        return TorchKind(kind, _TRANSPOSED[dimensions], note=note)
    if groups > 1 and groups == module.in_channels and dimensions in _DEPTHWISE:
        return TorchKind(f"depthwise{dimensions}d", _DEPTHWISE[dimensions], channels=groups)
    note = f"{groups} groups: each filter sees its group's input channels" if groups > 1 else ""
    return TorchKind(kind, _CONV[dimensions], note=note)


def is_drawn(module: nn.Module) -> bool:
    """`module` is of a kind filterviz draws, and has its weight (a lazy module has none before its first
    call)."""
    weight = getattr(module, "weight", None)
    return (
        isinstance(module, SUPPORTED)
        and isinstance(weight, torch.Tensor)
        and not isinstance(weight, nn.parameter.UninitializedParameter)
    )


def keras_shape(module: nn.Module) -> tuple[int, ...]:
    """The shape of the module's weight in Keras' layout."""
    empty = np.broadcast_to(np.uint8(0), tuple(module.weight.shape))
    return keras_layout(empty, torch_kind(module)).shape


def keras_layout(weight: np.ndarray, kind: TorchKind) -> np.ndarray:
    """A weight as torch holds it -> the same values in Keras' layout (a view)."""
    if kind.channels:  # depthwise: (in * m, 1, *k) -> (in, m, *k); output c * m + j is channel c's j-th
        weight = weight.reshape(kind.channels, -1, *weight.shape[2:])
    return weight.transpose(kind.axes)


def copy_weight(module: nn.Module) -> np.ndarray | PendingCopy:
    """A private copy of the module's weight, as torch holds it: training goes on while it is drawn on
    another thread. bfloat16 comes as float32, which holds it exactly (numpy has no bfloat16).

    From a GPU the copy goes into pinned memory without waiting for it (`PendingCopy`), so the training
    step does not stall; the writer thread waits for it. A weight sharded across processes (a DTensor,
    as FSDP2 and tensor parallelism make) is gathered whole first: a collective every process must join
    at the same step.
    """
    weight = module.weight.detach()
    full_tensor = getattr(weight, "full_tensor", None)
    if full_tensor is not None:  # torch.distributed.tensor.DTensor
        weight = full_tensor()
    dtype = torch.float32 if weight.dtype == torch.bfloat16 else weight.dtype
    if weight.is_cuda:
        return PendingCopy(weight, dtype)
    return weight.to(dtype=dtype, copy=True).numpy()


class PendingCopy:
    """A weight on its way from the GPU into pinned host memory; `array()` waits for it."""

    def __init__(self, weight: torch.Tensor, dtype: torch.dtype) -> None:
        self._host = torch.empty(weight.shape, dtype=dtype, pin_memory=True)
        self._host.copy_(weight, non_blocking=True)
        self._done = torch.cuda.Event()
        self._done.record()
        self.nbytes = self._host.numel() * self._host.element_size()

    def array(self) -> np.ndarray:
        self._done.synchronize()
        return self._host.numpy()


def host_array(copy: np.ndarray | PendingCopy) -> np.ndarray:
    """What `copy_weight` returned, as a numpy array (waiting for a copy from the GPU to arrive)."""
    return copy.array() if isinstance(copy, PendingCopy) else copy
