"""The normalization maths of every mode, clipping, constant tiles, NaN and Inf."""

import numpy as np
import pytest

from filterviz.core.normalize import MID_GRAY, normalize
from tests.helpers import level


def columns(*tiles):
    """Tiles given as lists of values -> the (values per tile, tiles) layout normalize takes.

    Levels come back one row per tile: levels[t] is tile t."""
    return np.array(tiles, dtype=np.float32).T


def test_per_tile_maps_each_tiles_own_min_to_0_and_max_to_255():
    out = normalize(columns([0, 1, 2, 4], [-10, -5, 0, 10]), "per_tile").levels
    assert out[0].tolist() == [0, level(1 / 4), level(2 / 4), 255]
    assert out[1].tolist() == [0, level(5 / 20), level(10 / 20), 255]
    assert out[0].tolist() == [0, 64, 128, 255]  # 63.75 -> 64; 127.5 rounds half up to 128


def test_global_uses_one_min_and_max_over_all_tiles():
    out = normalize(columns([0, 1, 2, 4], [-4, -2, 0, 2]), "global").levels
    # min -4, max 4: v = (w + 4) / 8
    assert out[0].tolist() == [level(4 / 8), level(5 / 8), level(6 / 8), 255]
    assert out[1].tolist() == [0, level(2 / 8), level(4 / 8), level(6 / 8)]


def test_symmetric_puts_zero_at_mid_gray_and_plus_minus_max_abs_at_the_ends():
    out = normalize(columns([0, 1, -1, 0.5], [2, -4, 4, 0]), "symmetric").levels
    # M = 4: v = 1/2 + w / 8
    assert out[0].tolist() == [128, level(0.5 + 1 / 8), level(0.5 - 1 / 8), level(0.5 + 0.5 / 8)]
    assert out[1].tolist() == [level(0.75), 0, 255, 128]


def test_symmetric_takes_the_largest_magnitude_where_it_is_a_negative_weight():
    out = normalize(columns([-4, 1, 0], [0.5, -1, 2]), "symmetric").levels
    # M = max |w| = 4, a negative weight (max w would be 2): v = 1/2 + w / 8
    assert out[0].tolist() == [0, 159, 128]
    assert out[1].tolist() == [level(0.5 + 0.5 / 8), level(0.5 - 1 / 8), level(0.75)]


def test_symmetric_clipping_takes_a_percentile_of_magnitudes_led_by_negative_weights():
    values = -np.linspace(0, 1, 101).astype(np.float32)  # every extreme negative
    out = normalize(columns(values), "symmetric", clip_percentile=90).levels[0]
    m = np.percentile(np.abs(values), 90)
    assert out[0] == 128 and out[-1] == 0 and out[50] == level(0.5 + values[50] / (2 * m))


def test_a_grid_in_symmetric_mode_draws_the_negative_extreme_black(tmp_path):
    from filterviz.core.renderer import kernel_grid

    kernel = np.array([[-4.0], [1.0], [0.0]], np.float32)  # one Dense unit of 3 inputs
    image = kernel_grid(kernel, normalize="symmetric", tile_shape=(1, 3, 1), padding=0, scale=1)
    assert image[..., 0].tolist() == [[0, 159, 128]]


def test_symmetric_does_not_centre_one_sided_weights():
    out = normalize(columns([1, 2, 3, 4]), "symmetric").levels[0]
    assert out.tolist() == [level(0.5 + 1 / 8), level(0.75), level(0.5 + 3 / 8), 255]


@pytest.mark.parametrize("mode", ["per_tile", "global", "symmetric"])
def test_constant_and_zero_tiles_are_mid_gray_never_nan(mode):
    with np.errstate(all="raise"):
        out = normalize(columns([0, 0, 0], [0, 0, 0]), mode).levels
    assert (out == MID_GRAY).all() and MID_GRAY == 128


def test_a_constant_tile_next_to_a_varying_one_is_mid_gray_in_per_tile_mode():
    out = normalize(columns([3, 3, 3], [0, 1, 2]), "per_tile").levels
    assert out[0].tolist() == [128, 128, 128]
    assert out[1].tolist() == [0, 128, 255]


