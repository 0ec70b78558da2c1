"""Writers: one grid image out to a destination (TensorBoard, Weights & Biases, files). No Keras here."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from filterviz.writers.png import encode_png


@dataclass(frozen=True)
class GridImage:
    """One grid to log: what it shows, at which step, and the pixels."""

    tag: str  # "filters/<layer name>"
    step: int
    axis: str  # what the step counts: "epoch" or "batch"
    image: np.ndarray  # uint8 (H, W, 1) or (H, W, 3)
    description: str  # what is drawn and how, and the weights' range at this step
    colour: bool = False  # the tiles are in colour (RGB filters or a colour map), not gray

    @property
    def caption(self) -> str:
        return f"{self.description}; {self.axis} {self.step}"

    @functools.cached_property
    def png(self) -> bytes:
        """Encoded once, however many writers need it."""
        return encode_png(self.image, colour=self.colour)


def safe_name(name: str) -> str:
    """A layer name as a TensorBoard tag part, W&B key part and file name: letters, digits, _ . - only."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name).strip("_") or "layer"
