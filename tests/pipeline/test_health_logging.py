"""Health values logged by FilterLogger in real training, checked against kernels a test callback captured
itself, and read back through load_history, a real TensorBoard server and an offline W&B run."""

import math

import keras
import numpy as np
import pytest

import filterviz
from filterviz.core import health
from tests.helpers import RendersByBatch, tiny_data, tiny_model
from tests.helpers.tensorboard_server import tensorboard

TAG = "filters/conv"


class KernelsByBatch(keras.callbacks.Callback):
    """The first layer's kernel as each batch begins and as training ends, by batches completed."""

    def __init__(self, layer="conv"):
        super().__init__()
        self.layer, self.kernels = layer, []

    def on_train_batch_begin(self, batch, logs=None):
        self.kernels.append(self.kernel())

    def on_train_end(self, logs=None):
        self.kernels.append(self.kernel())

    def kernel(self):
        return keras.ops.convert_to_numpy(self.model.get_layer(self.layer).kernel).copy()


def conv_model(optimizer=None, filters=8, size=5, constraint=None, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(filters, size, padding="same", name="conv", kernel_constraint=constraint),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, name="head"),
        ]
    )
    model.compile(optimizer or keras.optimizers.SGD(0.05), "mse")
    return model


def image_data(n=32, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 8, 8, 3)).astype(np.float32), rng.standard_normal((n, 2)).astype(
        np.float32
    )


def ratio(after, before):
    return np.linalg.norm(after.astype(np.float64) - before) / np.linalg.norm(before.astype(np.float64))


@pytest.mark.parametrize("schedule", [{}, {"every_n_steps": 3}], ids=["every epoch", "every 3 steps"])
def test_the_update_ratio_is_that_of_the_optimizer_step_ending_at_the_logged_step(tmp_path, schedule):
    model, captured = conv_model(), KernelsByBatch()
    x, y = image_data(32)  # 4 batches of 8 per epoch
    logger = filterviz.FilterLogger(tmp_path, **schedule)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[logger, captured])
    history = filterviz.load_history(tmp_path)
    per_step = 4 if not schedule else 1  # batches completed per step unit
    assert list(history.steps) == ([0, 1, 2, 3] if not schedule else [0, 3, 6, 9, 12])
    assert np.isnan(history.health["update_ratio"][0])  # not at step 0
    for step, logged in zip(history.steps[1:], history.health["update_ratio"][1:], strict=True):
        done = step * per_step
        expected = ratio(captured.kernels[done], captured.kernels[done - 1])
        assert logged == pytest.approx(expected, rel=1e-5), f"step {step}"
    per_filter = history.per_filter["update_ratio"][-1]
    after, before = captured.kernels[-1], captured.kernels[-2]
    expected = [ratio(after[..., i], before[..., i]) for i in range(8)]
    np.testing.assert_allclose(per_filter, expected, rtol=1e-5)


@pytest.mark.parametrize("schedule", [{}, {"every_n_steps": 3}], ids=["every epoch", "every 3 steps"])
def test_the_mean_update_is_the_change_since_the_step_logged_before_per_optimizer_step(tmp_path, schedule):
    model, captured = conv_model(), KernelsByBatch()
    x, y = image_data(32)  # 4 batches of 8 per epoch
    logger = filterviz.FilterLogger(tmp_path, **schedule)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[logger, captured])
    history = filterviz.load_history(tmp_path)
    per_step = 4 if not schedule else 3  # optimizer steps between two logged steps
    batches = [step * (4 if not schedule else 1) for step in history.steps]
    assert np.isnan(history.health["update_mean"][0])  # nothing logged before the first step
    for i in range(1, len(batches)):
        expected = ratio(captured.kernels[batches[i]], captured.kernels[batches[i - 1]]) / per_step
        assert history.health["update_mean"][i] == pytest.approx(expected, rel=1e-5), f"step {i}"
    assert [reading.level for reading in history.readings][:1] == ["note"]  # the first logged state


def test_a_layer_no_gradient_reaches_reads_so_at_every_step_after_the_first(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(
                8, 3, name="conv", activation="relu", bias_initializer=keras.initializers.Constant(-10.0)
            ),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    x, y = image_data(32)
    model.fit(
        x, y, epochs=2, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path, every_n_steps=2)]
    )
    history = filterviz.load_history(tmp_path)
    assert (history.health["update_ratio"][1:] == 0).all()
    assert [(r.level, r.value) for r in history.readings[1:]] == [("alarm", "update_ratio")] * 4
    assert "no gradient reaches this layer" in history.readings[-1].words


