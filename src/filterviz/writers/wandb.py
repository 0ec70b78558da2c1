"""Grid images -> a Weights & Biases run.

Each grid is logged as its own row: `{tag: wandb.Image(uint8 grid), "filterviz/<axis>": step}`, with the tag
declared against that x-axis key by `define_metric`, so the media panel's slider shows TensorBoard's epoch
or batch numbers. No `step=` is ever passed: W&B drops a row whose step is below the run's current one,
with only a warning, and other callbacks (WandbMetricsLogger) advance that step on their own. Rows are
never shared with another callback, so none of its metrics is lost or moved.

wandb 0.31 turns image arrays into PNG with a plain `astype(uint8)`: the grid is handed over as uint8
already, so nothing is clipped or wrapped.
"""

from __future__ import annotations

from typing import Any

from filterviz.writers import GridImage

EXTRA = "pip install 'filterviz[wandb]'"


def import_wandb():
    try:
        import wandb
    except ImportError:
        raise ImportError(f"FilterLogger(wandb=...) needs Weights & Biases: {EXTRA}") from None
    return wandb


def active_run(run: Any = None):
    """`run` if one is given, else the active `wandb.run`. RuntimeError when there is none."""
    wandb = import_wandb()
    run = wandb.run if run is None or run is True else run
    if run is None:
        raise RuntimeError(
            "FilterLogger(wandb=True) found no active W&B run: call wandb.init() before model.fit(), "
            "or pass the run as FilterLogger(wandb=run)."
        )
    return run


class WandbWriter:
    """Logs grids to one W&B run, one row each, against the x-axis key `filterviz/<axis>`."""

    def __init__(self, run: Any, tag: str, axis: str) -> None:
        self._wandb = import_wandb()
        self.run = run
        self.tag = tag
        self.step_key = f"filterviz/{axis}"  # outside "filters/": no layer name can collide with it
        run.define_metric(self.step_key, hidden=True)
        run.define_metric(tag, step_metric=self.step_key)

    @property
    def destination(self) -> str:
        return f"W&B run {getattr(self.run, 'name', None) or getattr(self.run, 'id', '')!s}"

    def write(self, grid: GridImage) -> None:
        pixels = grid.image[..., 0] if grid.image.shape[2] == 1 else grid.image
        image = self._wandb.Image(pixels, caption=grid.caption, mode="L" if pixels.ndim == 2 else "RGB")
        self.run.log({grid.tag: image, self.step_key: grid.step})

    def close(self) -> None:
        """The run belongs to the user: it stays open."""
