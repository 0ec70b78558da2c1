"""What to tell a user whose Dense (Linear) layer's inputs may be flattened patches of the image rather
than the whole image: the tile_shape to pass. Shared by the front ends, which find the numbers."""

from __future__ import annotations

import math


def patch_hint(inputs: int, channels: int, patch_sizes: list[tuple[str, object]], other_order: str) -> str:
    """Which tile_shape to pass for a layer of `inputs` inputs behind an image of `channels` channels:
    from a `patch_size` that a layer before it holds ((its path, the value)), else from `inputs` being a
    square patch of the channels; "" when nothing suggests patches. `other_order` names the flatten order
    to pass if each patch was flattened the other way than the front end reads by default."""
    for path, size in patch_sizes:
        sides = _sides(size)
        if sides and math.prod(sides) * channels == inputs:
            return (
                f"its {inputs} inputs look like flattened {sides[0]}x{sides[1]}x{channels} patches ({path!r} "
                f"has patch_size={size}); if they are, pass tile_shape={(*sides, channels)} (and "
                f"flatten_order={other_order!r} if each patch was flattened "
                f"{'channels first' if other_order == 'chw' else 'channels last'})"
            )
    side = math.isqrt(inputs // channels)
    if inputs % channels == 0 and side > 1 and side * side * channels == inputs:
        return (
            f"its {inputs} inputs could be flattened {side}x{side}x{channels} patches of the image; if they "
            f"are, pass tile_shape={(side, side, channels)}"
        )
    return ""


def _sides(size: object) -> tuple[int, int] | None:
    """(height, width) of a `patch_size` attribute: an int, or a pair of ints; None for anything else."""
    sides = (size, size) if isinstance(size, int) else tuple(size) if isinstance(size, list | tuple) else ()
    return sides if len(sides) == 2 and all(isinstance(s, int) for s in sides) else None
