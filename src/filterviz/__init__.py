"""filterviz: watch a Keras model's first-layer filters learn.

    import filterviz
    img = filterviz.render(model)                   # the first kernel layer as one uint8 grid
    filterviz.save_png(model, "filters.png")
    img = filterviz.kernel_grid(kernel, tile_shape=(28, 28, 1))   # any kernel in Keras layout
    model.fit(x, y, callbacks=[filterviz.FilterLogger("logs/run1")])
    history = filterviz.load_history("logs/run1")      # every logged step, grid and health value

Keras and tensorboard are imported only when a name that needs them is first used, so `kernel_grid` and
the command line start quickly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"  # the one place it is defined: pyproject.toml reads it from here


class FilterVizWarning(UserWarning):
    """A picture was drawn, or a step logged, but not quite as asked: the message says what and why."""


# The modules below import FilterVizWarning from here, so it is defined before them.
from filterviz.options import RenderOptions  # noqa: E402
from filterviz.renderer import kernel_grid, render, save_png  # noqa: E402

if TYPE_CHECKING:
    from filterviz.callback import FilterLogger
    from filterviz.logs import History, load_history

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


def __getattr__(name: str) -> Any:
    if name == "FilterLogger":  # subclasses keras.callbacks.Callback: importing it imports Keras
        from filterviz.callback import FilterLogger

        return FilterLogger
    if name in ("History", "load_history"):  # reads tensorboard's protos
        from filterviz import logs

        return getattr(logs, name)
    raise AttributeError(f"module 'filterviz' has no attribute {name!r}")
