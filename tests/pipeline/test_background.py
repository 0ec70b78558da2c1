"""The worker thread and FilterLogger's promises about it: order, the full-queue policy, the epoch barrier,
flush() and the drain at exit, failures and warnings. Synchronised with events, never with sleeps that
hope the (nice 19) worker has run."""

import threading
import warnings

import keras
import numpy as np
import pytest

import filterviz
from filterviz.core.step import LoggedStep
from filterviz.eventfile.writer import TensorBoardWriter
from filterviz.pipeline.notices import Notices
from filterviz.pipeline.worker import BackgroundLogger, Snapshot
from tests.helpers import (
    TAG,
    FailIn,
    RendersByBatch,
    logged_images,
    logged_steps,
    run_python,
    tiny_data,
    tiny_model,
)

DEADLOCK_GUARD = 60  # seconds: only reached when the code under test is broken


class Recorder:
    """A writer that keeps the steps it was given."""

    def __init__(self, fail_at=None):
        self.steps, self.closed, self.fail_at = [], False, fail_at
        self.destination = "recorder"

    def write(self, logged):
        if logged.step == self.fail_at:
            raise OSError("disk full")
        self.steps.append(logged.step)

    def close(self):
        self.closed = True


def grid(step):
    return [LoggedStep("filters/x", step, "batch", np.zeros((1, 1, 1), np.uint8))]


def snapshot(step, size=100):
    return Snapshot(step, (np.zeros(size, np.uint8),))


def background_logger(render, writers, capacity):
    """A logger whose waiting snapshots (of 100 bytes) may number `capacity` within its memory bound."""
    return BackgroundLogger(render, writers, Notices("filters/x"), bound=100 * capacity)


def gated_render(gate, started, sheds=None):
    """A render that says when it started and then waits for the gate (noting what it was asked to shed)."""

    def render(job, shed=0):
        started.set()
        assert gate.wait(DEADLOCK_GUARD)
        if sheds is not None:
            sheds.append((job.step, shed))
        return grid(job.step)

    return render


def test_grids_are_written_in_the_order_submitted():
    recorder = Recorder()
    background = background_logger(lambda job, shed: grid(job.step), [recorder], capacity=64)
    for step in range(50):
        background.submit(snapshot(step))
    assert background.close(timeout=DEADLOCK_GUARD)
    assert recorder.steps == list(range(50)) and recorder.closed and background.notices.skipped == []


def test_past_its_memory_bound_the_queue_drops_its_oldest_waiting_snapshot_and_keeps_the_newest():
    gate, started = threading.Event(), threading.Event()
    recorder = Recorder()
    background = background_logger(gated_render(gate, started), [recorder], capacity=4)
    background.submit(snapshot(0))
    assert started.wait(DEADLOCK_GUARD)  # the worker holds step 0 at the gate; the rest queue up
    for step in range(1, 10):
        background.submit(snapshot(step))
    gate.set()
    assert background.wait(timeout=DEADLOCK_GUARD)
    assert recorder.steps == [0, 6, 7, 8, 9]  # the newest four survive, in order
    assert background.notices.skipped == [1, 2, 3, 4, 5]
    background.close()


def test_small_snapshots_wait_in_their_thousands_large_ones_within_the_memory_bound():
    for size, bound, survivors in [(100, 1000, 10), (1000, 4000, 4), (10, 10**6, 40)]:
        gate, started = threading.Event(), threading.Event()
        recorder = Recorder()
        background = BackgroundLogger(
            gated_render(gate, started), [recorder], Notices("filters/x"), bound=bound
        )
        background.submit(snapshot(0, size))
        assert started.wait(DEADLOCK_GUARD)
        for step in range(1, 41):  # 40 more while the worker holds step 0
            background.submit(snapshot(step, size))
        gate.set()
        assert background.close(timeout=DEADLOCK_GUARD)
        assert recorder.steps == [0, *range(41 - survivors, 41)], size  # the newest survive, in order


def test_the_further_behind_the_more_optional_work_is_shed_and_none_once_caught_up():
    gate, started, sheds = threading.Event(), threading.Event(), []
    recorder = Recorder()
    background = BackgroundLogger(gated_render(gate, started, sheds), [recorder], Notices("x"), bound=1000)
    background.submit(snapshot(0))
    assert started.wait(DEADLOCK_GUARD)
    for step in range(1, 10):  # 9 waiting, 900 of 1000 bytes
        background.submit(snapshot(step))
    gate.set()
    assert background.wait(DEADLOCK_GUARD)
    background.submit(snapshot(10))
    background.close(timeout=DEADLOCK_GUARD)
    # Each step is shed by the share of the memory bound that waits behind it when the worker takes it
    # (SHED_MEMORY: 1/4, 1/2, 3/4): 8 snapshots behind step 1, 7 behind step 2, ..., none behind the last.
    assert [shed for _, shed in sheds] == [0, 3, 2, 2, 2, 1, 1, 0, 0, 0, 0]
    assert recorder.steps == list(range(11)) and background.notices.skipped == []


