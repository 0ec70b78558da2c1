"""Is a first layer healthy? The numbers behind the picture, per logged step.  numpy only.

W is the layer's kernel viewed as one row per filter (unit): row i = kernel[..., i].ravel(), the weights
that filter i applies, whatever their image shape. Everything is computed in float64.

* update_ratio = ||W_after - W_before||_F / ||W_before||_F over one optimizer step (CS231n: about 1e-3 is
  healthy; far below, the learning rate is too low; far above, too high).
* drift = ||W_t - W_0||_F / ||W_0||_F, W_0 the first state logged.
* dead = the fraction of rows with ||w_i|| <= 0.01 * median_j ||w_j||.
* noise (tiles that are 2-D images of at least 5 x 5 only): for each row and input channel, the tile minus
  its mean, P = |DFT2|^2; the share of the power above 1/4 cycle per pixel (radius sqrt(fy^2 + fx^2) of
  numpy's fftfreq grids) among all nonzero frequencies, divided by the share of nonzero frequency bins
  above 1/4, so that white noise gives about 1; the mean over input channels (constant channels left
  out), then the median over rows. 1 is as noisy as a random initialization; smooth filters tend to 0.
* redundancy = the fraction of rows (dead rows left out) whose centred, unit-norm version has |cosine| > 0.9
  with another row's. Negated pairs count: a first layer often learns a filter and its opposite (the same
  edge, light on dark and dark on light), since a ReLU passes only one sign of each.
* nonfinite = the number of NaN or Inf weights. The other values are NaN while there are any.

Per filter, the values behind them are kept too: norm, min, max, noise, max |cosine| with another filter
and which filter that is (partner), whether it counts as dead and as a near-duplicate (1 or 0; NaN where
not computed), and the update ratio ||w_i,after - w_i,before|| / ||w_i,before||.

The functions take W transposed, one column per filter (`columns_of`): that is the kernel's own memory
order, so nothing is copied to read a filter's weights; float32 weights are turned into float64 a block at
a time, where they are used.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

DEAD_FRACTION = 0.01  # of the median norm
NOISE_CUTOFF = 0.25  # cycles per pixel
NOISE_MIN_SIDE = 5  # tiles smaller than 5 x 5 have too few frequencies to tell noise from shape
DUPLICATE_COSINE = 0.9

# The scalars, in the order they are logged; the per-filter values (update_ratio is kept apart from them,
# since it is known only when the step before was seen).
SCALARS = ("update_ratio", "drift", "dead", "noise", "redundancy", "nonfinite")
PER_FILTER = ("norm", "min", "max", "noise", "max_cosine", "partner", "dead", "duplicate")


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
) -> Health:
    """The health of one state of a layer.

    Args:
        weights: W transposed (`columns_of`), float32 or float64.
        images: the same weights as 2-D tiles, (filters, input channels, height, width), for `noise`; None
            when they are not images (a Dense layer on a flat input).
        first: W_0 transposed, for `drift`; None when `weights` is the first state.
        before: W one optimizer step earlier, transposed, for `update_ratio`; None when it was not seen.
        heavy: compute `noise` and `redundancy` too.
    """
    with np.errstate(all="ignore"):  # NaN and Inf weights give NaN values, not warnings
        return _measure(weights, images, first, before, heavy)


def _measure(weights, images, first, before, heavy: bool) -> Health:
    filters = weights.shape[1]
    sums = _squared_sums(weights, first, before)
    norms = np.sqrt(sums["weights"])
    # A filter's norm is finite exactly when its weights are (float32 weights cannot overflow it).
    nonfinite = 0 if np.isfinite(norms).all() else int(np.count_nonzero(~np.isfinite(weights)))
    dead = norms <= DEAD_FRACTION * np.median(norms)
    finite = nonfinite == 0
    scalars: dict[str, float] = {}
    per_filter: dict[str, np.ndarray] = {}
    if before is not None:
        scalars["update_ratio"], per_filter["update_ratio"] = _update_ratios(sums)
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
        dead=dead.astype(np.float64) if finite else missing,
        duplicate=missing,
    )
    if heavy and images is not None and min(images.shape[2:]) >= NOISE_MIN_SIDE:
        per_filter["noise"] = _noise(images)
        scalars["noise"] = _nan_median(per_filter["noise"]) if finite else float("nan")
    if heavy:
        per_filter["max_cosine"], per_filter["partner"] = _most_similar(weights, ~dead)
        per_filter["duplicate"] = np.where(dead, 0.0, (per_filter["max_cosine"] > DUPLICATE_COSINE) * 1.0)
        scalars["redundancy"] = _redundancy(per_filter["max_cosine"], ~dead) if finite else float("nan")
    scalars["nonfinite"] = float(nonfinite)
    return Health(scalars, per_filter)


def update_ratio(after: np.ndarray, before: np.ndarray) -> tuple[float, np.ndarray]:
    """(||after - before||_F / ||before||_F, the same per filter) for W transposed one step apart."""
    with np.errstate(all="ignore"):
        return _update_ratios(_squared_sums(after, None, before))


def _update_ratios(sums: dict[str, np.ndarray]) -> tuple[float, np.ndarray]:
    """The update ratio of the whole layer and of each filter, from `_squared_sums` with `before`."""
    return _ratio(sums["from before"].sum(), sums["before"].sum()), np.sqrt(
        sums["from before"] / sums["before"]
    )


def _squared_sums(
    weights: np.ndarray, first: np.ndarray | None, before: np.ndarray | None, block: int = 1 << 16
) -> dict[str, np.ndarray]:
    """Per column, in float64: the sums of squares of the weights and, when given, of W_0 and of W one
    step before, and of the weights' differences from those two. One sweep over blocks of rows small
    enough to stay in cache: each array is read once, and no 25 MB difference of a large layer is made."""
    rows, columns = weights.shape
    step = max(1, block // columns)
    others = {"first": first, "before": before}
    sums = {name: np.zeros(columns) for name in ("weights", "first", "before", "from first", "from before")}
    here, there = np.empty((min(step, rows), columns)), np.empty((min(step, rows), columns))
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        current, other = here[: stop - start], there[: stop - start]
        current[...] = weights[start:stop]  # float32 to float64, exactly
        sums["weights"] += np.einsum("ij,ij->j", current, current)
        for name, array in others.items():
            if array is None:
                continue
            other[...] = array[start:stop]
            sums[name] += np.einsum("ij,ij->j", other, other)
            np.subtract(current, other, out=other)
            sums[f"from {name}"] += np.einsum("ij,ij->j", other, other)
    return sums


def _ratio(numerator_squared: float, denominator_squared: float) -> float:
    """sqrt(numerator^2 / denominator^2): inf when the denominator is zero, nan when both are."""
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.float64(numerator_squared) / np.float64(denominator_squared)))


def _most_similar(weights: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per filter: the largest |cosine| between its centred, unit-norm weights and another live filter's,
    and that filter's index (NaN and -1 for dead filters, constant ones, and when there is no other)."""
    filters = weights.shape[1]
    max_cosine, partner = np.full(filters, np.nan), np.full(filters, -1.0)
    candidates = np.flatnonzero(live)
    chosen = weights[:, candidates].astype(np.float64)
    centred = chosen - chosen.mean(axis=0)
    lengths = np.sqrt(np.einsum("ij,ij->j", centred, centred))
    keep = (lengths > 0) & np.isfinite(lengths)
    usable = candidates[keep]
    if len(usable) < 2:
        return max_cosine, partner
    unit = centred[:, keep] / lengths[keep]
    cosines = np.abs(unit.T @ unit)
    np.fill_diagonal(cosines, -1.0)
    best = cosines.argmax(axis=1)
    max_cosine[usable] = cosines[np.arange(len(usable)), best]
    partner[usable] = usable[best]
    return max_cosine, partner


