"""Colour maps for single-channel tiles: a gray level (0-255) to an RGB colour.

numpy only; matplotlib is used for other colormap names when it is installed.
"""

from __future__ import annotations

import functools

import numpy as np

GRAY_NAMES = ("gray", "grey")
DIVERGING = "diverging"
BUILT_IN = (*GRAY_NAMES, DIVERGING)


def lookup_table(cmap: str | None) -> np.ndarray | None:
    """The (256, 3) uint8 table for `cmap`, or None for plain gray (which stays single-channel).

    Raises TypeError for a value that is not a name, ValueError for an unknown name or when a matplotlib
    name is asked for without matplotlib.
    """
    if cmap is None or cmap in GRAY_NAMES:
        return None
    if not isinstance(cmap, str):
        raise TypeError(f"cmap={cmap!r} must be a colormap name such as 'gray' or 'diverging', or None.")
    return _table(cmap)


@functools.lru_cache(maxsize=16)
def _table(name: str) -> np.ndarray:
    table = _diverging() if name == DIVERGING else _from_matplotlib(name)
    table.setflags(write=False)
    return table


def _diverging() -> np.ndarray:
    """Blue (level 0) through white (the middle, where 'symmetric' puts 0) to red (level 255)."""
    t = (np.arange(256) - 127.5) / 127.5  # -1 .. 1
    blue = np.array([0.0, 0.0, 255.0])
    red = np.array([255.0, 0.0, 0.0])
    white = np.full(3, 255.0)
    weight = np.abs(t)[:, None]
    end = np.where(t[:, None] < 0, blue, red)
    return np.floor(white * (1 - weight) + end * weight + 0.5).astype(np.uint8)


def _from_matplotlib(name: str) -> np.ndarray:
    try:
        import matplotlib
    except ImportError:
        raise ValueError(
            f"cmap={name!r} needs matplotlib: pip install matplotlib "
            f"(built in without it: {', '.join(map(repr, BUILT_IN))})."
        ) from None
    try:
        colormap = matplotlib.colormaps[name]
    except KeyError:
        raise ValueError(
            f"cmap={name!r} is not a colormap: use {', '.join(map(repr, BUILT_IN))} "
            "or a matplotlib name such as 'viridis'."
        ) from None
    rgba = colormap(np.linspace(0.0, 1.0, 256))  # one entry per gray level
    return np.floor(rgba[:, :3] * 255 + 0.5).astype(np.uint8)
