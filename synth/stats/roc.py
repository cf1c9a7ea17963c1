"""ROC analysis of a membership-inference attack, with the uncertainty of each number.

Conventions: ``scores`` is a float array (n,), higher = "more likely a member";
``labels`` is an array (n,) of 1 (member, a training record) and 0 (non-member). The
attack at threshold ``t`` says "member" for every record with ``score >= t``; TPR is the
share of members it flags and FPR the share of non-members it flags.

What is computed:

- :func:`auc`: the area under the ROC curve, the Mann-Whitney probability that a random
  member outscores a random non-member (ties count one half). 0.5 = chance.
- :func:`tpr_at_fpr`: the best TPR among thresholds whose FPR does not exceed a target
  (e.g. 1 %), with a Clopper-Pearson interval on the true-positive count. The threshold
  is chosen on the same records, so the interval ignores that selection; with few
  non-members a low target FPR allows zero or one false positive and the estimate is
  coarse (the result says so).
- :func:`advantage`: ``max_t TPR(t) - FPR(t)`` (Yeom et al. 2018 membership advantage).
- :func:`epsilon_lower_bound`: the empirical differential-privacy lower bound of
  Jagielski et al. 2020 / Nasr et al. 2021. An (epsilon, delta)-DP training procedure
  forces every test to satisfy ``TPR <= e^eps FPR + delta`` and
  ``TNR <= e^eps FNR + delta``, so for each threshold

      eps >= log((TPR_lo - delta) / FPR_hi)   and   eps >= log((1 - FPR_hi - delta) / (1 - TPR_lo))

  where ``TPR_lo`` / ``FPR_hi`` are one-sided Clopper-Pearson bounds. The bound is the
  maximum over a label-free grid of at most ``max_thresholds`` thresholds; each bound is
  taken at ``alpha / (2 m)`` (Bonferroni over the ``2 m`` one-sided statements), so the
  reported value holds for all thresholds *simultaneously* at the stated confidence
  (default 95 %). It is a statement about this attack on this data, not a proof that the
  generator is private: a value of 0 means "no evidence of leakage", never "epsilon = 0".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from synth.stats.intervals import Interval, bootstrap, clopper_pearson


@dataclass(frozen=True)
class RocCounts:
    """Confusion counts at every distinct score threshold, strictest first.

    ``thresholds`` (m,) descending distinct scores; ``tp``/``fp`` (m,) int counts of
    members/non-members with ``score >= threshold``; ``n_pos``/``n_neg`` class sizes.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_pos: int
    n_neg: int

    @property
    def tpr(self) -> np.ndarray:
        return self.tp / self.n_pos

    @property
    def fpr(self) -> np.ndarray:
        return self.fp / self.n_neg


@dataclass(frozen=True)
class TprAtFpr:
    """TPR at the threshold that keeps FPR at or below ``target_fpr``.

    ``interval`` is Clopper-Pearson on ``true_positives / n_pos``; ``achieved_fpr`` is the
    FPR actually reached (<= target); ``allowed_false_positives`` = floor(target * n_neg).
    """

    tpr: float
    interval: Interval
    target_fpr: float
    achieved_fpr: float
    true_positives: int
    allowed_false_positives: int
    n_pos: int
    n_neg: int

    @property
    def reliable(self) -> bool:
        """Whether the target FPR is resolvable: at least 10 false positives allowed."""
        return self.target_fpr * self.n_neg >= 10


@dataclass(frozen=True)
class EpsilonBound:
    """The empirical epsilon lower bound and where it was attained.

    ``epsilon`` (>= 0) holds at confidence ``level`` simultaneously over ``n_thresholds``
    thresholds; ``tpr``/``fpr`` are the point rates at the threshold attaining it and
    ``tpr_low``/``fpr_high`` the Bonferroni-adjusted one-sided Clopper-Pearson bounds used;
    ``direction`` names the inequality (``"tpr/fpr"`` or ``"tnr/fnr"``), ``None`` when 0.
    """

    epsilon: float
    level: float
    delta: float
    n_thresholds: int
    tpr: float
    fpr: float
    tpr_low: float
    fpr_high: float
    direction: str | None


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float).ravel()
    y = np.asarray(labels).ravel().astype(int)
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} differ in length")
    if np.isnan(s).any():
        raise ValueError("membership scores contain NaN")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (non-member) or 1 (member)")
    return s, y


