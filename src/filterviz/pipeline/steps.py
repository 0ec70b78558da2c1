"""One layer's logged steps: a kernel snapshot -> its grid, its health, and what is stored of it.

No Keras here. FilterLogger makes one LayerLog per layer it logs, before training, and hands it snapshots
on the writer thread; a LayerLog remembers the first state it logged (for `drift`) and the last (for the
delta grid).

Health's noise, redundancy and opposites (health.HEAVY) cost little on a first Conv2D layer, but on a Dense
layer of a thousand units they take ten times as long as drawing its grid (the cosines of every pair of
units). So that logging keeps up with training, `HeavySchedule` computes them at every logged step when
they cost under HEAVY_FLOOR, and otherwise only as often as keeps them within HEAVY_SHARE of one core's time
between logged steps.

When the writer falls behind, it asks a step to leave out optional parts, in SHED_ORDER: first the heavy
values, then the stored kernel, then every health value; the grid itself is never left out here. What was
left out is said in the step (`LoggedStep.shed`), so that the Filters tab shows it as not computed at that
step and the end of training counts it.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from typing import TYPE_CHECKING, Literal

import numpy as np

from filterviz.core import health, validate
from filterviz.core.normalize import as_float
from filterviz.core.renderer import Renderer
from filterviz.core.step import LoggedStep
from filterviz.core.tiles import tile_images
from filterviz.core.warning import FilterVizWarning
from filterviz.eventfile.format import KERNEL_STORE_LIMIT, describe_layer

if TYPE_CHECKING:
    from filterviz.pipeline.notices import Notices
    from filterviz.pipeline.worker import Snapshot

HEAVY_FLOOR = 0.005  # seconds: heavy values cheaper than this are computed at every logged step
HEAVY_SHARE = 0.05  # else: at most this share of one core's time between logged steps, on average
HEAVY_SAMPLE = 128  # filters whose heavy values are timed to estimate a large layer's cost
SHED_ORDER = ("heavy health", "kernel", "cheap health")
ALL_MAX_LAYERS = 64  # layer="all" logs at most this many layers,
ALL_MAX_WEIGHTS = 8 * 1024 * 1024  # and at most this many weights in total (32 MiB of float32)
StoreKernel = bool | Literal["auto"]
COUNT = "a whole number >= 1"


def check_arguments(
    every_n_steps: object, log_initial: object, health: object, log_delta: object, store_kernel: object
) -> None:
    """The arguments every front end takes, checked when it is made (every_n_steps may be None)."""
    validate.integer("every_n_steps", every_n_steps, minimum=1, optional=True, accepts=f"{COUNT} or None")
    for name, value in (("log_initial", log_initial), ("health", health), ("log_delta", log_delta)):
        validate.boolean(name, value)
    if not isinstance(store_kernel, bool):
        validate.choice("store_kernel", store_kernel, ("auto",), "must be True, False or 'auto'.")


class HeavySchedule:
    """When the heavy health values are computed. Each logged step earns HEAVY_SHARE of the wall time since
    the step before; a computation spends what it cost (this thread's CPU time). Before the first, the
    cost of a large layer is estimated from HEAVY_SAMPLE of its filters, so no step pays for a measurement."""

    def __init__(self) -> None:
        self.cost: float | None = None  # seconds of CPU one computation takes
        self.credit = 0.0

    def earn(self, elapsed: float) -> None:
        if self.cost is not None:
            self.credit = min(self.credit + HEAVY_SHARE * max(0.0, elapsed), 2 * max(self.cost, HEAVY_FLOOR))

    def due(self) -> bool:
        return self.cost is not None and (self.cost <= HEAVY_FLOOR or self.credit >= self.cost)

    def spent(self, seconds: float) -> None:
        self.cost = seconds if self.cost is None else 0.5 * (self.cost + seconds)
        if seconds > HEAVY_FLOOR:
            self.credit -= seconds

    def estimate(self, weights: np.ndarray, images: np.ndarray | None) -> None:
        """The cost of one computation, timed on HEAVY_SAMPLE filters and grown to all of them (the cosines
        of all pairs grow with their square)."""
        filters = weights.shape[1]
        sample = min(filters, HEAVY_SAMPLE)
        if images is not None:  # tabulated once per tile shape: no part of a step's cost
            health.chance_noise(images.shape[2], images.shape[3], images.shape[1])
        started = time.thread_time()
        health.measure(weights[:, :sample], None if images is None else images[:sample], heavy=True)
        growth = filters / sample
        self.cost = (time.thread_time() - started) * growth * growth


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
        self._last: tuple[np.ndarray, int] | None = None  # W logged before, transposed, and its batches
        self._previous: np.ndarray | None = None  # the last kernel logged
        self._count = 0  # steps logged
        self._taken: float | None = None  # when the last step logged was taken (training thread's clock)
        self.heavy = HeavySchedule()
        self.info = describe_layer(renderer, tag, axis, path, self.stores_kernel)
        self.info["choice"] = choice
        self.info["shed_order"] = list(SHED_ORDER)
        if health:
            self.info["measured"], self.info["unmeasured"] = measured_values(renderer)
        self.missing_initial = ""  # why the first step logged is not step 0, said in its caption

    @property
    def needs_whole_kernel(self) -> bool:
        """Snapshots must hold every unit, not only those drawn."""
        return self.health or self.stores_kernel or self.delta_renderer is not None

    def snapshot(self, kernel: np.ndarray) -> np.ndarray:
        """What of a private copy of the kernel the training thread hands over."""
        return kernel if self.needs_whole_kernel else self.renderer.snapshot(kernel)

    def logged(
        self,
        step: int,
        kernel: np.ndarray,
        before: np.ndarray | None = None,
        shed: int = 0,
        taken: float | None = None,
        batches: int | None = None,
    ) -> tuple[LoggedStep, int]:
        """(everything logged at `step`, the number of NaN or Inf weights drawn).

        Args:
            step: the step.
            kernel: a private copy of the kernel.
            before: the kernel one optimizer step earlier, for the update ratio, or None.
            shed: how many of SHED_ORDER's optional parts to leave out (the writer is behind).
            taken: when the snapshot was taken (time.monotonic() on the training thread), for the heavy
                values' time budget; None: now.
            batches: the optimizer steps done when it was taken, for `update_mean`; None: not known.
        """
        taken = time.monotonic() if taken is None else taken
        if self._taken is not None:
            self.heavy.earn(taken - self._taken)
        self._taken = taken
        picture = self.renderer.draw(kernel)
        left_out = [part for part in SHED_ORDER[:shed] if self._has(part)]
        scalars, per_filter = self._health(kernel, before, left_out, batches) if self.health else ({}, {})
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
        stored = self.stores_kernel and "kernel" not in left_out
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
            kernel=as_float(kernel).astype(np.float32, copy=False) if stored else None,
            layer=self.info,
            shed=tuple(left_out),
        )
        return result, picture.nonfinite

    def _health(self, kernel, before, left_out: list[str], batches: int | None) -> tuple[dict, dict]:
        """The health values of this step, but for what `left_out` names."""
        units = self.renderer.layout.units
        weights = health.columns_of(kernel, units)
        first, last = self._first, self._last
        if first is None:
            self._first = weights
        self._last = None if batches is None else (weights, batches)
        if "cheap health" in left_out:
            return {}, {}
        previous = None if before is None else health.columns_of(before, units)
        images = self._images(kernel)
        if self.heavy.cost is None:
            self.heavy.estimate(weights, images)
        heavy = self.heavy.due() and "heavy health" not in left_out
        started = time.thread_time()
        since = (None, 0) if last is None or batches is None else (last[0], batches - last[1])
        measured = health.measure(weights, images if heavy else None, first, previous, heavy, *since)
        if heavy:
            self.heavy.spent(time.thread_time() - started)
        return measured.scalars, measured.per_filter

    def _has(self, part: str) -> bool:
        """Whether `part` of SHED_ORDER would be in this step, were nothing left out."""
        if part == "kernel":
            return self.stores_kernel
        if part == "heavy health":
            return self.health and self.heavy.due()
        return self.health

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


def measured_values(renderer: Renderer) -> tuple[list[str], dict[str, str]]:
    """(the health values logged for this layer, {each value that is not: why}). A value that cannot mean
    anything for this layer's tiles or filter count is not logged at all."""
    layout = renderer.layout
    unmeasured = {}
    if not layout.planar:
        unmeasured["noise"] = "its tiles are not images of the input (strips, depth slices or a flat input)"
    elif min(layout.tile_size) < health.NOISE_MIN_SIDE:
        unmeasured["noise"] = (
            f"its {layout.tile_size[0]}x{layout.tile_size[1]} tiles are too small: a pixel needs a neighbour "
            "on each side, across and down"
        )
    weights = math.prod(renderer.kernel_shape) // layout.units
    chance = health.chance_share(weights, layout.units)
    if chance > health.CHANCE_LIMIT:
        why = (
            f"{layout.units} filters of {weights} weights: chance alone would give {chance:.0%} of them a "
            "partner, so a share of them means nothing"
        )
        unmeasured["redundancy"] = unmeasured["opposites"] = why
    return [name for name in health.SCALARS if name not in unmeasured], unmeasured


def all_layers_that_fit(sizes: list[int], stacklevel: int = 2) -> int:
    """layer="all": how many of the layers (their kernels' sizes, in the order data reaches them) are
    logged: the first ones, without gaps, within ALL_MAX_LAYERS and ALL_MAX_WEIGHTS; a FilterVizWarning
    counts those left out."""
    count, weights = 0, 0
    for size in sizes:
        if count == ALL_MAX_LAYERS or weights + size > ALL_MAX_WEIGHTS:
            break
        count, weights = count + 1, weights + size
    if count < len(sizes):
        warnings.warn(
            f"layer='all': logging the first {count} layers ({weights:,} weights); {len(sizes) - count} more "
            f"are left out to stay within {ALL_MAX_LAYERS} layers and {ALL_MAX_WEIGHTS:,} weights a step. "
            "Name the layers you want with layer=[...].",
            FilterVizWarning,
            stacklevel=stacklevel + 1,
        )
    return count


def log_snapshot(logs: list[LayerLog], job: Snapshot, shed: int, notices: Notices) -> list[LoggedStep]:
    """On the writer thread: one logged step per layer of a front end's snapshot, `shed` optional parts
    left out of each; NaN or Inf weights drawn are noted for the training thread to tell."""
    if job.late:
        return [
            log.late_update(job.step, kernel, before)
            for log, kernel, before in zip(logs, job.kernels, job.before, strict=True)
        ]
    steps = []
    for i, log in enumerate(logs):
        before = job.before and job.before[i]
        logged, nonfinite = log.logged(
            job.step, job.kernels[i], before, shed=shed, taken=job.taken, batches=job.batches
        )
        if nonfinite:
            notices.nonfinite_weights(job.step, log.renderer.nonfinite_warning())
        steps.append(logged)
    return steps
