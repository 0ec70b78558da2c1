"""The layers of a Keras model in the order data flows through them, each with its path. Keras only.

A model's layers form a tree: Functional and Sequential models hold layers in a graph, and any layer may
hold sub-layers of its own (keras-hub's ViT keeps its patch embedding inside a custom
`ViTPatchingAndEmbedding` layer; a subclassed model keeps its layers as attributes). Every layer has a
path, the names of the layers that hold it and its own, joined by "/" (the model itself left out):
`vit_backbone/vit_patching_and_embedding/patch_embedding`.

The order data flows in comes from the best source there is:

* a functional graph gives the order of its nodes, and which layers an input reaches at all (in a
  two-tower model, the image input does not reach the text tower);
* inside custom layers and subclassed models there is no graph: the order is the one in which layers are
  first called in a forward pass. It is recorded while Keras traces the model symbolically (as Keras does
  itself before training), which runs no computation and changes no weight or random state;
* where no forward pass can be traced before training (a subclassed model not built yet, one whose
  `call` is not defined), the order of the first training step is recorded instead (`CallRecorder`);
* only when none of these is available, the order in which layers were assigned (tracking order).
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import keras


@dataclass(frozen=True)
class Found:
    """A layer and the layers that hold it, outermost first (the model itself left out)."""

    layer: keras.layers.Layer
    containers: tuple[keras.layers.Layer, ...]
    note: str = ""  # why this layer was chosen, when it was chosen for the user: one line
    passed_over_frozen: bool = False  # chosen because the first layer on the path is frozen

    @property
    def path(self) -> str:
        return "/".join([*(c.name for c in self.containers), self.layer.name])


def sublayers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers `layer` holds directly, in the order Keras tracks them (a graph's in topological order)."""
    if isinstance(layer, keras.Sequential):
        return list(layer.layers)  # without the InputLayer
    return [child for child in getattr(layer, "_layers", []) if isinstance(child, keras.layers.Layer)]


def tracked(model: keras.layers.Layer) -> list[Found]:
    """Every layer under `model`, depth first in tracking order, each once: a layer held in two places
    (a tied decoder holding its encoder, say) is listed where it is met first."""
    seen: set[int] = set()
    found: list[Found] = []

    def visit(layer: keras.layers.Layer, containers: tuple[keras.layers.Layer, ...]) -> None:
        for child in sublayers(layer):
            if id(child) in seen or isinstance(child, keras.layers.InputLayer):
                continue
            seen.add(id(child))
            found.append(Found(child, containers))
            visit(child, (*containers, child))

    visit(model, ())
    return found


def is_graph(model: keras.layers.Layer) -> bool:
    """A Functional model (its graph is its data flow) or a Sequential one (its list is)."""
    return isinstance(model, keras.Sequential) or hasattr(model, "_nodes_by_depth")


@dataclass(frozen=True)
class Flow:
    """The layers an input reaches, in the order data flows through them.

    Attributes:
        layers: in data-flow order (layers that hold others come before what they hold).
        source: how the order was found: "graph", "traced", "recorded" or "tracking".
        input_name: the model input followed (None when the model has no named inputs).
        input_names: every input the model has.
    """

    layers: tuple[Found, ...]
    source: str
    input_name: str | None = None
    input_names: tuple[str, ...] = ()


def image_input(model: keras.layers.Layer) -> int | None:
    """The position of the model input to follow: the first image-like one (float, rank 3 or more: a
    batch axis, at least one spatial axis, and channels), else the first; None without a graph."""
    inputs = getattr(model, "inputs", None) if hasattr(model, "_nodes_by_depth") else None
    if not inputs:
        return None
    for position, tensor in enumerate(inputs):
        if len(tensor.shape) >= 3 and "float" in str(tensor.dtype):
            return position
    return 0


def flow(model: keras.layers.Layer, calls: list[int] | None = None) -> Flow:
    """The layers of `model` in data-flow order, from its image-like input.

    Args:
        model: a Keras model (or layer).
        calls: ids of layers in the order of their first call, recorded in a training step
            (`CallRecorder`); None to trace a forward pass here when one is needed.
    """
    every = tracked(model)
    position = image_input(model)
    names = tuple(t.name for t in model.inputs) if position is not None else ()
    reached = _reached(model, position) if position is not None else None
    if calls is None and _needs_calls(model, every, reached):
        calls = traced_calls(model, every)
        source = "traced" if calls is not None else "tracking"
    elif calls is not None:
        source = "recorded"
    else:
        source = "graph"
    ordered = _in_call_order(every, calls) if calls is not None else every
    if reached is not None:
        ordered = [f for f in ordered if _is_reached(f, reached)]
    return Flow(tuple(ordered), source, names[position] if names else None, names)


def _is_reached(found: Found, reached: set[int]) -> bool:
    """Whether the followed input reaches `found`: the walk through the graphs reached it, or a custom layer
    that holds it is reached (no graph says which of a custom layer's sublayers data meets: all count).
    Inside a nested graph (a functional sub-model), its own walk decides: a two-input backbone's text
    tower is not reached because the backbone is."""
    if id(found.layer) in reached:
        return True
    for container in reversed(found.containers):
        if is_graph(container):
            return False
        if id(container) in reached:
            return True
    return False


