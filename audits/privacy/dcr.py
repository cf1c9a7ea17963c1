"""Distance-to-closest-record (DCR) metrics, as plain functions on encoded arrays.

All distances come from :func:`synth.neighbors.search.nearest` (exact, blocked) on rows
encoded by :class:`synth.neighbors.encoding.MixedEncoder` fitted on the training data.
The reference side is never subsampled: every query row given is compared with every
training and every holdout row. The functions take whatever query rows they are given --
all synthetic rows, or (the memorisation audit above ``max_query_rows``) a uniform random
sample of them, whose sampling uncertainty the intervals then carry (Wilson on the
sampled count, bootstraps over the sampled rows).

**DCR share, compared at equal size.** For synthetic row ``i`` let ``d_T`` be its distance
to the closest training row and ``d_H`` to the closest holdout row. Its score is
``q_i = 1`` when ``d_T < d_H``, ``0`` when ``d_T > d_H``, and for a tie ``a / (a + b)`` where
``a`` training rows and ``b`` holdout rows sit at that same smallest distance (one of
each: 1/2). If the generator did not memorise, training and holdout rows are
exchangeable draws from one population, so ``E[q_i] = n_T / (n_T + n_H)`` exactly, ties
and all. The reported share puts the two reference sets on an equal footing by
weighting each training "hit" by ``1/n_T`` and each holdout hit by ``1/n_H``::

    Q = mean(q_i)
    dcr_share = (Q / n_T) / (Q / n_T + (1 - Q) / n_H)

which is 0.5 for a generator that does not memorise, 1 when every synthetic row sits on a
training row, and equals the plain share "closer to training than to an equal-size
holdout (ties 1/2)" when ``n_T == n_H``. It is exact: no part of the training data is
dropped or subsampled to match the holdout's size.

Why not average over holdout-size chunks of the training data: a synthetic copy of a
training row is closer than the holdout only for the one chunk holding that row, so with
``k`` chunks a pure copying generator scores ``(1 + (k - 1) / 2) / k`` (0.625 for an 80/20
split) instead of 1, and partial memorisation drowns. The weighting above keeps the
equal-size null of 0.5 and the full signal.

Interval: randomization (design-based), mapped through the monotone weighting. Write
``Q`` as a sum over the real *pool* (training plus holdout persons): each synthetic row is
owned by its closest pool person (ties split: an exact tie is shared by every pool person
holding that exact record, any other tie half and half between the closest training and
the closest holdout person), ``y_p`` is the share of synthetic rows person ``p`` owns, and
``Q = sum over training persons of y_p``. Without memorisation the split of the pool is
independent of the synthetic data, so ``Q`` is the sum of a random sample of ``n_T`` of the
pool's ``y_p`` and its variance is the finite-population formula
(:func:`synth.stats.randomization.partition_variance`). That variance accounts for the
sampling of training, holdout *and* synthetic rows together: the ``y_p`` carry the
synthetic sample's own noise, and when there are many synthetic rows per real record
(20,000 against 4,000) the share behaves like a sample of real records, not of synthetic
rows, which an interval treating synthetic rows as independent misses (it covered 0.5 in
only 60 % of null draws at 20,000 rows). The interval is ``Q +- z sd`` (normal
approximation); the p-value is the one-sided normal test of ``Q`` against ``n_T / (n_T + n_H)``.
Without the owners (the function called on distances alone) the interval is Wilson on
``Q`` with synthetic rows as independent units.

**SDMetrics' definition.** :func:`dcr_share_sdmetrics_definition` reproduces
``sdmetrics.single_table.DCROverfittingProtection`` (0.32): per column, numeric/datetime
differences scaled by the *reference set's* range and capped at 1 (a constant reference
column counts any difference as 1), categorical/boolean mismatch 1, missing vs present
1, missing vs missing 0; the row distance is the mean over columns; a synthetic row is
"closer to training" only when strictly closer (ties go to the holdout); no size
correction. It is computed here as an L1 nearest-neighbour search on an encoding that
makes the L1 distance equal that mean exactly whenever the synthetic row's numeric values
lie within the reference range (the cap at 1 can then not bind); rows outside the range
get an upper bound and are counted in ``n_outside_range``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from synth.audits.base import Interval
from synth.neighbors.duplicates import row_keys
from synth.neighbors.search import Metric, nearest
from synth.schema import ColumnKind, Schema
from synth.stats.bootstrap import replicates
from synth.stats.intervals import bootstrap, percentile_interval, wilson
from synth.stats.randomization import partition_variance

# Two distances this close are a tie. The encoder stores rows as float32, so distances
# that are equal in the data (an age one year off, on either side) come out different
# in the 7th digit; the float64 expansion of the euclidean distance adds about
# 1e-15 / (2 d) absolutely. Distinct distances in real data are rarely within 1e-6
# relative of each other, so this turns round-off back into ties without merging them.
_TIE_RTOL = 1e-6
_TIE_ATOL = 1e-9
# SDMetrics' definition is computed in float64 end to end (here and in SDMetrics).
_SDM_RTOL = 1e-12


def _ties(a: np.ndarray, b: np.ndarray, rtol: float = _TIE_RTOL, atol: float = _TIE_ATOL) -> np.ndarray:
    return np.abs(a - b) <= atol + rtol * np.maximum(np.abs(a), np.abs(b))


def count_within(
    queries: np.ndarray,
    reference: np.ndarray,
    radius: np.ndarray,
    *,
    metric: Metric = "euclidean",
    block_queries: int = 2048,
    block_reference: int = 16384,
) -> np.ndarray:
    """How many reference rows lie within ``radius[i]`` (inclusive, up to round-off) of query ``i``.

    Args:
        queries: (n_q, d) encoded rows; reference: (n_r, d); radius: (n_q,) distances.

    Returns:
        (n_q,) int64 counts. Exact: identical reference rows are merged first (with their
        multiplicity), then the neighbour count ``k`` doubles until the k-th distinct
        neighbour lies outside the radius, so coarse data with thousands of duplicates
        stays cheap. Queries go in batches of ``block_queries`` to bound memory.
    """
    n_q = len(queries)
    counts = np.zeros(n_q, dtype=np.int64)
    if n_q == 0 or len(reference) == 0:
        return counts
    distinct, multiplicity = np.unique(np.asarray(reference), axis=0, return_counts=True)
    n_r = len(distinct)
    limit = np.asarray(radius, dtype=np.float64) * (1 + _TIE_RTOL) + _TIE_ATOL
    for b in range(0, n_q, block_queries):
        todo = np.arange(b, min(b + block_queries, n_q))
        k = min(8, n_r)
        while todo.size:
            d, idx = nearest(queries[todo], distinct, k, metric=metric,
                             block_queries=block_queries, block_reference=block_reference)
            inside = d <= limit[todo, None]
            more = inside[:, -1] & (k < n_r)
            done = ~more
            counts[todo[done]] = (inside[done] * multiplicity[idx[done]]).sum(axis=1)
            todo = todo[more]
            k = min(2 * k, n_r)
    return counts


def _to_equal_size(q: float, n_train: int, n_holdout: int) -> float:
    if not np.isfinite(q):
        return float("nan")
    train_w, hold_w = q / n_train, (1.0 - q) / n_holdout
    return float(train_w / (train_w + hold_w)) if (train_w + hold_w) > 0 else float("nan")


@dataclass(frozen=True)
class DCRShare:
    """The equal-size DCR share (see the module docstring) and its counts.

    ``value``: equal-size share (0.5 expected without memorisation); ``ci``: its interval;
    ``raw_share``: ``Q``, the unweighted mean score; ``null_share``: ``n_T / (n_T + n_H)``,
    what ``Q`` is without memorisation; ``p_value``: one-sided test of ``Q > null_share``
    (randomization, or binomial without owners); ``closer_to_train`` /
    ``closer_to_holdout`` / ``ties``: row counts.
    """

    value: float
    ci: Interval
    raw_share: float
    null_share: float
    p_value: float
    n_synthetic: int
    n_train: int
    n_holdout: int
    closer_to_train: int
    closer_to_holdout: int
    ties: int

    def details(self) -> dict[str, float | int | str]:
        """JSON-ready counts for a metric's ``details``."""
        return {
            "n_synthetic": self.n_synthetic,
            "n_train": self.n_train,
            "n_holdout": self.n_holdout,
            "closer_to_train": self.closer_to_train,
            "closer_to_holdout": self.closer_to_holdout,
            "ties": self.ties,
            "raw_share_closer_to_train": self.raw_share,
            "raw_share_expected_without_memorisation": self.null_share,
            "p_value_one_sided": self.p_value,
        }


