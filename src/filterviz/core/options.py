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

from filterviz.core import colormaps, validate

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
        validate.choice(
            "normalize",
            self.normalize,
            NORMALIZE_MODES,
            f"is not a normalize mode; use one of {list(NORMALIZE_MODES)}.",
        )
        if self.clip_percentile is not None:
            clip = validate.number(
                "clip_percentile",
                self.clip_percentile,
                above=50,
                at_most=100,
                accepts="a number with 50 < p <= 100 (for example 99.5), or None",
            )
            object.__setattr__(self, "clip_percentile", clip)
        colormaps.lookup_table(self.cmap)  # fails now if the name is unknown or matplotlib is missing
        validate.integer("ncols", self.ncols, minimum=1, optional=True)
        validate.integer("padding", self.padding, minimum=0)
        validate.integer("scale", self.scale, minimum=1, optional=True)
        validate.integer("max_tiles", self.max_tiles, minimum=1, optional=True)
        if self.tile_shape is not None:
            object.__setattr__(self, "tile_shape", _tile_shape(self.tile_shape))
        validate.choice(
            "flatten_order",
            self.flatten_order,
            FLATTEN_ORDERS,
            "must be 'hwc' (Keras Flatten's order) "
            "or 'chw' (data flattened channels-first outside the model).",
        )
        if self.flatten_order == "chw" and self.tile_shape is None:
            raise ValueError(
                "flatten_order='chw' describes data flattened outside the model; "
                "give the image shape too, for example tile_shape=(32, 32, 3)."
            )
        validate.boolean("bgr", self.bgr)

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


def _document_options() -> None:
    """Append every option, its default and its help to RenderOptions' docstring (for help())."""
    lines = ["", "", "Args:"]
    for option in dataclasses.fields(RenderOptions):
        lines.append(f"    {option.name} (default {option.default!r}): {option.metadata['help']}.")
    RenderOptions.__doc__ = (RenderOptions.__doc__ or "") + "\n".join(lines)


_document_options()
RenderOptions.__module__ = "filterviz"  # where users find it; help() and reprs say so


def option_names() -> list[str]:
    return [f.name for f in dataclasses.fields(RenderOptions)]


def _tile_shape(shape: object) -> tuple[int, int, int]:
    accepts = (
        "(height, width, channels) or (height, width) of positive integers, "
        "for example (28, 28, 1) or (32, 32, 3)"
    )
    if not isinstance(shape, (tuple, list)):
        validate.fail("tile_shape", shape, accepts, wrong_type=True)
    dims = tuple(shape)  # type: ignore[arg-type]
    if len(dims) == 2:
        dims = (*dims, 1)
    if len(dims) != 3:
        validate.fail("tile_shape", shape, accepts, wrong_type=False)
    if any(isinstance(dim, bool) or not isinstance(dim, numbers.Integral) for dim in dims):
        validate.fail("tile_shape", shape, accepts, wrong_type=True)
    if any(dim < 1 for dim in dims):
        validate.fail("tile_shape", shape, accepts, wrong_type=False)
    return (int(dims[0]), int(dims[1]), int(dims[2]))
