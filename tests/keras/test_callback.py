"""FilterLogger in real model.fit runs: what is written, at which steps, read back from disk or a server."""

import os

import keras
import numpy as np
import pytest

import filterviz
from filterviz.core.png import decode_png
from tests.helpers import (
    TAG,
    Batches,
    FailIn,
    Renders,
    logged_images,
    logged_steps,
    run_python,
    tiny_data,
    tiny_model,
)
from tests.helpers.tensorboard_server import tensorboard


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    """Three epochs logged by FilterLogger and keras.callbacks.TensorBoard into one log_dir."""
    log_dir = tmp_path_factory.mktemp("logs") / "run1"
    model = tiny_model()
    renders = Renders()
    x, y = tiny_data()
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=8,
        verbose=0,
        callbacks=[filterviz.FilterLogger(log_dir), keras.callbacks.TensorBoard(log_dir), renders],
    )
    return log_dir, model, renders.images


def test_end_to_end_through_a_real_tensorboard_server(shared_run):
    log_dir, model, renders = shared_run
    with tensorboard(log_dir.parent, "--samples_per_plugin", "images=100") as server:
        tags = server.wait_for(
            "/data/plugin/images/tags", lambda answer: TAG in answer.get("run1/filters", {})
        )
        assert list(tags["run1/filters"]) == [TAG]
        description = tags["run1/filters"][TAG]["description"]
        for part in ("layer 'dense'", "kernel (36, 4)", "6x6x1 tiles", "normalize=per_tile", "weights in ["):
            assert part in description
        entries = server.json("/data/plugin/images/images", run="run1/filters", tag=TAG, sample=0)
        assert [entry["step"] for entry in entries] == [0, 1, 2, 3]
        pngs = [
            decode_png(server.get("/data/plugin/images/individualImage?" + entry["query"]))
            for entry in entries
        ]
    for step, (png, render) in enumerate(zip(pngs, renders, strict=True)):
        np.testing.assert_array_equal(png, render, err_msg=f"step {step}")
    np.testing.assert_array_equal(pngs[-1], filterviz.render(model))
    assert not np.array_equal(pngs[0], pngs[-1])  # the filters did change


def test_a_log_dir_shared_with_keras_tensorboard_shows_scalars_and_images(shared_run):
    log_dir, _, _ = shared_run
    assert sorted(p.name for p in log_dir.iterdir()) == ["filters", "train"]
    with tensorboard(log_dir) as server:
        scalars = server.wait_for("/data/plugin/scalars/tags", lambda answer: "train" in answer)
        images = server.wait_for("/data/plugin/images/tags", lambda answer: "filters" in answer)
    assert "epoch_loss" in scalars["train"]
    assert list(images["filters"]) == [TAG]


def test_every_logged_image_is_exactly_what_render_shows_at_that_step(shared_run):
    log_dir, _, renders = shared_run
    logged = logged_images(log_dir / "filters", TAG)
    assert [step for step, _ in logged] == [0, 1, 2, 3]
    for (step, image), render in zip(logged, renders, strict=True):
        np.testing.assert_array_equal(image, render, err_msg=f"step {step}")


def test_every_n_steps_counts_batches_across_epochs(tmp_path):
    x, y = tiny_data(32)  # 4 batches of 8 per epoch
    tiny_model().fit(
        x, y, epochs=3, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path, every_n_steps=5)]
    )
    assert logged_steps(tmp_path / "filters", TAG) == [0, 5, 10, 12]


def trained_for(batches, x, y, batch_size):
    """A fresh tiny_model trained for exactly `batches` batches, taken in fit's order without shuffling."""
    model = tiny_model()
    if batches:
        per_epoch = len(x) // batch_size
        order = ((np.arange(batches) % per_epoch)[:, None] * batch_size + np.arange(batch_size)).ravel()
        model.fit(x[order], y[order], epochs=1, batch_size=batch_size, shuffle=False, verbose=0)
    return model