def dcr_share_from_distances(
    d_train: np.ndarray,
    d_holdout: np.ndarray,
    n_train: int,
    n_holdout: int,
    *,
    tie_train_fraction: np.ndarray | None = None,
    owner_shares: np.ndarray | None = None,
    n_train_persons: int | None = None,
    level: float = 0.95,
) -> DCRShare:
    """The equal-size DCR share from each synthetic row's closest distances.

    Args:
        d_train / d_holdout: (n_s,) distance of each synthetic row to its closest
            training / holdout row.
        n_train / n_holdout: sizes of the two reference sets (persons, with groups).
        tie_train_fraction: (n_s,) share ``a / (a + b)`` of training rows among the rows
            at the tied distance, used where the two distances tie; ``None`` counts
            every tie 1/2 (exact for equal sizes and single ties).
        owner_shares: (n_persons,) synthetic rows owned by each pool person (training
            persons first, see :func:`owner_shares`); with ``n_train_persons`` it gives the
            randomization interval of the module docstring, else Wilson.
    """
    d_train = np.asarray(d_train, dtype=np.float64)
    d_holdout = np.asarray(d_holdout, dtype=np.float64)
    n = d_train.size
    tie = _ties(d_train, d_holdout)
    closer = (d_train < d_holdout) & ~tie
    farther = (d_train > d_holdout) & ~tie
    tie_score = np.full(n, 0.5) if tie_train_fraction is None else np.asarray(tie_train_fraction, dtype=np.float64)
    q = np.where(closer, 1.0, np.where(farther, 0.0, tie_score))
    total = float(q.sum())
    raw = total / n if n else float("nan")
    null = n_train / (n_train + n_holdout)
    if owner_shares is not None and n_train_persons is not None and n:
        sd = float(np.sqrt(partition_variance(owner_shares, n_train_persons))) / n
        z = float(stats.norm.ppf(0.5 + level / 2))
        lo, hi = max(0.0, raw - z * sd), min(1.0, raw + z * sd)
        method = "randomization over the split (synthetic rows owned by their closest real person)"
        p_value = float(stats.norm.sf((raw - null) / sd)) if sd > 0 else float(raw <= null)
    else:
        w = wilson(total, n, level)  # type: ignore[arg-type]  # fractional ties: Wilson's formula only needs p
        lo, hi, method = w.low, w.high, "wilson"
        p_value = float(stats.binomtest(int(round(total)), n, null, alternative="greater").pvalue) if n else float("nan")
    ci = Interval(_to_equal_size(lo, n_train, n_holdout), _to_equal_size(hi, n_train, n_holdout), method, level)
    return DCRShare(
        value=_to_equal_size(raw, n_train, n_holdout),
        ci=ci,
        raw_share=raw,
        null_share=null,
        p_value=p_value,
        n_synthetic=n,
        n_train=n_train,
        n_holdout=n_holdout,
        closer_to_train=int(closer.sum()),
        closer_to_holdout=int(farther.sum()),
        ties=int(tie.sum()),
    )


