"""The health formulas on hand-made kernels: each value against the definition written out in the test."""

import numpy as np
import pytest

from filterviz.core import health
from filterviz.core.health import columns_of, measure, update_ratio


def conv_images(kernel):
    """(filters, channels, h, w) tiles of a Conv2D kernel (kh, kw, cin, filters)."""
    return np.asarray(kernel, np.float64).transpose(3, 2, 0, 1)


def roughness_by_the_definition(tile):
    """The README's roughness of one 2-D tile, pixel pair by pixel pair."""
    height, width = tile.shape
    pairs = [(tile[y, x] - tile[y, x + 1]) ** 2 for y in range(height) for x in range(width - 1)]
    pairs += [(tile[y, x] - tile[y + 1, x]) ** 2 for y in range(height - 1) for x in range(width)]
    return sum(pairs) / ((tile - tile.mean()) ** 2).sum()


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


def test_dead_counts_filters_shrunk_to_a_tenth_of_their_own_first_norm():
    rng = np.random.default_rng(3)
    first = rng.standard_normal((25, 8))
    shrink = np.array([0.03, 0.05, 0.1, 0.11, 0.5, 1.0, 2.0, 0.04])  # most collapsed: so is their median
    later = first * shrink
    result = measure(later, first=first)
    assert result.scalars["dead"] == pytest.approx(4 / 8)  # 0.03, 0.05, 0.1 (exactly a tenth) and 0.04
    np.testing.assert_array_equal(result.per_filter["dead"], [1, 1, 1, 0, 0, 0, 0, 1])
    assert measure(later).scalars["dead"] == 0  # by the median alone, a collapse of most is not seen


def test_update_mean_is_the_change_since_the_state_logged_before_per_optimizer_step():
    rng = np.random.default_rng(4)
    previous = rng.standard_normal((27, 8))
    now = previous + 0.01 * rng.standard_normal((27, 8))
    expected = np.linalg.norm(now - previous) / np.linalg.norm(previous) / 20
    result = measure(now, first=previous, previous=previous, steps=20)
    assert result.scalars["update_mean"] == pytest.approx(expected, rel=1e-12)
    assert "update_mean" not in measure(now, first=previous, previous=previous, steps=0).scalars
    assert "update_mean" not in measure(now, first=previous).scalars


@pytest.mark.parametrize(
    "values, level, value",
    [
        ({"drift": 0.0, "nonfinite": 0.0}, "note", "drift"),  # the first logged state
        ({"update_ratio": 3e-3, "update_mean": 2e-3, "drift": 0.8, "dead": 0.0}, "healthy", ""),
        ({"update_ratio": 3e-3, "drift": 0.05}, "note", "drift"),
        ({"update_ratio": 1e-5, "update_mean": 1e-5, "drift": 0.001}, "alarm", "update_ratio"),
        ({"update_ratio": 1e-3, "update_mean": 1e-5, "drift": 0.5}, "healthy", ""),  # a settling training
        ({"update_ratio": 5e-3, "update_mean": 0.5, "drift": 9.0}, "alarm", "update_mean"),
        ({"update_ratio": 0.0, "update_mean": 1e-3, "drift": 0.5}, "alarm", "update_ratio"),
        ({"update_mean": 0.0, "drift": 0.0}, "alarm", "update_mean"),  # the epoch axis, no ratio measured
        ({"update_ratio": 0.5, "dead": 0.6, "drift": 1.0}, "alarm", "dead"),  # collapsed ones are thrown
        ({"update_ratio": 3e-3, "update_mean": 2e-3, "drift": 8.0}, "alarm", "drift"),  # after a burst
        ({"update_ratio": 3e-3, "redundancy": 0.25, "drift": 0.5}, "alarm", "redundancy"),
        ({"update_ratio": 3e-3, "redundancy": 0.24, "drift": 0.5}, "healthy", ""),
        ({"update_ratio": float("nan"), "dead": float("nan"), "nonfinite": 3.0}, "alarm", "nonfinite"),
        ({"update_ratio": 3e-3, "noise": 1.4, "opposites": 0.9, "drift": 0.5}, "healthy", ""),  # never read
    ],
)
def test_a_step_reads_as_the_first_rule_that_holds(values, level, value):
    reading = health.read(values)
    assert (reading.level, reading.value) == (level, value), reading.words
    assert reading.words


def test_the_values_of_each_step_are_gathered_from_their_series():
    series = {"drift": [(0, 0.0), (5, 0.5)], "update_ratio": [(5, 1e-3)], "dead": [(0, 0.0), (7, 0.1)]}
    assert health.by_step(series, [0, 5, 10]) == [
        {"drift": 0.0, "dead": 0.0},
        {"drift": 0.5, "update_ratio": 1e-3},
        {},
    ]


