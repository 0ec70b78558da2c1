"""The worker thread: order, the full-queue policy, draining, failures."""

import threading
import time
import warnings

import keras
import numpy as np
import pytest

import filterviz
from filterviz.background import BackgroundLogger
from filterviz.writers import GridImage
from tests._helpers import logged_steps


class Recorder:
    """A writer that keeps the steps it was given."""

    def __init__(self, fail_at=None):
        self.steps, self.closed, self.fail_at = [], False, fail_at
        self.destination = "recorder"

    def write(self, grid):
        if grid.step == self.fail_at:
            raise OSError("disk full")
        self.steps.append(grid.step)

    def close(self):
        self.closed = True


def render_after(seconds, gate=None):
    def render(step, kernel):
        if gate is not None:
            gate.wait()
        time.sleep(seconds)
        return GridImage("filters/x", step, "batch", np.zeros((1, 1, 1), np.uint8), "")

    return render


def test_grids_are_written_in_the_order_submitted():
    recorder = Recorder()
    background = BackgroundLogger(render_after(0), [recorder], capacity=64)
    for step in range(50):
        background.submit(step, np.zeros(1))
    assert background.close(timeout=10)
    assert recorder.steps == list(range(50)) and recorder.closed and background.skipped == []


def test_a_full_queue_drops_its_oldest_waiting_snapshot_and_keeps_the_newest():
    gate = threading.Event()
    recorder = Recorder()
    background = BackgroundLogger(render_after(0, gate), [recorder], capacity=4)
    for step in range(10):  # the worker is stuck at the gate: 0 is being rendered, the rest wait
        background.submit(step, np.zeros(1))
        time.sleep(0.01)
    gate.set()
    assert background.wait(timeout=10)
    assert recorder.steps == [0, 6, 7, 8, 9]  # the newest four survive, in order
    assert background.skipped == [1, 2, 3, 4, 5]
    background.close()


def test_submitting_never_waits_for_the_writer():
    gate = threading.Event()
    background = BackgroundLogger(render_after(0, gate), [Recorder()], capacity=2)
    start = time.perf_counter()
    for step in range(100):
        background.submit(step, np.zeros(1))
    assert time.perf_counter() - start < 1.0  # generous: the point is that it does not block on the gate
    gate.set()
    background.close(timeout=10)


def test_a_failing_writer_is_dropped_and_reported_while_the_others_go_on():
    failing, healthy = Recorder(fail_at=2), Recorder()
    background = BackgroundLogger(render_after(0), [failing, healthy], capacity=8)
    for step in range(5):
        background.submit(step, np.zeros(1))
    background.close(timeout=10)
    assert failing.steps == [0, 1] and healthy.steps == [0, 1, 2, 3, 4]
    ((writer, error),) = background.take_failures()
    assert writer is failing and "disk full" in str(error)


def test_a_render_that_raises_is_reported_and_the_next_one_still_runs():
    def render(step, kernel):
        if step == 1:
            raise ValueError("bad kernel")
        return GridImage("filters/x", step, "batch", np.zeros((1, 1, 1), np.uint8), "")

    recorder = Recorder()
    background = BackgroundLogger(render, [recorder], capacity=8)
    for step in range(3):
        background.submit(step, np.zeros(1))
    background.close(timeout=10)
    assert recorder.steps == [0, 2]
    ((writer, error),) = background.take_failures()
    assert writer is None and "bad kernel" in str(error)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="timing of the TensorFlow loop")
def test_a_writer_slower_than_the_schedule_skips_grids_with_one_warning_and_one_summary(tmp_path):
    """A 3072 x 1024 Dense layer (about 0.1 s a grid) logged at every one of 64 short steps."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(1024), keras.layers.Dense(2)]
    )
    model.compile(keras.optimizers.SGD(1e-4), "mse")
    x, y = np.random.default_rng(0).random((512, 32, 32, 3), np.float32), np.zeros((512, 2), np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(
            x,
            y,
            epochs=1,
            batch_size=8,
            verbose=0,
            callbacks=[filterviz.FilterLogger(tmp_path, every_n_steps=1)],
        )
    assert len(history.history["loss"]) == 1  # training finished
    ours = [str(w.message) for w in caught if issubclass(w.category, filterviz.FilterVizWarning)]
    assert len(ours) == 2, ours
    assert "is slower than the schedule" in ours[0] and "Log less often" in ours[0]
    assert ours[1].startswith("FilterLogger skipped ") and "grids of filters/dense" in ours[1]
    steps = logged_steps(tmp_path / "filters", "filters/dense")
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == 64  # in order; start and end kept
    assert len(steps) < 65
