"""The rendering options, defined once.

`render`, `save_png`, `kernel_grid`, `FilterLogger` and the command line all take these options
under these names, with these defaults. Each option is validated here, when it is set, so that
a bad value fails before any training starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from filterviz import colormaps

NormalizeMode = Literal["per_tile", "global", "symmetric"]
NORMALIZE_MODES: tuple[str, ...] = ("per_tile", "global", "symmetric")
FLATTEN_ORDERS: tuple[str, ...] = ("hwc", "chw")


def _help(
    text: str, parse: Callable[[str], Any] = str, choices: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Field metadata: the help text, and how the command line turns text into the value."""
    return {"help": text, "parse": parse, "choices": choices}


def parse_shape(text: str) -> tuple[int, ...]:
    """'28,28,1' or '28x28x1' -> (28, 28, 1)."""
    try:
        return tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise ValueError(f"{text!r} is not a shape such as 28,28,1") from None


@dataclass(frozen=True)
class RenderOptions:
    """How a kernel is drawn. Every field is an option of the public API under the same name."""

    normalize: NormalizeMode = field(
        default="per_tile",
        metadata=_help(
            "how weights become gray levels: 'per_tile' (each tile's min to black, max to white), "
            "'global' (one min and max over all tiles shown), 'symmetric' (0 to mid-gray, "
            "-M to black, +M to white, M = max|w| over all tiles)",
            choices=NORMALIZE_MODES,
        ),
    )
    clip_percentile: float | None = field(
        default=None,
        metadata=_help(
            "clip outliers first: to the [100-p, p] percentiles of the same scope "
            "(for 'symmetric', to the p-th percentile of |w|); 50 < p <= 100",
            parse=float,
        ),
    )
    cmap: str | None = field(
        default=None,
        metadata=_help(
            "colour map for single-channel tiles: 'gray' (default), 'diverging' (blue, white, red; "
            "suits 'symmetric'), or any matplotlib colormap name when matplotlib is installed"
        ),
    )
    ncols: int | None = field(
        default=None,
        metadata=_help("tiles per grid row (default: ceil(sqrt(number of tiles)))", parse=int),
    )
    padding: int = field(
        default=1,
        metadata=_help("pixels of separator between tiles and around the border (0: tiles touch)", parse=int),
    )
    scale: int | None = field(
        default=None,
        metadata=_help(
            "integer nearest-neighbour upscale of every weight (default: so that small kernels are visible)",
            parse=int,
        ),
    )
    max_tiles: int | None = field(
        default=None,
        metadata=_help(
            "draw at most this many tiles: the first units (and input channels) by index", parse=int
        ),
    )
    tile_shape: tuple[int, int, int] | None = field(
        default=None,
        metadata=_help(
            "(H, W, C) image shape of one Dense unit's weights (default: inferred from the model)",
            parse=parse_shape,
        ),
    )
    flatten_order: Literal["hwc", "chw"] = field(
        default="hwc",
        metadata=_help(
            "order of a Dense kernel's inputs: 'hwc' (Keras Flatten) or 'chw' (data flattened "
            "channels-first outside the model; needs tile_shape)",
            choices=FLATTEN_ORDERS,
        ),
    )
    bgr: bool = field(
        default=False,
        metadata=_help("the model takes BGR input (caffe-style): flip 3-channel tiles to RGB", parse=bool),
    )

    def __post_init__(self) -> None:
        if self.normalize not in NORMALIZE_MODES:
            raise ValueError(
                f"normalize={self.normalize!r} is not a normalize mode; use one of {list(NORMALIZE_MODES)}."
            )
        if self.clip_percentile is not None:
            p = self.clip_percentile
            if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 50 < p <= 100:
                raise ValueError(
                    f"clip_percentile={p!r} must be a number with 50 < p <= 100 (for example 99.5), or None."
                )
            object.__setattr__(self, "clip_percentile", float(p))
        colormaps.lookup_table(self.cmap)  # fails now if the name is unknown or matplotlib is missing
        _check_int("ncols", self.ncols, minimum=1, optional=True)
        _check_int("padding", self.padding, minimum=0)
        _check_int("scale", self.scale, minimum=1, optional=True)
        _check_int("max_tiles", self.max_tiles, minimum=1, optional=True)
        if self.tile_shape is not None:
            object.__setattr__(self, "tile_shape", _tile_shape(self.tile_shape))
        if self.flatten_order not in FLATTEN_ORDERS:
            raise ValueError(
                f"flatten_order={self.flatten_order!r} must be 'hwc' (Keras Flatten's order) "
                "or 'chw' (data flattened channels-first outside the model)."
            )
        if self.flatten_order == "chw" and self.tile_shape is None:
            raise ValueError(
                "flatten_order='chw' describes data flattened outside the model; "
                "give the image shape too, for example tile_shape=(32, 32, 3)."
            )
        if not isinstance(self.bgr, bool):
            raise ValueError(f"bgr={self.bgr!r} must be True or False.")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> RenderOptions:
        """Build options from keyword arguments, naming any unknown one and the closest valid name."""
        names = option_names()
        for key in kwargs:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"{key!r} is not a rendering option.{hint} The options are: {', '.join(names)}."
                )
        return cls(**kwargs)


def option_names() -> list[str]:
    return [f.name for f in dataclasses.fields(RenderOptions)]


def _check_int(name: str, value: object, *, minimum: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        allowed = f"an integer >= {minimum}" + (" or None" if optional else "")
        raise ValueError(f"{name}={value!r} must be {allowed}.")


def _tile_shape(shape: object) -> tuple[int, int, int]:
    try:
        dims = tuple(shape)  # type: ignore[arg-type]
    except TypeError:
        dims = ()
    if len(dims) == 2:
        dims = (*dims, 1)
    if len(dims) != 3 or any(
        isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1 for d in dims
    ):
        raise ValueError(
            f"tile_shape={shape!r} must be (height, width, channels) or (height, width) "
            "of positive integers, for example (28, 28, 1) or (32, 32, 3)."
        )
    return (int(dims[0]), int(dims[1]), int(dims[2]))