def test_noise_follows_the_definition_per_channel_then_mean_then_median_over_chance():
    rng = np.random.default_rng(2)
    kernel = rng.standard_normal((7, 6, 3, 5))  # odd and even sides
    result = measure(columns_of(kernel), conv_images(kernel))
    chance = health.chance_noise(7, 6, 3)
    expected = [
        np.mean([roughness_by_the_definition(kernel[:, :, c, i]) for c in range(3)]) / chance
        for i in range(5)
    ]
    np.testing.assert_allclose(result.per_filter["noise"], expected, rtol=1e-10)
    assert result.scalars["noise"] == pytest.approx(np.median(expected), rel=1e-10)


def test_chance_noise_is_the_median_roughness_of_random_filters_of_that_shape():
    rng = np.random.default_rng(0)
    samples = rng.standard_normal((health.CHANCE_SAMPLES, 3, 5, 4))
    roughness = [np.mean([roughness_by_the_definition(tile) for tile in filt]) for filt in samples]
    assert health.chance_noise(5, 4, 3) == pytest.approx(np.median(roughness), rel=1e-10)


@pytest.mark.parametrize(
    "shape", [(3, 3, 3, 64), (5, 5, 3, 64), (7, 7, 3, 64), (11, 11, 3, 96), (28, 28, 1, 32)]
)
def test_a_fresh_initialization_reads_as_chance_at_every_tile_size(shape):
    rng = np.random.default_rng(sum(shape))
    kernel = rng.uniform(-1, 1, shape)  # Glorot uniform's shape: any scale reads the same
    scalars = measure(columns_of(kernel), conv_images(kernel)).scalars
    assert 0.9 < scalars["noise"] < 1.1 and scalars["redundancy"] == 0 and scalars["opposites"] == 0, scalars


def test_noise_is_about_one_for_white_noise_and_low_for_smooth_blobs():
    rng = np.random.default_rng(3)
    white = rng.standard_normal((7, 7, 3, 64))
    assert 0.9 < measure(columns_of(white), conv_images(white)).scalars["noise"] < 1.1
    blobs = gaussian_blobs(7, 64, rng)
    assert measure(columns_of(blobs), conv_images(blobs)).scalars["noise"] < 0.3


def test_noise_leaves_out_constant_channels_dead_filters_and_small_tiles():
    rng = np.random.default_rng(4)
    kernel = rng.standard_normal((5, 5, 2, 4))
    kernel[:, :, 1, 0] = 7.0  # a constant channel: it has no roughness to measure
    kernel[:, :, :, 2] = 0.0  # a filter with only constant channels
    kernel[:, :, :, 3] *= 1e-4  # a dead filter: what is left of it is no pattern
    result = measure(columns_of(kernel), conv_images(kernel))
    chance = health.chance_noise(5, 5, 2)
    assert result.per_filter["noise"][0] == pytest.approx(
        roughness_by_the_definition(kernel[:, :, 0, 0]) / chance
    )
    assert np.isnan(result.per_filter["noise"][2:]).all()
    small = rng.standard_normal((2, 2, 3, 8))  # 2 x 2 tiles: no neighbour on both sides of a pixel
    result = measure(columns_of(small), conv_images(small))
    assert "noise" not in result.scalars and np.isnan(result.per_filter["noise"]).all()
    assert "noise" not in measure(columns_of(small)).scalars  # no images at all (a flat Dense input)