def test_every_mid_epoch_image_shows_the_weights_after_that_many_batches(tmp_path):
    """Under jax, Keras keeps the trained weights outside the variables within an epoch. Each image is
    compared with the same model trained separately, and read only after its fit() has ended."""
    x, y = tiny_data(32)  # 4 batches of 8 per epoch
    logger = filterviz.FilterLogger(tmp_path, every_n_steps=3)
    tiny_model().fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[logger])
    logged = logged_images(tmp_path / "filters", TAG)
    assert [step for step, _ in logged] == [0, 3, 6, 9, 12]  # 3, 6 and 9 are mid-epoch
    for step, image in logged:
        np.testing.assert_array_equal(
            image, filterviz.render(trained_for(step, x, y, 8)), err_msg=f"step {step}"
        )


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="Keras runs one step per execution on torch")
def test_every_n_steps_with_several_steps_per_execution(tmp_path):
    model = tiny_model()
    model.compile(keras.optimizers.SGD(0.1), "mse", steps_per_execution=2)  # Keras reports batches 0, 2
    x, y = tiny_data(32)
    model.fit(
        x, y, epochs=3, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path, every_n_steps=3)]
    )
    # A multiple of 3 is logged at the first state Keras lets us see at or after it.
    assert logged_steps(tmp_path / "filters", TAG) == [0, 4, 6, 10, 12]


def test_every_n_epochs_logs_the_end_state_too(tmp_path):
    x, y = tiny_data(16)
    tiny_model().fit(
        x,
        y,
        epochs=7,
        batch_size=8,
        verbose=0,
        callbacks=[filterviz.FilterLogger(tmp_path, every_n_epochs=3, log_initial=False)],
    )
    assert logged_steps(tmp_path / "filters", TAG) == [3, 6, 7]


def test_two_fits_with_the_same_callback_continue_the_steps(tmp_path):
    model, logger = tiny_model(), filterviz.FilterLogger(tmp_path)
    x, y = tiny_data(16)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[logger])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[logger])
    model.fit(x, y, epochs=8, initial_epoch=6, batch_size=8, verbose=0, callbacks=[logger])
    # The third fit says it starts at epoch 6: the count jumps there, and its start (the weights of step
    # 5, where the second fit ended) is logged at 6, a step without a grid.
    assert logged_steps(tmp_path / "filters", TAG) == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert len(list((tmp_path / "filters").iterdir())) == 3  # one event file per fit, each closed at its end


def test_resuming_with_initial_epoch_or_a_restored_optimizer_continues_the_count(tmp_path):
    x, y = tiny_data(16)  # 2 batches per epoch
    model = tiny_model()
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path / "a")])
    # A new callback, as after a restart: initial_epoch says where training stands.
    model.fit(
        x,
        y,
        epochs=5,
        initial_epoch=3,
        batch_size=8,
        verbose=0,
        callbacks=[filterviz.FilterLogger(tmp_path / "a")],
    )
    # The resumed start (step 3) is the state the first callback ended with: not written twice.
    assert logged_steps(tmp_path / "a" / "filters", TAG) == [0, 1, 2, 3, 4, 5]
    # A restored optimizer (here: the same one, 10 batches in) continues the batch count, and the state
    # this fit starts from is logged at its step, 10: a new log directory has no grid there.
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 10
    model.fit(
        x,
        y,
        epochs=2,
        batch_size=8,
        verbose=0,
        callbacks=[filterviz.FilterLogger(tmp_path / "b", every_n_steps=3)],
    )
    assert logged_steps(tmp_path / "b" / "filters", TAG) == [10, 12, 14]


@pytest.mark.parametrize("schedule", [{}, {"every_n_steps": 2}], ids=["by epochs", "by steps"])
def test_a_second_fit_with_a_new_logger_logs_the_state_it_starts_from(tmp_path, schedule):
    """The second phase of transfer learning, a refit, a warm-up fit before: the optimizer has run, and
    a new FilterLogger in a new log directory still shows the weights this fit starts from."""
    x, y = tiny_data(16)  # 2 batches per epoch
    model = tiny_model()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)  # a warm-up, not logged
    start = filterviz.render(model)
    model.fit(
        x, y, epochs=2, batch_size=8, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path, **schedule)]
    )
    images = logged_images(tmp_path / "filters", TAG)
    first_step = 4 if schedule else 2  # the optimizer's 4 batches, or the 2 epochs they make
    assert images[0][0] == first_step
    np.testing.assert_array_equal(images[0][1], start)
    assert [step for step, _ in images] == ([4, 6, 8] if schedule else [2, 3, 4])


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_training_that_fails_in_its_third_epoch_keeps_every_image_before(tmp_path, error):
    model, renders = tiny_model(), Renders()
    x, y = tiny_data(32)
    with pytest.raises(type(error)):
        model.fit(
            x,
            y,
            epochs=5,
            batch_size=8,
            verbose=0,
            callbacks=[filterviz.FilterLogger(tmp_path), renders, FailIn(2, error)],
        )
    logged = logged_images(tmp_path / "filters", TAG)
    assert [step for step, _ in logged] == [0, 1, 2]
    for (step, image), render in zip(logged, renders.images, strict=True):
        np.testing.assert_array_equal(image, render, err_msg=f"step {step}")


