"""The health formulas on hand-made kernels: each value against the definition written out in the test."""

import numpy as np
import pytest

from filterviz import health
from filterviz.health import columns_of, measure, update_ratio


def conv_images(kernel):
    """(filters, channels, h, w) tiles of a Conv2D kernel (kh, kw, cin, filters)."""
    return np.asarray(kernel, np.float64).transpose(3, 2, 0, 1)


def noise_by_the_definition(tile):
    """The README's formula for one 2-D tile, with the full DFT2 and numpy's fftfreq grids."""
    power = np.abs(np.fft.fft2(tile - tile.mean())) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(tile.shape[0]), np.fft.fftfreq(tile.shape[1]), indexing="ij")
    radius = np.hypot(fy, fx)
    high, nonzero = radius > 0.25, radius > 0
    return power[high].sum() / power[nonzero].sum() / (high.sum() / nonzero.sum())


def gaussian_blobs(size, count, rng):
    """Smooth filters: a Gaussian bump of random centre and width per filter and channel."""
    y, x = np.mgrid[:size, :size]
    kernel = np.empty((size, size, 3, count))
    for i in range(count):
        for c in range(3):
            cy, cx = rng.uniform(1, size - 2, 2)
            sigma = rng.uniform(1.2, 2.5)
            bump = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2))
            kernel[:, :, c, i] = rng.choice([-1, 1]) * bump
    return kernel


def test_each_filters_weights_are_a_column():
    kernel = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    weights = columns_of(kernel)
    assert weights.shape == (24, 5) and weights.dtype == np.float32 and np.shares_memory(weights, kernel)
    np.testing.assert_array_equal(weights[:, 3], kernel[..., 3].ravel())
    dense = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(columns_of(dense)[:, 1], dense[:, 1])


def test_update_ratio_is_the_frobenius_norm_of_the_change_over_the_weights():
    rng = np.random.default_rng(0)
    before = rng.standard_normal((27, 8))  # 8 filters of 27 weights
    after = before + 1e-3 * rng.standard_normal((27, 8))
    ratio, per_filter = update_ratio(after, before)
    assert ratio == pytest.approx(np.linalg.norm(after - before) / np.linalg.norm(before), rel=1e-12)
    np.testing.assert_allclose(
        per_filter, np.linalg.norm(after - before, axis=0) / np.linalg.norm(before, axis=0), rtol=1e-12
    )


def test_drift_is_measured_from_the_first_state():
    rng = np.random.default_rng(1)
    first = rng.standard_normal((10, 6))
    later = first * 1.5
    assert measure(first).scalars["drift"] == 0.0
    assert measure(later, first=first).scalars["drift"] == pytest.approx(0.5, rel=1e-12)


def test_dead_counts_rows_at_most_a_hundredth_of_the_median_norm():
    rows = np.ones((10, 4))  # norm 2 each: median 2, threshold 0.02
    rows[0] = 0.0
    rows[1] *= 0.01  # norm 0.02: exactly at the threshold, dead
    rows[2] *= 0.0101  # just above it
    result = measure(np.ascontiguousarray(rows.T))
    assert result.scalars["dead"] == pytest.approx(0.2)
    np.testing.assert_allclose(result.per_filter["norm"][:3], [0.0, 0.02, 0.0202])


def test_noise_follows_the_definition_per_channel_then_mean_then_median():
    rng = np.random.default_rng(2)
    kernel = rng.standard_normal((7, 6, 3, 5))  # odd and even sides
    result = measure(columns_of(kernel), conv_images(kernel))
    expected = [np.mean([noise_by_the_definition(kernel[:, :, c, i]) for c in range(3)]) for i in range(5)]
    np.testing.assert_allclose(result.per_filter["noise"], expected, rtol=1e-10)
    assert result.scalars["noise"] == pytest.approx(np.median(expected), rel=1e-10)


def test_noise_is_about_one_for_white_noise_and_low_for_smooth_blobs():
    rng = np.random.default_rng(3)
    white = rng.standard_normal((7, 7, 3, 64))
    assert 0.85 < measure(columns_of(white), conv_images(white)).scalars["noise"] < 1.15
    blobs = gaussian_blobs(7, 64, rng)
    assert measure(columns_of(blobs), conv_images(blobs)).scalars["noise"] < 0.3


