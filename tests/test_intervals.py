"""Confidence intervals: known values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from synth.stats.intervals import bootstrap, clopper_pearson, mean_normal, wilson


def test_wilson_known_value_and_edges():
    ci = wilson(50, 100)
    assert ci.low == pytest.approx(0.4038, abs=1e-4) and ci.high == pytest.approx(0.5962, abs=1e-4)
    assert wilson(0, 200).low == 0.0 and wilson(200, 200).high == 1.0


def test_clopper_pearson_matches_scipy():
    ci = clopper_pearson(7, 40)
    ref = stats.binomtest(7, 40).proportion_ci(method="exact")
    assert ci.low == pytest.approx(ref.low) and ci.high == pytest.approx(ref.high)
    assert clopper_pearson(0, 10).low == 0.0 and clopper_pearson(10, 10).high == 1.0


def test_bootstrap_and_normal_cover_the_mean():
    x = np.random.default_rng(0).normal(3.0, 1.0, 2000)
    boot = bootstrap(lambda idx: float(x[idx].mean()), len(x), n_boot=300, seed=1)
    norm = mean_normal(x)
    for ci in (boot, norm):
        assert ci.low < 3.0 < ci.high and ci.high - ci.low < 0.2


def test_newcombe_matches_the_published_examples():
    # Newcombe (1998), Statistics in Medicine 17:873, table II, method 10 (hybrid score).
    from synth.stats.intervals import newcombe_difference

    for (k1, n1, k2, n2), (low, high) in {
        (56, 70, 48, 80): (0.0524, 0.3339),
        (9, 10, 3, 10): (0.1705, 0.8090),
        (6, 7, 2, 7): (0.0582, 0.8062),
        (5, 56, 0, 29): (-0.0381, 0.1926),
    }.items():
        ci = newcombe_difference(k1, n1, k2, n2)
        assert (ci.low, ci.high) == pytest.approx((low, high), abs=1e-4)
    empty = newcombe_difference(0, 3000, 0, 1000)  # not degenerate at 0 - 0
    assert empty.low < 0 < empty.high
