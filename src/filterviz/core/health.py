"""Is a first layer healthy? The numbers behind the picture, per logged step, and what they say.  numpy only.

W is the layer's kernel viewed as one row per filter (unit): row i = kernel[..., i].ravel(), the weights
that filter i applies, whatever their image shape. Everything is computed in float64.

* update_ratio = ||W_after - W_before||_F / ||W_before||_F over one optimizer step (CS231n: about 1e-3 is
  healthy; far below, the learning rate is too low; far above, too high). Exactly 0 while the layer
  trains means that no gradient reaches it.
* update_mean = ||W_t - W_prev||_F / (n ||W_prev||_F), W_prev the state logged before and n the optimizer
  steps between the two: the mean step of the interval, and so a lower bound of its largest one. Free (two
  logged states), it catches a burst that falls between logged steps (a learning rate far too high throws
  the weights in the first steps, then Adam throttles them, or the units die and nothing moves).
* drift = ||W_t - W_0||_F / ||W_0||_F, W_0 the first state logged.
* dead = the fraction of rows that have shrunk to at most a tenth of their own norm at the first logged
  state, or to at most a hundredth of the median norm (a filter that started at zero, or was set to zero).
  It is measured on the weights, the one thing filterviz sees: CS231n's dead filters are those whose
  activation maps are all zero, which needs the data; a filter whose weights have shrunk to nothing is dead
  on every input. (Against its own first norm, a collapse of most filters shows: the median of collapsed
  norms is itself collapsed.)
* noise (2-D tiles at least 3 x 3): for each live row and input channel, the tile minus its mean, its
  roughness r = sum of squared differences between horizontal and vertical neighbours / sum of squares;
  the mean of r over the filter's channels (constant channels left out); the median over live filters,
  divided by the same median for random filters of that tile size (`chance_noise`). 1 is as rough as a
  random initialization; smooth filters go towards 0. Per filter, the same ratio. No threshold of it
  holds across architectures (README, "Is my first layer healthy?"): read it against the run's own first
  logged state, or against another run.
* redundancy and opposites: for each live row, its centred, unit-norm version's largest cosine with
  another live row (a near-duplicate when > 0.9) and its smallest (an opposite when < -0.9: a filter and
  its negation, which first layers learn on purpose, since a ReLU passes one sign of an edge). Each value is
  the share of such rows beyond what chance gives: (share - p) / (1 - p), clipped to [0, 1], with p the share
  expected from as many random vectors of that dimension (`chance_share`). 0 is chance, 1 every filter.
  Not computed where chance alone would give most filters a partner (p > 0.5: too few weights per filter
  for their number, such as 16 filters of 3 taps).
* nonfinite = the number of NaN or Inf weights. The other values are NaN while there are any.

`read` turns one step's values into one reading in words: "healthy", or the value to look at and why, by
thresholds that the fault zoo (tests/helpers/zoo.py, benchmarks/health_zoo.py) shows right on every
architecture it trains.

Per filter, the values behind them are kept too: norm, min, max, noise, the largest cosine and with which
filter (partner), the smallest cosine and with which filter (opposite_partner), whether it counts as dead,
as a near-duplicate and as an opposite (1 or 0; NaN where not computed), and the update ratio
||w_i,after - w_i,before|| / ||w_i,before||.

The functions take W transposed, one column per filter (`columns_of`): that is the kernel's own memory
order, so nothing is copied to read a filter's weights; float32 weights are turned into float64 a block at
a time, where they are used.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

DEAD_FRACTION = 0.01  # of the median norm
COLLAPSE_FRACTION = 0.1  # of the filter's own norm at the first logged state
NOISE_MIN_SIDE = 3  # a tile needs neighbours on both sides of a pixel, across and down
DUPLICATE_COSINE = 0.9  # near-duplicates above it, opposites below its negation
CHANCE_LIMIT = 0.5  # redundancy and opposites are not computed when chance alone gives more filters a partner
CHANCE_SAMPLES = 2048  # random filters behind chance_noise
# Where `read` finds an update ratio healthy. CS231n's rule of thumb is about 1e-3; the zoo's good runs
# (Adam) reach 0.06 in their first steps, and its faults lie below 1e-4 (learning rate too low) or far
# above 0.1 (too high: 0.5 to 6 in the first steps).
UPDATE_RATIO_BAND = (1e-4, 1e-1)
DEAD_ALARM = 0.1  # a share of dead filters at which `read` raises it (the zoo's good runs: 0)
REDUNDANCY_ALARM = 0.25  # likewise for near-duplicates beyond chance (good runs: at most 0.12)
BARELY_MOVED = 0.1  # a drift under which the layer has barely moved from its first logged state
THROWN_FAR = 5.0  # a drift above which the weights were thrown far (good runs: up to 1.4; too high: 8 to 33)

# The scalars, in the order they are logged; the per-filter values (update_ratio is kept apart from them,
# since it is known only when the step before was seen).
SCALARS = ("update_ratio", "update_mean", "drift", "dead", "noise", "redundancy", "opposites", "nonfinite")
HEAVY = ("noise", "redundancy", "opposites")  # the costly ones: an FFT-free but full pass, all pairs
PER_FILTER = (
    "norm",
    "min",
    "max",
    "noise",
    "max_cosine",
    "partner",
    "min_cosine",
    "opposite_partner",
    "dead",
    "duplicate",
    "opposite",
)


@dataclass(frozen=True)
class Health:
    """One state of a layer: its scalars (a name missing where the value does not apply or was not
    computed) and its per-filter values, each an array with one entry per filter (NaN where missing)."""

    scalars: dict[str, float]
    per_filter: dict[str, np.ndarray]


def columns_of(kernel: np.ndarray, filters: int | None = None) -> np.ndarray:
    """W transposed, (weights per filter, filters): column i = kernel[..., i].ravel(), or with `filters`
    given, the kernel's last axes taken together as the filters (a depthwise kernel's (in, multiplier)
    pairs). A view of a float32 or float64 kernel; float16 and bfloat16 become float32 (exactly)."""
    kernel = np.asarray(kernel)
    if kernel.dtype not in (np.float32, np.float64):
        kernel = kernel.astype(np.float32)
    return kernel.reshape(-1, filters or kernel.shape[-1])


def measure(
    weights: np.ndarray,
    images: np.ndarray | None = None,
    first: np.ndarray | None = None,
    before: np.ndarray | None = None,
    heavy: bool = True,
    previous: np.ndarray | None = None,
    steps: int = 0,
) -> Health:
    """The health of one state of a layer.

    Args:
        weights: W transposed (`columns_of`), float32 or float64.
        images: the same weights as 2-D tiles, (filters, input channels, height, width), for `noise`; None
            when they are not images (a Dense layer on a flat input).
        first: W_0 transposed, for `drift` and `dead`; None when `weights` is the first state.
        before: W one optimizer step earlier, transposed, for `update_ratio`; None when it was not seen.
        heavy: compute `noise` and `redundancy` too.
        previous: W at the step logged before, transposed, for `update_mean`; None when there is none.
        steps: the optimizer steps between `previous` and `weights` (0: not known, no `update_mean`).
    """
    with np.errstate(all="ignore"):  # NaN and Inf weights give NaN values, not warnings
        return _measure(weights, images, first, before, heavy, previous if steps > 0 else None, steps)


def _measure(weights, images, first, before, heavy: bool, previous, steps: int) -> Health:
    filters = weights.shape[1]
    sums = _squared_sums(weights, {"first": first, "before": before, "previous": previous})
    norms = np.sqrt(sums["weights"])
    # A filter's norm is finite exactly when its weights are (float32 weights cannot overflow it).
    nonfinite = 0 if np.isfinite(norms).all() else int(np.count_nonzero(~np.isfinite(weights)))
    dead = norms <= DEAD_FRACTION * np.median(norms)
    if first is not None:
        dead |= norms <= COLLAPSE_FRACTION * np.sqrt(sums["first"])
    finite = nonfinite == 0
    scalars: dict[str, float] = {}
    per_filter: dict[str, np.ndarray] = {}
    if before is not None:
        scalars["update_ratio"], per_filter["update_ratio"] = _update_ratios(sums)
    if previous is not None:
        scalars["update_mean"] = _ratio(sums["from previous"].sum(), sums["previous"].sum()) / steps
    scalars["drift"] = 0.0 if first is None else _ratio(sums["from first"].sum(), sums["first"].sum())
    scalars["dead"] = float(dead.mean()) if finite else float("nan")
    missing = np.full(filters, np.nan)
    per_filter.update(
        norm=norms,
        min=np.fmin.reduce(weights, axis=0).astype(np.float64),  # exact in the weights' own type
        max=np.fmax.reduce(weights, axis=0).astype(np.float64),
        noise=missing,
        max_cosine=missing,
        partner=missing,
        min_cosine=missing,
        opposite_partner=missing,
        dead=dead.astype(np.float64) if finite else missing,
        duplicate=missing,
        opposite=missing,
    )
    if heavy and images is not None and min(images.shape[2:]) >= NOISE_MIN_SIDE:
        per_filter["noise"] = np.where(dead, np.nan, _noise(images))
        scalars["noise"] = _nan_median(per_filter["noise"]) if finite else float("nan")
    if heavy:
        similar = _similar(weights, ~dead)
        per_filter.update(similar)
        chance = chance_share(weights.shape[0], int(np.count_nonzero(~dead)))
        if chance <= CHANCE_LIMIT:
            for name, flag in (("redundancy", "duplicate"), ("opposites", "opposite")):
                scalars[name] = _beyond_chance(per_filter[flag], ~dead, chance) if finite else float("nan")
    scalars["nonfinite"] = float(nonfinite)
    return Health(scalars, per_filter)


def update_ratio(after: np.ndarray, before: np.ndarray) -> tuple[float, np.ndarray]:
    """(||after - before||_F / ||before||_F, the same per filter) for W transposed one step apart."""
    with np.errstate(all="ignore"):
        return _update_ratios(_squared_sums(after, {"before": before}))


def _update_ratios(sums: dict[str, np.ndarray]) -> tuple[float, np.ndarray]:
    """The update ratio of the whole layer and of each filter, from `_squared_sums` with `before`."""
    return _ratio(sums["from before"].sum(), sums["before"].sum()), np.sqrt(
        sums["from before"] / sums["before"]
    )


def _squared_sums(
    weights: np.ndarray, others: dict[str, np.ndarray | None], block: int = 1 << 16
) -> dict[str, np.ndarray]:
    """Per column, in float64: the sums of squares of the weights and of each of `others` given (W_0, W
    one step before, W logged before), and of the weights' differences from each ("from <name>"). One sweep
    over blocks of rows small enough to stay in cache: each array is read once, and no 25 MB difference of
    a large layer is made."""
    rows, columns = weights.shape
    step = max(1, block // columns)
    given = {name: array for name, array in others.items() if array is not None}
    sums = {"weights": np.zeros(columns)}
    for name in given:
        sums[name], sums[f"from {name}"] = np.zeros(columns), np.zeros(columns)
    here, there = np.empty((min(step, rows), columns)), np.empty((min(step, rows), columns))
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        current, other = here[: stop - start], there[: stop - start]
        current[...] = weights[start:stop]  # float32 to float64, exactly
        sums["weights"] += np.einsum("ij,ij->j", current, current)
        for name, array in given.items():
            other[...] = array[start:stop]
            sums[name] += np.einsum("ij,ij->j", other, other)
            np.subtract(current, other, out=other)
            sums[f"from {name}"] += np.einsum("ij,ij->j", other, other)
    return sums


def _ratio(numerator_squared: float, denominator_squared: float) -> float:
    """sqrt(numerator^2 / denominator^2): inf when the denominator is zero, nan when both are."""
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.float64(numerator_squared) / np.float64(denominator_squared)))


def _similar(weights: np.ndarray, live: np.ndarray) -> dict[str, np.ndarray]:
    """Per filter: the largest and the smallest cosine between its centred, unit-norm weights and another
    live filter's, those filters' indices, and whether they make it a near-duplicate or an opposite (NaN
    and -1 for dead filters, constant ones, and when there is no other)."""
    filters = weights.shape[1]
    out = {name: np.full(filters, np.nan) for name in ("max_cosine", "min_cosine", "duplicate", "opposite")}
    out["partner"], out["opposite_partner"] = np.full(filters, -1.0), np.full(filters, -1.0)
    candidates = np.flatnonzero(live)
    chosen = weights[:, candidates].astype(np.float64)
    centred = chosen - chosen.mean(axis=0)
    lengths = np.sqrt(np.einsum("ij,ij->j", centred, centred))
    keep = (lengths > 0) & np.isfinite(lengths)
    usable = candidates[keep]
    if len(usable) < 2:
        return out
    unit = centred[:, keep] / lengths[keep]
    cosines = unit.T @ unit
    rows = np.arange(len(usable))
    np.fill_diagonal(cosines, -np.inf)
    best = cosines.argmax(axis=1)
    out["max_cosine"][usable], out["partner"][usable] = cosines[rows, best], usable[best]
    np.fill_diagonal(cosines, np.inf)
    worst = cosines.argmin(axis=1)
    out["min_cosine"][usable], out["opposite_partner"][usable] = cosines[rows, worst], usable[worst]
    out["duplicate"] = np.where(live, (out["max_cosine"] > DUPLICATE_COSINE) * 1.0, 0.0)
    out["opposite"] = np.where(live, (out["min_cosine"] < -DUPLICATE_COSINE) * 1.0, 0.0)
    return out


def _beyond_chance(flags: np.ndarray, live: np.ndarray, chance: float) -> float:
    """(share of live filters flagged - chance) / (1 - chance), within [0, 1]."""
    count = int(live.sum())
    if count == 0:
        return float("nan")
    share = np.count_nonzero(flags[live] == 1) / count
    return float(np.clip((share - chance) / (1 - chance), 0.0, 1.0))


def chance_share(dimension: int, filters: int, threshold: float = DUPLICATE_COSINE) -> float:
    """The share of `filters` random filters of `dimension` weights expected to have a partner whose centred
    cosine with theirs is above `threshold` (and, by symmetry, below its negation).

    Centring leaves d = dimension - 1 free directions, in which a random filter points uniformly: one pair's
    cosine exceeds t with q = (integral of sin^(d-2) over [0, arccos t]) / (the same over [0, pi]), and
    given one filter the cosines with the others are independent, so p = 1 - (1 - q)^(filters - 1).
    1 where there are too few dimensions to tell (d < 2): chance alone gives every filter a partner.
    """
    free = dimension - 1
    if filters < 2:
        return 0.0
    if free < 2:
        return 1.0
    return 1.0 - (1.0 - _pair_chance(free, threshold)) ** (filters - 1)


@functools.lru_cache(maxsize=256)
def _pair_chance(free: int, threshold: float) -> float:
    angles = np.linspace(0.0, np.pi, 20001)
    density = np.sin(angles) ** (free - 2)
    areas = (density[1:] + density[:-1]) / 2  # the trapezoid rule, step by step
    return float(areas[angles[1:] <= np.arccos(threshold)].sum() / areas.sum())


def _noise(images: np.ndarray) -> np.ndarray:
    """Per filter: its channels' mean roughness, over what random filters of that shape have."""
    height, width, channels = images.shape[2], images.shape[3], images.shape[1]
    return _roughness(images) / chance_noise(height, width, channels)


