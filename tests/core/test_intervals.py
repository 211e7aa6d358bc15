"""The one Wilson interval of the project (dnnfi.analysis.intervals), against values by hand."""

import numpy as np

from dnnfi.analysis.intervals import wilson


def test_wilson_by_hand():
    # k = 5, n = 100: Wilson 95% interval (0.02154, 0.11175) -> the upper side is farther
    interval = wilson(5, 100)
    assert interval["estimate"] == 0.05
    assert np.isclose(interval["lo"], 0.02154, atol=1e-5) and np.isclose(
        interval["hi"], 0.11175, atol=1e-5
    )
    assert np.isclose(interval["margin"], 0.11175 - 0.05, atol=1e-5)
    wide = wilson(5, 100, confidence=0.99)
    assert wide["lo"] < interval["lo"] and wide["hi"] > interval["hi"]


def test_no_trials_give_nan_and_extremes_hold_their_rate():
    interval = wilson(np.array([0, 0, 30]), np.array([0, 40, 30]))
    assert np.isnan([interval[k][0] for k in ("estimate", "lo", "hi", "margin")]).all()
    assert interval["lo"][1] == interval["estimate"][1] == 0.0 and interval["hi"][1] > 0
    assert interval["hi"][2] == interval["estimate"][2] == 1.0 and interval["lo"][2] < 1


def test_an_effective_count_centred_elsewhere_still_holds_the_estimate():
    # 2.5 effective events in 40.5 effective trials, around an estimate of 0.2 (outside the
    # interval of 2.5 / 40.5 = 0.062): the upper bound widens to the estimate
    interval = wilson(2.5, 40.5, rate=0.2)
    assert interval["estimate"] == 0.2 and interval["hi"] == 0.2
    assert np.isclose(interval["lo"], wilson(2.5, 40.5)["lo"])
    assert np.isclose(interval["margin"], 0.2 - interval["lo"])