def test_a_log_dir_that_cannot_be_written_fails_before_the_first_batch(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should go")
    batches = Batches()
    x, y = tiny_data(16)
    with pytest.raises(
        OSError, match=r"FilterLogger cannot write to log_dir=.*not-a-folder.*folder you can write"
    ):
        tiny_model().fit(
            x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(blocker / "run"), batches]
        )
    assert batches.count == 0


def test_a_layer_that_is_not_there_fails_before_the_first_batch(tmp_path):
    batches = Batches()
    x, y = tiny_data(16)
    with pytest.raises(
        ValueError,
        match=r"no layer named 'conv1'. Layers with kernels, in the order data reaches them: dense \(Dense\)",
    ):
        tiny_model().fit(
            x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path, layer="conv1"), batches]
        )
    assert batches.count == 0
    assert not (tmp_path / "filters").exists()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({}, ValueError, "FilterLogger has nowhere to write: give log_dir="),
        ({"log_dir": "x", "every_n_steps": 0}, ValueError, "every_n_steps=0 must be a whole number >= 1"),
        ({"log_dir": "x", "every_n_steps": -5}, ValueError, "every_n_steps=-5"),
        ({"log_dir": "x", "every_n_epochs": 0}, ValueError, "every_n_epochs=0"),
        (
            {"log_dir": "x", "every_n_epochs": 1.5},
            TypeError,
            "every_n_epochs=1.5 must be a whole number >= 1",
        ),
        ({"log_dir": "x", "every_n_steps": "10"}, TypeError, "every_n_steps='10'"),
        ({"log_dir": "x", "log_initial": "yes"}, TypeError, "log_initial='yes' must be True or False"),
        ({"log_dir": "x", "health": 1}, TypeError, "health=1 must be True or False"),
        ({"log_dir": "x", "store_kernel": "always"}, ValueError, "store_kernel='always' must be True, False"),
        ({"log_dir": "x", "store_kernel": 1.0}, TypeError, "store_kernel=1.0"),
        ({"log_dir": "x", "layer": 3}, TypeError, "layer must be"),
        ({"log_dir": "x", "normalize": "minmax"}, ValueError, "normalize='minmax' is not a normalize mode"),
        ({"log_dir": "x", "colour_map": "gray"}, TypeError, "'colour_map' is not a rendering option"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, error, message):
    with pytest.raises(error, match=message):
        filterviz.FilterLogger(**kwargs)


def test_training_is_untouched_bit_for_bit(tmp_path):
    x, y = tiny_data(64)

    def train(callbacks):
        model = tiny_model(seed=7)
        model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=True, callbacks=callbacks)
        return [keras.ops.convert_to_numpy(w) for w in model.weights], keras.ops.convert_to_numpy(
            keras.random.uniform(())
        )

    keras.utils.set_random_seed(3)
    without = train([])
    keras.utils.set_random_seed(3)
    with_logger = train([filterviz.FilterLogger(tmp_path, every_n_steps=1, normalize="symmetric")])
    for a, b in zip(without[0], with_logger[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert without[1] == with_logger[1]  # the random state after training is the same too
    steps = logged_steps(tmp_path / "filters", TAG)  # on fast backends the writer may skip some (it says so):
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == 24  # in order, start and end kept


def test_rendering_options_and_layer_reach_the_images(tmp_path):
    model = tiny_model()
    x, y = tiny_data(16)
    logger = filterviz.FilterLogger(tmp_path, layer=model.layers[-1], normalize="global", padding=0, scale=3)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[logger])
    (_, _first), (_, last) = logged_images(tmp_path / "filters", "filters/head")
    np.testing.assert_array_equal(
        last, filterviz.render(model, layer=model.layers[-1], normalize="global", padding=0, scale=3)
    )
    assert last.shape[-1] == 1  # gray, no padding: single channel all the way to the PNG


def test_the_log_directory_layout_leaves_room_for_other_writers(tmp_path):
    model = tiny_model()
    x, y = tiny_data(16)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[filterviz.FilterLogger(tmp_path)])
    assert os.listdir(tmp_path) == ["filters"]
    (event_file,) = (tmp_path / "filters").iterdir()
    assert event_file.name.startswith("events.out.tfevents.")