def test_submitting_never_waits_for_the_writer():
    gate, started = threading.Event(), threading.Event()
    background = background_logger(gated_render(gate, started), [Recorder()], capacity=2)

    background.submit(snapshot(0))
    assert started.wait(DEADLOCK_GUARD)

    def submit_all():
        for step in range(1, 100):
            background.submit(snapshot(step))

    submitter = threading.Thread(target=submit_all)
    submitter.start()
    submitter.join(DEADLOCK_GUARD)  # the writer is stuck at the gate all along: a blocking submit hangs
    blocked = submitter.is_alive()
    gate.set()
    background.close(timeout=DEADLOCK_GUARD)
    assert not blocked and len(background.notices.skipped) == 97


def test_a_failing_writer_is_dropped_and_reported_while_the_others_go_on():
    failing, healthy = Recorder(fail_at=2), Recorder()
    background = background_logger(lambda job, shed: grid(job.step), [failing, healthy], capacity=8)
    for step in range(5):
        background.submit(snapshot(step))
    background.close(timeout=DEADLOCK_GUARD)
    assert failing.steps == [0, 1] and healthy.steps == [0, 1, 2, 3, 4]
    assert background.notices.take() == [
        "FilterLogger: writing to recorder failed with OSError: disk full. Training goes on; "
        "the images written before are kept."
    ]


def test_a_render_that_raises_is_reported_and_the_next_one_still_runs():
    def render(job, shed):
        if job.step == 1:
            raise ValueError("bad kernel")
        return grid(job.step)

    recorder = Recorder()
    background = background_logger(render, [recorder], capacity=8)
    for step in range(3):
        background.submit(snapshot(step))
    background.close(timeout=DEADLOCK_GUARD)
    assert recorder.steps == [0, 2]
    (message,) = background.notices.take()
    assert message.startswith("FilterLogger: rendering failed with ValueError: bad kernel. Training goes on")


# FilterLogger in real fits, with its TensorBoard writer slowed down or held on purpose.


def slow_writes(monkeypatch, seconds=0.2):
    """Every event FilterLogger writes takes `seconds` longer, as on a slow disk."""
    write = TensorBoardWriter.write
    pause = threading.Event()  # never set: wait() is a sleep that says what it is for

    def slow(self, logged):
        pause.wait(seconds)
        write(self, logged)

    monkeypatch.setattr(TensorBoardWriter, "write", slow)


class ReleaseAtTrainEnd(keras.callbacks.Callback):
    """Opens the gate when training ends; listed before FilterLogger, it runs before its drain."""

    def __init__(self, gate):
        super().__init__()
        self.gate = gate

    def on_train_end(self, logs=None):
        self.gate.set()


def test_a_writer_far_behind_sheds_then_skips_grids_with_one_warning_and_one_summary_each(
    tmp_path, monkeypatch
):
    """The writer is held at step 0 until training ends: the 128 steps behind it overflow a memory bound
    made to hold 64 of the tiny kernel's snapshots (and its copy for the update ratio). The steps written
    once it catches up were far behind: they shed their optional parts, which is summed up too."""
    from filterviz.pipeline import worker as background

    monkeypatch.setattr(background, "MEMORY_BOUND", 64 * 2 * 36 * 4 * 4)
    gate = threading.Event()
    write = TensorBoardWriter.write

    def held(self, logged):
        assert gate.wait(DEADLOCK_GUARD)
        write(self, logged)

    monkeypatch.setattr(TensorBoardWriter, "write", held)
    x, y = tiny_data(1024)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = tiny_model().fit(
            x,
            y,
            epochs=1,
            batch_size=8,
            verbose=0,
            callbacks=[ReleaseAtTrainEnd(gate), filterviz.FilterLogger(tmp_path, every_n_steps=1)],
        )
    assert len(history.history["loss"]) == 1  # training finished
    ours = [str(w.message) for w in caught if issubclass(w.category, filterviz.FilterVizWarning)]
    assert len(ours) == 3, ours
    assert "is slower than the schedule" in ours[0] and "(step 1) was skipped" in ours[0]
    assert ours[1].startswith("FilterLogger fell behind in this training and, to keep every grid of ")
    assert "heavy health at " in ours[1] and "cheap health at " in ours[1] and "not computed" in ours[1]
    steps = "steps 1, 2, 3, 4, 5, 6, 7, 8 ... 64"
    assert ours[2] == f"FilterLogger skipped 64 grids of filters/dense in this training ({steps})."
    assert logged_steps(tmp_path / "filters", TAG) == [0, *range(65, 129)]  # in order; start and end kept


