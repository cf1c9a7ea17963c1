"""ROC analysis of a membership-inference attack, with the uncertainty of each number.

Conventions: ``scores`` is a float array (n,), higher = "more likely a member";
``labels`` is an array (n,) of 1 (member, a training record) and 0 (non-member). The
attack at threshold ``t`` says "member" for every record with ``score >= t``; TPR is the
share of members it flags and FPR the share of non-members it flags.

What is computed:

- :func:`auc`: the area under the ROC curve, the Mann-Whitney probability that a random
  member outscores a random non-member (ties count one half). 0.5 = chance.
- :func:`tpr_at_fpr`: the best TPR among thresholds whose FPR does not exceed a target
  (e.g. 1 %). Its interval accounts for both the member count and the threshold's own
  uncertainty (the threshold is a quantile of the non-member scores): the true
  target-FPR threshold lies between two order statistics of the non-member scores with
  97.5 % confidence (binomial order-statistic bounds, each side at 1.25 %), and the TPR
  interval runs from the one-sided 98.75 % Clopper-Pearson lower bound at the stricter of
  the two to the upper bound at the looser one (union bound: at least 95 % in all). With
  few non-members a low target FPR allows zero or one false positive and the estimate is
  coarse: it is *reliable* only when ``target * n_neg >= 10``, so the lowest FPR a holdout
  supports is ``10 / n_neg`` (the result says so).
- :func:`advantage`: ``max_t TPR(t) - FPR(t)`` (Yeom et al. 2018 membership advantage), the
  one-sided Kolmogorov-Smirnov distance between the two score distributions. Its interval
  is distribution-free: by the Dvoretzky-Kiefer-Wolfowitz inequality with Massart's
  constant each empirical distribution function is within ``sqrt(log(4 / alpha) / (2 n))``
  of the truth everywhere with probability ``1 - alpha / 2``, so the advantage is within the
  sum of the two (coverage at least ``1 - alpha``, also at the null value 0, which a
  bootstrap of a maximum never covers).
- :func:`epsilon_lower_bound`: the empirical differential-privacy lower bound (Kairouz et
  al. 2015, thm 2.1; Jagielski et al. 2020; Nasr et al. 2021). An (epsilon, delta)-DP
  training procedure confines every test's (FPR, FNR) to the region cut by four
  inequalities::

      FPR + e^eps FNR >= 1 - delta       e^eps FPR + FNR >= 1 - delta
      FNR + e^eps FPR <= e^eps + delta   ... i.e. with TPR = 1 - FNR, for each threshold

      eps >= log((TPR - delta) / FPR)            eps >= log((1 - FPR - delta) / (1 - TPR))
      eps >= log((FPR - delta) / TPR)            eps >= log((1 - TPR - delta) / (1 - FPR))

  The last two are the first two for the reversed test ("member" when the score is
  *low*): an attack that does significantly worse than chance (e.g. against a privacy
  filter that leaves a hole around every member) is evidence too. Each rate is replaced
  by its one-sided Clopper-Pearson bound in the direction that makes the inequality
  conservative (``TPR_lo``/``FPR_hi`` for the first two, ``TPR_hi``/``FPR_lo`` for the
  reversed ones). The bound is the maximum over a label-free grid of at most
  ``max_thresholds`` thresholds; every one of the ``4 m`` one-sided bounds is taken at
  ``alpha / (4 m)`` (Bonferroni), so the reported value holds for all thresholds and both
  directions *simultaneously* at the stated confidence (default 95 %). It is a statement
  about this attack on this data, not a proof that the generator is private: a value of 0
  means "no evidence of leakage", never "epsilon = 0".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from synth.stats.intervals import Interval, clopper_pearson


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

    ``interval`` covers the TPR at the population's target-FPR threshold (member count and
    threshold uncertainty, see the module docstring); ``achieved_fpr`` is the FPR actually
    reached (<= target); ``allowed_false_positives`` = floor(target * n_neg).
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
    ``tpr_low``/``fpr_high`` the Bonferroni-adjusted one-sided Clopper-Pearson bounds used
    (for a reversed inequality: the TPR upper and FPR lower bounds); ``direction`` names the
    inequality (``"tpr/fpr"``, ``"tnr/fnr"``, ``"fpr/tpr"`` or ``"fnr/tnr"``, the last two for
    an attack worse than chance), ``None`` when 0.
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


def auc_standard_error(scores: np.ndarray, labels: np.ndarray, clusters: np.ndarray | None = None) -> float:
    """Standard error of the AUC from placement values, distribution-free.

    ``V10_i`` is the share of non-members member ``i`` outscores (ties one half) and
    ``V01_j`` the share of members that outscore non-member ``j``. Without ``clusters`` this
    is DeLong's estimate (DeLong, DeLong & Clarke-Pearson 1988, *Biometrics* 44:837),
    ``sqrt(var(V10) / n_pos + var(V01) / n_neg)``. With ``clusters`` (n,) labels, records of
    one cluster may move together (e.g. records identical on every column, which every
    attack scores alike): Obuchowski's clustered estimate (1997, *Biometrics* 53:567) sums
    the placements per cluster, so a cluster counts as one unit. NaN when a class has
    fewer than 2 records.
    """
    s, y = _check(scores, labels)
    pos, neg = s[y == 1], s[y == 0]
    if pos.size < 2 or neg.size < 2:
        return float("nan")
    # Placements from mid-ranks: within-class ranks removed from the pooled ranks.
    pooled = stats.rankdata(np.r_[pos, neg])
    v10 = (pooled[: pos.size] - stats.rankdata(pos)) / neg.size
    v01 = 1.0 - (pooled[pos.size :] - stats.rankdata(neg)) / pos.size
    if clusters is None:
        return float(np.sqrt(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size))
    c = np.asarray(clusters).ravel()
    if c.shape != y.shape:
        raise ValueError(f"clusters {c.shape} and labels {y.shape} differ in length")
    _, cid = np.unique(np.r_[c[y == 1], c[y == 0]], return_inverse=True)
    n_c = int(cid.max()) + 1
    if n_c < 2:
        return float("nan")
    a = float(v10.mean())
    x = np.bincount(cid[: pos.size], weights=v10 - a, minlength=n_c)  # X_i - m_i A
    z = np.bincount(cid[pos.size :], weights=v01 - a, minlength=n_c)  # Y_i - n_i A
    f = n_c / (n_c - 1)
    var = f * (np.sum(x**2) / pos.size**2 + np.sum(z**2) / neg.size**2 + 2 * np.sum(x * z) / (pos.size * neg.size))
    return float(np.sqrt(max(var, 0.0)))


def auc_interval(scores: np.ndarray, labels: np.ndarray, *, level: float = 0.95,
                 clusters: np.ndarray | None = None) -> Interval:
    """Normal interval of the AUC with the standard error of :func:`auc_standard_error`
    (DeLong, or Obuchowski's clustered one with ``clusters``), clipped to [0, 1]."""
    value, se = auc(scores, labels), auc_standard_error(scores, labels, clusters)
    method = "DeLong" if clusters is None else "DeLong, clustered (Obuchowski)"
    if not (np.isfinite(value) and np.isfinite(se)):
        return Interval(float("nan"), float("nan"), method, level)
    z = float(stats.norm.ppf(0.5 + level / 2))
    return Interval(float(max(0.0, value - z * se)), float(min(1.0, value + z * se)), method, level)


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
    s, y = _check(scores, labels)
    c = roc_counts(s, y)
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
        interval=_tpr_interval(s[y == 1], s[y == 0], target_fpr, level),
        target_fpr=float(target_fpr),
        achieved_fpr=fp / c.n_neg if c.n_neg else float("nan"),
        true_positives=tp,
        allowed_false_positives=allowed,
        n_pos=c.n_pos,
        n_neg=c.n_neg,
    )


