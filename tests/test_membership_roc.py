"""Known answers for the ROC statistics behind the membership-inference audit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from synth.stats import roc
from synth.stats.intervals import clopper_pearson


def _separated(n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    scores = np.r_[np.linspace(1.0, 2.0, n), np.linspace(-2.0, -1.0, n)]
    return scores, np.r_[np.ones(n, int), np.zeros(n, int)]


def test_perfect_separation():
    s, y = _separated()
    assert roc.auc(s, y) == 1.0
    assert roc.tpr_at_fpr(s, y, 0.01).tpr == 1.0
    low = roc.tpr_at_fpr(s, y, 0.001)
    assert low.tpr == 1.0 and low.achieved_fpr == 0.0 and low.interval.high == 1.0
    assert roc.advantage(s, y) == 1.0
    eps = roc.epsilon_lower_bound(s, y)
    assert eps.epsilon > 3.0  # 500 vs 500 perfectly separated: log(~0.98 / ~0.02)
    assert eps.tpr == 1.0 and eps.fpr <= 0.01


def test_reversed_scores_give_auc_zero_and_no_epsilon():
    s, y = _separated()
    assert roc.auc(-s, y) == 0.0
    assert roc.advantage(-s, y) == 0.0
    assert roc.epsilon_lower_bound(-s, y).epsilon == 0.0


def test_identical_score_distributions():
    rng = np.random.default_rng(0)
    values = rng.normal(size=400)
    s = np.r_[values, values]  # members and non-members get the very same scores
    y = np.r_[np.ones(400, int), np.zeros(400, int)]
    assert roc.auc(s, y) == pytest.approx(0.5)
    assert roc.advantage(s, y) == 0.0
    assert roc.epsilon_lower_bound(s, y).epsilon == 0.0
    assert roc.tpr_at_fpr(s, y, 0.01).tpr <= 0.01 + 1e-12


def test_same_distribution_draws_are_chance():
    rng = np.random.default_rng(1)
    s = rng.normal(size=2000)
    y = np.r_[np.ones(1000, int), np.zeros(1000, int)]
    ci = roc.auc_interval(s, y, n_boot=200, seed=0)
    assert ci.low < 0.5 < ci.high
    assert roc.epsilon_lower_bound(s, y).epsilon < 0.2


def test_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(2)
    s = rng.integers(0, 5, 300).astype(float)  # heavy ties
    y = (rng.random(300) < 0.4 + 0.05 * s).astype(int)
    assert roc.auc(s, y) == pytest.approx(roc_auc_score(y, s))


def test_roc_counts_by_hand():
    c = roc.roc_counts(np.array([0.9, 0.8, 0.8, 0.3]), np.array([1, 0, 1, 0]))
    assert c.thresholds.tolist() == [0.9, 0.8, 0.3]
    assert c.tp.tolist() == [1, 2, 2]
    assert c.fp.tolist() == [0, 1, 2]
    assert (c.n_pos, c.n_neg) == (2, 2)


def test_infinite_ties_stay_one_threshold():
    c = roc.roc_counts(np.array([np.inf, np.inf, 0.0]), np.array([1, 0, 0]))
    assert c.tp.tolist() == [1, 1] and c.fp.tolist() == [1, 2]


def test_tpr_at_fpr_by_hand():
    # 100 non-members: 1 % allows exactly one false positive.
    neg = np.r_[10.0, np.zeros(99)]
    pos = np.r_[np.full(30, 20.0), np.full(20, 5.0), np.full(50, -1.0)]
    s, y = np.r_[pos, neg], np.r_[np.ones(100, int), np.zeros(100, int)]
    r = roc.tpr_at_fpr(s, y, 0.01)
    assert r.allowed_false_positives == 1
    assert r.true_positives == 50 and r.tpr == 0.5 and r.achieved_fpr == 0.01
    assert (r.interval.low, r.interval.high) == pytest.approx(
        (clopper_pearson(50, 100).low, clopper_pearson(50, 100).high))
    assert not r.reliable  # 1 allowed false positive cannot resolve 1 %
    strict = roc.tpr_at_fpr(s, y, 0.001)
    assert strict.allowed_false_positives == 0 and strict.true_positives == 30


def test_epsilon_bound_by_hand():
    # Two score values: 90 of 100 members and 10 of 100 non-members score high.
    s = np.r_[np.ones(90), np.zeros(10), np.ones(10), np.zeros(90)]
    y = np.r_[np.ones(100, int), np.zeros(100, int)]
    eps = roc.epsilon_lower_bound(s, y)
    assert eps.n_thresholds == 2
    level = 1 - 0.05 / 2  # Bonferroni over 2 thresholds, both tails
    tpr_lo = clopper_pearson(90, 100, level).low
    fpr_hi = clopper_pearson(10, 100, level).high
    expected = max(math.log(tpr_lo / fpr_hi), math.log((1 - fpr_hi) / (1 - tpr_lo)))
    assert eps.epsilon == pytest.approx(expected)
    # The point estimate log(0.9 / 0.1) is larger than the confidence bound.
    assert 0 < eps.epsilon < math.log(9)


def test_epsilon_bound_tightens_with_more_records():
    small = roc.epsilon_lower_bound(*_separated(50)).epsilon
    large = roc.epsilon_lower_bound(*_separated(2000)).epsilon
    assert 0 < small < large


def test_epsilon_bound_with_delta_is_smaller():
    s, y = _separated(500)
    assert roc.epsilon_lower_bound(s, y, delta=0.1).epsilon < roc.epsilon_lower_bound(s, y).epsilon


def test_roc_curve_is_downsampled_and_monotone():
    rng = np.random.default_rng(3)
    s = rng.normal(size=3000)
    y = (rng.random(3000) < 0.5).astype(int)
    fpr, tpr = roc.roc_curve(s, y, max_points=200)
    assert len(fpr) == len(tpr) <= 200
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_candidate_thresholds_are_capped_and_reach_the_tails():
    s = np.random.default_rng(4).normal(size=5000)
    t = roc.candidate_thresholds(s, 100)
    assert t.size <= 100
    assert t.max() == s.max() and np.all(np.diff(t) < 0)


def test_nan_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        roc.auc(np.array([0.1, np.nan]), np.array([1, 0]))
