"""A torch model -> its layer's grid: `render` and `save_png`, as filterviz.render draws a Keras model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from filterviz.core.png import write_png
from filterviz.core.renderer import Renderer
from filterviz.torch import choice
from filterviz.torch.kernels import copy_weight, host_array, keras_layout, torch_kind
from filterviz.torch.watcher import INPUT, render_options, renderer_of


def render(
    model: nn.Module,
    layer: str | nn.Module | None = None,
    *,
    example_input: Any = None,
    **options: Any,
) -> np.ndarray:
    """Draw a torch model's first layer (or `layer`) as one grid image, the tiles Keras' layer of the same
    weights gives.

    Args:
        model: the model.
        layer: None for the first Linear or convolution a forward pass calls (then give `example_input`),
            or a module path, its unambiguous end, or a module.
        example_input: a batch (a tensor, or a tuple of the model's arguments, or a dict of its keyword
            arguments) for one forward pass, run without gradients: it shows which layer the input reaches
            first and, for a Linear layer, the image its inputs were flattened from.
        **options: rendering options, as for `filterviz.render` (flatten_order "chw" when tile_shape is
            given).

    Returns:
        uint8 array (H, W, 1) when all gray, else (H, W, 3).

    Example:
        >>> import torch, filterviz.torch
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
        >>> filterviz.torch.render(model, example_input=torch.zeros(1, 3, 8, 8), scale=1).shape
        (19, 19, 3)
    """
    return render_found(model, layer, example_input, options)[0]


def save_png(
    model: nn.Module,
    path: str | os.PathLike[str],
    layer: str | nn.Module | None = None,
    *,
    example_input: Any = None,
    **options: Any,
) -> Path:
    """Render like `render` and write the grid to `path` as a PNG. Returns the path."""
    image, renderer, _ = render_found(model, layer, example_input, options)
    return write_png(image, path, colour=renderer.colour)


def render_found(
    model: nn.Module, layer: str | nn.Module | None, example_input: Any, options: dict[str, Any]
) -> tuple[np.ndarray, Renderer, choice.Chosen]:
    """`render`, also returning the renderer and the module drawn (with why it was chosen)."""
    model = choice.check_model(model, "filterviz.torch.render")
    explicit = choice.resolve(model, layer)
    if layer == "all" or (explicit is not None and len(explicit) != 1):
        raise ValueError("filterviz.torch.render draws one layer: pass one module path or module, or None.")
    calls, input_shape = _first_calls(model, example_input) if example_input is not None else (None, None)
    if explicit is None:
        if calls is None:
            raise ValueError(
                "filterviz.torch.render(model) needs example_input=<a batch> to tell which layer the input "
                "reaches first (a torch model does not say in which order it calls its modules), or layer="
                "<module path>."
            )
        chosen = choice.first_layer(calls, INPUT)
    else:
        chosen = explicit[0]
    renderer = renderer_of(chosen, render_options(**options), calls, input_shape)
    weight = keras_layout(host_array(copy_weight(chosen.module)), torch_kind(chosen.module))
    return renderer.draw_and_warn(weight).image, renderer, chosen


def _first_calls(model: nn.Module, example_input: Any):
    recorded = {}
    first = choice.FirstForward(model, lambda calls, shape: recorded.update(calls=calls, shape=shape))
    try:
        with torch.no_grad():
            if isinstance(example_input, dict):
                model(**example_input)
            elif isinstance(example_input, tuple):
                model(*example_input)
            else:
                model(example_input)
    finally:
        first.close()
    return recorded.get("calls", first.calls), recorded.get("shape", first.input_shape)
