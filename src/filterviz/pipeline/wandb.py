"""Grid images -> a Weights & Biases run.

Each logged step is its own row: `{tag: wandb.Image(grid), tag/<health name>: value, ...,
"filterviz/<axis>": step}`, with the tag and its health values declared against that x-axis key by
`define_metric`, so the media panel's slider shows TensorBoard's epoch
or batch numbers. No `step=` is ever passed: W&B drops a row whose step is below the run's current one,
with only a warning, and other callbacks (WandbMetricsLogger) advance that step on their own. Rows are
never shared with another callback, so none of its metrics is lost or moved.

The grid goes over as the PNG already encoded for TensorBoard, as a file that wandb copies into the run:
no second encoding (wandb would run Pillow at its default level, 40x the cost of a large grid), and no
conversion (wandb 0.31 turns image arrays into PNG with a plain `astype(uint8)`). A run made with
`wandb.Settings(allow_media_symlink=True)` links each image to that file instead, and uploads it when the
run ends: there the files are written into the run's own folder (beside its `files/`, which is what W&B
uploads) and kept, so that no link outlives what it points to.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from filterviz.core.step import LoggedStep, safe_name

EXTRA = "pip install 'filterviz[wandb]'"


def import_wandb(owner: str = "FilterLogger"):
    try:
        import wandb
    except ImportError:
        raise ImportError(f"{owner}(wandb=...) needs Weights & Biases: {EXTRA}") from None
    return wandb


def active_run(run: Any = None, owner: str = "FilterLogger"):
    """`run` if one is given, else the active `wandb.run`. RuntimeError when there is none."""
    wandb = import_wandb(owner)
    run = wandb.run if run is None or run is True else run
    if run is None:
        raise RuntimeError(
            f"{owner}(wandb=True) found no active W&B run: call wandb.init() before training starts, "
            f"or pass the run as {owner}(wandb=run)."
        )
    return run


class WandbWriter:
    """Logs the grids of layers to one W&B run, a row per layer and logged step, against the x-axis key
    `filterviz/<axis>`; each layer's tag is declared against it when its first step comes."""

    def __init__(self, run: Any, axis: str) -> None:
        self._wandb = import_wandb()
        self.run = run
        self.step_key = f"filterviz/{axis}"  # outside "filters/": no layer name can collide with it
        run.define_metric(self.step_key, hidden=True)
        self._declared: set[str] = set()
        settings = getattr(run, "settings", None)
        # A run that links its media keeps pointing at our files until it uploads them, at its end.
        self._kept = bool(
            getattr(settings, "allow_media_symlink", False) and getattr(settings, "sync_dir", "")
        )
        if self._kept:
            self._folder = Path(settings.sync_dir) / "filterviz-media"
            self._folder.mkdir(parents=True, exist_ok=True)
        else:
            self._folder = Path(tempfile.mkdtemp(prefix="filterviz-wandb-"))  # PNGs on their way into the run

    @property
    def destination(self) -> str:
        return f"W&B run {getattr(self.run, 'name', None) or getattr(self.run, 'id', '')!s}"

    def write(self, logged: LoggedStep) -> None:
        if logged.tag not in self._declared:
            self._declared.add(logged.tag)
            self.run.define_metric(logged.tag, step_metric=self.step_key)
            self.run.define_metric(f"{logged.tag}/*", step_metric=self.step_key)  # health, delta grid
        row: dict[str, Any] = {f"{logged.tag}/{name}": value for name, value in logged.scalars.items()}
        images = []
        if logged.image is not None:
            images.append((logged.tag, logged.png))
        if logged.delta is not None:
            images.append((f"{logged.tag}/delta", logged.delta_png))
        files = []
        try:  # wandb reads each file when the image is made, and copies it into the run in log()
            for key, png in images:
                files.append(self._folder / f"{safe_name(key)}-{logged.step}-{uuid.uuid4().hex[:8]}.png")
                files[-1].write_bytes(png)
                row[key] = self._wandb.Image(str(files[-1]), caption=logged.caption)
            row[self.step_key] = logged.step
            self.run.log(row)
        finally:
            if not self._kept:
                for path in files:
                    path.unlink(missing_ok=True)

    def close(self) -> None:
        """The run belongs to the user: it stays open. Only the folder of PNGs in transit goes (not the
        files a run that links its media points at)."""
        if not self._kept:
            shutil.rmtree(self._folder, ignore_errors=True)
