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

The *excess* compares like with like: copies an independent sample of the population
would also produce (natural duplicates in coarse data) are measured against the
holdout, and the training side is cut to the holdout's size. Instead of one arbitrary
split of the training data into holdout-size chunks, each synthetic row's score is the
exact average over *every* holdout-size subset of the training data (a hypergeometric
probability), so all training rows count, nothing is random and sizes need not divide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln

from synth.audits.base import Interval
from synth.schema import ColumnKind, Schema
from synth.stats.intervals import mean_normal, wilson


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


def subset_hit_probability(counts: np.ndarray, n_reference: int, subset_size: int) -> np.ndarray:
    """Probability that a uniformly random ``subset_size``-row subset of the reference holds
    at least one of the ``counts[i]`` rows identical to query ``i`` (hypergeometric).

    Equals the average, over every way of choosing the subset, of the 0/1 "has a copy"
    indicator; with ``subset_size == n_reference`` it is that indicator itself.
    Shape of ``counts``; float64 in [0, 1].
    """
    counts = np.asarray(counts, dtype=np.int64)
    n, m = int(n_reference), int(subset_size)
    if m >= n:
        return (counts > 0).astype(np.float64)
    # P(no copy in subset) = C(n - c, m) / C(n, m), zero once n - c < m.
    c = counts.astype(np.float64)
    possible = (n - counts) >= m
    safe_c = np.where(possible, c, 0.0)
    log_none = gammaln(n - safe_c + 1) - gammaln(n - safe_c - m + 1) - gammaln(n + 1) + gammaln(n - m + 1)
    p_none = np.where(possible, np.exp(log_none), 0.0)
    return np.clip(1.0 - p_none, 0.0, 1.0)


@dataclass(frozen=True)
class ExactCopies:
    """Exact-copy rates of the synthetic rows against training and holdout.

    ``rate_train`` / ``rate_holdout``: share of synthetic rows identical to at least one
    training / holdout row, with Wilson intervals. ``excess``: the mean, over synthetic
    rows, of (chance a holdout-size subset of training holds a copy) minus (a copy is in
    the holdout), with its normal interval over those paired differences; 0 expected
    when the generator does not copy, > 0 when it does. ``reference_size``: the common
    size both sides are compared at (the smaller of the two real sets).
    """

    n_synthetic: int
    n_train: int
    n_holdout: int
    reference_size: int
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
    rate_train_equal_size: float
    rate_holdout_equal_size: float


def exact_copies(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    schema: Schema,
    columns: list[str],
    *,
    level: float = 0.95,
) -> ExactCopies:
    """Exact-copy statistics of ``synthetic`` against ``train`` and ``holdout`` on ``columns``.

    All three frames must hold ``columns``; none is modified. ``n_synthetic`` must be >= 1.
    """
    h_syn = row_hashes(synthetic, schema, columns)
    h_train = row_hashes(train, schema, columns)
    h_hold = row_hashes(holdout, schema, columns)
    n_s, n_t, n_h = h_syn.size, h_train.size, h_hold.size
    c_train = match_counts(h_syn, h_train)
    c_hold = match_counts(h_syn, h_hold)
    m = min(n_t, n_h)
    p_train = subset_hit_probability(c_train, n_t, m)
    p_hold = subset_hit_probability(c_hold, n_h, m)
    diff = p_train - p_hold
    excess_ci = mean_normal(diff, level)
    syn_set = np.unique(h_syn)
    k_train = int((c_train > 0).sum())
    k_hold = int((c_hold > 0).sum())
    return ExactCopies(
        n_synthetic=n_s,
        n_train=n_t,
        n_holdout=n_h,
        reference_size=m,
        copies_of_train=k_train,
        copies_of_holdout=k_hold,
        train_rows_reproduced=int(np.isin(h_train, syn_set).sum()),
        holdout_rows_reproduced=int(np.isin(h_hold, syn_set).sum()),
        rate_train=k_train / n_s if n_s else float("nan"),
        rate_train_ci=wilson(k_train, n_s, level),
        rate_holdout=k_hold / n_s if n_s else float("nan"),
        rate_holdout_ci=wilson(k_hold, n_s, level),
        excess=float(diff.mean()) if n_s else float("nan"),
        excess_ci=excess_ci,
        rate_train_equal_size=float(p_train.mean()) if n_s else float("nan"),
        rate_holdout_equal_size=float(p_hold.mean()) if n_s else float("nan"),
    )
