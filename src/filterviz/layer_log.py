"""One layer's logged steps: a kernel snapshot -> its grid, its health, and what is stored of it.

No Keras here. FilterLogger makes one LayerLog per layer it logs, before training, and hands it snapshots
on the writer thread; a LayerLog remembers the first state it logged (for `drift`) and the last (for the
delta grid).

Health's `noise` and `redundancy` cost little on a first Conv2D layer, but on a Dense layer of a thousand
units they take ten times as long as drawing its grid (the cosines of every pair of units, an FFT of every
tile). So that logging keeps up with training, they are computed at every k-th logged step, where k is
fixed at the first step: 1 when they take at most half as long as drawing and encoding the grid (or less
than HEAVY_FLOOR), else as many steps as keep their average cost within that half (in CPU time).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Literal

import numpy as np

from filterviz import health
from filterviz.log_format import describe_layer
from filterviz.normalize import as_float
from filterviz.renderer import Renderer
from filterviz.tiles import tile_images
from filterviz.writers import LoggedStep
from filterviz.writers.png import encode_png

HEAVY_FLOOR = 0.005  # seconds: noise and redundancy cheaper than this are computed at every logged step
KERNEL_STORE_LIMIT = 1 << 20  # bytes per step: store_kernel="auto" keeps float32 kernels up to 1 MiB
StoreKernel = bool | Literal["auto"]


class LayerLog:
    """What is logged of one layer at each step.

    Args:
        renderer: draws this layer's kernels.
        tag: `filters/<layer>`.
        axis: what steps count, "epoch" or "batch".
        path: the layer's path in the model, for the Filters tab.
        health: compute the health values.
        store_kernel: keep the float32 kernel with each step: True, False, or "auto" (up to 1 MiB).
        log_delta: draw W_t - W_prev too (symmetric normalization).
        choice: why this layer was chosen, when filterviz chose it (one line, for the Filters tab).
    """

    def __init__(
        self,
        renderer: Renderer,
        tag: str,
        axis: str,
        *,
        path: str,
        health: bool = True,
        store_kernel: StoreKernel = "auto",
        log_delta: bool = False,
        choice: str = "",
    ) -> None:
        self.renderer = renderer
        self.tag = tag
        self.axis = axis
        self.health = health
        kernel_bytes = 4 * int(np.prod(renderer.kernel_shape))
        self.stores_kernel = kernel_bytes <= KERNEL_STORE_LIMIT if store_kernel == "auto" else store_kernel
        self.delta_renderer = None
        if log_delta:
            options = dataclasses.replace(renderer.options, normalize="symmetric", clip_percentile=None)
            self.delta_renderer = Renderer(
                renderer.kernel_shape,
                options,
                inferred_tile_shape=renderer.inferred_tile_shape,
                name=f"{renderer.name}, change",
            )
        self._first: np.ndarray | None = None  # W_0, transposed
        self._previous: np.ndarray | None = None  # the last kernel logged
        self._count = 0  # steps logged
        self.heavy_every = 1  # noise and redundancy at every k-th logged step (chosen at the first)
        self.info = describe_layer(renderer, tag, axis, path, self.stores_kernel)
        self.info["choice"] = choice
        self.missing_initial = ""  # why the first step logged is not step 0, said in its caption

    @property
    def needs_whole_kernel(self) -> bool:
        """Snapshots must hold every unit, not only those drawn."""
        return self.health or self.stores_kernel or self.delta_renderer is not None

    def snapshot(self, kernel: np.ndarray) -> np.ndarray:
        """What of a private copy of the kernel the training thread hands over."""
        return kernel if self.needs_whole_kernel else self.renderer.snapshot(kernel)

    def logged(
        self, step: int, kernel: np.ndarray, before: np.ndarray | None = None
    ) -> tuple[LoggedStep, int]:
        """(everything logged at `step`, the number of NaN or Inf weights drawn). `before`: the kernel one
        optimizer step earlier, for the update ratio, or None."""
        started = time.thread_time()
        picture = self.renderer.draw(kernel)
        drawn = time.thread_time() - started
        scalars: dict[str, float] = {}
        per_filter: dict[str, np.ndarray] = {}
        if self.health:
            units = self.renderer.layout.units
            weights = health.columns_of(kernel, units)
            previous = None if before is None else health.columns_of(before, units)
            if self._count == 0:
                measured = self._choose_heavy_every(weights, previous, kernel, drawn, picture.image)
            else:
                heavy = self._count % self.heavy_every == 0
                images = self._images(kernel) if heavy else None
                measured = health.measure(weights, images, self._first, previous, heavy)
            if self._first is None:
                self._first = weights
            scalars, per_filter = measured.scalars, measured.per_filter
        self._count += 1
        delta = None
        if self.delta_renderer is not None and self._previous is not None:
            delta = self.delta_renderer.draw(as_float(kernel) - as_float(self._previous)).image
        if self.delta_renderer is not None:
            self._previous = kernel
        description = self.renderer.describe(picture)
        if self.missing_initial:
            description += f"; {self.missing_initial}"
            self.info["missing_initial"], self.missing_initial = self.missing_initial, ""
        result = LoggedStep(
            self.tag,
            step,
            self.axis,
            picture.image,
            description,
            self.renderer.colour,
            delta=delta,
            scalars={name: scalars[name] for name in health.SCALARS if name in scalars},
            per_filter=per_filter,
            kernel=as_float(kernel).astype(np.float32, copy=False) if self.stores_kernel else None,
            layer=self.info,
        )
        return result, picture.nonfinite

    def late_update(self, step: int, after: np.ndarray, before: np.ndarray) -> LoggedStep:
        """The update ratio of `step`, measured after it was logged: `before` is its kernel and `after` the
        kernel one optimizer step later."""
        units = self.renderer.layout.units
        ratio, per_filter = health.update_ratio(
            health.columns_of(after, units), health.columns_of(before, units)
        )
        return LoggedStep(
            self.tag,
            step,
            self.axis,
            None,
            scalars={"update_ratio": ratio},
            per_filter={"update_ratio": per_filter},
            layer=self.info,
        )

    def _images(self, kernel: np.ndarray) -> np.ndarray | None:
        return tile_images(as_float(kernel), self.renderer.layout)

    def _choose_heavy_every(
        self,
        weights: np.ndarray,
        previous: np.ndarray | None,
        kernel: np.ndarray,
        drawn: float,
        image: np.ndarray,
    ) -> health.Health:
        """Time noise and redundancy against drawing and encoding the grid, choose k, and return the first
        step's health. Times are this thread's CPU time: the writer runs at the lowest priority, and waiting
        for the CPU is no cost of its own."""
        started = time.thread_time()
        encode_png(image, colour=self.renderer.colour)
        drawn += time.thread_time() - started
        started = time.thread_time()
        health.measure(weights, before=previous, heavy=False)
        light = time.thread_time() - started
        started = time.thread_time()
        measured = health.measure(weights, self._images(kernel), before=previous)
        heavy = max(0.0, time.thread_time() - started - light)
        budget = 0.5 * drawn
        self.heavy_every = 1 if heavy <= max(HEAVY_FLOOR, budget) else math.ceil(heavy / budget)
        self.info["heavy_every"] = self.heavy_every
        return measured
