"""The fault zoo: does each health value tell its fault from a good run? (tests/helpers/zoo.py trains them)

Small trainings on the demo's bundled photographs under known conditions, each logged by FilterLogger: a
good run, and one fault each (the learning rate 100x too high or too low, too short a training, the layer
frozen, filters pinned to zero, duplicated or negated filters planted); and two very small kernels at their
initialization. It prints every health value at the last logged step of each run, its median over the
run, and its value at the first step (the initialization: noise, redundancy and opposites read as chance
there, at every kernel size); then, for each value, the separation between the good run and the fault it
is meant to reveal, against the factor the README states (tests/trainings/test_health_zoo.py checks the same).

Run:  python benchmarks/health_zoo.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parents[1]))  # the tests' helpers

from tests.helpers import zoo

NAMES = ("update_ratio", "drift", "dead", "noise", "redundancy", "opposites", "nonfinite")


def cell(values: dict[str, float], name: str) -> str:
    value = values.get(name)
    if value is None:
        return f"{'-':>11}"
    if name in ("dead", "redundancy", "opposites"):
        return f"{100 * value:10.1f}%"
    if name == "nonfinite":
        return f"{value:11.0f}"
    return f"{value:11.3g}"


def main() -> None:
    started = time.monotonic()
    runs = zoo.run_zoo()
    print(f"trained {len(zoo.CONDITIONS)} runs in {time.monotonic() - started:.0f} s\n")
    header = f"{'run':28} {'step':>5} " + " ".join(f"{name:>11}" for name in NAMES)
    print(header)
    print("-" * len(header))
    for name, run in runs.items():
        if name in zoo.CONDITIONS:
            print(f"{name:28} {'last':>5} " + " ".join(cell(run.last, n) for n in NAMES))
    for name, run in runs.items():
        if name in zoo.CONDITIONS:
            print(f"{name:28} {'run':>5} " + " ".join(cell(run.during, n) for n in NAMES))
    for name, run in runs.items():
        print(f"{name:28} {'init':>5} " + " ".join(cell(run.first, n) for n in NAMES))
    print("\n(-: not logged at that step: no update ratio at the first, or a value that cannot mean anything")
    print(" for that kernel: noise of tiles under 3x3, shares of partners that chance alone would give)\n")
    print("separations: the fault's value over the good run's ('above'), or the good run's over the fault's")
    print(f"{'value':14} {'fault':20} {'good':>10} {'fault':>10} {'separation':>11} {'goal':>8}")
    for name, fault, direction, factor in zoo.SEPARATIONS:
        separation = zoo.separation(runs, name, fault, direction)
        verdict = "ok" if separation >= factor else "MISSED"
        when = "during" if name in zoo.OVER_THE_RUN else "last"
        good, bad = (getattr(runs[run], when).get(name, float("nan")) for run in ("good", fault))
        word = "above" if direction == "above" else "below"
        print(
            f"{name:14} {fault:20} {good:10.3g} {bad:10.3g} {separation:10.1f}x {word} {factor:>4g}x  "
            f"{verdict}{'  (median over the run)' if when == 'during' else ''}"
        )


if __name__ == "__main__":
    main()
