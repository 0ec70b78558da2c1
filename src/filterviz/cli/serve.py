"""`filterviz tensorboard`: TensorBoard with what filterviz writes in mind: quiet, and able to read a log
directory on an object store.

Where TensorFlow is installed, TensorBoard reads log directories through TensorFlow's file systems, and
those serve no `s3://` in TensorFlow 2.21 (tensorflow-io's plugins no longer load with it): TensorBoard
then refuses to start ("Unsupported filename scheme 's3'"). Without TensorFlow it reads them through fsspec
(s3fs, gcsfs, ...). For a log directory whose scheme TensorFlow does not serve, this command starts
TensorBoard as it runs without TensorFlow, by TensorBoard's own switch for that (a module named
`tensorboard.compat.notf`); the other tabs lose only what needs TensorFlow itself (its profiler, for one),
and the Filters tab reads the store through filterviz.storage either way. Otherwise TensorBoard runs as
usual, with TensorFlow imported quietly first (filterviz.keras.quiet): no start-up lines, and with Keras'
TensorFlow backend whatever KERAS_BACKEND says: TensorFlow imports Keras, and Keras' torch backend would
import torch after TensorFlow, which crashes torch's CUDA build (README, "PyTorch"); TensorBoard trains
nothing. Every argument goes to TensorBoard unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import types

NO_TENSORFLOW = "tensorboard.compat.notf"  # TensorBoard uses its own stub of TensorFlow when this exists
TENSORFLOW_SCHEMES = ("gs",)  # besides paths on this machine: what TensorFlow 2.21's file systems serve


def log_dirs(arguments: list[str]) -> list[str]:
    """The log directories TensorBoard's arguments name (--logdir, --logdir_spec)."""
    found = []
    for i, argument in enumerate(arguments):
        name, _, value = argument.partition("=")
        if name in ("--logdir", "--logdir_spec") and not value and i + 1 < len(arguments):
            value = arguments[i + 1]
        if name == "--logdir" and value:
            found.append(value)
        elif (
            name == "--logdir_spec" and value
        ):  # name:dir,name:dir (a dir may be a URL: split at the first ':')
            found += [
                part.split(":", 1)[1] if re.match(r"[^:/]+:(?!//)", part) else part
                for part in value.split(",")
            ]
    return found


def needs_fsspec(directories: list[str]) -> bool:
    """Whether a log directory is a URL that TensorFlow's file systems do not serve (s3://, memory://)."""
    schemes = [re.match(r"([A-Za-z][A-Za-z0-9+.\-]*)://", d) for d in directories]
    return any(s and s.group(1).lower() not in (*TENSORFLOW_SCHEMES, "file") for s in schemes)


def run_tensorboard(arguments: list[str]) -> None:
    """Run TensorBoard with `arguments` (as its own command line takes them)."""
    if needs_fsspec(log_dirs(arguments)):
        if "tensorflow" in sys.modules:
            raise RuntimeError("TensorFlow is imported already: TensorBoard would read through it")
        sys.modules.setdefault(NO_TENSORFLOW, types.ModuleType(NO_TENSORFLOW))
    else:
        from filterviz.keras.quiet import import_quietly

        os.environ["KERAS_BACKEND"] = "tensorflow"  # TensorFlow's own, for the Keras it imports
        with contextlib.suppress(ImportError):  # without TensorFlow, TensorBoard runs on its own stub
            import_quietly("tensorflow")
    from tensorboard import main as tensorboard_main

    sys.argv = ["tensorboard", *arguments]
    tensorboard_main.run_main()