def _tpr_interval(pos: np.ndarray, neg: np.ndarray, target_fpr: float, level: float) -> Interval:
    """TPR at the population's target-FPR threshold: threshold and member-count uncertainty
    (module docstring); each of the four one-sided statements at ``(1 - level) / 4``."""
    method = "clopper-pearson with order-statistic threshold bounds"
    n_pos, n_neg = pos.size, neg.size
    if n_pos == 0 or n_neg == 0:
        return Interval(float("nan"), float("nan"), method, level)
    a4 = (1.0 - level) / 4.0
    desc = np.sort(neg)[::-1]
    # Non-members at or above the true threshold: Binomial(n_neg, target) -> [j_lo, j_hi].
    j_lo = int(stats.binom.ppf(a4, n_neg, target_fpr))
    j_hi = int(stats.binom.ppf(1.0 - a4, n_neg, target_fpr))
    # The true threshold is at most the j_lo-th highest non-member score and above the
    # (j_hi + 1)-th; members counted at those two thresholds bracket its true positives.
    tp_strict = int((pos >= desc[j_lo - 1]).sum()) if j_lo >= 1 else 0
    tp_loose = int((pos > desc[j_hi]).sum()) if j_hi < n_neg else n_pos
    one_sided = 1.0 - 2.0 * a4  # a two-sided CP interval at this level has a4 in each tail
    low = clopper_pearson(tp_strict, n_pos, one_sided).low
    high = clopper_pearson(tp_loose, n_pos, one_sided).high
    return Interval(float(low), float(high), method, level)


