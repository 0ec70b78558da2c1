"""Timing shared by the benchmarks (and any test that needs a cost, never a wall-time assertion): one
call's seconds, a median in milliseconds, and what the health values of a logged step cost."""

from __future__ import annotations

import statistics
import time

import numpy as np

from filterviz.core import health
from filterviz.core.renderer import Renderer
from filterviz.core.tiles import tile_images


def timed(function, *args, **kwargs) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


def median_ms(function, repeats: int = 9) -> float:
    """Milliseconds of `function()`, the median of `repeats` calls."""
    return statistics.median(timed(function) for _ in range(repeats)) * 1e3


def health_cost(kernel: np.ndarray, renderer: Renderer, repeats: int) -> tuple[float, float]:
    """(seconds the health values of every logged step take, seconds one computation of the heavy ones
    adds), medians: health.measure as LayerLog calls it, with W_0 and W one step before."""
    units = renderer.layout.units
    weights = health.columns_of(kernel, units)
    first, before = weights * np.float32(1.01), weights * np.float32(0.999)
    images = tile_images(kernel, renderer.layout)
    light, heavy = [], []
    for _ in range(repeats):
        light.append(timed(health.measure, weights, None, first, before, False))
        heavy.append(timed(health.measure, weights, images, first, before, True) - light[-1])
    return statistics.median(light), max(0.0, statistics.median(heavy))
