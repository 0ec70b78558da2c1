"""Which modules of a torch model to draw, and every error about it.

A torch module does not say in which order its submodules are used: registration order is only the order
of the attributes in `__init__`, and a model may define its head, or a branch, before the layers that feed
it. So the first layer is the first Linear or convolution *called*
in a forward pass: `FirstForward` hooks every module for the first forward pass and records the order in
which they are first called, and the shape of the input.

Names are module paths, as `model.named_modules()` gives them (`patch_embed.proj`,
`vit.embeddings.patch_embeddings.projection`); a name may be a path's last parts when they are
unambiguous (`proj`, `embeddings.patch_embeddings.projection`). The wrappers of distributed training
(DistributedDataParallel, DataParallel, FSDP) are looked through: paths are those of the model inside.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from filterviz.core import patches, validate
from filterviz.pipeline.steps import all_layers_that_fit
from filterviz.torch.kernels import SUPPORTED_NAMES, UNDRAWABLE, is_drawn

Shape = tuple[int, ...]
LayerChoice = str | nn.Module | Sequence[str | nn.Module] | None
LAYER_TYPES = "layer must be a module path, a torch module, a list of them, 'all' or None, not {}."


@dataclass(frozen=True)
class Chosen:
    """A module to draw, its path in the model, and why it was chosen (when filterviz chose it)."""

    module: nn.Module
    path: str
    note: str = ""
    passed_over_frozen: bool = False


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel, DataParallel or FSDP's wrapper (their `module`)."""
    wrappers = (nn.parallel.DistributedDataParallel, nn.DataParallel)
    while isinstance(model, wrappers) or type(model).__name__ == "FullyShardedDataParallel":
        model = model.module
    return model


def check_model(model: object, owner: str) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{owner} takes a torch.nn.Module, not {type(model).__name__}.")
    return unwrap(model)


def check_layer_choice(layer: object) -> None:
    """`layer=` has a type filterviz can use (checked when the front end is made)."""
    empty = "layer=[] names no layer: give at least one path or module, or layer=None."
    validate.layer_choice(layer, nn.Module, LAYER_TYPES, empty)


def paths_of(model: nn.Module) -> dict[int, str]:
    """id(module) -> its path in `model` (the first, for a module registered twice)."""
    paths: dict[int, str] = {}
    for path, module in model.named_modules():
        paths.setdefault(id(module), path)
    return paths


def resolve(model: nn.Module, layer: LayerChoice) -> list[Chosen] | None:
    """The modules `layer=` names, checked now; None for None and "all", which the first forward pass
    decides. Raises ValueError or TypeError naming the problem and the fix."""
    check_layer_choice(layer)
    if layer is None or (layer == "all" and "all" not in dict(model.named_modules())):
        return None
    items = list(layer) if isinstance(layer, list | tuple) else [layer]
    chosen = [_drawable(model, _find(model, item)) for item in items]
    paths = [entry.path for entry in chosen]
    if len(set(paths)) < len(paths):
        twice = sorted({path for path in paths if paths.count(path) > 1})
        raise ValueError(f"layer= names {', '.join(twice)} more than once: name each layer once.")
    return chosen


def _find(model: nn.Module, item: str | nn.Module) -> Chosen:
    paths = paths_of(model)
    if isinstance(item, nn.Module):
        if id(item) not in paths:
            raise ValueError(
                f"layer={type(item).__name__}(...) is not a module of this model: pass one of its own "
                "modules, or its path."
            )
        return Chosen(item, paths[id(item)])
    modules = dict(model.named_modules())
    if item in modules and item:
        return Chosen(modules[item], item)
    matches = [path for path in modules if path.endswith("." + item)]
    if len(matches) == 1:
        return Chosen(modules[matches[0]], matches[0])
    if matches:
        raise ValueError(
            f"layer={item!r} is the end of {len(matches)} module paths ({_listing(matches)}): give the whole "
            "path of the one you mean."
        )
    drawable = [path for path, module in modules.items() if is_drawn(module)]
    raise ValueError(
        f"The model has no module {item!r}. Modules filterviz draws here: {_listing(drawable) or 'none'}."
    )


def _drawable(model: nn.Module, chosen: Chosen) -> Chosen:
    module = chosen.module
    if is_drawn(module):
        return chosen
    inside = [
        f"{chosen.path}.{path}" if chosen.path else path
        for path, sub in module.named_modules()
        if path and is_drawn(sub)
    ]
    within = f" Inside it: {_listing(inside)}." if inside else ""
    raise ValueError(
        f"Module {chosen.path or '(the model)'!r} is a {type(module).__name__}; filterviz draws the "
        f"weights of {SUPPORTED_NAMES} modules.{within}"
    )


def is_frozen(module: nn.Module) -> bool:
    return not module.weight.requires_grad


class NoLayerToDraw(ValueError):
    """The first forward pass reaches no module filterviz draws first."""