def _roughness(images: np.ndarray) -> np.ndarray:
    """Per filter of (filters, channels, height, width): the mean over its non-constant channels of the
    neighbours' squared differences over the channel's squared deviations from its mean."""
    images = images.astype(np.float64)
    centred = images - images.mean(axis=(2, 3), keepdims=True)
    across = np.square(np.diff(images, axis=3)).sum(axis=(2, 3))
    down = np.square(np.diff(images, axis=2)).sum(axis=(2, 3))
    energy = np.square(centred).sum(axis=(2, 3))
    per_channel = np.where(energy > 0, (across + down) / np.where(energy > 0, energy, 1.0), np.nan)
    return _nan_mean(per_channel, axis=1)


@functools.lru_cache(maxsize=64)
def chance_noise(height: int, width: int, channels: int) -> float:
    """The median roughness of CHANCE_SAMPLES random (Gaussian) filters of this shape, from a fixed seed:
    what a fresh initialization reads, so that noise is 1 there at every tile size."""
    rng = np.random.default_rng(0)
    return float(np.median(_roughness(rng.standard_normal((CHANCE_SAMPLES, channels, height, width)))))


def _nan_mean(values: np.ndarray, axis: int) -> np.ndarray:
    counts = np.count_nonzero(~np.isnan(values), axis=axis)
    sums = np.where(np.isnan(values), 0.0, values).sum(axis=axis)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _nan_median(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(np.median(finite)) if len(finite) else float("nan")


@dataclass(frozen=True)
class Reading:
    """What one logged step's health values say: `level` "alarm" (a fault, found by `value`), "note" (worth
    knowing, not a fault) or "healthy", and the words."""

    level: str
    value: str
    words: str


def read(scalars: dict[str, float]) -> Reading:
    """The one reading of a logged step, from its health values (name -> value; a value not logged at that
    step is missing). The first rule that holds, in this order:

    1. nonfinite > 0: diverged.
    2. update_ratio or update_mean exactly 0: no gradient reaches the layer.
    3. dead >= DEAD_ALARM: filters collapsed.
    4. update_ratio or update_mean above UPDATE_RATIO_BAND: thrown around.
    5. drift above THROWN_FAR: thrown far, earlier (Adam throttles the steps after a burst).
    6. update_ratio below the band: barely learns (not update_mean: steps that cancel make it small).
    7. redundancy >= REDUNDANCY_ALARM: near-duplicate filters.
    8. no update measured and drift 0: the first logged state (a note).
    9. drift < BARELY_MOVED: barely moved from the first logged state (a note).
    Otherwise healthy. `noise` and `opposites` are never read: no threshold of them holds across the zoo.
    """
    value = scalars.get
    low, high = UPDATE_RATIO_BAND
    updates = {name: value(name) for name in ("update_ratio", "update_mean") if _finite(value(name))}
    if (nonfinite := value("nonfinite")) and nonfinite > 0:
        return Reading(
            "alarm",
            "nonfinite",
            f"{nonfinite:.0f} weights are NaN or Inf: training has diverged (a learning rate far too high, "
            "or bad inputs)",
        )
    for name, ratio in updates.items():
        if ratio == 0:
            return Reading(
                "alarm",
                name,
                "no update at all: no gradient reaches this layer (units that never fire, such as dead ReLUs "
                "after it; a layer cut off from the loss), or it is frozen or its learning rate is 0",
            )
    if _finite(dead := value("dead")) and dead >= DEAD_ALARM:
        return Reading(
            "alarm",
            "dead",
            f"{dead:.0%} of the filters are dead: shrunk to a tenth of their first norm or less (too strong "
            "an L1 penalty or weight decay, or units that never fire)",
        )
    for name, ratio in updates.items():
        if ratio > high:
            since = " (the mean step since the step logged before)" if name == "update_mean" else ""
            return Reading(
                "alarm",
                name,
                f"steps of {ratio:.2g} of the weights' size{since}, above {high:g}: the layer is thrown "
                "around (a learning rate far too high; or weights that shrink towards zero under a strong "
                "L1 penalty or weight decay)",
            )
    drift = value("drift")
    if _finite(drift) and drift > THROWN_FAR:
        return Reading(
            "alarm",
            "drift",
            f"the weights are {drift:.2g} times their first norm away from where they started: they were "
            "thrown far (a learning rate far too high; look for the steps whose updates were above "
            f"{high:g})",
        )
    # A mean step is only a lower bound of the steps (they partly cancel as a training settles): small
    # steps are read from the update ratio alone.
    if (ratio := updates.get("update_ratio")) is not None and ratio < low:
        return Reading(
            "alarm",
            "update_ratio",
            f"steps of {ratio:.1e} of the weights' size, below {low:g}: the layer barely learns (a "
            "learning rate far too low)",
        )
    if _finite(redundancy := value("redundancy")) and redundancy >= REDUNDANCY_ALARM:
        return Reading(
            "alarm",
            "redundancy",
            f"{redundancy:.0%} of the filters duplicate another beyond chance: an initialization too "
            "uniform, or filters that all learn the same thing",
        )
    if not updates and drift == 0:
        return Reading("note", "drift", "the first logged state: the next steps are read against it")
    if _finite(drift) and drift < BARELY_MOVED:
        return Reading(
            "note",
            "drift",
            f"the layer has barely moved from its first logged state (drift {drift:.2g}): expected early in "
            "training; at its end, too short a training or a learning rate too low",
        )
    return Reading("healthy", "", "healthy: no value shows a fault the fault zoo tests for")


def by_step(
    series: Mapping[str, Iterable[tuple[int, float]]], steps: Iterable[int]
) -> list[dict[str, float]]:
    """The values logged at each of `steps` (name -> value), from each value's (step, value) series: what
    `read` takes."""
    at: dict[int, dict[str, float]] = {step: {} for step in steps}
    for name, points in series.items():
        for step, value in points:
            if step in at:
                at[step][name] = value
    return list(at.values())


def _finite(value: float | None) -> bool:
    return value is not None and bool(np.isfinite(value))