def advantage(scores: np.ndarray, labels: np.ndarray) -> float:
    """Membership advantage ``max_t TPR - FPR`` in [0, 1] (0 = no better than guessing)."""
    c = roc_counts(scores, labels)
    if c.n_pos == 0 or c.n_neg == 0:
        return float("nan")
    return float(max(0.0, np.max(c.tpr - c.fpr)))


def advantage_interval(scores: np.ndarray, labels: np.ndarray, *, level: float = 0.95) -> Interval:
    """Distribution-free (DKW, Massart's constant) interval of :func:`advantage`.

    Each class's empirical distribution function is within ``sqrt(log(4 / alpha) / (2 n))``
    of its population curve with probability ``1 - alpha / 2``; the advantage (a supremum of
    their difference) moves by at most the sum. Coverage >= ``level``, including at 0.
    """
    s, y = _check(scores, labels)
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    method = "DKW (Massart), distribution-free"
    if n_pos == 0 or n_neg == 0:
        return Interval(float("nan"), float("nan"), method, level)
    alpha = 1.0 - level
    half = math.sqrt(math.log(4.0 / alpha) / (2 * n_pos)) + math.sqrt(math.log(4.0 / alpha) / (2 * n_neg))
    a = advantage(s, y)
    return Interval(float(max(0.0, a - half)), float(min(1.0, a + half)), method, level)


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
    """Empirical epsilon lower bound at confidence ``level`` from all four DP inequalities
    (see the module docstring)."""
    s, y = _check(scores, labels)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    thresholds = candidate_thresholds(s, max_thresholds)
    m = max(thresholds.size, 1)
    # Four one-sided bounds per threshold (TPR and FPR, each from below and above), each at
    # alpha / (4m): a two-sided interval at level 1 - alpha/(2m) has exactly that much in each tail.
    each_level = 1.0 - (1.0 - level) / (2 * m)
    nan = float("nan")
    best = EpsilonBound(0.0, level, delta, int(thresholds.size), nan, nan, nan, nan, None)
    if n_pos == 0 or n_neg == 0:
        return best
    pos, neg = s[y == 1], s[y == 0]
    for t in thresholds:
        tp = int((pos >= t).sum())
        fp = int((neg >= t).sum())
        tpr_ci = clopper_pearson(tp, n_pos, each_level)
        fpr_ci = clopper_pearson(fp, n_neg, each_level)
        candidates = (
            # (numerator, denominator, direction, TPR bound used, FPR bound used)
            (tpr_ci.low - delta, fpr_ci.high, "tpr/fpr", tpr_ci.low, fpr_ci.high),
            (1.0 - fpr_ci.high - delta, 1.0 - tpr_ci.low, "tnr/fnr", tpr_ci.low, fpr_ci.high),
            (fpr_ci.low - delta, tpr_ci.high, "fpr/tpr", tpr_ci.high, fpr_ci.low),
            (1.0 - tpr_ci.high - delta, 1.0 - fpr_ci.low, "fnr/tnr", tpr_ci.high, fpr_ci.low),
        )
        for num, den, direction, tpr_bound, fpr_bound in candidates:
            if num <= 0 or den <= 0:
                continue
            eps = math.log(num / den)
            if eps > best.epsilon:
                best = EpsilonBound(eps, level, delta, int(thresholds.size), tp / n_pos, fp / n_neg,
                                    tpr_bound, fpr_bound, direction)
    return best
