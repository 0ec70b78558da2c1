"""The step rules, driven like Keras drives a callback: exact lists of steps, none twice."""

import pytest

from filterviz.keras.schedule import Schedule


def fit(schedule, epochs, batches, initial_epoch=0, batches_before=0, epochs_before=0, fail_in_epoch=None):
    """Drive `schedule` through one fit(); returns the steps it asked to log."""
    logged = [schedule.fit_begins(initial_epoch, batches_before, epochs_before)]
    for epoch in range(initial_epoch, epochs):
        schedule.epoch_begins()
        for batch in range(batches):
            if epoch == fail_in_epoch and batch == 1:
                return [s for s in logged if s is not None]
            logged.append(schedule.batch_begins(batch))
        logged.append(schedule.epoch_ends(epoch, batches))
    logged.append(schedule.fit_ends())
    return [s for s in logged if s is not None]


def test_by_epochs_the_initial_state_then_every_epoch():
    assert fit(Schedule(), epochs=3, batches=4) == [0, 1, 2, 3]


def test_every_n_epochs_also_logs_the_end_of_training():
    assert fit(Schedule(every_n_epochs=5), epochs=12, batches=2) == [0, 5, 10, 12]
    assert fit(Schedule(every_n_epochs=5), epochs=10, batches=2) == [0, 5, 10]


def test_without_the_initial_state():
    assert fit(Schedule(log_initial=False), epochs=3, batches=2) == [1, 2, 3]


def test_every_n_steps_counts_batches_across_epochs():
    assert fit(Schedule(every_n_steps=5), epochs=3, batches=8) == [0, 5, 10, 15, 20, 24]
    assert Schedule(every_n_steps=5).axis == "batch" and Schedule().axis == "epoch"


def test_a_second_fit_continues_the_count():
    schedule = Schedule()
    assert fit(schedule, epochs=3, batches=2) == [0, 1, 2, 3]
    assert fit(schedule, epochs=2, batches=2) == [4, 5]  # Keras restarts its epoch index at 0
    # It starts at epoch 5, where the fit before ended (and logged): its start is not logged again.
    assert fit(schedule, epochs=8, batches=2, initial_epoch=5) == [6, 7, 8]


def test_a_second_fit_by_steps_continues_the_batch_count():
    schedule = Schedule(every_n_steps=4)
    assert fit(schedule, epochs=2, batches=5) == [0, 4, 8, 10]
    assert fit(schedule, epochs=1, batches=5, batches_before=10) == [12, 15]  # the start, 10, was logged


def test_resuming_with_initial_epoch_continues_from_it_and_logs_its_start_there():
    assert fit(Schedule(), epochs=8, batches=2, initial_epoch=5) == [5, 6, 7, 8]
    assert fit(Schedule(log_initial=False), epochs=8, batches=2, initial_epoch=5) == [6, 7, 8]


def test_a_restored_optimizer_continues_the_batch_and_epoch_count_from_its_state():
    assert fit(Schedule(every_n_steps=10), epochs=2, batches=10, batches_before=500) == [500, 510, 520]
    assert fit(Schedule(), epochs=2, batches=10, batches_before=500, epochs_before=50) == [50, 51, 52]


def test_batches_run_several_at_a_time_still_cross_every_multiple():
    schedule = Schedule(every_n_steps=5)  # steps_per_execution=4: Keras begins batches 0, 4, 8
    assert schedule.fit_begins(0) == 0
    schedule.epoch_begins()
    assert schedule.batch_begins(0) is None
    assert schedule.batch_begins(4) is None  # 4 done
    assert schedule.batch_begins(8) == 8  # 8 done: 5 was passed, the state now is at 8
    assert schedule.epoch_ends(0, 12) == 12  # 10 was passed during the last execution


def test_training_that_stops_early_logs_nothing_after_the_failure():
    assert fit(Schedule(), epochs=5, batches=2, fail_in_epoch=2) == [0, 1, 2]
    assert fit(Schedule(every_n_steps=1), epochs=5, batches=3, fail_in_epoch=1) == [0, 1, 2, 3]


def test_an_empty_fit_logs_only_a_new_initial_state():
    schedule = Schedule()
    assert fit(schedule, epochs=2, batches=1) == [0, 1, 2]
    assert schedule.fit_begins(0) is None and schedule.fit_ends() is None


@pytest.mark.parametrize("every", [1, 2, 3, 7])
def test_steps_strictly_grow(every):
    schedule = Schedule(every_n_epochs=every)
    steps = fit(schedule, 10, 3) + fit(schedule, 4, 3) + fit(schedule, 20, 3, initial_epoch=15)
    assert steps == sorted(set(steps))


def predicted_and_logged(schedule, epochs, batches, stride=1, known_length=True):
    """Drive a fit as Keras does, asking before each execution of `stride` batches whether the state
    after it will be logged. Returns (states predicted, states logged after training began)."""
    predicted, logged = [], []
    schedule.fit_begins(0)
    for epoch in range(epochs):
        schedule.epoch_begins()
        for batch in range(0, batches, stride):
            step = schedule.batch_begins(batch) if schedule.by_steps else None
            logged += [step] if step is not None else []
            length = batches if known_length else None
            if schedule.logs_after(batch, stride, length, last_epoch=epoch == epochs - 1):
                done = schedule._epoch_start + min(batch + stride, batches)
                predicted.append(done if schedule.by_steps else epoch + 1)
        step = schedule.epoch_ends(epoch, batches)
        logged += [step] if step is not None else []
    step = schedule.fit_ends()
    logged += [step] if step is not None else []
    return predicted, logged


@pytest.mark.parametrize(
    "rules, epochs, batches, stride",
    [
        ({}, 3, 4, 1),
        ({"every_n_epochs": 3}, 7, 2, 1),
        ({"every_n_steps": 5}, 3, 4, 1),
        ({"every_n_steps": 3}, 3, 4, 2),  # steps_per_execution 2: batches 0, 2 of each epoch
        ({"every_n_steps": 4}, 2, 8, 1),
    ],
)
def test_every_logged_state_after_training_began_is_foreseen_one_execution_ahead(
    rules, epochs, batches, stride
):
    schedule = Schedule(rules.get("every_n_epochs", 1), rules.get("every_n_steps"))
    predicted, logged = predicted_and_logged(schedule, epochs, batches, stride)
    assert predicted == logged


def test_without_the_epoch_length_only_step_multiples_are_foreseen():
    predicted, logged = predicted_and_logged(Schedule(), 3, 4, known_length=False)
    assert predicted == [] and logged == [1, 2, 3]
    predicted, logged = predicted_and_logged(Schedule(every_n_steps=3), 2, 4, known_length=False)
    assert predicted == [3, 6] and logged == [3, 6, 8]  # the end state (8) is not foreseen