FULL_DISK_SCRIPT = """
import resource, signal, sys, warnings
import numpy as np, keras, filterviz
from tests.helpers import tiny_data, tiny_model

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))  # files of this process stop growing at 6 kB
x, y = tiny_data(32)
model = tiny_model()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model.fit(x, y, epochs=4, batch_size=8, verbose=0,
              callbacks=[filterviz.FilterLogger(sys.argv[1], every_n_steps=1)])
ours = [str(w.message) for w in caught if issubclass(w.category, filterviz.FilterVizWarning)]
failures = [message for message in ours if "failed with" in message]  # skips may be reported too
print(len(failures), int(keras.ops.convert_to_numpy(model.optimizer.iterations)))
print(failures[0] if failures else "")
"""


def test_a_disk_that_fills_up_during_training_costs_a_warning_not_the_training(tmp_path):
    """The event file meets a real write error (the process's file size limit) halfway through."""
    result = run_python("-c", FULL_DISK_SCRIPT, tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    counts, message = result.stdout.splitlines()[-2:]
    assert counts == "1 16"  # one warning; all 16 batches trained
    assert "FilterLogger: writing to" in message and "Errno 27" in message and "Training goes on" in message
    steps = logged_steps(tmp_path / "filters", TAG)
    assert steps and steps == sorted(set(steps)) and steps[0] == 0 and len(steps) < 17  # those before: intact


def test_a_task_model_around_a_two_input_backbone_is_logged(tmp_path):
    from tests.keras.test_layers import two_input_backbone

    inner = two_input_backbone()
    task = keras.Model(inner.input, keras.layers.Dense(2)(inner(inner.input)))
    task.compile(keras.optimizers.SGD(0.1), "mse")
    rng = np.random.default_rng(0)
    tokens, images = rng.integers(0, 20, (16, 5)), rng.random((16, 8, 8, 3), dtype=np.float32)
    renders = Renders()
    task.fit(
        [tokens, images],
        rng.random((16, 2)),
        epochs=2,
        batch_size=8,
        verbose=0,
        callbacks=[filterviz.FilterLogger(tmp_path), renders],
    )
    images_logged = logged_images(tmp_path / "filters", "filters/conv")
    assert [step for step, _ in images_logged] == [0, 1, 2]
    for (_, logged), rendered in zip(images_logged, renders.images, strict=True):
        np.testing.assert_array_equal(logged, rendered)


def keras_scalar_steps(run_dir, tag):
    """The steps of a scalar Keras' TensorBoard callback wrote, read back from its event files."""
    from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator

    accumulator = EventAccumulator(str(run_dir), size_guidance={TENSORS: 0})
    accumulator.Reload()
    return [event.step for event in accumulator.Tensors(tag)]


def test_steps_line_up_with_keras_tensorboard_as_the_readme_says(tmp_path):
    """By epochs, Keras puts an epoch's loss at its index from 0, and filterviz the state after it at the
    epochs completed: one more. By batches the numbers agree: the loss of batch k and the state after it."""
    x, y = tiny_data(32)  # 4 batches of 8 per epoch
    model, renders = tiny_model(), Renders()
    board = keras.callbacks.TensorBoard(tmp_path / "epochs")
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=8,
        verbose=0,
        callbacks=[board, filterviz.FilterLogger(tmp_path / "epochs"), renders],
    )
    assert keras_scalar_steps(tmp_path / "epochs" / "train", "epoch_loss") == [0, 1, 2]
    logged = logged_images(tmp_path / "epochs" / "filters", TAG)
    assert [step for step, _ in logged] == [0, 1, 2, 3]
    for epoch in range(3):  # the loss Keras logs at step e was measured on the way to filterviz's e + 1
        np.testing.assert_array_equal(logged[epoch + 1][1], renders.images[epoch + 1])

    board = keras.callbacks.TensorBoard(tmp_path / "batches", update_freq=1)
    model = tiny_model()
    model.fit(
        x,
        y,
        epochs=2,
        batch_size=8,
        verbose=0,
        callbacks=[board, filterviz.FilterLogger(tmp_path / "batches", every_n_steps=1)],
    )
    assert keras_scalar_steps(tmp_path / "batches" / "train", "batch_loss") == list(range(1, 9))
    assert logged_steps(tmp_path / "batches" / "filters", TAG) == list(range(9))