def _redundancy(max_cosine: np.ndarray, live: np.ndarray) -> float:
    """The fraction of live filters with a partner closer than DUPLICATE_COSINE."""
    count = int(live.sum())
    if count == 0:
        return float("nan")
    return float(np.count_nonzero(max_cosine[live] > DUPLICATE_COSINE) / count)


def _noise(images: np.ndarray) -> np.ndarray:
    """Per filter: the high-frequency share of each channel's power over white noise's, averaged over the
    channels that are not constant (NaN when all are).

    The real FFT holds each pair of mirrored frequencies once; weighting those columns twice gives the
    sums over the full DFT2 exactly (the power of a real tile is symmetric).
    """
    height, width = images.shape[2:]
    images = images.astype(np.float64)
    centred = images - images.mean(axis=(2, 3), keepdims=True)
    spectrum = np.fft.rfft2(centred)
    power = spectrum.real**2 + spectrum.imag**2
    high, nonzero = _frequency_weights(height, width)
    total = np.einsum("ncyx,yx->nc", power, nonzero)
    above = np.einsum("ncyx,yx->nc", power, high)
    share = high.sum() / nonzero.sum()
    per_channel = np.where(total > 0, above / total / share, np.nan)
    return _nan_mean(per_channel, axis=1)


@functools.lru_cache(maxsize=16)
def _frequency_weights(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Over the rfft2 grid: how many bins of the full DFT2 grid each stands for (itself and its mirror
    image), counted only above the cutoff, and only where nonzero."""
    radius = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :])
    count = np.full(radius.shape, 2.0)
    count[:, 0] = 1.0
    if width % 2 == 0:
        count[:, -1] = 1.0
    return count * (radius > NOISE_CUTOFF), count * (radius > 0)


def _nan_mean(values: np.ndarray, axis: int) -> np.ndarray:
    counts = np.count_nonzero(~np.isnan(values), axis=axis)
    sums = np.where(np.isnan(values), 0.0, values).sum(axis=axis)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _nan_median(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(np.median(finite)) if len(finite) else float("nan")