def roc_counts(scores: np.ndarray, labels: np.ndarray) -> RocCounts:
    """Cumulative TP/FP counts at each distinct threshold (see :class:`RocCounts`).

    Ties share a threshold, so the curve moves diagonally through tied groups.
    """
    s, y = _check(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # Compare values rather than diff(): diff of two equal infinities is NaN, not 0.
    last_of_group = np.r_[np.nonzero(s_sorted[1:] != s_sorted[:-1])[0], s.size - 1] if s.size else np.array([], int)
    tp = np.cumsum(y_sorted)[last_of_group]
    fp = last_of_group + 1 - tp
    return RocCounts(s_sorted[last_of_group], tp.astype(np.int64), fp.astype(np.int64), int(y.sum()), int(y.size - y.sum()))


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve in [0, 1]; NaN when a class is empty (e.g. a bootstrap draw)."""
    s, y = _check(scores, labels)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(s)  # average ranks: ties count one half
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_interval(scores: np.ndarray, labels: np.ndarray, *, n_boot: int = 200, seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of the AUC, resampling evaluation records."""
    s, y = _check(scores, labels)
    return bootstrap(lambda idx: auc(s[idx], y[idx]), s.size, n_boot=n_boot, seed=seed, level=level)


def roc_curve(scores: np.ndarray, labels: np.ndarray, *, max_points: int = 200) -> tuple[list[float], list[float]]:
    """The ROC curve from (0, 0) to (1, 1) as ``(fpr, tpr)`` lists of at most ``max_points``.

    Points are kept evenly along the curve's vertex sequence, always including both ends,
    so the figure stays small whatever the number of records.
    """
    c = roc_counts(scores, labels)
    fpr = np.r_[0.0, c.fpr] if c.n_neg else np.zeros(c.tp.size + 1)
    tpr = np.r_[0.0, c.tpr] if c.n_pos else np.zeros(c.tp.size + 1)
    if fpr.size > max_points:
        keep = np.unique(np.round(np.linspace(0, fpr.size - 1, max_points)).astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return [float(v) for v in fpr], [float(v) for v in tpr]


def tpr_at_fpr(scores: np.ndarray, labels: np.ndarray, target_fpr: float, *, level: float = 0.95) -> TprAtFpr:
    """The highest TPR over thresholds with ``FPR <= target_fpr`` (see :class:`TprAtFpr`)."""
    c = roc_counts(scores, labels)
    allowed = int(math.floor(target_fpr * c.n_neg + 1e-9))
    ok = c.fp <= allowed
    # Counts grow as the threshold loosens, so the last admissible threshold has the most TP.
    if ok.any():
        i = int(np.nonzero(ok)[0].max())
        tp, fp = int(c.tp[i]), int(c.fp[i])
    else:
        tp, fp = 0, 0
    return TprAtFpr(
        tpr=tp / c.n_pos if c.n_pos else float("nan"),
        interval=clopper_pearson(tp, c.n_pos, level),
        target_fpr=float(target_fpr),
        achieved_fpr=fp / c.n_neg if c.n_neg else float("nan"),
        true_positives=tp,
        allowed_false_positives=allowed,
        n_pos=c.n_pos,
        n_neg=c.n_neg,
    )


def advantage(scores: np.ndarray, labels: np.ndarray) -> float:
    """Membership advantage ``max_t TPR - FPR`` in [0, 1] (0 = no better than guessing)."""
    c = roc_counts(scores, labels)
    if c.n_pos == 0 or c.n_neg == 0:
        return float("nan")
    return float(max(0.0, np.max(c.tpr - c.fpr)))


def advantage_interval(scores: np.ndarray, labels: np.ndarray, *, n_boot: int = 200, seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of :func:`advantage`, resampling evaluation records."""
    s, y = _check(scores, labels)
    return bootstrap(lambda idx: advantage(s[idx], y[idx]), s.size, n_boot=n_boot, seed=seed, level=level)


def candidate_thresholds(scores: np.ndarray, max_thresholds: int = 100) -> np.ndarray:
    """A label-free grid of at most ``max_thresholds`` thresholds (actual score values).

    All distinct scores when there are few; otherwise pooled-score quantiles, half of
    them log-spaced towards both tails (where epsilon bounds are decided) and half
    evenly spaced.
    """
    s = np.unique(np.asarray(scores, dtype=float))
    if s.size <= max_thresholds:
        return s[::-1]
    n_tail = max_thresholds // 4
    tail = np.geomspace(1.0 / s.size, 0.5, n_tail)
    levels = np.unique(np.r_[tail, 1.0 - tail, np.linspace(0.0, 1.0, max_thresholds - 2 * n_tail)])
    return np.unique(np.quantile(s, np.clip(levels, 0.0, 1.0), method="inverted_cdf"))[::-1]


def epsilon_lower_bound(
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    level: float = 0.95,
    delta: float = 0.0,
    max_thresholds: int = 100,
) -> EpsilonBound:
    """Empirical epsilon lower bound at confidence ``level`` (see the module docstring)."""
    s, y = _check(scores, labels)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    thresholds = candidate_thresholds(s, max_thresholds)
    m = max(thresholds.size, 1)
    # Two one-sided bounds per threshold, each at alpha / (2m): a two-sided interval at
    # level 1 - alpha/m has exactly that much in each tail.
    each_level = 1.0 - (1.0 - level) / m
    best = EpsilonBound(0.0, level, delta, int(thresholds.size), float("nan"), float("nan"), float("nan"), float("nan"), None)
    if n_pos == 0 or n_neg == 0:
        return best
    pos, neg = s[y == 1], s[y == 0]
    for t in thresholds:
        tp = int((pos >= t).sum())
        fp = int((neg >= t).sum())
        tpr_lo = clopper_pearson(tp, n_pos, each_level).low
        fpr_hi = clopper_pearson(fp, n_neg, each_level).high
        candidates = []
        if tpr_lo - delta > 0:
            candidates.append((math.log((tpr_lo - delta) / fpr_hi), "tpr/fpr"))
        if 1.0 - fpr_hi - delta > 0:
            candidates.append((math.log((1.0 - fpr_hi - delta) / (1.0 - tpr_lo)), "tnr/fnr"))
        for eps, direction in candidates:
            if eps > best.epsilon:
                best = EpsilonBound(eps, level, delta, int(thresholds.size), tp / n_pos, fp / n_neg, tpr_lo, fpr_hi, direction)
    return best