def tie_train_fraction(
    queries: np.ndarray,
    train: np.ndarray,
    holdout: np.ndarray,
    d_train: np.ndarray,
    d_holdout: np.ndarray,
    *,
    metric: Metric = "euclidean",
    block_queries: int = 2048,
    block_reference: int = 16384,
) -> np.ndarray:
    """For queries whose closest training and holdout distances tie, ``a / (a + b)``.

    ``a`` / ``b`` count training / holdout rows at that distance. Returns (n_q,) float64,
    NaN where there is no tie. Only tied rows are searched again.
    """
    out = np.full(len(queries), np.nan)
    tied = np.flatnonzero(_ties(np.asarray(d_train), np.asarray(d_holdout)))
    if tied.size == 0:
        return out
    radius = np.maximum(d_train[tied], d_holdout[tied])
    kw = dict(metric=metric, block_queries=block_queries, block_reference=block_reference)
    a = count_within(queries[tied], train, radius, **kw)
    b = count_within(queries[tied], holdout, radius, **kw)
    out[tied] = a / np.maximum(a + b, 1)
    return out


def owner_shares(
    d_train: np.ndarray,
    d_holdout: np.ndarray,
    i_train: np.ndarray,
    i_holdout: np.ndarray,
    train_persons: np.ndarray,
    holdout_persons: np.ndarray,
    n_persons: int,
    *,
    query_keys: np.ndarray | None = None,
    pool_keys: np.ndarray | None = None,
) -> np.ndarray:
    """Synthetic rows owned by each real person, (n_persons,) float (see the module docstring).

    Args:
        d_train / d_holdout: (n_q,) closest distances of the synthetic query rows;
        i_train / i_holdout: (n_q,) positions of those closest training / holdout rows.
        train_persons / holdout_persons: person code of every training / holdout row.
        query_keys / pool_keys: exact-row keys (:func:`row_keys`) of the query rows and of
            the training then holdout rows; with them an exact tie is shared by every pool
            person holding the record, else half and half.
    """
    y = np.zeros(n_persons)
    d_t, d_h = np.asarray(d_train, dtype=np.float64), np.asarray(d_holdout, dtype=np.float64)
    tie = _ties(d_t, d_h)
    closer, farther = (d_t < d_h) & ~tie, (d_t > d_h) & ~tie
    np.add.at(y, train_persons[i_train[closer]], 1.0)
    np.add.at(y, holdout_persons[i_holdout[farther]], 1.0)
    exact = tie & (d_t == 0) if query_keys is not None and pool_keys is not None else np.zeros_like(tie)
    halves = tie & ~exact
    np.add.at(y, train_persons[i_train[halves]], 0.5)
    np.add.at(y, holdout_persons[i_holdout[halves]], 0.5)
    if exact.any():
        pool_persons = np.r_[train_persons, holdout_persons]
        pairs = np.unique(np.column_stack([pool_keys, pool_persons]), axis=0)  # each (record, person) once
        holders = np.bincount(pairs[:, 0], minlength=int(pairs[:, 0].max()) + 1)
        rows_per_key = np.bincount(query_keys[exact], minlength=holders.size)
        np.add.at(y, pairs[:, 1], rows_per_key[pairs[:, 0]] / holders[pairs[:, 0]])
    return y


