"""Tile values -> gray levels 0..255.  numpy only.

Every mode maps a weight w to v in [0, 1] and then to the gray level floor(v * 255 + 0.5), that is
v * 255 rounded half up:

* "per_tile":  v = (w - min) / (max - min) over the tile's own values (all pixels and channels).
               Every tile at full contrast; magnitudes are hidden.
* "global":    the same with one min and max over all tiles drawn. Magnitudes compare across tiles.
* "symmetric": v = 1/2 + w / (2 M) with M = max |w| over all tiles drawn: 0 is mid-gray (128),
               -M black, +M white. Sign and magnitude are readable.

`clip_percentile=p` first narrows the range to percentiles of the same scope, so that one outlier
does not wash out the rest: to [P(100 - p), P(p)] of the values, or for "symmetric" M = P(p) of |w|
(numpy's default linear interpolation). Values beyond are drawn as black or white.

A constant tile (max == min, or M == 0) is mid-gray, never NaN. NaN and +-Inf weights are left out of
every min, max and percentile and reported in a mask, so the grid can draw them in a marker colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MID_GRAY = 128  # floor(0.5 * 255 + 0.5): where constant tiles and, in "symmetric", zero land

# Values are mapped in blocks of about this many, so that the float64 temporaries stay in cache.
_BLOCK_VALUES = 1 << 16


@dataclass(frozen=True)
class Levels:
    """Gray levels of the tiles, one row per tile (the transpose of the values' layout)."""

    levels: np.ndarray  # uint8 (tiles, values per tile)
    nonfinite: np.ndarray | None  # bool, same shape: NaN and +-Inf weights; None when there are none
    low: float  # smallest finite weight drawn (nan when there is none)
    high: float  # largest finite weight drawn


@dataclass(frozen=True)
class _Mapping:
    """v = (w - offset) / span, or for "symmetric" v = 1/2 + w / span (span = 2M); level = v * 255 + 0.5."""

    offset: np.ndarray | None  # (tiles,) float64, or 0-d when one scope covers all tiles; None: symmetric
    span: np.ndarray
    constant: np.ndarray  # bool: scopes with nothing to spread, drawn mid-gray


def normalize(values: np.ndarray, mode: str, clip_percentile: float | None = None) -> Levels:
    """Map `values` of shape (values per tile, tiles), one column per tile, to uint8 gray levels.

    The levels come back one row per tile, ready to be reshaped into tile images.
    """
    values = as_float(values)
    low, high = values.min(axis=0), values.max(axis=0)  # NaN propagates: a cheap finiteness test
    nonfinite = None
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        nonfinite = ~np.isfinite(values)
        values = np.where(nonfinite, np.nan, values)
        low, high = np.fmin.reduce(values, axis=0), np.fmax.reduce(values, axis=0)  # ignore NaN
    # A tile with no finite value at all is mid-gray (and drawn in the marker colour anyway).
    finite_low, finite_high = float(np.fmin.reduce(low)), float(np.fmax.reduce(high))
    low, high = low.astype(np.float64), high.astype(np.float64)
    if nonfinite is not None:
        low, high = np.nan_to_num(low), np.nan_to_num(high)
    mapping = _mapping(values, low, high, mode, clip_percentile, nonfinite is not None)
    # Without clipping or NaN every value lies in its scope's range: levels land in 0.5 .. 255.5
    # and need no clip before the cast.
    bounded = clip_percentile is None and nonfinite is None
    levels = _apply(values, mapping, bounded=bounded)
    return Levels(levels, None if nonfinite is None else nonfinite.T, finite_low, finite_high)


def _apply(values: np.ndarray, mapping: _Mapping, *, bounded: bool) -> np.ndarray:
    """The mapping, in blocks of rows of `values` (every tile's k-th value), written one row per tile.

    The operations are the documented formula's, in its order, in float64: the levels are bit for bit
    what the formula gives (multiplying by a precomputed 255 / span instead moves exact ties). Blocks of
    whole rows keep numpy's inner loops long (one value of every tile) and the float64 temporaries in
    cache; the uint8 levels are transposed to one row per tile once, at the end.
    """
    per_tile, tiles = values.shape
    # Rows one cache line longer than needed: reading a column of a row length that is a power of two
    # (4096 units, say) hits the same cache sets again and again, which makes the transpose 5x slower.
    columns = np.empty((per_tile, tiles + 64), np.uint8)[:, :tiles]
    rows = max(1, min(per_tile, _BLOCK_VALUES // tiles))
    work = np.empty((rows, tiles), np.float64)
    constant = mapping.constant.any()
    span = np.where(mapping.constant, 1.0, mapping.span) if constant else mapping.span
    offset = mapping.offset
    for start in range(0, per_tile, rows):
        stop = min(per_tile, start + rows)
        w, out = work[: stop - start], columns[start:stop]
        if offset is None:
            np.divide(values[start:stop], span, out=w)
            w += 0.5
        else:
            np.subtract(values[start:stop], offset, out=w)
            w /= span
        w *= 255.0
        w += 0.5
        if bounded:
            np.copyto(out, w, casting="unsafe")  # 0.5 <= w < 256: the cast floors
        else:
            np.nan_to_num(w, copy=False, nan=0.0)  # NaN: any level, the marker colour covers it
            np.clip(w, 0, 255, out=out, casting="unsafe")
    levels = np.ascontiguousarray(columns.T)
    if constant:
        levels[np.broadcast_to(mapping.constant, (tiles,))] = MID_GRAY
    return levels


def as_float(values: np.ndarray) -> np.ndarray:
    """Float16/32/64 stay as they are; anything else (bfloat16, integers) becomes float32."""
    values = np.asarray(values)
    if values.dtype in (np.float16, np.float32, np.float64):
        return values
    return values.astype(np.float32)


def _mapping(
    values: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    mode: str,
    clip_percentile: float | None,
    has_nan: bool,
) -> _Mapping:
    if clip_percentile is not None:
        values = values.astype(np.float64)  # a copy, in float64 like the levels
    if mode == "symmetric":
        magnitude = max(np.abs(low).max(), np.abs(high).max())
        if clip_percentile is not None:
            magnitude = _percentiles(np.abs(values, out=values).ravel(), clip_percentile, has_nan)
        offset, span = None, np.float64(2 * magnitude)
    else:
        if mode == "global":
            low, high = low.min(), high.max()
        elif mode != "per_tile":
            raise ValueError(f"unknown normalize mode {mode!r}")
        if clip_percentile is not None:
            bounds = [100 - clip_percentile, clip_percentile]
            if mode == "per_tile":
                low, high = _percentiles(values, bounds, has_nan)
            else:
                low, high = _percentiles(values.ravel(), bounds, has_nan)
        offset = np.asarray(low, dtype=np.float64)
        span = np.asarray(high, dtype=np.float64) - offset
    return _Mapping(offset, span, ~(np.isfinite(span) & (span > 0)))


def _percentiles(values: np.ndarray, q, has_nan: bool) -> np.ndarray:
    """numpy's percentiles of `values` (of each column, for a 2-D array) leaving NaN out; NaN where nothing is
    left, without numpy's warning about it (on the writer thread, a warning would reach no one)."""
    if not has_nan:
        return np.percentile(values, q, axis=0, overwrite_input=True)
    columns = values if values.ndim == 2 else values[:, None]
    found = ~np.isnan(columns).all(axis=0)
    out = np.full((len(np.atleast_1d(q)), columns.shape[1]), np.nan)
    if found.any():
        out[:, found] = np.nanpercentile(columns[:, found], q, axis=0).reshape(len(out), -1)
    out = out if values.ndim == 2 else out[:, 0]
    return out if np.ndim(q) else out[0]
