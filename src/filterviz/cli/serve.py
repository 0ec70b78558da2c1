"""`filterviz tensorboard`: TensorBoard, reading a log directory on an object store through fsspec.

Where TensorFlow is installed, TensorBoard reads log directories through TensorFlow's file systems, and
those serve no `s3://` in TensorFlow 2.21 (tensorflow-io's plugins no longer load with it): TensorBoard
then refuses to start ("Unsupported filename scheme 's3'"). Without TensorFlow it reads them through fsspec
(s3fs, gcsfs, ...). This command starts TensorBoard as it runs without TensorFlow, by TensorBoard's own
switch for that (a module named `tensorboard.compat.notf`), and hands it every argument unchanged. The
other tabs lose only what needs TensorFlow itself (its profiler, for one); the Filters tab reads the
store through filterviz.storage either way.
"""

from __future__ import annotations

import sys
import types

NO_TENSORFLOW = "tensorboard.compat.notf"  # TensorBoard uses its own stub of TensorFlow when this exists


def run_tensorboard(arguments: list[str]) -> None:
    """Run TensorBoard with `arguments` (as its own command line takes them), without TensorFlow."""
    if "tensorflow" in sys.modules:
        raise RuntimeError("TensorFlow is imported already: TensorBoard would read through it")
    sys.modules.setdefault(NO_TENSORFLOW, types.ModuleType(NO_TENSORFLOW))
    from tensorboard import main as tensorboard_main

    sys.argv = ["tensorboard", *arguments]
    tensorboard_main.run_main()
