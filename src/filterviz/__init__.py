"""filterviz: watch a Keras model's first-layer filters learn.

    import filterviz
    img = filterviz.render(model)                   # the first kernel layer as one uint8 grid
    filterviz.save_png(model, "filters.png")
    img = filterviz.kernel_grid(kernel, tile_shape=(28, 28, 1))   # any kernel in Keras layout
    model.fit(x, y, callbacks=[filterviz.FilterLogger("logs/run1")])
    history = filterviz.load_history("logs/run1")      # every logged step, grid and health value

The package's folders are its architecture (docs/architecture.md): core (numpy only), keras (the only code
that imports Keras), pipeline (off the training thread), eventfile (the format both ways), dashboard (the
Filters tab) and cli. Keras and tensorboard are imported only when a name that needs them is first used, so
`kernel_grid` and the command line start quickly.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from filterviz.core.options import RenderOptions
from filterviz.core.renderer import kernel_grid
from filterviz.core.warning import FilterVizWarning

__version__ = "0.1.0"  # the one place it is defined: pyproject.toml reads it from here

if TYPE_CHECKING:
    from filterviz.eventfile.history import History, load_history
    from filterviz.keras.callback import FilterLogger
    from filterviz.keras.rendering import render, save_png

__all__ = [
    "FilterLogger",
    "FilterVizWarning",
    "History",
    "RenderOptions",
    "kernel_grid",
    "load_history",
    "render",
    "save_png",
]

# Names whose modules import Keras or tensorboard: imported when first used.
_LAZY = {
    "FilterLogger": "filterviz.keras.callback",
    "render": "filterviz.keras.rendering",
    "save_png": "filterviz.keras.rendering",
    "History": "filterviz.eventfile.history",
    "load_history": "filterviz.eventfile.history",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'filterviz' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
