"""A Keras model -> its layer's grid: the public `render` and `save_png`, and the renderer FilterLogger draws
a layer with. The layer is chosen by filterviz.keras.choice; drawing is filterviz.core's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from filterviz.core.options import RenderOptions
from filterviz.core.png import write_png
from filterviz.core.renderer import Renderer
from filterviz.keras import choice, image_shape, kernels
from filterviz.keras.dataflow import Found


def renderer_for(
    model: keras.Model, layer: str | keras.layers.Layer | None, options: RenderOptions
) -> tuple[Renderer, Found]:
    """The layer to draw in `model` (with its path) and a renderer checked against it. Raises ValueError
    early."""
    found = choice.find_layer(model, layer)
    return renderer_of(found, options, model), found


def renderer_of(found: Found, options: RenderOptions, model: keras.Model | None = None) -> Renderer:
    """A renderer for a layer found in `model`."""
    kind = kernels.kernel_kind(found.layer)
    inferred = image_shape.infer_tile_shape(found)
    flat = options.tile_shape is None and inferred is None and model is not None
    return Renderer(
        tuple(kernels.kernel_variable(found.layer).shape),
        options,
        kind=kind.kind,
        inferred_tile_shape=inferred,
        name=f"layer {found.path!r}",
        note=kind.note,
        flat_hint=image_shape.patch_hint(model, found) if flat else "",
    )


def render(model: keras.Model, layer: str | keras.layers.Layer | None = None, **options: Any) -> np.ndarray:
    """Draw a model's first kernel layer (or `layer`) as one grid image.

    Args:
        model: a built Keras model.
        layer: None for the first layer with a kernel filterviz draws (Dense, Conv1D/2D/3D, depthwise,
            separable or transposed convolutions) in data-flow order, nested models and custom layers
            included; or a layer name, path ("backbone/conv1") or layer object.
        **options: rendering options, as for `kernel_grid`.

    Returns:
        uint8 array (H, W, 1) when all gray, else (H, W, 3).

    Example:
        >>> import keras, filterviz
        >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
        >>> filterviz.render(model, scale=1).shape
        (19, 19, 3)
    """
    return render_found(model, layer, RenderOptions.from_kwargs(**options))[0]


def save_png(
    model: keras.Model,
    path: str | os.PathLike[str],
    layer: str | keras.layers.Layer | None = None,
    **options: Any,
) -> Path:
    """Render like `render` and write the grid to `path` as a PNG. Returns the path.

    Example:
        >>> import keras, filterviz
        >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(8, 3)])
        >>> filterviz.save_png(model, "filters.png").name
        'filters.png'
    """
    image, renderer, _ = render_found(model, layer, RenderOptions.from_kwargs(**options))
    return write_png(image, path, colour=renderer.colour)


def render_found(
    model: keras.Model, layer: str | keras.layers.Layer | None, options: RenderOptions
) -> tuple[np.ndarray, Renderer, Found]:
    """`render`, also returning the renderer and the layer found (with why it was chosen)."""
    renderer, found = renderer_for(model, layer, options)
    return renderer.draw_and_warn(kernels.kernel_array(found.layer)).image, renderer, found
