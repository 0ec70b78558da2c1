"""Argument checks, with one convention everywhere: TypeError for a wrong type, ValueError for a bad value.

Every message names the argument, the value given and what it accepts, so that the fix is in the error.
The options, FilterLogger and the layer choice all check their arguments here, when they are made.
"""

from __future__ import annotations

import numbers
from collections.abc import Collection


def fail(name: str, value: object, accepts: str, *, wrong_type: bool) -> None:
    error = TypeError if wrong_type else ValueError
    raise error(f"{name}={value!r} must be {accepts}.")


def boolean(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        fail(name, value, "True or False", wrong_type=True)
    return value  # type: ignore[return-value]


def integer(
    name: str, value: object, *, minimum: int, optional: bool = False, accepts: str = ""
) -> int | None:
    """An integer >= `minimum` (bools refused: True is not a count), or None when `optional`."""
    if value is None and optional:
        return None
    accepts = accepts or f"an integer >= {minimum}" + (" or None" if optional else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(name, value, accepts, wrong_type=True)
    if value < minimum:  # type: ignore[operator]
        fail(name, value, accepts, wrong_type=False)
    return int(value)  # type: ignore[arg-type]


def number(name: str, value: object, *, above: float, at_most: float, accepts: str) -> float:
    """A real number in (above, at_most]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(name, value, accepts, wrong_type=True)
    if not above < value <= at_most:  # type: ignore[operator]
        fail(name, value, accepts, wrong_type=False)
    return float(value)  # type: ignore[arg-type]


def choice(name: str, value: object, choices: Collection[str], message: str) -> str:
    """One of the strings `choices`; `message` says what they mean, after "name=value " ."""
    if not isinstance(value, str):
        raise TypeError(f"{name}={value!r} {message}")
    if value not in choices:
        raise ValueError(f"{name}={value!r} {message}")
    return value


def layer_choice(layer: object, layer_type: type, types: str, empty: str) -> None:
    """A front end's `layer=`: None, a string, a `layer_type` (the framework's layer or module class), or a
    non-empty list or tuple of strings and `layer_type`s. `types` is the TypeError's message with {} for
    the type given; `empty` the ValueError's for an empty list."""
    if layer is None or isinstance(layer, str | layer_type):
        return
    if not isinstance(layer, list | tuple):
        raise TypeError(types.format(type(layer).__name__))
    if not layer:
        raise ValueError(empty)
    for item in layer:
        if not isinstance(item, str | layer_type):
            raise TypeError(types.format(type(item).__name__))
