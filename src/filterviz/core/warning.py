"""The one warning filterviz gives, when a picture was drawn or a step logged, but not quite as asked."""

from __future__ import annotations


class FilterVizWarning(UserWarning):
    """A picture was drawn, or a step logged, but not quite as asked: the message says what and why."""


FilterVizWarning.__module__ = "filterviz"  # where users find it: filterviz.FilterVizWarning