def test_clip_percentile_per_tile_clips_to_each_tiles_own_percentiles():
    tile = np.arange(101, dtype=np.float32)  # percentiles are the values themselves
    tile[100] = 1e6  # one outlier
    out = normalize(columns(tile, tile * 2), "per_tile", clip_percentile=99).levels
    lo, hi = np.percentile(tile, [1, 99])
    expected = [level(np.clip((w - lo) / (hi - lo), 0, 1)) for w in tile]
    assert out[0].tolist() == expected
    assert out[0, 50] == level((50 - lo) / (hi - lo))
    assert out[0, 0] == 0 and out[0, 100] == 255  # beyond the percentiles: black and white
    lo2, hi2 = np.percentile(tile * 2, [1, 99])
    assert out[1, 50] == level((100 - lo2) / (hi2 - lo2))


def test_clip_percentile_global_uses_percentiles_over_all_tiles():
    a = np.arange(50, dtype=np.float32)
    b = np.arange(50, 100, dtype=np.float32)
    b[-1] = 1e9
    out = normalize(columns(a, b), "global", clip_percentile=98).levels
    lo, hi = np.percentile(np.concatenate([a, b]), [2, 98])
    assert out[0, 10] == level((10 - lo) / (hi - lo))
    assert out[1, 30] == level((80 - lo) / (hi - lo))
    assert out[1, 49] == 255


def test_clip_percentile_symmetric_uses_a_percentile_of_abs_w():
    values = np.linspace(-1, 1, 201).astype(np.float32)
    values[0] = -50.0  # a negative outlier
    out = normalize(columns(values), "symmetric", clip_percentile=99).levels[0]
    m = np.percentile(np.abs(values), 99)
    assert out[0] == 0
    assert out[100] == 128
    assert out[150] == level(0.5 + values[150] / (2 * m))


def test_without_clipping_one_outlier_washes_out_the_rest():
    values = np.r_[np.linspace(0, 1, 999), 1000].astype(np.float32)
    plain = normalize(columns(values), "per_tile").levels[0, :999]
    clipped = normalize(columns(values), "per_tile", clip_percentile=99).levels[0, :999]
    assert plain.max() == 0  # 1 / 1000 of the range: everything black
    assert clipped.min() == 0 and clipped.max() == 255 and len(np.unique(clipped)) == 256


def test_nan_and_inf_are_masked_and_left_out_of_the_range():
    out = normalize(columns([0, np.nan, 2, np.inf], [1, 2, 3, 5]), "per_tile")
    assert out.nonfinite[0].tolist() == [False, True, False, True]
    assert not out.nonfinite[1].any()
    assert out.levels[0, 0] == 0 and out.levels[0, 2] == 255  # finite range of tile 0 is [0, 2]
    assert out.levels[1].tolist() == [0, level(1 / 4), level(2 / 4), 255]
    assert (out.low, out.high) == (0.0, 5.0)


def test_a_tile_with_no_finite_weight_is_fully_masked():
    out = normalize(columns([np.nan, np.nan], [-np.inf, np.inf]), "global")
    assert out.nonfinite.all()
    assert np.isnan(out.low) and np.isnan(out.high)


def test_all_finite_kernels_have_no_mask():
    assert normalize(columns([0, 1]), "per_tile").nonfinite is None


@pytest.mark.parametrize("magnitude", [1e30, 1e-30, 3e38])
@pytest.mark.parametrize("mode", ["per_tile", "global", "symmetric"])
def test_huge_and_tiny_weights_normalize_like_ordinary_ones(magnitude, mode):
    base = np.array([[-1.0, -0.5, 0.0, 0.25, 1.0], [0.5, 0.0, -0.75, 1.0, -1.0]], dtype=np.float32).T
    with np.errstate(over="raise", invalid="raise"):
        scaled = normalize(base * np.float32(magnitude), mode).levels
    assert scaled.tolist() == normalize(base, mode).levels.tolist()


def test_float16_and_float64_give_the_same_levels_as_float32():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((49, 8)).astype(np.float16)
    for mode in ("per_tile", "global", "symmetric"):
        expected = normalize(values.astype(np.float32), mode).levels
        assert normalize(values, mode).levels.tolist() == expected.tolist()
        assert normalize(values.astype(np.float64), mode).levels.tolist() == expected.tolist()


def test_rounding_is_half_up():
    # v * 255 = 127.5 exactly -> 128; 63.75 -> 64; 191.25 -> 191
    out = normalize(columns([0, 0.25, 0.5, 0.75, 1]), "per_tile").levels[0]
    assert out.tolist() == [0, 64, 128, 191, 255]


def test_input_is_not_modified():
    values = columns([3, 1, 2], [np.nan, 1, 0])
    before = values.copy()
    normalize(values, "per_tile", clip_percentile=90)
    np.testing.assert_array_equal(values, before)
