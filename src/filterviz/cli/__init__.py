"""The `filterviz` command: commands (render, animate, demo), animate (logged steps to a GIF or APNG) and demo
(three small trainings on bundled data)."""

from filterviz.cli.commands import main

__all__ = ["main"]
