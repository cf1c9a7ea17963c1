"""Known answers for the ROC statistics behind the membership-inference audit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from synth.stats import roc


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


def test_reversed_scores_are_evidence_too():
    # An attack that is always wrong separates members perfectly the other way round: the
    # reversed inequalities give it the same epsilon bound, the advantage (one-sided) is 0.
    s, y = _separated()
    assert roc.auc(-s, y) == 0.0
    assert roc.advantage(-s, y) == 0.0
    forward, reverse = roc.epsilon_lower_bound(s, y), roc.epsilon_lower_bound(-s, y)
    assert reverse.epsilon == pytest.approx(forward.epsilon) and reverse.epsilon > 3.0
    assert reverse.direction in ("fpr/tpr", "fnr/tnr")


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
    ci = roc.auc_interval(s, y)
    assert ci.low < 0.5 < ci.high
    assert roc.epsilon_lower_bound(s, y).epsilon < 0.2


def test_delong_standard_error_by_simulation():
    # Scores N(1,1) vs N(0,1), 150 and 100 records: the AUC's sd over many draws is the known
    # answer (simulation); DeLong's estimate must match it, and the interval cover the true
    # AUC Phi(1 / sqrt 2) (closed form) in about 95 % of draws.
    from scipy import stats

    rng = np.random.default_rng(5)
    y = np.r_[np.ones(150, int), np.zeros(100, int)]
    draws = [np.r_[rng.normal(1, 1, 150), rng.normal(0, 1, 100)] for _ in range(1500)]
    aucs = np.array([roc.auc(s, y) for s in draws])
    ses = np.array([roc.auc_standard_error(s, y) for s in draws])
    assert np.mean(ses) == pytest.approx(aucs.std(), rel=0.06)
    truth = stats.norm.cdf(1 / np.sqrt(2))
    cover = np.mean([roc.auc_interval(s, y).low <= truth <= roc.auc_interval(s, y).high for s in draws[:400]])
    assert 0.92 <= cover <= 0.98


def test_clustered_standard_error_by_simulation():
    # Every record has an identical twin with the same label and score (natural twins that
    # an attack cannot tell apart): the AUC's sd over draws is the known answer (simulation).
    # DeLong, which counts each twin as independent, understates it by about sqrt(2); the
    # clustered estimate (Obuchowski) matches it. Mixed clusters (one member, one
    # non-member twin) must be accepted too.
    rng = np.random.default_rng(6)
    y = np.r_[np.ones(120, int), np.zeros(80, int)]
    clusters = np.r_[np.arange(60), np.arange(60), np.arange(60, 100), np.arange(60, 100)]
    order = np.r_[np.arange(0, 120, 2), np.arange(1, 120, 2), np.arange(120, 200, 2), np.arange(121, 200, 2)]
    y, clusters = y[order], clusters[order]
    draws = []
    for _ in range(1500):
        base = np.r_[rng.normal(1, 1, 60), rng.normal(0, 1, 40)]
        draws.append(base[clusters])
    aucs = np.array([roc.auc(s, y) for s in draws])
    clustered = np.array([roc.auc_standard_error(s, y, clusters) for s in draws[:500]])
    naive = np.array([roc.auc_standard_error(s, y) for s in draws[:500]])
    assert np.mean(clustered) == pytest.approx(aucs.std(), rel=0.08)
    assert np.mean(naive) < 0.8 * aucs.std()
    # singleton clusters give DeLong's estimate up to the n / (n - 1) small-sample factor
    s = draws[0]
    single = roc.auc_standard_error(s, y, np.arange(y.size))
    assert single == pytest.approx(roc.auc_standard_error(s, y), rel=0.02)
    mixed = np.r_[np.arange(100), np.arange(100)]  # twins straddling members and non-members
    assert np.isfinite(roc.auc_standard_error(rng.normal(size=200), np.r_[np.ones(100, int), np.zeros(100, int)], mixed))
    assert roc.auc_interval(s, y, clusters=clusters).method.startswith("DeLong, clustered")


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
    assert r.interval.low <= 0.5 <= r.interval.high
    assert not r.reliable  # 1 allowed false positive cannot resolve 1 %
    strict = roc.tpr_at_fpr(s, y, 0.001)
    assert strict.allowed_false_positives == 0 and strict.true_positives == 30


def test_tpr_interval_covers_the_true_tpr_by_simulation():
    # Scores N(0,1) for non-members, N(1,1) for members: at FPR 5 % the true threshold is
    # z_0.95 and the true TPR 1 - Phi(z_0.95 - 1) (closed form). The interval must cover it
    # in at least 95 % of draws although the threshold itself is estimated.
    from scipy import stats

    true_tpr = stats.norm.sf(stats.norm.isf(0.05) - 1.0)
    rng = np.random.default_rng(11)
    y = np.r_[np.ones(400, int), np.zeros(400, int)]
    hits = [roc.tpr_at_fpr(np.r_[rng.normal(1, 1, 400), rng.normal(0, 1, 400)], y, 0.05).interval
            for _ in range(300)]
    coverage = np.mean([ci.low <= true_tpr <= ci.high for ci in hits])
    assert coverage >= 0.95, coverage


def test_advantage_interval_covers_zero_and_the_ks_distance():
    # Same distributions: the advantage is 0, and the DKW interval must cover it (a
    # bootstrap of a maximum sits above 0 and never does).
    rng = np.random.default_rng(12)
    y = np.r_[np.ones(500, int), np.zeros(500, int)]
    null = [roc.advantage_interval(rng.normal(size=1000), y) for _ in range(200)]
    assert np.mean([ci.low <= 0.0 for ci in null]) >= 0.95
    # N(0.5,1) vs N(0,1): the true advantage is 2 Phi(0.25) - 1 (closed form, KS distance).
    from scipy import stats

    true_adv = 2 * stats.norm.cdf(0.25) - 1
    shifted = [roc.advantage_interval(np.r_[rng.normal(0.5, 1, 500), rng.normal(0, 1, 500)], y) for _ in range(200)]
    assert np.mean([ci.low <= true_adv <= ci.high for ci in shifted]) >= 0.95


def test_epsilon_bound_closed_form_on_a_perfect_attack():
    # Two score values, n members all high and n non-members all low: the grid has two
    # thresholds, so each one-sided bound is at alpha' = 0.05 / (4 * 2). Clopper-Pearson at
    # n of n successes is alpha'^(1/n) (and 1 - that at 0 of n), so the bound is the
    # closed form log(alpha'^(1/n) / (1 - alpha'^(1/n))): 2.9553 for n = 100.
    for n, expected in ((100, 2.955326), (1000, 5.280856)):
        s = np.r_[np.ones(n), np.zeros(n)]
        y = np.r_[np.ones(n, int), np.zeros(n, int)]
        lo = (0.05 / 8) ** (1 / n)
        assert math.log(lo / (1 - lo)) == pytest.approx(expected, abs=1e-3)
        assert roc.epsilon_lower_bound(s, y).epsilon == pytest.approx(expected, abs=1e-3)


def test_epsilon_bound_is_valid_and_tight_for_randomized_response():
    # Randomized response with eps0 = 1 is exactly eps0-DP: a member's bit is 1 with
    # probability e/(1+e), a non-member's with 1/(1+e), so the best test has
    # TPR / FPR = e. The 95 % bound must stay below eps0 (validity) in at least 95 % of
    # draws, and with 20,000 records per side come close to it (tightness).
    eps0 = 1.0
    p = math.exp(eps0) / (1 + math.exp(eps0))
    rng = np.random.default_rng(13)
    n = 20_000
    y = np.r_[np.ones(n, int), np.zeros(n, int)]
    bounds = [roc.epsilon_lower_bound(np.r_[rng.random(n) < p, rng.random(n) < 1 - p].astype(float), y).epsilon
              for _ in range(40)]
    assert np.mean(np.array(bounds) <= eps0) >= 0.95
    assert np.median(bounds) > 0.9
    # The reversed attack (members get the flipped bit) is just as strong evidence.
    flipped = roc.epsilon_lower_bound(np.r_[rng.random(n) < 1 - p, rng.random(n) < p].astype(float), y)
    assert 0.9 < flipped.epsilon <= eps0


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
