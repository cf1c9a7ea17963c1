"""Randomization inference over a random train/holdout split: known answers."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from synth.stats.randomization import partition_sums, partition_variance, permutation_p_value


def test_partition_variance_is_the_variance_over_every_split():
    # Enumerate every 3-of-7 split by brute force (closed form by enumeration).
    values = np.array([0.0, 1.0, 4.0, 4.0, 2.5, 0.0, 7.0])
    sums = [values[list(c)].sum() for c in combinations(range(7), 3)]
    assert partition_variance(values, 3) == pytest.approx(np.var(sums))
    assert partition_variance(values, 0) == partition_variance(values, 7) == 0.0


def test_partition_sums_draw_the_split_distribution():
    # Sparse weights: 5 weighted units among 40, 10 drawn. Compare the Monte Carlo draws with
    # the exact distribution enumerated over how many and which weighted units are drawn.
    from scipy import stats

    w = np.array([1.0, 2.0, 3.0, 0.5, 4.0])
    draws = partition_sums(w, 40, 10, n_draws=40_000, seed=1)
    exact_mean = w.sum() * 10 / 40
    assert draws.mean() == pytest.approx(exact_mean, abs=0.03)
    full = np.r_[w, np.zeros(35)]
    assert draws.var() == pytest.approx(partition_variance(full, 10), rel=0.03)
    # P(T = 0): none of the 5 weighted units drawn, hypergeometric.
    assert np.mean(draws == 0) == pytest.approx(stats.hypergeom.pmf(0, 40, 5, 10), abs=0.01)
    assert np.array_equal(draws, partition_sums(w, 40, 10, n_draws=40_000, seed=1))  # seeded, no global state


def test_partition_sums_with_tied_weights_by_enumeration():
    # Tied weights (many persons with the same weight) drawn by colour counts must give the
    # exact split distribution: enumerate every 4-of-9 split by brute force.
    from collections import Counter

    w = np.array([1.0, 1.0, 1.0, 0.5, 0.5, 2.0])
    full = np.r_[w, np.zeros(3)]
    exact = Counter(round(float(full[list(c)].sum()), 6) for c in combinations(range(9), 4))
    total = sum(exact.values())
    draws = partition_sums(w, 9, 4, n_draws=60_000, seed=3)
    seen = Counter(np.round(draws, 6))
    assert set(seen) <= set(exact)
    for value, n in exact.items():
        assert seen[value] / draws.size == pytest.approx(n / total, abs=0.01)


def test_permutation_p_value_has_exact_level():
    # The observed statistic is one more exchangeable draw: P(p <= 0.05) <= 0.05.
    rng = np.random.default_rng(0)
    ps = [permutation_p_value(rng.normal(), rng.normal(size=199)) for _ in range(4000)]
    assert np.mean(np.array(ps) <= 0.05) == pytest.approx(0.05, abs=0.012)
