"""A loaded machine for the tests that must hold under load: processes that keep every core busy, churn
memory and write to disk with fsync, for the time of a with-block."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

CPU = "while True: pass"
MEMORY = "import numpy as np\nwhile True:\n    a = np.ones((128, 1024, 1024)); a += 1; del a"  # 1 GiB
DISK = (
    "import os, sys\n"
    "block = os.urandom(1 << 20)\n"
    "while True:\n"
    "    with open(sys.argv[1], 'wb') as f:\n"
    "        for _ in range(128): f.write(block)\n"
    "        f.flush(); os.fsync(f.fileno())\n"
)


@contextlib.contextmanager
def loaded(folder, cpu: int | None = None):
    """`cpu` busy processes (two per core by default), one memory churner and one disk writer (in
    `folder`), running for the with-block."""
    cpu = cpu or 2 * (os.cpu_count() or 2)
    scripts = [[CPU]] * cpu + [[MEMORY], [DISK, str(folder / "load.bin")]]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", *script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for script in scripts
    ]
    try:
        yield
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()