def dcr_share(
    synthetic: np.ndarray,
    train: np.ndarray,
    holdout: np.ndarray,
    *,
    metric: Metric = "euclidean",
    level: float = 0.95,
    block_queries: int = 2048,
    block_reference: int = 16384,
    closest: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
    train_persons: np.ndarray | None = None,
    holdout_persons: np.ndarray | None = None,
) -> DCRShare:
    """Equal-size DCR share of encoded ``synthetic`` (n_s, d) against ``train`` (n_T, d)
    and ``holdout`` (n_H, d), with its randomization interval; see the module docstring.

    ``closest``: the synthetic rows' closest distances to training and to holdout and the
    positions of those rows, each (n_s,), when the caller has searched already (the
    memorisation audit shares its searches between metrics); otherwise they are searched
    here. ``train_persons`` / ``holdout_persons``: person codes of the rows (training
    persons first; default one person per row); sizes and the split are counted in persons.
    """
    kw = dict(metric=metric, block_queries=block_queries, block_reference=block_reference)
    if closest is None:
        dt, it = nearest(synthetic, train, 1, **kw)
        dh, ih = nearest(synthetic, holdout, 1, **kw)
        closest = (dt[:, 0], dh[:, 0], it[:, 0], ih[:, 0])
    d_t, d_h, i_t, i_h = closest
    if train_persons is None or holdout_persons is None:
        train_persons, holdout_persons = np.arange(len(train)), np.arange(len(train), len(train) + len(holdout))
    n_tp = int(np.unique(train_persons).size)
    n_persons = n_tp + int(np.unique(holdout_persons).size)
    frac = tie_train_fraction(synthetic, train, holdout, d_t, d_h, **kw)
    q_keys, t_keys, h_keys = row_keys(np.asarray(synthetic, dtype=np.float32), np.asarray(train, dtype=np.float32),
                                      np.asarray(holdout, dtype=np.float32))
    shares = owner_shares(d_t, d_h, i_t, i_h, train_persons, holdout_persons, n_persons,
                          query_keys=q_keys, pool_keys=np.r_[t_keys, h_keys])
    return dcr_share_from_distances(d_t, d_h, n_tp, n_persons - n_tp, tie_train_fraction=frac,
                                    owner_shares=shares, n_train_persons=n_tp, level=level)


