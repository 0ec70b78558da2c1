"""What FilterLogger writes into a TensorBoard log directory, and how a reader checks it: every name and tag,
and the layer's JSON description with its format version. The TensorBoard writer and every reader
(`load_history`, `filterviz animate`, the Filters tab) take them from here and nowhere else.

In the run `<log_dir>/filters`, for a layer drawn under the tag `filters/<layer>`:

    filters/<layer>                 the grid: an image summary (TensorBoard's Images tab shows it too)
    filters/<layer>/delta           the grid of W_t - W_prev (log_delta=True)
    filters/<layer>/<health>        each health value, a scalar summary (health.SCALARS)
    filterviz/<layer>/layer         a marker of the layer, present with health off too
    filterviz/<layer>/filters       the per-filter values, one row per name in the description's "per_filter"
    filterviz/<layer>/update_ratio  the update ratio of each filter
    filterviz/<layer>/kernel        the float32 kernel, when it is stored
    filterviz/<layer>/shed          at a step the writer left parts out of: one flag per name in the
                                    description's "shed_order" (1: left out)

The `filterviz/...` tensors carry, in their summary metadata (with a tag's first value in each file), the
layer's description: JSON of `describe_layer`, with "version": FORMAT_VERSION. `read_description` checks it
field by field and against what the renderer itself would draw for that layer before any reader uses it,
so that nothing a file says sizes an allocation unchecked.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass
from typing import Any

from filterviz.core import health
from filterviz.core.grid import MAX_GRID_PIXELS, GridPlan
from filterviz.core.options import RenderOptions, option_names
from filterviz.core.renderer import Renderer
from filterviz.core.step import safe_name
from filterviz.core.tiles import KINDS

PLUGIN_NAME = "filterviz"  # the Filters tab's plugin, and the plugin name of its tensors
RUN_NAME = "filters"  # the run directory FilterLogger writes inside log_dir
IMAGE_PREFIX = "filters/"
FORMAT_VERSION = 1  # of the layer description; a reader refuses a newer one by name
DELTA = "delta"
PLUGIN_PARTS = ("layer", "filters", "update_ratio", "kernel", "shed")
DESCRIPTION_BYTES = 1 << 16  # a layer description is a few hundred bytes; more is not one
KERNEL_VALUES = 1 << 31  # the largest kernel a description may declare (8 GiB of float32)
KERNEL_STORE_LIMIT = 1 << 20  # bytes per step: store_kernel="auto" keeps float32 kernels up to 1 MiB


def image_tag(layer_name: str) -> str:
    """`filters/<layer>`: the tag of a layer's grid, under which everything else of it is found."""
    return IMAGE_PREFIX + layer_name


def layer_tags(names: list[str], paths: list[str]) -> list[str]:
    """`filters/<layer name>` for each of the layers logged together; by its path instead where two of them
    share a name."""
    safe = [safe_name(name) for name in names]
    return [
        image_tag(name if safe.count(name) == 1 else safe_name(path))
        for name, path in zip(safe, paths, strict=True)
    ]


def layer_name(tag: str) -> str:
    return tag.removeprefix(IMAGE_PREFIX)


def delta_tag(tag: str) -> str:
    return f"{tag}/{DELTA}"


def scalar_tag(tag: str, name: str) -> str:
    return f"{tag}/{name}"


def plugin_tag(tag: str, part: str) -> str:
    """`filters/<layer>` -> `filterviz/<layer>/<part>`: the tags of the Filters tab's tensors."""
    return f"{PLUGIN_NAME}/{layer_name(tag)}/{part}"


@dataclass(frozen=True)
class Tag:
    """What a summary tag holds: kind "grid", "delta", "scalar" or a plugin part, for layer `tag`."""

    kind: str
    tag: str  # filters/<layer>
    name: str = ""  # the health value's name, for a scalar


def parse_tag(text: str) -> Tag | None:
    """The meaning of a summary tag FilterLogger writes, or None for any other tag."""
    parts = text.split("/")
    if parts[0] == PLUGIN_NAME and len(parts) == 3 and parts[2] in PLUGIN_PARTS and parts[1]:
        return Tag(parts[2], image_tag(parts[1]))
    if text.startswith(IMAGE_PREFIX) and parts[1]:
        if len(parts) == 2:
            return Tag("grid", text)
        if len(parts) == 3 and parts[2] == DELTA:
            return Tag("delta", "/".join(parts[:2]))
        if len(parts) == 3 and parts[2]:
            return Tag("scalar", "/".join(parts[:2]), parts[2])
    return None