@pytest.mark.parametrize(
    "schedule, epochs, batches, steps",
    [
        ({"every_n_steps": 5}, 2, 7, [0, 5, 10, 14]),  # 14: the end of training, between multiples
        ({"every_n_epochs": 2}, 3, 4, [0, 2, 3]),  # 3: the end, where 2 does not divide 3
        ({"every_n_steps": 4}, 2, 7, [0, 4, 8, 12, 14]),  # 8: the batch after an epoch's end
    ],
)
def test_every_step_after_the_first_has_its_update_ratio_the_last_one_too(
    tmp_path, schedule, epochs, batches, steps
):
    model, captured = conv_model(), KernelsByBatch()
    x, y = image_data(8 * batches)
    logger = filterviz.FilterLogger(tmp_path, **schedule)
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=[logger, captured])
    history = filterviz.load_history(tmp_path)
    assert list(history.steps) == steps
    per_step = 1 if "every_n_steps" in schedule else batches
    for step, logged in zip(history.steps[1:], history.health["update_ratio"][1:], strict=True):
        done = step * per_step
        expected = ratio(captured.kernels[done], captured.kernels[done - 1])
        assert logged == pytest.approx(expected, rel=1e-5), f"step {step}"


def test_without_the_epoch_length_the_first_batch_of_the_next_epoch_is_measured(tmp_path):
    """A custom training loop whose epochs Keras cannot count (params steps=None): the update ratio of an
    epoch's end is that of the next epoch's first batch, and the last epoch's end has none."""
    model, captured = conv_model(), KernelsByBatch()
    logger = filterviz.FilterLogger(tmp_path)
    callbacks = keras.callbacks.CallbackList([logger, captured], model=model, epochs=3, steps=None)
    x, y = image_data(32)
    callbacks.on_train_begin()
    for epoch in range(3):
        callbacks.on_epoch_begin(epoch)
        for batch in range(4):
            callbacks.on_train_batch_begin(batch)
            model.train_on_batch(x[batch * 8 : batch * 8 + 8], y[batch * 8 : batch * 8 + 8])
            callbacks.on_train_batch_end(batch)
        callbacks.on_epoch_end(epoch)
    callbacks.on_train_end()
    history = filterviz.load_history(tmp_path)
    assert list(history.steps) == [0, 1, 2, 3]
    logged = history.health["update_ratio"]
    for step in (1, 2):  # the state after epoch `step`, and the one after the next batch
        expected = ratio(captured.kernels[4 * step + 1], captured.kernels[4 * step])
        assert logged[step] == pytest.approx(expected, rel=1e-5), f"step {step}"
    assert np.isnan(logged[0]) and np.isnan(logged[3])


@pytest.mark.parametrize("learning_rate, side", [(1e-2, "above"), (1e-6, "below")])
def test_a_learning_rate_100x_too_high_or_too_low_lands_on_its_side_of_1e_3(tmp_path, learning_rate, side):
    """With Adam, 1e-4 gives update ratios near CS231n's healthy 1e-3 for this layer."""
    model = conv_model(keras.optimizers.Adam(learning_rate))
    x, y = image_data(64)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path)])
    ratios = filterviz.load_history(tmp_path).health["update_ratio"][1:]
    assert (ratios > 1e-3).all() if side == "above" else (ratios < 1e-3).all(), ratios


class ZeroFilters(keras.constraints.Constraint):
    """Pins the first `count` filters of a Conv2D kernel to zero after every update."""

    def __init__(self, count):
        self.count = count

    def __call__(self, w):
        mask = np.ones(w.shape[-1], np.float32)
        mask[: self.count] = 0.0
        return keras.ops.multiply(w, mask)


def test_filters_pinned_to_zero_by_a_constraint_are_dead(tmp_path):
    model = conv_model(constraint=ZeroFilters(2))
    x, y = image_data(32)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path)])
    history = filterviz.load_history(tmp_path)
    assert (
        history.health["dead"][0] == 0.0
    )  # the initial weights: the constraint applies from the first update
    assert list(history.health["dead"][1:]) == [2 / 8, 2 / 8]
    assert (history.per_filter["norm"][1:, :2] == 0).all() and (history.per_filter["norm"][1:, 2:] > 0).all()


def gaussian_blobs(size, filters, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    kernel = np.empty((size, size, 3, filters), np.float32)
    for i in range(filters):
        cy, cx = rng.uniform(2, size - 3, 2)
        bump = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * rng.uniform(1.2, 2.0) ** 2))
        kernel[..., i] = bump[..., None] * rng.uniform(-1, 1, 3)
    return kernel


def test_noise_is_about_one_for_a_fresh_glorot_kernel_and_low_for_blobs(tmp_path):
    x, y = image_data(16)
    fresh = conv_model(size=7, filters=32)
    fresh.fit(x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path / "fresh")])
    assert 0.85 < filterviz.load_history(tmp_path / "fresh").health["noise"][0] < 1.15
    blobs = conv_model(keras.optimizers.SGD(1e-6), size=7, filters=32)
    blobs.get_layer("conv").kernel.assign(gaussian_blobs(7, 32))
    blobs.fit(x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path / "blobs")])
    assert (filterviz.load_history(tmp_path / "blobs").health["noise"] < 0.3).all()


