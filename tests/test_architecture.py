"""The architecture is in the tree: docs/architecture.md names every module there is, the layering holds
(import-linter's contracts in pyproject.toml), and it fails the moment a core module imports Keras."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "filterviz"
PAGE = (ROOT / "docs" / "architecture.md").read_text()
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SUBPACKAGES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())


def test_the_page_names_every_module_and_only_modules_that_exist():
    on_disk = {
        f"{path.parent.name}/{path.name}" for path in PACKAGE.glob("*/*.py") if path.name != "__init__.py"
    }
    named = set(re.findall(r"^\| `(\w+/\w+\.py)` \|", PAGE, re.MULTILINE))
    assert named == on_disk, (
        f"missing from the page: {on_disk - named}; gone from the tree: {named - on_disk}"
    )
    for package in SUBPACKAGES:
        assert f"{package}/" in PAGE.split("## Who owns")[0], f"{package}/ is not in the diagram"
        assert (ROOT / "tests" / package).is_dir(), f"tests/{package}/ should hold the tests of {package}/"


def test_the_static_readme_lists_every_file_the_tab_serves():
    static = PACKAGE / "dashboard" / "static"
    listed = set(
        re.findall(r"^\| `([\w.]+\.(?:js|css))` \|", (static / "README.md").read_text(), re.MULTILINE)
    )
    assert listed == {path.name for path in static.iterdir() if path.suffix in (".js", ".css")}


def lint_imports(cwd: Path, source: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is not installed: pip install 'import-linter>=2.1' (in filterviz[dev])")
    env = {**os.environ, "PYTHONPATH": str(source)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_layering_holds():
    run = lint_imports(ROOT, ROOT / "src")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 kept, 0 broken" in run.stdout


@pytest.mark.parametrize(
    "module, line, contract",
    [
        ("core/tiles.py", "import keras", "only filterviz.keras and filterviz.cli import Keras"),
        (
            "eventfile/records.py",
            "from tensorflow import io",
            "only filterviz.keras and filterviz.cli import Keras",
        ),
        ("core/grid.py", "from filterviz.eventfile import format", "keras | torch > pipeline"),
        ("dashboard/answers.py", "from filterviz.pipeline import steps", "keras | torch > pipeline"),
        ("pipeline/steps.py", "import torch", "only filterviz.torch and Keras' torch backend"),
        ("keras/choice.py", "import timm", "Keras' front end and the command line import no torch library"),
        ("torch/watcher.py", "import keras", "only filterviz.keras and filterviz.cli import Keras"),
        ("keras/callback.py", "from filterviz.torch import watch", "keras | torch > pipeline"),
    ],
)
def test_the_contracts_fail_when_broken(tmp_path, module, line, contract):
    shutil.copytree(PACKAGE, tmp_path / "src" / "filterviz", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    broken = tmp_path / "src" / "filterviz" / module
    broken.write_text(broken.read_text() + f"\n{line}  # the layering says no\n")
    run = lint_imports(tmp_path, tmp_path / "src")
    assert run.returncode != 0, run.stdout
    assert f"{contract}" in run.stdout and "BROKEN" in run.stdout, run.stdout
    assert module.replace("/", ".").removesuffix(".py") in run.stdout  # it names the module that broke it
