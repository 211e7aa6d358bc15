import numpy as np
import pytest

from dnnfi.analysis.intervals import wilson
from dnnfi.analysis.sample_size import leveugle_sample_size, normal_cutoff
from dnnfi.designs.sequential import sequential_stop


@pytest.mark.parametrize(
    "margin, confidence, expected",
    [(0.05, 0.95, 384), (0.03, 0.95, 1067), (0.01, 0.95, 9604), (0.05, 0.99, 664)],
)
def test_leveugle_known_answers_for_a_large_fault_space(margin, confidence, expected):
    assert leveugle_sample_size(margin, confidence) == expected
    assert leveugle_sample_size(margin, confidence, population=1e12) == expected


def test_leveugle_finite_population_by_hand():
    # N = 1000, e = 0.05, t = 1.96, p = 0.5: 1000 / (1 + 0.0025 * 999 / 0.9604) = 277.74 -> 278
    assert leveugle_sample_size(0.05, 0.95, population=1000) == 278
    # a smaller expected failure share needs fewer injections: t^2 0.02 0.98 / 0.005^2 = 3011.8
    assert leveugle_sample_size(0.005, 0.95, p=0.02) == 3012
    assert leveugle_sample_size(0.05, population=1) == 1
    assert normal_cutoff(0.95) == 1.96 and normal_cutoff(0.99) == 2.576
    with pytest.raises(ValueError, match="margin must be in"):
        leveugle_sample_size(5)


def test_sequential_stop_at_the_first_round_boundary_that_reaches_the_target():
    # one SDC every 10 injections: margins at n = 100, 200, 300, 400 are about
    # 0.074, 0.049, 0.039, 0.033 (rate 0.1, Wilson 95%)
    sdc = np.arange(400) % 10 == 0
    margins = wilson(np.array([10, 20, 30, 40]), np.array([100, 200, 300, 400]))["margin"]
    assert margins[1] > 0.04 > margins[2]
    assert sequential_stop(sdc, margin=0.04, round_size=100) == 300
    assert sequential_stop(sdc, margin=0.05, round_size=100) == 200
    # the target is never reached within the outcomes given
    assert sequential_stop(sdc, margin=0.01, round_size=100) is None
    # a last partial round is not checked, and fewer injections than one round never stop
    assert sequential_stop(sdc[:350], margin=0.035, round_size=100) is None
    assert sequential_stop(sdc[:50], margin=0.5, round_size=100) is None


def test_sequential_stop_depends_on_the_order_of_outcomes():
    # the same 30 SDCs in 300 injections: 0 of 100 has margin 0.037, 0 of 200 0.019;
    # 30 of 100 has 0.096, 30 of 200 0.056 and 30 of 300 0.039
    early = np.arange(300) < 30
    late = np.arange(300) >= 270
    assert sequential_stop(late, margin=0.03, round_size=100) == 200
    assert sequential_stop(early, margin=0.04, round_size=100) == 300
    assert sequential_stop(early, margin=0.03, round_size=100) is None