def describe_layer(renderer: Renderer, tag: str, axis: str, path: str, kernel_stored: bool) -> dict[str, Any]:
    """How a layer is drawn, as JSON-ready values: enough to draw its stored kernels again."""
    layout, options = renderer.layout, renderer.options
    return {
        "version": FORMAT_VERSION,
        "tag": tag,
        "layer": path.rsplit("/", 1)[-1],
        "path": path,
        "axis": axis,
        "kernel_shape": list(renderer.kernel_shape),
        "kernel_stored": kernel_stored,
        "kind": layout.kind,
        "image_shape": list(layout.image_shape),
        "flatten_order": layout.flatten_order,
        "shape_source": layout.shape_source,
        "options": {
            key: (list(v) if isinstance(v, tuple) else v) for key, v in dataclasses.asdict(options).items()
        },
        "plan": plan_of(renderer.plan),
        "per_filter": list(health.PER_FILTER),
        "scalars": list(health.SCALARS),
        "choice": "",  # why filterviz chose this layer, when it did
    }


def plan_of(plan: GridPlan) -> dict[str, int]:
    """Where a grid's tiles are, as the description states it (and the browser's geometry.js reads it):
    every field of the plan but whether it was shrunk to fit."""
    fields = (field.name for field in dataclasses.fields(plan) if field.name != "shrunk_to_fit")
    return {name: getattr(plan, name) for name in fields}


def encode_description(description: dict[str, Any]) -> bytes:
    return json.dumps(description, sort_keys=True).encode()


class BadDescription(ValueError):
    """A layer description a reader cannot use: the message says what is wrong with it."""


@dataclass(frozen=True)
class Description:
    """A checked layer description, and the renderer it describes (what the layer's grids look like)."""

    info: dict[str, Any]
    renderer: Renderer

    @property
    def units(self) -> int:
        """The layer's filters: the per-filter values have one column per unit."""
        return self.renderer.layout.units


def read_description(content: bytes) -> Description:
    """Parse and check a layer description. Raises BadDescription naming the problem."""
    if len(content) > DESCRIPTION_BYTES:
        raise BadDescription(f"a description of {len(content):,} bytes is not one FilterLogger wrote")
    try:
        info = json.loads(content, parse_constant=_no_constant)
    except RecursionError:
        raise BadDescription("the description is nested too deeply to be one FilterLogger wrote") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BadDescription(f"the description is not JSON: {error}") from None
    if not isinstance(info, dict):
        raise BadDescription(f"the description is a JSON {type(info).__name__}, not an object")
    version = info.get("version")
    if not _is_int(version) or version < 1:
        raise BadDescription(f"the description has no format version (version={version!r})")
    if version > FORMAT_VERSION:
        raise BadDescription(
            f"written by a newer filterviz (format version {version}; this one reads {FORMAT_VERSION}): "
            "upgrade filterviz to read it"
        )
    for key in ("tag", "layer", "path", "axis", "kind", "flatten_order", "shape_source"):
        if not isinstance(info.get(key), str):
            raise BadDescription(f"the description's {key!r} is not text")
    if info["kind"] not in KINDS:
        raise BadDescription(f"the description's kind {info['kind']!r} is not one filterviz draws")
    shape = _ints(info, "kernel_shape", KINDS[info["kind"]])
    if math.prod(shape) > KERNEL_VALUES:
        raise BadDescription(f"a kernel of shape {tuple(shape)} is larger than any FilterLogger draws")
    for key in ("per_filter", "scalars"):
        names = info.get(key)
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise BadDescription(f"the description's {key!r} is not a list of names")
    return Description(info, _renderer(info, shape))


def _renderer(info: dict[str, Any], shape: list[int]) -> Renderer:
    """The renderer FilterLogger drew the layer with, rebuilt from the description; its plan must be the
    one the description gives (no file decides how large a grid or strip is)."""
    options = info.get("options")
    if not isinstance(options, dict) or set(options) != set(option_names()):
        raise BadDescription("the description's rendering options are not filterviz's")
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in options.items()}
    inferred = None
    if info["shape_source"] == "model":
        inferred = (tuple(_ints(info, "image_shape", 3)), info["flatten_order"])
    try:
        renderer = Renderer(
            tuple(shape), RenderOptions(**values), kind=info["kind"], inferred_tile_shape=inferred, quiet=True
        )
    except (TypeError, ValueError) as error:
        raise BadDescription(f"the layer it describes cannot be drawn: {error}") from None
    plan = info.get("plan")
    if plan != plan_of(renderer.plan):
        raise BadDescription("the description's grid plan is not the one its layer is drawn with")
    if renderer.plan.height * renderer.plan.width > MAX_GRID_PIXELS:
        raise BadDescription("the description's grid is larger than any filterviz draws")
    return renderer


def _ints(info: dict[str, Any], key: str, count: int) -> list[int]:
    values = info.get(key)
    if not isinstance(values, list) or len(values) != count or not all(_is_int(v) and v > 0 for v in values):
        raise BadDescription(f"the description's {key!r} is not {count} positive whole numbers")
    return values


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")