def first_layer(calls: list[Chosen], input_name: str) -> Chosen:
    """The layer filterviz draws, from the modules in the order a forward pass first called them: the first
    Linear or convolution called, passing over frozen ones (their drift and update ratio would be 0) when a
    trainable one follows. Refuses an Embedding (or attention's packed projections) called first, naming
    the first layer it could draw."""
    weighted = [entry for entry in calls if is_drawn(entry.module) or isinstance(entry.module, UNDRAWABLE)]
    drawable = [entry for entry in weighted if is_drawn(entry.module)]
    if not weighted:
        raise NoLayerToDraw(
            f"The forward pass called no module whose weights filterviz draws ({SUPPORTED_NAMES}); it called "
            f"{_listing([entry.path for entry in calls if entry.path]) or 'no submodule'}."
        )
    first = weighted[0]
    if not is_drawn(first.module):
        next_one = drawable[0] if drawable else None
        further = (
            f"The first layer it draws further on is {next_one.path!r} ({type(next_one.module).__name__}): "
            f"pass layer={next_one.path!r} to draw it."
            if drawable
            else f"No module called further on is one it draws ({SUPPORTED_NAMES})."
        )
        raise NoLayerToDraw(
            f"The first module with weights that {input_name} reaches is {first.path!r} "
            f"({type(first.module).__name__}), which has no picture; filterviz does not draw a deeper layer "
            f"as if it were the first. {further}"
        )
    order = "in the order a forward pass first calls the modules"
    if is_frozen(first.module):
        trainable = next((entry for entry in drawable if not is_frozen(entry.module)), None)
        if trainable is not None:
            return Chosen(
                trainable.module,
                trainable.path,
                f"the first trainable layer that {input_name} reaches, {order}; {first.path!r} comes first "
                "but is frozen (requires_grad=False), so its update ratio and drift would be 0",
                passed_over_frozen=True,
            )
    return Chosen(first.module, first.path, f"the first layer that {input_name} reaches, {order}")


def all_layers(calls: list[Chosen]) -> list[Chosen]:
    """layer="all": every module filterviz draws, in the order the forward pass first called them, within
    the limits of filterviz.pipeline.steps.all_layers_that_fit."""
    drawable = [entry for entry in calls if is_drawn(entry.module)]
    if not drawable:
        first_layer(calls, "the input")  # the error of a model with nothing to draw
    sizes = [entry.module.weight.numel() for entry in drawable]
    return drawable[: all_layers_that_fit(sizes, stacklevel=4)]


class FirstForward:
    """Records a model's first forward pass: its modules in the order they are first called, and the shape
    of the input of the first module called (the outermost). `done(calls, input_shape)` is called when
    that outermost call returns; the hooks are gone by then.

    The forward pass of Lightning and the Hugging Face Trainer runs inside the optimizer's step (a
    closure), after its step hooks: the first forward pass, not the first step, is where a training
    first shows its layers, with its weights still as they were before training.
    """

    def __init__(self, model: nn.Module, done: Callable[[list[Chosen], Shape | None], None]) -> None:
        self._paths = paths_of(model)
        self._done = done
        self._seen: set[int] = set()
        self.calls: list[Chosen] = []
        self.input_shape: tuple[int, ...] | None = None
        self._outermost: nn.Module | None = None
        self._handles = []
        for module in model.modules():
            self._handles.append(module.register_forward_pre_hook(self._called, with_kwargs=True))
            self._handles.append(module.register_forward_hook(self._returned))

    def _called(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if id(module) in self._seen:
            return
        self._seen.add(id(module))
        self.calls.append(Chosen(module, self._paths.get(id(module), "")))
        if self._outermost is None:
            self._outermost = module
            self.input_shape = _first_tensor_shape(args, kwargs)

    def _returned(self, module: nn.Module, args: tuple, output: object) -> None:
        if module is self._outermost:
            self.close()
            self._done(self.calls, self.input_shape)

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def _first_tensor_shape(args: tuple, kwargs: dict) -> tuple[int, ...] | None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor) and value.ndim >= 2:
            return tuple(value.shape)
    return None


# Channel counts read as an image's colour channels when guessing which axis of an input holds them.
_COLOUR_CHANNELS = (1, 3, 4)


def image_behind(module: nn.Module, calls: list[Chosen], input_shape: Shape | None):
    """((H, W, C), flatten order) of the image behind a Linear layer's inputs, or None: when it is the
    first module with weights the input reaches and its inputs are the whole input, flattened. An input
    (N, C, H, W) flattened by nn.Flatten or .view(N, -1) is in channels-first order ("chw"); an input
    (N, H, W) is one gray image; an input (N, H, W, C) with 1, 3 or 4 channels last is read as such."""
    if not isinstance(module, nn.Linear) or input_shape is None or len(input_shape) not in (3, 4):
        return None
    if _called_before(module, calls) is None:
        return None  # its inputs are features another layer made, not the image
    image = input_shape[1:]
    if math.prod(image) != module.in_features:
        return None
    if len(image) == 2:
        return (image[0], image[1], 1), "hwc"
    if image[0] not in _COLOUR_CHANNELS and image[2] in _COLOUR_CHANNELS:
        return (image[0], image[1], image[2]), "hwc"
    channels, height, width = image
    return (height, width, channels), "chw"


def flat_hint(module: nn.Module, calls: list[Chosen] | None, input_shape: Shape | None) -> str:
    """For the first Linear layer an image input reaches whose inputs are not the whole image (flattened
    patches, as a ViT or MLP-Mixer written with Linear makes): which tile_shape to pass, from a `patch_size`
    that a module called before it holds and the image's channels; "" when nothing suggests patches."""
    if not isinstance(module, nn.Linear) or calls is None or input_shape is None or len(input_shape) != 4:
        return ""
    before = _called_before(module, calls)
    if before is None:
        return ""
    sizes = [(entry.path, entry.module.patch_size) for entry in before if hasattr(entry.module, "patch_size")]
    return patches.patch_hint(module.in_features, input_shape[1], sizes, other_order="hwc")


def _called_before(module: nn.Module, calls: list[Chosen]) -> list[Chosen] | None:
    """The modules called before `module`, or None when one of them has weights filterviz knows of (then
    `module`'s inputs are features, not pixels)."""
    before = []
    for entry in calls:
        if entry.module is module:
            break
        if is_drawn(entry.module) or isinstance(entry.module, UNDRAWABLE):
            return None
        before.append(entry)
    return before


def _listing(paths: list[str], limit: int = 12) -> str:
    more = f", and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more