def test_duplicates_and_opposites_are_counted_apart_and_dead_rows_left_out():
    rng = np.random.default_rng(5)
    rows = rng.standard_normal((10, 49))
    rows[1] = rows[0]  # identical
    rows[3] = -2.0 * rows[2] + 0.5  # negated (and scaled and shifted: centred cosine -1)
    rows[8] = rows[9] = 0.0  # dead, and identical to each other: not counted
    result = measure(np.ascontiguousarray(rows.T))
    assert health.chance_share(49, 8) < 1e-9  # 49 weights: chance gives no partners
    assert result.scalars["redundancy"] == pytest.approx(2 / 8)
    assert result.scalars["opposites"] == pytest.approx(2 / 8)
    largest, smallest = result.per_filter["max_cosine"], result.per_filter["min_cosine"]
    assert largest[:2] == pytest.approx([1.0, 1.0]) and smallest[2:4] == pytest.approx([-1.0, -1.0])
    assert (largest[2:8] < 0.9).all() and (smallest[[0, 1, 4, 5, 6, 7]] > -0.9).all()
    assert result.per_filter["partner"][:2].tolist() == [1, 0]
    assert result.per_filter["opposite_partner"][2:4].tolist() == [3, 2]
    assert np.isnan(largest[8:]).all() and result.per_filter["partner"][8:].tolist() == [-1, -1]
    assert result.per_filter["duplicate"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert result.per_filter["opposite"].tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    assert result.per_filter["dead"].tolist() == [0] * 8 + [1, 1]


def test_the_share_expected_by_chance_matches_random_filters_and_is_subtracted():
    rng = np.random.default_rng(6)
    for dimension, count in [(3, 16), (6, 32), (9, 32)]:
        shares = []
        for _ in range(300):
            rows = rng.standard_normal((dimension, count))
            centred = rows - rows.mean(axis=0)
            unit = centred / np.linalg.norm(centred, axis=0)
            cosines = unit.T @ unit
            np.fill_diagonal(cosines, -2)
            shares.append((cosines.max(axis=1) > 0.9).mean())
        assert health.chance_share(dimension, count) == pytest.approx(np.mean(shares), abs=0.01), dimension
    conv1d = rng.standard_normal((3, 1, 16))  # 16 filters of 3 taps: chance alone gives 90% a partner
    scalars = measure(columns_of(conv1d)).scalars
    assert health.chance_share(3, 16) > health.CHANCE_LIMIT and "redundancy" not in scalars
    assert "opposites" not in scalars


def test_nonfinite_weights_are_counted_and_make_the_other_values_nan():
    rows = np.random.default_rng(6).standard_normal((6, 25))
    rows[2, 3] = np.nan
    rows[4, 0] = np.inf
    images = rows.reshape(6, 1, 5, 5)
    weights = np.ascontiguousarray(rows.T)
    scalars = measure(weights, images, first=weights, before=weights).scalars
    assert scalars["nonfinite"] == 2
    for name in ("update_ratio", "drift", "dead", "noise", "redundancy", "opposites"):
        assert np.isnan(scalars[name]), name


def test_every_scalar_name_is_documented():
    assert set(health.SCALARS) == {
        "update_ratio",
        "update_mean",
        "drift",
        "dead",
        "noise",
        "redundancy",
        "opposites",
        "nonfinite",
    }
    weights = np.ones((25, 3)) * np.arange(25)[:, None]
    assert set(measure(weights, np.ones((3, 1, 5, 5))).per_filter) == set(health.PER_FILTER)


def test_without_the_heavy_values_noise_redundancy_and_opposites_are_left_out():
    kernel = np.random.default_rng(7).standard_normal((5, 5, 3, 6))
    light = measure(columns_of(kernel), conv_images(kernel), heavy=False)
    assert set(light.scalars) == {"drift", "dead", "nonfinite"}
    for name in ("noise", "max_cosine", "partner", "min_cosine", "opposite_partner"):
        assert np.isnan(light.per_filter[name]).all(), name


def test_the_heavy_values_of_a_large_layer_keep_to_their_time_budget_and_small_ones_come_every_step():
    from filterviz import RenderOptions
    from filterviz.core.renderer import Renderer
    from filterviz.pipeline.steps import HEAVY_SHARE, LayerLog

    rng = np.random.default_rng(8)
    large = rng.standard_normal((3072, 1024)).astype(np.float32)  # a CIFAR-10 MLP's first layer
    log = LayerLog(
        Renderer(large.shape, RenderOptions(tile_shape=(32, 32, 3))), "filters/x", "batch", path="x"
    )
    first, _ = log.logged(0, large, taken=0.0)
    assert "redundancy" not in first.scalars and "drift" in first.scalars  # its cost estimated, not paid
    cost = log.heavy.cost
    assert cost > 0.005
    at = 0.0
    for step in range(1, 4):  # no time passes between these steps: no budget earned
        at += 1e-6
        assert "redundancy" not in log.logged(step, large, taken=at)[0].scalars
    at += 2 * cost / HEAVY_SHARE  # then enough time for one computation within its share
    later, _ = log.logged(4, large, taken=at)
    assert {"noise", "redundancy", "opposites", "drift", "dead"} <= set(later.scalars)
    small = rng.standard_normal((7, 7, 3, 64)).astype(np.float32)
    log = LayerLog(Renderer(small.shape, RenderOptions()), "filters/y", "batch", path="y")
    assert all("noise" in log.logged(step, small, taken=0.0)[0].scalars for step in range(3))


def test_the_heavy_schedule_spends_what_it_earns():
    from filterviz.pipeline.steps import HEAVY_SHARE, HeavySchedule

    schedule = HeavySchedule()
    assert not schedule.due()  # nothing known yet
    schedule.cost = 0.1
    schedule.earn(0.05 / HEAVY_SHARE)  # earns 0.05
    assert not schedule.due()
    schedule.earn(0.05 / HEAVY_SHARE)
    assert schedule.due()
    schedule.spent(0.1)
    assert not schedule.due() and schedule.credit == pytest.approx(0.0)
    schedule.earn(1000.0 / HEAVY_SHARE)  # a long pause does not buy a burst: two computations' worth at most
    assert schedule.credit == pytest.approx(0.2)
    cheap = HeavySchedule()
    cheap.cost = 0.001
    assert cheap.due()  # under the floor: every step