def _needs_calls(model, every: list[Found], reached: set[int] | None) -> bool:
    """The order inside some layer is not given by a graph: the model is subclassed, or a custom layer
    that the followed input reaches holds layers of its own."""
    if not is_graph(model):
        return True
    for found in every:
        layer = found.layer
        inside_graph = all(is_graph(c) for c in found.containers)
        custom = inside_graph and not is_graph(layer) and sublayers(layer)
        if custom and (reached is None or id(layer) in reached):
            return True
    return False


def _in_call_order(every: list[Found], calls: list[int]) -> list[Found]:
    """`every` in the order of `calls`; what was never called keeps its tracking order, after."""
    rank = {layer_id: i for i, layer_id in enumerate(calls)}
    position = {id(f.layer): i for i, f in enumerate(every)}
    return sorted(every, key=lambda f: (rank.get(id(f.layer), len(rank)), position[id(f.layer)]))


def _reached(model: keras.layers.Layer, position: int) -> set[int]:
    """Ids of the layers that input `position` of a functional model reaches, nested models entered."""
    reached: set[int] = set()
    _reach(model, {position}, reached)
    return reached


def _reach(model, positions: set[int], reached: set[int]) -> None:
    if isinstance(model, keras.Sequential) or not hasattr(model, "_nodes_by_depth"):
        reached.update(id(layer) for layer in model._flatten_layers(include_self=False))
        return
    live = {id(model.inputs[p]) for p in positions}
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if not node.operation or node.is_input:
                continue
            inputs = node.input_tensors
            fed = {i for i, tensor in enumerate(inputs) if id(tensor) in live}
            if not fed:
                continue
            operation = node.operation
            if isinstance(operation, keras.layers.Layer):
                reached.add(id(operation))
                if is_graph(operation) and operation is not model:
                    _reach(operation, fed, reached)
            live.update(id(tensor) for tensor in node.outputs)


def input_specs(model: keras.layers.Layer):
    """Symbolic inputs of the shapes the model was built for, or None when they are not known."""
    if hasattr(model, "_nodes_by_depth"):
        specs = getattr(model, "_inputs_struct", None)
        return model.inputs if specs is None else specs
    shapes = getattr(model, "_build_shapes_dict", None)
    if not shapes or len(shapes) != 1:
        return None
    (shape,) = shapes.values()
    dtype = getattr(model, "input_dtype", None) or "float32"
    try:
        return keras.tree.map_shape_structure(lambda s: keras.KerasTensor(s, dtype), shape)
    except (TypeError, ValueError):
        return None


def traced_calls(model: keras.layers.Layer, every: list[Found] | None = None) -> list[int] | None:
    """Ids of the layers in the order a symbolic forward pass first calls them, or None when no pass can
    be traced (unknown input shapes, no `call`, a layer that cannot run symbolically)."""
    every = every if every is not None else tracked(model)
    if not all(found.layer.built for found in every):
        return None  # tracing would build them: that is Keras' own first step to do
    specs = input_specs(model)
    if specs is None:
        return None
    try:
        from keras.src.backend import compute_output_spec  # what Keras' own symbolic build uses
    except ImportError:  # a Keras that moved it: fall back to a coarser order
        return None
    recorder = CallRecorder(found.layer for found in every)
    with recorder:
        try:
            compute_output_spec(model, specs, training=False)
        except Exception:  # any layer that cannot be traced: the order is not known this way
            return None
    return recorder.calls


class CallRecorder:
    """While open, notes the order in which the given layers' `call` runs for the first time.

    It sets each layer's `call` to a thin wrapper of its own (Keras calls `self.call` from `__call__`, so
    the wrapper sees every call) and puts the original back on close. Open it around a symbolic pass, or
    from `on_train_begin` to the end of the first training step.
    """

    def __init__(self, layers) -> None:
        self._layers = list(layers)
        self._first: dict[int, None] = {}
        self._patched: list[tuple[keras.layers.Layer, object]] = []

    @property
    def calls(self) -> list[int]:
        return list(self._first)

    def open(self) -> None:
        for layer in self._layers:
            own = vars(layer).get("call", _MISSING)
            original = layer.call

            @functools.wraps(original)
            def call(*args, __layer=layer, __original=original, **kwargs):
                self._first.setdefault(id(__layer), None)
                return __original(*args, **kwargs)

            try:
                object.__setattr__(layer, "call", call)
            except (AttributeError, TypeError):  # a layer that refuses attributes: unseen, not broken
                continue
            self._patched.append((layer, own))

    def close(self) -> None:
        patched, self._patched = self._patched, []
        for layer, own in patched:
            with contextlib.suppress(AttributeError, TypeError):
                if own is _MISSING:
                    object.__delattr__(layer, "call")
                else:
                    object.__setattr__(layer, "call", own)

    def __enter__(self) -> CallRecorder:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_MISSING = object()
