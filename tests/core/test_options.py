"""The rendering options: defaults, validation at construction, helpful errors."""

import dataclasses

import numpy as np
import pytest

import filterviz
from filterviz import RenderOptions, kernel_grid
from filterviz.core.colormaps import lookup_table


def test_the_option_defaults():  # their names and order: tests/test_public_api.py
    defaults = {f.name: f.default for f in dataclasses.fields(RenderOptions)}
    assert defaults == {
        "normalize": "per_tile",
        "clip_percentile": None,
        "cmap": None,
        "ncols": None,
        "padding": 1,
        "scale": None,
        "max_tiles": None,
        "tile_shape": None,
        "flatten_order": "hwc",
        "bgr": False,
    }
    assert all(f.metadata["help"] for f in dataclasses.fields(RenderOptions))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"normalize": "minmax"}, ValueError, "normalize='minmax' is not a normalize mode"),
        ({"normalize": 1}, TypeError, "normalize=1 is not a normalize mode"),
        ({"clip_percentile": 40}, ValueError, "clip_percentile=40 must be a number with 50 < p <= 100"),
        ({"clip_percentile": "99"}, TypeError, "clip_percentile='99'"),
        ({"ncols": 0}, ValueError, "ncols=0 must be an integer >= 1 or None"),
        ({"padding": -1}, ValueError, "padding=-1 must be an integer >= 0"),
        ({"scale": 1.5}, TypeError, "scale=1.5 must be an integer >= 1"),
        ({"max_tiles": 0}, ValueError, "max_tiles=0"),
        ({"max_tiles": True}, TypeError, "max_tiles=True"),
        ({"tile_shape": (28, 28, 0)}, ValueError, "tile_shape=.* must be \\(height, width, channels\\)"),
        ({"tile_shape": (28, 28, 1, 1)}, ValueError, "tile_shape=\\(28, 28, 1, 1\\)"),
        ({"tile_shape": 784}, TypeError, "tile_shape=784"),
        ({"tile_shape": (28.0, 28, 1)}, TypeError, "tile_shape=\\(28.0, 28, 1\\)"),
        ({"flatten_order": "whc"}, ValueError, "flatten_order='whc' must be 'hwc'"),
        ({"flatten_order": "chw"}, ValueError, "give the image shape too"),
        ({"bgr": "yes"}, TypeError, "bgr='yes' must be True or False"),
        ({"cmap": "no-such-map"}, ValueError, "cmap='no-such-map' is not a colormap"),
        ({"cmap": 3}, TypeError, "cmap=3 must be a colormap name"),
    ],
)
def test_bad_arguments_fail_at_construction_with_the_fix(kwargs, error, message):
    """One convention: TypeError for a wrong type, ValueError for a bad value."""
    with pytest.raises(error, match=message):
        RenderOptions(**kwargs)


def test_help_lists_every_option_and_the_public_names():
    doc = RenderOptions.__doc__
    for option in dataclasses.fields(RenderOptions):
        assert f"    {option.name} (default {option.default!r}): " in doc, option.name
    assert RenderOptions.__module__ == "filterviz" and filterviz.FilterVizWarning.__module__ == "filterviz"


def test_unknown_option_names_suggest_the_closest():
    with pytest.raises(TypeError, match="'colormap' is not a rendering option"):
        kernel_grid(np.zeros((4, 4)), colormap="gray")
    with pytest.raises(TypeError, match="Did you mean 'ncols'"):
        RenderOptions.from_kwargs(ncol=3)


def test_tile_shape_of_two_dims_means_one_channel():
    assert RenderOptions(tile_shape=(28, 28)).tile_shape == (28, 28, 1)
    assert RenderOptions(tile_shape=[np.int64(8), 8, 3]).tile_shape == (8, 8, 3)


def test_gray_has_no_table_and_diverging_is_blue_white_red():
    assert lookup_table(None) is None and lookup_table("gray") is None
    table = lookup_table("diverging")
    assert table.shape == (256, 3) and table.dtype == np.uint8
    assert tuple(table[0]) == (0, 0, 255) and tuple(table[255]) == (255, 0, 0)
    assert min(table[127]) >= 253 and min(table[128]) >= 253  # the middle, where 0 lands, is white


def test_matplotlib_colormaps_by_name():
    pytest.importorskip("matplotlib")
    table = lookup_table("viridis")
    assert table.shape == (256, 3) and tuple(table[0]) == (68, 1, 84)
