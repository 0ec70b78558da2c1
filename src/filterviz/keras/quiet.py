"""Keras and TensorFlow imported without TensorFlow's start-up lines.

TensorFlow 2.21 prints, as it is imported, lines about oneDNN and CUDA drivers through absl's logging,
twice, before any setting can stop them (TF_CPP_MIN_LOG_LEVEL acts only once absl is set up). `import_quietly`
points the process's standard error at a temporary file for the import alone, and shows what was caught
only when the import fails. TF_CPP_MIN_LOG_LEVEL=3 (unless set already) silences what TensorFlow would print
later (a CUDA probe's error on a machine without a GPU). `filterviz demo`, `filterviz render`,
`filterviz tensorboard` and the example scripts import Keras this way.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from types import ModuleType


def import_quietly(name: str = "keras") -> ModuleType:
    """`import name` (keras, tensorflow) with what TensorFlow prints meanwhile held back: shown only if
    the import fails."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if name in sys.modules:
        return sys.modules[name]
    sys.stderr.flush()
    with tempfile.TemporaryFile() as caught:
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            return importlib.import_module(name)
        except BaseException:
            os.dup2(saved, 2)
            caught.seek(0)
            sys.stderr.write(caught.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
