"""A Keras model -> which layer to draw: the first with a kernel data reaches, or the one named.

Which layers there are and in which order data reaches them is filterviz.keras.dataflow's; which layers
have kernels and how each kind is drawn, filterviz.keras.kernels'. This module chooses among them, with
the errors that say what to do when nothing can be chosen, and the rules for frozen layers.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from filterviz.core import validate
from filterviz.keras.dataflow import Flow, Found, flow, sublayers, tracked
from filterviz.keras.kernels import SUPPORTED, SUPPORTED_NAMES, kernel_variable, owns_kernel
from filterviz.pipeline.steps import all_layers_that_fit

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
    if trained is not None and is_frozen(first.layer, trained):
        trainable = next((f for f in drawable if not is_frozen(f.layer, trained)), None)
        if trainable is not None:
            note = (
                f"the first trainable layer with a kernel that {where} reaches{order}; {first.path!r} comes "
                "first but is frozen (not trained), so its update ratio and drift would be 0"
            )
            return dataclasses.replace(trainable, note=note, passed_over_frozen=True)
    return dataclasses.replace(first, note=f"the first layer with a kernel that {where} reaches{order}")


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
    empty = "layer=[] names no layer: give at least one name, path or layer, or layer=None."
    validate.layer_choice(layer, keras.layers.Layer, LAYER_TYPES, empty)


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
    built = [entry for entry in candidates if entry.layer.built]
    sizes = [int(np.prod(kernel_variable(entry.layer).shape)) for entry in built]
    return built[: all_layers_that_fit(sizes, stacklevel=5)]


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