def _ratio_of_medians(num: np.ndarray, den: np.ndarray) -> float:
    top, bottom = float(np.median(num)), float(np.median(den))
    if bottom == 0.0:
        return 1.0 if top == 0.0 else float("inf")
    return top / bottom


def _two_sample_interval(
    a: np.ndarray, b: np.ndarray, n_boot: int, seed: int, level: float
) -> Interval:
    """Bootstrap interval of median(a) / median(b), resampling a and b independently."""

    def stat(ia: np.ndarray, ib: np.ndarray) -> float:
        return _ratio_of_medians(a[ia], b[ib])

    # a from the seed's stream, b from its own ([seed, 1]): the draws of the unsharded form.
    return bootstrap(stat, (a.size, b.size), n_boot=n_boot, seed=seed, level=level,
                     streams=((seed, (a.size,)), ([seed, 1], (b.size,))))


def dcr_baseline_ratio(
    d_synthetic_train: np.ndarray,
    d_holdout_train: np.ndarray,
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, Interval]:
    """median DCR(synthetic -> train) / median DCR(holdout -> train), with a bootstrap interval.

    Both inputs are closest distances to the *same* training set, shapes (n_s,) and (n_H,),
    so the ratio is free of reference-size effects: about 1 when synthetic rows sit as
    close to training rows as fresh real rows do, well below 1 under memorisation.
    0 / 0 counts as 1 (both medians on exact matches).
    """
    a = np.asarray(d_synthetic_train, dtype=np.float64)
    b = np.asarray(d_holdout_train, dtype=np.float64)
    return _ratio_of_medians(a, b), _two_sample_interval(a, b, n_boot, seed, level)


