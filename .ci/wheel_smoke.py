"""Smoke test of an installed filterviz wheel, run by `make dist` in a fresh environment.

Checks what a user of the release meets first: the package imports and draws a grid, the `filterviz`
command answers --help, and TensorBoard finds the Filters tab's entry point with its frontend files.
"""

import re
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import numpy as np

import filterviz

assert Path(filterviz.__file__).parts[-3:-1] != ("src", "filterviz"), "testing the clone, not the wheel"
version = metadata.version("filterviz")
assert version == filterviz.__version__, (version, filterviz.__version__)

grid = filterviz.kernel_grid(np.arange(2 * 2 * 3 * 4, dtype=np.float32).reshape(2, 2, 3, 4), scale=1)
assert grid.shape == (7, 7, 3) and grid.dtype == np.uint8, grid.shape

command = Path(sys.executable).with_name("filterviz")
answer = subprocess.run([str(command), "--help"], capture_output=True, text=True, check=True).stdout
assert all(name in answer for name in ("render", "animate", "demo")), answer

(entry,) = [e for e in metadata.entry_points(group="tensorboard_plugins") if e.name == "filterviz"]
plugin = entry.load()
assert plugin.plugin_name == "filterviz", plugin.plugin_name
static = resources.files("filterviz") / "dashboard" / "static"
# Every module static/README.md lists is in the wheel, and every module the page imports is one of them.
listed = set(re.findall(r"^\| `([\w.]+\.(?:js|css))`", (static / "README.md").read_text(), re.MULTILINE))
for name in listed:
    assert (static / name).is_file(), f"{name} is missing from the wheel"
for module in [name for name in listed if name.endswith(".js")]:
    for imported in re.findall(r'from "\./([\w.]+)"', (static / module).read_text()):
        assert imported in listed, f"{module} imports {imported}, which the wheel lacks"

print(f"filterviz {version} wheel: import, kernel_grid, `filterviz --help` and the TensorBoard plugin work")
