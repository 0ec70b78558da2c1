"""The docs stay true: docstring examples run, and the README names every option."""

import dataclasses
import doctest
import importlib
import re
from pathlib import Path

import pytest

import filterviz.core.renderer
import filterviz.keras.callback
import filterviz.keras.rendering
from filterviz import RenderOptions

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize(
    "module",
    [
        filterviz.core.renderer,
        filterviz.keras.rendering,
        filterviz.keras.callback,
        # filterviz.torch's modules by name: the package's `watch` and `render` are its functions
        *(
            importlib.import_module(f"filterviz.torch.{name}")
            for name in ("rendering", "watch", "lightning", "transformers")
        ),
    ],
    ids=lambda module: module.__name__,
)
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_the_readme_documents_every_rendering_option():
    for option in dataclasses.fields(RenderOptions):
        assert f"`{option.name}`" in README, option.name


def test_the_readme_names_the_marker_and_separator_colours():
    from filterviz.core.grid import MARKER_COLOUR, PADDING_COLOUR

    assert str(MARKER_COLOUR) in README and str(PADDING_COLOUR) in README


def test_mlflow_callback_is_called_as_mlflow_3_defines_it():
    """MlflowCallback's first parameter is log_every_epoch: a run passed there is truthy by accident."""
    import inspect

    import mlflow.keras

    assert next(iter(inspect.signature(mlflow.keras.MlflowCallback).parameters)) == "log_every_epoch"
    for path in [ROOT / "README.md", *sorted((ROOT / "examples").glob("*.py"))]:
        for arguments in re.findall(r"MlflowCallback\(([^)]*)\)", path.read_text()):
            assert all("=" in part for part in arguments.split(",") if part.strip()), (path.name, arguments)