def test_two_identical_and_two_negated_filters_are_a_quarter_duplicates_and_a_quarter_opposites(tmp_path):
    model = conv_model(keras.optimizers.SGD(0.0))  # the weights stay as set
    kernel = np.random.default_rng(2).standard_normal((5, 5, 3, 8)).astype(np.float32)
    kernel[..., 1] = kernel[..., 0]
    kernel[..., 3] = -kernel[..., 2]
    model.get_layer("conv").kernel.assign(kernel)
    x, y = image_data(16)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path)])
    history = filterviz.load_history(tmp_path)
    assert list(history.health["redundancy"]) == [2 / 8, 2 / 8]  # 75 weights: chance gives no partners
    assert list(history.health["opposites"]) == [2 / 8, 2 / 8]
    assert list(history.per_filter["partner"][0, :2]) == [1, 0]
    assert list(history.per_filter["opposite_partner"][0, 2:4]) == [3, 2]


def test_nan_weights_are_counted_and_training_goes_on(tmp_path):
    x, y = image_data(32)
    x[12, 0, 0, 0] = np.nan  # batch 1 makes every weight NaN
    model = conv_model()
    with pytest.warns(filterviz.FilterVizWarning, match="NaN or Inf weights"):
        fit = model.fit(
            x,
            y,
            epochs=2,
            batch_size=8,
            shuffle=False,
            verbose=0,
            callbacks=[filterviz.FilterLogger(tmp_path)],
        )
    assert len(fit.history["loss"]) == 2
    history = filterviz.load_history(tmp_path)
    assert list(history.health["nonfinite"]) == [0, 5 * 5 * 3 * 8, 5 * 5 * 3 * 8]
    assert all(math.isnan(value) for value in history.health["dead"][1:])


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """A small Dense run with every option on: kernels stored, delta grids, health."""
    log_dir = tmp_path_factory.mktemp("logs") / "run"
    model, renders, captured = tiny_model(), RendersByBatch(), KernelsByBatch("dense")
    x, y = tiny_data(32)
    logger = filterviz.FilterLogger(log_dir, every_n_steps=2, log_delta=True, store_kernel=True)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[logger, renders, captured])
    return log_dir, renders.images, captured.kernels


def test_load_history_returns_what_was_written(logged_run):
    log_dir, renders, kernels = logged_run
    history = filterviz.load_history(log_dir, layer="dense")
    steps = list(history.steps)
    assert steps == [0, 2, 4, 6, 8] and history.layer == "dense" and history.run == "filters"
    for i, step in enumerate(steps):
        np.testing.assert_array_equal(history.grids[i], renders[step], err_msg=f"step {step}")
        np.testing.assert_array_equal(history.kernels[i], kernels[step], err_msg=f"step {step}")
        weights = health.columns_of(kernels[step])
        images = kernels[step].reshape(6, 6, 1, 4).transpose(3, 2, 0, 1)  # each unit's 6x6 image
        expected = health.measure(weights, images.astype(np.float64), health.columns_of(kernels[0]))
        for name in ("drift", "dead", "noise", "redundancy", "nonfinite"):
            assert history.health[name][i] == pytest.approx(expected.scalars[name], rel=1e-6, abs=1e-12), name
        np.testing.assert_allclose(history.per_filter["norm"][i], expected.per_filter["norm"], rtol=1e-6)
    assert history.deltas[0] is None
    for i in range(1, len(steps)):  # W_t - W_prev, symmetric normalization
        change = kernels[steps[i]] - kernels[steps[i - 1]]
        expected = filterviz.kernel_grid(change, normalize="symmetric", tile_shape=(6, 6, 1))
        np.testing.assert_array_equal(history.deltas[i], expected, err_msg=f"step {steps[i]}")
    assert history.info["kernel_shape"] == [36, 4] and history.info["image_shape"] == [6, 6, 1]


def test_the_health_scalars_read_back_through_a_real_tensorboard_server(logged_run):
    log_dir, _, kernels = logged_run
    with tensorboard(log_dir) as server:
        tags = server.wait_for("/data/plugin/scalars/tags", lambda answer: "filters" in answer)["filters"]
        assert sorted(tags) == sorted(f"filters/dense/{name}" for name in health.SCALARS)
        drift = server.json("/data/plugin/scalars/scalars", run="filters", tag="filters/dense/drift")
    assert [point[1] for point in drift] == [0, 2, 4, 6, 8]
    expected = [ratio(kernels[step], kernels[0]) for step in (0, 2, 4, 6, 8)]
    assert [point[2] for point in drift] == pytest.approx(expected, rel=1e-6)
