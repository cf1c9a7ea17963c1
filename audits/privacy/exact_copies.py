"""Exact copies: synthetic rows identical to a real row on every modelled column.

Rows are compared through 64-bit hashes of a canonical form, so the work is linear in
the number of rows:

- numeric, integer and datetime values become float64 as they are (no rounding), with
  ``-0.0`` folded into ``0.0``; an integer ``45`` and a float ``45.0`` are the same value;
- categorical and boolean values become their string form (the same level key the
  mixed-type encoder uses);
- a missing value (NaN, NaT, None, pd.NA) is a value of its own: missing equals missing.

Two different rows share a hash with probability about ``2**-64`` per pair (below 1e-8
for 200k x 200k rows), which is negligible next to the sampling error reported.

**The excess, by an exact test.** Natural duplicates (coarse values, standard records)
mean an independent sample of the population also "copies" real records, so copies only
count against a baseline. The real records form one pool (training plus holdout) that the
pipeline split at random; without memorisation the synthetic data cannot depend on which
pool records went to training. For each distinct record value ``v`` that some synthetic
row reproduces, let ``c_v`` be the number of pool persons holding it and ``a_v`` how many
of them are training persons (a person is a row unless a group column says otherwise).
The statistic

    T = sum over reproduced values v of (a_v / c_v - pi) / (1 - pi),   pi = n_train / (n_train + n_holdout)

(persons) counts copied training records beyond chance: a copy of a record that is unique
in the pool adds 1 if the record is a training record and ``-pi / (1 - pi)`` if it is a
holdout record, so ``T`` has mean 0 without memorisation, and a record with ``c - 1``
natural twins weighs ``1 / c`` as much (its copy could be any twin's). Each value counts
once however many synthetic rows repeat it. Given the pool and the synthetic data,
``T``'s null distribution is that of the split: it is drawn exactly by Monte Carlo
(:func:`synth.stats.randomization.partition_sums`, 4,000 random splits), and the one-sided
p-value ``(1 + #{T_b >= T}) / (B + 1)`` has exact level. When the persons' weights take
more than 2,000 distinct values (many persons each holding several reproduced records:
a generator that copies wholesale from a grouped table) ``T`` is a sum of thousands of
small terms and the test uses a normal shape with the exact split variance
(:func:`synth.stats.randomization.partition_variance`) instead of the draws.

``privacy.exact_copy_excess`` is ``T / n_synthetic``: copied training records beyond chance
per synthetic row (0.01 when 1 % of the synthetic rows copy distinct unique training
records). Its 95 % interval inverts the exact test for a shift: ``[T - q_97.5, T - q_2.5]
/ n_synthetic`` with ``q`` the points of the exact null distribution, so the lower bound
exceeds 0 exactly when the one-sided test rejects at 2.5 %, and the interval covers 0 in
at least 95 % of splits without memorisation, whatever the synthetic sample (which enters
through which record values are reproduced: the null distribution is conditional on them,
so the synthetic rows' sampling is accounted for). When no synthetic row reproduces any
real record the interval is not ``[0, 0]``: its upper end is the one-sided 97.5 %
Clopper-Pearson bound on 0 copies in ``n_synthetic`` rows (about ``3.7 / n_synthetic``)
and its lower end that bound times ``-pi / (1 - pi)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from synth.audits.base import Interval
from synth.schema import ColumnKind, Schema
from synth.stats.intervals import wilson
from synth.stats.randomization import partition_sums, partition_variance, permutation_p_value

# Above this many distinct per-person weights the exact draws (whose cost grows with them)
# give way to a normal shape with the exact split variance: T is then a sum of thousands
# of small terms.
MAX_PERMUTED = 2000


def _canonical_frame(frame: pd.DataFrame, schema: Schema, columns: list[str]) -> pd.DataFrame:
    parts: dict[str, object] = {}
    for name in columns:
        spec = schema.column(name)
        col = frame[name]
        if spec.is_numeric:
            if spec.kind == ColumnKind.DATETIME:
                dt = pd.to_datetime(col, errors="coerce")
                missing = dt.isna().to_numpy()
                values = dt.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
            else:
                values = pd.to_numeric(col, errors="coerce").astype(np.float64).to_numpy(na_value=np.nan)
                missing = np.isnan(values)
            values = np.where(missing, 0.0, values) + 0.0  # + 0.0 folds -0.0 into 0.0
            parts[name] = values
        else:
            missing = col.isna().to_numpy()
            parts[name] = np.array([("" if m else str(v)) for v, m in zip(col.to_numpy(), missing)], dtype=object)
        parts[f"{name}\x00missing"] = missing.astype(bool)
    return pd.DataFrame(parts, index=pd.RangeIndex(len(frame)))


def row_hashes(frame: pd.DataFrame, schema: Schema, columns: list[str]) -> np.ndarray:
    """64-bit hash of each row's canonical form over ``columns``, shape (n_rows,), uint64.

    Equal hashes mean equal rows on those columns (see the module docstring for what
    counts as equal). ``frame`` is not modified.
    """
    if len(frame) == 0:
        return np.zeros(0, dtype=np.uint64)
    canon = _canonical_frame(frame, schema, columns)
    return pd.util.hash_pandas_object(canon, index=False).to_numpy(dtype=np.uint64)


def match_counts(query_hashes: np.ndarray, reference_hashes: np.ndarray) -> np.ndarray:
    """How many reference rows are identical to each query row, shape (n_query,), int64."""
    if reference_hashes.size == 0:
        return np.zeros(query_hashes.shape[0], dtype=np.int64)
    uniq, counts = np.unique(reference_hashes, return_counts=True)
    pos = np.searchsorted(uniq, query_hashes)
    pos_ok = np.minimum(pos, uniq.size - 1)
    found = uniq[pos_ok] == query_hashes
    return np.where(found, counts[pos_ok], 0).astype(np.int64)


@dataclass(frozen=True)
class ExactCopies:
    """Exact-copy counts and the excess of the synthetic rows against training and holdout.

    ``rate_train`` / ``rate_holdout``: share of synthetic rows identical to at least one
    training / holdout row, with Wilson intervals (synthetic rows as the unit, given the
    real data). ``excess`` / ``excess_ci``: see the module docstring; ``p_value``: the exact
    one-sided permutation p-value; ``unique_copies_train`` / ``unique_copies_holdout``:
    reproduced values held by exactly one pool person, a training / holdout one;
    ``values_reproduced``: distinct real values some synthetic row reproduces.
    """

    n_synthetic: int
    n_train: int
    n_holdout: int
    n_train_persons: int
    n_holdout_persons: int
    copies_of_train: int
    copies_of_holdout: int
    train_rows_reproduced: int
    holdout_rows_reproduced: int
    rate_train: float
    rate_train_ci: Interval
    rate_holdout: float
    rate_holdout_ci: Interval
    excess: float
    excess_ci: Interval
    p_value: float
    values_reproduced: int
    unique_copies_train: int
    unique_copies_holdout: int
    permutations: int


def copy_excess(
    synthetic_hashes: np.ndarray,
    pool_hashes: np.ndarray,
    pool_persons: np.ndarray,
    n_train_persons: int,
    n_persons: int,
    *,
    n_draws: int = 4000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, Interval, float, dict[str, int]]:
    """The excess of copied training records, its interval and exact p-value (module docstring).

    Args:
        synthetic_hashes: (n_s,) row hashes of the synthetic rows.
        pool_hashes: (n_pool,) row hashes of the training rows then the holdout rows.
        pool_persons: (n_pool,) person code of each pool row; codes below
            ``n_train_persons`` are training persons.
        n_persons: persons in the pool.

    Returns:
        ``(excess, interval, p_value, counts)``; ``counts`` has ``values_reproduced``,
        ``unique_copies_train`` and ``unique_copies_holdout``.
    """
    n_s = int(synthetic_hashes.size)
    pi = n_train_persons / n_persons
    alpha = 1.0 - level
    # Each (value, person) pair once: a person with two identical rows holds the value once.
    pairs = np.unique(np.column_stack([pool_hashes.astype(np.uint64), pool_persons.astype(np.uint64)]), axis=0)
    values, persons = pairs[:, 0], pairs[:, 1].astype(np.int64)
    reproduced = np.isin(values, np.unique(synthetic_hashes))
    values, persons = values[reproduced], persons[reproduced]
    uniq, inverse, c = np.unique(values, return_inverse=True, return_counts=True)
    is_train = persons < n_train_persons
    a = np.bincount(inverse, weights=is_train, minlength=uniq.size)
    t = (a / np.maximum(c, 1) - pi) / (1.0 - pi) if uniq.size else np.zeros(0)
    total = float(t.sum())
    # T = sum_p L_p w_p - const, w_p = sum over the person's reproduced values of 1 / (c_v (1 - pi)).
    w = np.bincount(persons, weights=1.0 / ((1.0 - pi) * c[inverse]), minlength=n_persons) if uniq.size else np.zeros(0)
    weighted = np.flatnonzero(w) if w.size else np.zeros(0, dtype=int)
    const = uniq.size * pi / (1.0 - pi)
    if np.unique(w[weighted]).size <= MAX_PERMUTED:
        draws = partition_sums(w[weighted], n_persons, n_train_persons, n_draws=n_draws, seed=seed) - const
        p_value = permutation_p_value(total, draws) if uniq.size else 1.0
        q_lo, q_hi = (np.quantile(draws, [alpha / 2, 1 - alpha / 2]) if uniq.size else (0.0, 0.0))
        method = f"exact permutation test over splits, inverted (n={n_draws})"
    else:
        # Thousands of persons hold reproduced values: T is a sum of many small terms, and its
        # exact split variance with a normal shape replaces the Monte Carlo draws.
        sd = float(np.sqrt(partition_variance(w, n_train_persons)))
        z = float(stats.norm.ppf(1 - alpha / 2))
        p_value = float(stats.norm.sf(total / sd)) if sd > 0 else float(total <= 0)
        q_lo, q_hi = -z * sd, z * sd
        method = "permutation test over splits, normal with the exact split variance"
    low, high = total - max(q_hi, 0.0), total - min(q_lo, 0.0)
    if uniq.size == 0:
        # One-sided 97.5 % Clopper-Pearson bound on the copy rate when no row copies anything.
        floor = n_s * (1.0 - (alpha / 2) ** (1.0 / n_s)) if n_s else 0.0
        low, high = -floor * pi / (1.0 - pi), floor
    counts = {
        "values_reproduced": int(uniq.size),
        "unique_copies_train": int(((c == 1) & (a == 1)).sum()),
        "unique_copies_holdout": int(((c == 1) & (a == 0)).sum()),
    }
    if n_s == 0:
        return float("nan"), Interval(float("nan"), float("nan"), method, level), float("nan"), counts
    return total / n_s, Interval(low / n_s, high / n_s, method, level), p_value, counts


def exact_copies(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    schema: Schema,
    columns: list[str],
    *,
    train_persons: np.ndarray | None = None,
    holdout_persons: np.ndarray | None = None,
    n_train_persons: int | None = None,
    n_holdout_persons: int | None = None,
    seed: int = 0,
    level: float = 0.95,
) -> ExactCopies:
    """Exact-copy statistics of ``synthetic`` against ``train`` and ``holdout`` on ``columns``.

    All three frames must hold ``columns``; none is modified. ``n_synthetic`` must be >= 1.
    ``train_persons`` / ``holdout_persons``: person codes of the rows (training persons
    ``0..n_train_persons - 1``, holdout persons after them; default: one person per row).
    """
    h_syn = row_hashes(synthetic, schema, columns)
    h_train = row_hashes(train, schema, columns)
    h_hold = row_hashes(holdout, schema, columns)
    n_s, n_t, n_h = h_syn.size, h_train.size, h_hold.size
    if train_persons is None or holdout_persons is None:
        train_persons, holdout_persons = np.arange(n_t), np.arange(n_t, n_t + n_h)
        n_train_persons, n_holdout_persons = n_t, n_h
    assert n_train_persons is not None and n_holdout_persons is not None
    c_train = match_counts(h_syn, h_train)
    c_hold = match_counts(h_syn, h_hold)
    excess, excess_ci, p_value, counts = copy_excess(
        h_syn, np.r_[h_train, h_hold], np.r_[train_persons, holdout_persons], n_train_persons,
        n_train_persons + n_holdout_persons, seed=seed, level=level,
    )
    syn_set = np.unique(h_syn)
    k_train = int((c_train > 0).sum())
    k_hold = int((c_hold > 0).sum())
    return ExactCopies(
        n_synthetic=n_s,
        n_train=n_t,
        n_holdout=n_h,
        n_train_persons=int(n_train_persons),
        n_holdout_persons=int(n_holdout_persons),
        copies_of_train=k_train,
        copies_of_holdout=k_hold,
        train_rows_reproduced=int(np.isin(h_train, syn_set).sum()),
        holdout_rows_reproduced=int(np.isin(h_hold, syn_set).sum()),
        rate_train=k_train / n_s if n_s else float("nan"),
        rate_train_ci=wilson(k_train, n_s, level),
        rate_holdout=k_hold / n_s if n_s else float("nan"),
        rate_holdout_ci=wilson(k_hold, n_s, level),
        excess=excess,
        excess_ci=excess_ci,
        p_value=p_value,
        permutations=4000,
        **counts,
    )
