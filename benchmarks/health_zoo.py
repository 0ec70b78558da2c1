"""The fault zoo (tests/helpers/zoo.py): does each step's reading of the health values say "healthy" on good
trainings and name each fault by the value meant for it, on four architectures users train?

An MLP, a CNN with 3x3 filters, a CNN with 5x5 colour filters and a small ViT's patch embedding, on data
that ships in scikit-learn, each trained well and with one fault at a time. It prints:

* for every health value, a table of architecture x condition: the value at the step that decides the run's
  reading (its first alarm, else its last logged step), marked "!" where that value raised an alarm at some
  logged step and "~" where it gave a note at the last;
* the reading of each run (the first alarm, else the last step's);
* the verdicts: false alarms (a good run flagged: an alarm at any logged step, or a note at its last) and
  misses (a fault not flagged by the value meant for it), with the training accuracy reached.

Run:  python benchmarks/health_zoo.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parents[1]))  # the tests' helpers

from filterviz.core import health
from tests.helpers import zoo

SHARES = ("dead", "redundancy", "opposites")
WIDTH = 12


def decisive(run: zoo.Run) -> int:
    """The index of the logged step that decides the run's reading: its first alarm, else its last."""
    for index, reading in enumerate(run.readings):
        if index and reading.level == "alarm":
            return index
    return len(run.readings) - 1


def cell(run: zoo.Run | None, name: str) -> str:
    if run is None:
        return f"{'n/a':>{WIDTH}}"
    value = run.at(decisive(run)).get(name)
    if value is None:
        text = "-"
    elif name in SHARES:
        text = f"{100 * value:.0f}%"
    elif name == "nonfinite":
        text = f"{value:.0f}"
    else:
        text = f"{value:.2g}"
    alarmed = any(r.level == "alarm" and r.value == name for r in run.readings[1:])
    noted = run.readings[-1].level == "note" and run.readings[-1].value == name
    return f"{text + ('!' if alarmed else '~' if noted else ' '):>{WIDTH}}"


def main() -> None:
    started = time.monotonic()
    runs = zoo.run_zoo()
    print(f"trained {len(runs)} runs in {time.monotonic() - started:.0f} s")
    short = dict(
        zip(
            zoo.CONDITIONS,
            ("good", "lr x100", "lr /1000", "dead ReLUs", "L1 collapse", "near-same", "0-255", "one step"),
            strict=True,
        )
    )
    header = f"{'':10}" + "".join(f"{short[c]:>{WIDTH}}" for c in zoo.CONDITIONS)
    for name in health.SCALARS:
        print(f"\n{name}  (at the deciding step; ! an alarm of it at some step, ~ a note at the last)")
        print(header)
        for architecture in zoo.ARCHITECTURES:
            cells = "".join(cell(runs.get((architecture, c)), name) for c in zoo.CONDITIONS)
            print(f"{architecture:10}{cells}")

    print("\nreadings (the first alarm, else the last logged step's)")
    false_alarms, misses = [], []
    for (architecture, condition), run in runs.items():
        reading = run.readings[decisive(run)]
        verdict = zoo.judge(run)
        mark = ""
        if verdict.false_alarm:
            false_alarms.append(f"{architecture} / {condition}: {verdict.false_alarm}")
            mark = "   FALSE ALARM"
        elif verdict.missed:
            misses.append(f"{architecture} / {condition}")
            mark = f"   MISSED (meant: {', '.join(sorted(zoo.MEANT[condition]))})"
        elif zoo.MEANT.get(condition) is None and condition != "good":
            mark = "   (no value of the first layer is meant to tell it)"
        run_name = f"{architecture:8} {condition:24} acc {run.accuracy:4.2f}"
        print(f"  {run_name}  {reading.level:7} {reading.words}{mark}")
    for (architecture, condition), why in zoo.NOT_APPLICABLE.items():
        print(f"  {architecture:8} {condition:24} not applicable: {why}")

    goods = sum(condition == "good" for _, condition in runs)
    faults = sum(bool(zoo.MEANT.get(condition)) for _, condition in runs)
    print(
        f"\nfalse alarms: {len(false_alarms)} of {goods} good runs"
        + "".join(f"\n  {f}" for f in false_alarms)
    )
    print(
        f"misses: {len(misses)} of {faults} faults a value is meant for" + "".join(f"\n  {m}" for m in misses)
    )


if __name__ == "__main__":
    main()
