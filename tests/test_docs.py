"""The docs stay true: docstring examples run, and the README names every option."""

import dataclasses
import doctest
from pathlib import Path

import pytest

import filterviz.core.renderer
import filterviz.keras.callback
import filterviz.keras.rendering
from filterviz import RenderOptions

README = (Path(__file__).parents[1] / "README.md").read_text()


@pytest.mark.parametrize(
    "module", [filterviz.core.renderer, filterviz.keras.rendering, filterviz.keras.callback]
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
