"""What one logged step of a layer holds, as every destination receives it (TensorBoard, W&B, MLflow).
numpy only."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from filterviz.core.png import encode_png


@dataclass(frozen=True)
class LoggedStep:
    """Everything one logged step of one layer sends to the writers.

    A step that only completes an earlier one (the update ratio measured after it was logged) has no image.
    """

    tag: str  # "filters/<layer name>"
    step: int
    axis: str  # what the step counts: "epoch" or "batch"
    image: np.ndarray | None  # the grid, uint8 (H, W, 1) or (H, W, 3)
    description: str = ""  # what is drawn and how, and the weights' range at this step
    colour: bool = False  # the tiles are in colour (RGB filters or a colour map), not gray
    delta: np.ndarray | None = None  # the grid of W_t - W_prev (log_delta), symmetric
    scalars: dict[str, float] = field(default_factory=dict)  # health: name -> value
    per_filter: dict[str, np.ndarray] = field(default_factory=dict)  # health: name -> one value per filter
    kernel: np.ndarray | None = None  # the kernel at this step, when it is stored
    layer: dict[str, Any] = field(default_factory=dict)  # how the layer is drawn, for the Filters tab
    shed: tuple[str, ...] = ()  # what was left out of this step because the writer fell behind

    @property
    def caption(self) -> str:
        return f"{self.description}; {self.axis} {self.step}"

    @functools.cached_property
    def png(self) -> bytes:
        """Encoded once, however many writers need it."""
        return encode_png(self.image, colour=self.colour)

    @functools.cached_property
    def delta_png(self) -> bytes:
        return encode_png(self.delta, colour=self.colour)


def step_list(steps: list[int], shown: int = 8) -> str:
    """Steps for a message: the first `shown` of them, and the last."""
    text = ", ".join(map(str, steps[:shown]))
    return text + (f" ... {steps[-1]}" if len(steps) > shown else "")


def safe_name(name: str) -> str:
    """A layer name as a TensorBoard tag part, W&B key part and file name: letters, digits, _ . - only."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name).strip("_") or "layer"
