"""The fault zoo (tests/helpers/zoo.py): small trainings on the demo's bundled photographs, good and with
known faults, logged by FilterLogger and read back. Each health value separates its fault from the good
run by the factor the README states, and a fresh initialization reads as chance at every kernel size."""

import pytest

from tests.helpers import zoo


@pytest.fixture(scope="module")
def runs():
    return zoo.run_zoo()


@pytest.mark.slow
@pytest.mark.parametrize("name, fault, direction, factor", zoo.SEPARATIONS, ids=lambda v: str(v))
def test_each_health_value_tells_its_fault_from_the_good_run(runs, name, fault, direction, factor):
    """The zoo trains 8 small models (about 25 s on 2 cores, once for all of these cases)."""
    assert zoo.separation(runs, name, fault, direction) >= factor, (runs["good"], runs[fault])


@pytest.mark.slow
def test_a_fresh_initialization_reads_as_chance_at_every_kernel_size(runs):
    """Uses the zoo's runs (see above)."""
    for condition in zoo.CONDITIONS:
        first = runs[condition].first
        assert 0.9 < first["noise"] < 1.1, (condition, first)
        assert first["redundancy"] == 0 and first["opposites"] == 0 and first["dead"] == 0, (condition, first)
    taps = runs["3 taps (Conv1D, 1 channel)"].first  # 16 filters of 3 weights: nothing to tell from chance
    assert not {"noise", "redundancy", "opposites"} & set(taps) and taps["dead"] == 0
    stem = runs["2x2x3 patch stem"].first  # 12 weights: partners by chance are few, and subtracted
    assert "noise" not in stem and stem["redundancy"] == 0 and stem["opposites"] == 0