def test_noise_leaves_out_constant_channels_and_small_tiles():
    rng = np.random.default_rng(4)
    kernel = rng.standard_normal((5, 5, 2, 3))
    kernel[:, :, 1, 0] = 7.0  # a constant channel: no power to share out
    kernel[:, :, :, 2] = 0.0  # a filter with only constant channels
    result = measure(columns_of(kernel), conv_images(kernel))
    assert result.per_filter["noise"][0] == pytest.approx(noise_by_the_definition(kernel[:, :, 0, 0]))
    assert np.isnan(result.per_filter["noise"][2])
    small = rng.standard_normal((4, 4, 3, 8))  # 4 x 4 tiles: no noise value
    result = measure(columns_of(small), conv_images(small))
    assert "noise" not in result.scalars and np.isnan(result.per_filter["noise"]).all()
    assert "noise" not in measure(columns_of(small)).scalars  # no images at all (a flat Dense input)


def test_redundancy_counts_identical_and_negated_pairs_and_leaves_out_dead_rows():
    rng = np.random.default_rng(5)
    rows = rng.standard_normal((10, 49))
    rows[1] = rows[0]  # identical
    rows[3] = -2.0 * rows[2] + 0.5  # negated (and scaled and shifted: centred cosine -1)
    rows[8] = rows[9] = 0.0  # dead, and identical to each other: not counted
    result = measure(np.ascontiguousarray(rows.T))
    assert result.scalars["redundancy"] == pytest.approx(4 / 8)
    cosine = result.per_filter["max_cosine"]
    assert cosine[:4] == pytest.approx([1.0, 1.0, 1.0, 1.0]) and (cosine[4:8] < 0.9).all()
    assert result.per_filter["partner"][:4].tolist() == [1, 0, 3, 2]
    assert np.isnan(cosine[8:]).all() and result.per_filter["partner"][8:].tolist() == [-1, -1]
    assert result.per_filter["duplicate"].tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert result.per_filter["dead"].tolist() == [0] * 8 + [1, 1]


def test_nonfinite_weights_are_counted_and_make_the_other_values_nan():
    rows = np.random.default_rng(6).standard_normal((6, 25))
    rows[2, 3] = np.nan
    rows[4, 0] = np.inf
    images = rows.reshape(6, 1, 5, 5)
    weights = np.ascontiguousarray(rows.T)
    scalars = measure(weights, images, first=weights, before=weights).scalars
    assert scalars["nonfinite"] == 2
    for name in ("update_ratio", "drift", "dead", "noise", "redundancy"):
        assert np.isnan(scalars[name]), name


def test_every_scalar_name_is_documented():
    assert set(health.SCALARS) == {"update_ratio", "drift", "dead", "noise", "redundancy", "nonfinite"}
    weights = np.ones((25, 3)) * np.arange(25)[:, None]
    assert set(measure(weights, np.ones((3, 1, 5, 5))).per_filter) == set(health.PER_FILTER)


def test_without_the_heavy_values_noise_and_redundancy_are_left_out():
    kernel = np.random.default_rng(7).standard_normal((5, 5, 3, 6))
    light = measure(columns_of(kernel), conv_images(kernel), heavy=False)
    assert set(light.scalars) == {"drift", "dead", "nonfinite"}
    for name in ("noise", "max_cosine", "partner"):
        assert np.isnan(light.per_filter[name]).all(), name


def test_noise_and_redundancy_of_a_large_layer_come_every_k_th_step_and_small_ones_every_step():
    from filterviz import RenderOptions
    from filterviz.layer_log import LayerLog
    from filterviz.renderer import Renderer

    rng = np.random.default_rng(8)
    large = rng.standard_normal((3072, 1024)).astype(np.float32)  # a CIFAR-10 MLP's first layer
    log = LayerLog(
        Renderer(large.shape, RenderOptions(tile_shape=(32, 32, 3))), "filters/x", "batch", path="x"
    )
    first, _ = log.logged(0, large)
    every = log.heavy_every
    assert every > 1 and log.info["heavy_every"] == every
    later = [log.logged(step, large)[0] for step in range(1, every + 1)]
    with_heavy = [step.step for step in [first, *later] if "redundancy" in step.scalars]
    assert with_heavy == [0, every]
    assert all("drift" in step.scalars and "dead" in step.scalars for step in later)  # the rest: every step
    small = rng.standard_normal((7, 7, 3, 64)).astype(np.float32)
    log = LayerLog(Renderer(small.shape, RenderOptions()), "filters/y", "batch", path="y")
    assert all("noise" in log.logged(step, small)[0].scalars for step in range(3)) and log.heavy_every == 1