def nndr(d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """Nearest-neighbour distance ratio d1 / d2 per row (0 / 0 counts as 1: two exact matches
    single nothing out). Shapes (n,) -> (n,), values in [0, 1]."""
    d1 = np.asarray(d1, dtype=np.float64)
    d2 = np.asarray(d2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d2 > 0, d1 / np.where(d2 > 0, d2, 1.0), 1.0)


def nndr_ratio(
    synthetic_d12: np.ndarray,
    holdout_d12: np.ndarray,
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, Interval, float, float]:
    """median NNDR(synthetic -> train) / median NNDR(holdout -> train).

    Args:
        synthetic_d12 / holdout_d12: (n, 2) distances to the first and second closest
            training rows.

    Returns:
        ``(ratio, interval, median_nndr_synthetic, median_nndr_holdout)``; about 1 expected,
        well below 1 when synthetic rows single out individual training rows.
    """
    a = nndr(synthetic_d12[:, 0], synthetic_d12[:, 1])
    b = nndr(holdout_d12[:, 0], holdout_d12[:, 1])
    return (_ratio_of_medians(a, b), _two_sample_interval(a, b, n_boot, seed, level),
            float(np.median(a)), float(np.median(b)))


@dataclass(frozen=True)
class AdversarialAccuracy:
    """Per-row terms of the nearest-neighbour adversarial accuracy (Yale et al. 2020).

    ``real_term[i]`` is 1 when real row ``i``'s closest synthetic row is farther than its
    closest other real row; ``synthetic_term[j]`` is 1 when synthetic row ``j``'s closest
    real row is farther than its closest other synthetic row. AA is the mean of the two
    terms' means: 0.5 when real and synthetic rows are indistinguishable by a 1-NN
    classifier, near 0 when synthetic rows sit on real rows (copies), near 1 when the
    two are far apart.
    """

    real_term: np.ndarray
    synthetic_term: np.ndarray

    @property
    def value(self) -> float:
        return 0.5 * (float(self.real_term.mean()) + float(self.synthetic_term.mean()))


def adversarial_accuracy(
    d_real_synthetic: np.ndarray,
    d_real_real: np.ndarray,
    d_synthetic_real: np.ndarray,
    d_synthetic_synthetic: np.ndarray,
) -> AdversarialAccuracy:
    """NNAA terms from closest distances: real->synthetic (n_r,), real->other real (n_r,),
    synthetic->real (n_s,), synthetic->other synthetic (n_s,).

    A tie (both closest rows at the same distance, e.g. exact natural twins on both sides)
    counts 1/2, as a random choice between the two would: with a strict comparison ties
    count 0, which biases the accuracy down by the share of tied rows, and unequally for
    a large and a small real set (more natural twins in the larger), so the privacy loss
    would not be 0 without memorisation.
    """
    def term(far: np.ndarray, near: np.ndarray) -> np.ndarray:
        far, near = np.asarray(far, dtype=np.float64), np.asarray(near, dtype=np.float64)
        return np.where(_ties(far, near), 0.5, (far > near).astype(np.float64))

    return AdversarialAccuracy(
        real_term=term(d_real_synthetic, d_real_real),
        synthetic_term=term(d_synthetic_real, d_synthetic_synthetic),
    )


def nnaa_privacy_loss(
    aa_train: AdversarialAccuracy,
    aa_holdout: AdversarialAccuracy,
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, Interval, Interval, Interval]:
    """AA(holdout vs synthetic) - AA(train vs synthetic), 0 expected, > 0 means leakage.

    Both AAs are computed on the rows given (all rows, or uniform random samples of query
    rows, each compared with every reference row); their sizes need not match: under exchangeability
    each AA is 0.5 up to ``1 / (2 (n_real + n_synthetic - 1))``, whatever the sizes. The
    bootstrap resamples synthetic rows jointly for both AAs (the same synthetic rows enter
    both) and training and holdout rows independently.

    Returns:
        ``(loss, loss_interval, aa_train_interval, aa_holdout_interval)``.
    """
    n_s = aa_train.synthetic_term.size
    r_t, r_h = aa_train.real_term, aa_holdout.real_term
    s_t, s_h = aa_train.synthetic_term, aa_holdout.synthetic_term

    def both(i_s: np.ndarray, i_t: np.ndarray, i_h: np.ndarray) -> np.ndarray:
        return np.array([0.5 * (r_t[i_t].mean() + s_t[i_s].mean()), 0.5 * (r_h[i_h].mean() + s_h[i_s].mean())])

    # Synthetic rows from the seed's stream, the two real sets in turn from [seed, 2].
    arr = replicates(both, (n_s, r_t.size, r_h.size), n_boot=n_boot,
                     streams=((seed, (n_s,)), ([seed, 2], (r_t.size, r_h.size))))
    alpha = 1 - level
    method = f"bootstrap (n={n_boot})"
    loss_ci = percentile_interval(arr[:, 1] - arr[:, 0], method, level)
    t_lo, t_hi = np.quantile(arr[:, 0], [alpha / 2, 1 - alpha / 2])
    h_lo, h_hi = np.quantile(arr[:, 1], [alpha / 2, 1 - alpha / 2])
    return (
        aa_holdout.value - aa_train.value,
        loss_ci,
        Interval(float(t_lo), float(t_hi), method, level),
        Interval(float(h_lo), float(h_hi), method, level),
    )


# -- SDMetrics' definition ----------------------------------------------------------


def _sdmetrics_encode(
    queries: pd.DataFrame, reference: pd.DataFrame, schema: Schema, columns: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode so that L1 distance = sum over columns of SDMetrics' per-column difference.

    Returns ``(queries_enc, reference_enc, query_outside_range)``.
    """
    q_blocks: list[np.ndarray] = []
    r_blocks: list[np.ndarray] = []
    outside = np.zeros(len(queries), dtype=bool)
    for name in columns:
        spec = schema.column(name)
        q_col, r_col = queries[name], reference[name]
        if spec.is_numeric:
            q, r = _numeric_values(q_col, spec.kind), _numeric_values(r_col, spec.kind)
            lo, hi = (np.nanmin(r), np.nanmax(r)) if np.isfinite(r).any() else (np.nan, np.nan)
            rng = hi - lo
            if np.isfinite(rng) and rng > 0:
                qs, rs = (q - lo) / rng, (r - lo) / rng
                q_nan, r_nan = np.isnan(qs), np.isnan(rs)
                outside |= ~q_nan & ((qs < 0) | (qs > 1))
                if q_nan.any() or r_nan.any():
                    # (v/2, (1-v)/2, missing/2): present-present gives |dv|, missing-present
                    # 1/2 + 1/2 = 1 for v in [0, 1], missing-missing 0.
                    q_blocks.append(_split_numeric(qs))
                    r_blocks.append(_split_numeric(rs))
                else:
                    q_blocks.append(qs[:, None])
                    r_blocks.append(rs[:, None])
                continue
            # A constant (or all-missing) reference column: SDMetrics counts any
            # difference as 1 -- a categorical comparison of the values.
            q_col = pd.Series(np.where(np.isnan(q), np.nan, q), dtype=object)
            r_col = pd.Series(np.where(np.isnan(r), np.nan, r), dtype=object)
        qe, re_ = _onehot_half(q_col, r_col)
        q_blocks.append(qe)
        r_blocks.append(re_)
    return np.hstack(q_blocks), np.hstack(r_blocks), outside


def _numeric_values(col: pd.Series, kind: ColumnKind) -> np.ndarray:
    if kind == ColumnKind.DATETIME:
        dt = pd.to_datetime(col, errors="coerce")
        out = dt.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        out[dt.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(col, errors="coerce").astype(np.float64).to_numpy(na_value=np.nan)


def _split_numeric(v: np.ndarray) -> np.ndarray:
    nan = np.isnan(v)
    out = np.zeros((v.size, 3), dtype=np.float64)
    out[~nan, 0] = v[~nan] / 2
    out[~nan, 1] = (1 - v[~nan]) / 2
    out[nan, 2] = 0.5
    return out


def _onehot_half(q_col: pd.Series, r_col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """One-hot with weight 1/2 (an L1 mismatch costs 1); missing is a level of its own.
    Levels compare by Python equality, as SDMetrics' ``==`` does (1 == 1.0 == True)."""
    both = pd.concat([q_col.astype(object), r_col.astype(object)], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes)
    width = len(uniques) + 1
    enc = np.zeros((codes.size, width), dtype=np.float64)
    enc[np.arange(codes.size), codes] = 0.5
    return enc[: len(q_col)], enc[len(q_col):]


def sdmetrics_dcr(
    queries: pd.DataFrame,
    reference: pd.DataFrame,
    schema: Schema,
    columns: list[str] | None = None,
    *,
    block_queries: int = 2048,
    block_reference: int = 16384,
) -> tuple[np.ndarray, np.ndarray]:
    """Each query row's DCR to ``reference`` under SDMetrics' definition (module docstring).

    Returns ``(dcr, outside_range)``: (n_q,) float64 mean per-column difference in [0, 1],
    and (n_q,) bool marking rows with a numeric value outside the reference range, whose
    DCR here is an upper bound (exact for all other rows).
    """
    columns = list(columns) if columns is not None else schema.modelled().names
    q, r, outside = _sdmetrics_encode(queries, reference, schema, columns)
    d = nearest(q, r, 1, metric="cityblock", block_queries=block_queries, block_reference=block_reference)[0][:, 0]
    return d / len(columns), outside


@dataclass(frozen=True)
class SDMetricsDCR:
    """SDMetrics' DCROverfittingProtection numbers, computed by :func:`dcr_share_sdmetrics_definition`.

    ``closer_to_training``: share of synthetic rows strictly closer to training than to
    holdout; ``score = min(2 * (1 - closer_to_training), 1)``; ``dcr_train`` /
    ``dcr_holdout``: (n_s,) per-row distances; ``n_outside_range``: synthetic rows whose
    numeric values leave a reference range (their DCR is an upper bound).
    """

    closer_to_training: float
    closer_to_holdout: float
    score: float
    dcr_train: np.ndarray
    dcr_holdout: np.ndarray
    n_outside_range: int


def dcr_share_sdmetrics_definition(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    schema: Schema,
    columns: list[str] | None = None,
    *,
    block_queries: int = 2048,
    block_reference: int = 16384,
) -> SDMetricsDCR:
    """``DCROverfittingProtection.compute_breakdown`` of SDMetrics 0.32 (no subsampling),
    computed by exact blocked nearest-neighbour search. Frames are not modified."""
    kw = dict(block_queries=block_queries, block_reference=block_reference)
    d_t, out_t = sdmetrics_dcr(synthetic, train, schema, columns, **kw)
    d_h, out_h = sdmetrics_dcr(synthetic, holdout, schema, columns, **kw)
    closer = (d_t < d_h) & ~_ties(d_t, d_h, _SDM_RTOL, 1e-15)
    share = float(closer.mean())
    return SDMetricsDCR(
        closer_to_training=share,
        closer_to_holdout=1.0 - share,
        score=min((1.0 - share) * 2, 1.0),
        dcr_train=d_t,
        dcr_holdout=d_h,
        n_outside_range=int((out_t | out_h).sum()),
    )
