"""The fault zoo (tests/helpers/zoo.py): four architectures users train (an MLP, CNNs with 3x3 and with 5x5
colour filters, a small ViT), each trained well and with one fault at a time on data that ships in
scikit-learn, logged by FilterLogger and read back. No good run is flagged; every fault is flagged by the
value meant for it; a fresh initialization reads as chance at every kernel size."""

import pytest

from tests.helpers import zoo


@pytest.fixture(scope="module")
def runs():
    return zoo.run_zoo()


@pytest.mark.slow
@pytest.mark.parametrize("architecture", zoo.ARCHITECTURES)
def test_no_good_run_is_flagged(runs, architecture):
    """The zoo trains 31 small models (about 60 s on 2 cores, once for all of these cases)."""
    run = runs[architecture, "good"]
    verdict = zoo.judge(run)
    assert not verdict.false_alarm, (run.readings, run.health)
    assert run.readings[-1].level == "healthy"
    assert run.accuracy > 0.65  # trained well, on every architecture


@pytest.mark.slow
@pytest.mark.parametrize("architecture", zoo.ARCHITECTURES)
@pytest.mark.parametrize("fault", [fault for fault in zoo.FAULTS if zoo.MEANT[fault]])
def test_every_fault_is_flagged_by_the_value_meant_for_it(runs, architecture, fault):
    """Uses the zoo's runs (see above)."""
    if (architecture, fault) in zoo.NOT_APPLICABLE:
        assert (architecture, fault) not in runs
        return
    verdict = zoo.judge(runs[architecture, fault])
    assert not verdict.missed, ([(r.level, r.value) for r in verdict.run.readings], verdict.run.health)


@pytest.mark.slow
def test_a_fresh_initialization_reads_as_chance_at_every_kernel_size(runs):
    """Uses the zoo's runs (see above), and two very small kernels."""
    for (architecture, condition), run in runs.items():
        first, reading = run.first, run.readings[0]
        assert first["dead"] == 0 and first["drift"] == 0, (architecture, condition, first)
        if condition == "near-identical init":  # told from the start
            assert (reading.level, reading.value) == ("alarm", "redundancy")
        else:
            assert (reading.level, reading.value) == ("note", "drift")  # the first logged state
            assert 0.9 < first["noise"] < 1.1, (architecture, condition, first)
            assert first.get("redundancy", 0) == 0 and first.get("opposites", 0) == 0, (
                architecture,
                condition,
            )
    taps = zoo.small_kernel("3 taps (Conv1D, 1 channel)")  # 16 filters of 3 weights: nothing to tell
    assert not {"noise", "redundancy", "opposites"} & set(taps) and taps["dead"] == 0
    stem = zoo.small_kernel("2x2x3 patch stem")  # 12 weights: partners by chance are few, and subtracted
    assert "noise" not in stem and stem["redundancy"] == 0 and stem["opposites"] == 0