class StepsOnDiskAtEpochBegin(keras.callbacks.Callback):
    """Reads the event files when each epoch begins (listed after FilterLogger: after its barrier)."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir, self.seen = run_dir, []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(logged_steps(self.run_dir, TAG) if epoch else None)


def test_every_grid_of_an_epoch_is_on_disk_before_the_next_epoch_starts(tmp_path, monkeypatch):
    slow_writes(monkeypatch)
    x, y = tiny_data(32)
    reader = StepsOnDiskAtEpochBegin(tmp_path / "filters")
    tiny_model().fit(
        x,
        y,
        epochs=3,
        batch_size=8,
        verbose=0,
        callbacks=[filterviz.FilterLogger(tmp_path, every_n_steps=2), reader],
    )
    # Each epoch has 4 batches: steps 0, 2, 4 are logged in the first, 6 and 8 in the second.
    assert reader.seen == [None, [0, 2, 4], [0, 2, 4, 6, 8]]


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("out of memory")])
def test_flush_after_an_interruption_writes_the_grids_still_queued(tmp_path, monkeypatch, error):
    slow_writes(monkeypatch)
    renders = RendersByBatch()
    logger = filterviz.FilterLogger(tmp_path, every_n_steps=2)
    x, y = tiny_data(64)  # 8 batches an epoch
    with pytest.raises(type(error)):
        tiny_model().fit(
            x, y, epochs=3, batch_size=8, verbose=0, callbacks=[logger, renders, FailIn(1, error, batch=7)]
        )
    assert logger.flush(timeout=DEADLOCK_GUARD)
    logged = logged_images(tmp_path / "filters", TAG)
    # The barrier wrote epoch 0 (0..8); 10, 12 and 14 were queued when batch 7 of epoch 1 failed.
    assert [step for step, _ in logged] == [0, 2, 4, 6, 8, 10, 12, 14]
    for step, image in logged:
        np.testing.assert_array_equal(image, renders.images[step], err_msg=f"step {step}")


EXIT_SCRIPT = """
import sys, threading
import filterviz
from filterviz.eventfile.writer import TensorBoardWriter
from tests.helpers import FailIn, tiny_data, tiny_model

write, pause = TensorBoardWriter.write, threading.Event()
def slow(self, logged):  # a slow disk: the script ends while grids are still queued
    pause.wait(0.3)
    write(self, logged)
TensorBoardWriter.write = slow

x, y = tiny_data(64)
callbacks = [filterviz.FilterLogger(sys.argv[1], every_n_steps=2), FailIn(1, RuntimeError("stop"), batch=7)]
tiny_model().fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=callbacks)
"""


def test_grids_still_queued_when_a_script_dies_are_written_at_interpreter_exit(tmp_path):
    result = run_python("-c", EXIT_SCRIPT, tmp_path)
    assert result.returncode == 1 and "RuntimeError: stop" in result.stderr, result.stderr[-2000:]
    assert logged_steps(tmp_path / "filters", TAG) == [0, 2, 4, 6, 8, 10, 12, 14]


def test_weights_that_become_nan_in_a_real_fit_give_one_warning_and_magenta_tiles(tmp_path):
    from filterviz.core.grid import MARKER_COLOUR

    x, y = tiny_data(32)
    x[12, 0, 0, 0] = np.nan  # batch 1 of every epoch: the weights are NaN from then on
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = tiny_model().fit(
            x,
            y,
            epochs=3,
            batch_size=8,
            shuffle=False,
            verbose=0,
            callbacks=[filterviz.FilterLogger(tmp_path)],
        )
    assert len(history.history["loss"]) == 3  # training went on
    ours = [str(w.message) for w in caught if issubclass(w.category, filterviz.FilterVizWarning)]
    assert len(ours) == 1 and "NaN or Inf weights; they are drawn in magenta" in ours[0], ours
    assert "(first at step 1)" in ours[0] and "lower learning rate" in ours[0]
    logged = logged_images(tmp_path / "filters", TAG)
    assert [step for step, _ in logged] == [0, 1, 2, 3]
    assert not (logged[0][1] == MARKER_COLOUR).all(axis=-1).any()  # the initial weights are finite
    for step, image in logged[1:]:  # every weight NaN: every tile pixel magenta, separators still teal
        tile_pixels = image[1:7, 1:7]
        assert (tile_pixels == MARKER_COLOUR).all(), f"step {step}"
