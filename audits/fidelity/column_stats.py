"""Per-column distances between a real and a synthetic sample, with fast bootstraps.

Both samples of a column are put on one shared grid of bins ("binned"): for a numeric,
integer or datetime column the bins are the distinct observed values of both samples
(so nothing is lost: the empirical CDFs are exact), for a categorical or boolean column
they are the levels. One extra bin holds missing values. Every statistic is then a
function of the two bin-count vectors, which makes a bootstrap a matter of counting
resampled codes (``np.bincount``) rather than recomputing from rows.

Statistics (all in [0, 1], 0 = identical):

- numeric / integer / datetime: the two-sample Kolmogorov-Smirnov statistic
  (``scipy.stats.ks_2samp``) over observed values;
- categorical / boolean: total variation distance between the level shares over
  observed values, ``0.5 * sum |p_real - p_synthetic|``;
- every column: the missing-rate difference ``|missing_real - missing_synthetic|``.

For numeric columns the Wasserstein-1 distance (``scipy.stats.wasserstein_distance``) is
also reported, computed on values divided by the *real* column's range (max - min of its
observed values), so it is unitless: 0.1 means the synthetic mass sits on average a tenth
of the real range away from where the real mass is. Datetimes are compared as
nanoseconds since the epoch (the scaling removes the unit).

Categorical levels are matched by their string form, with integral floats written as
integers and booleans as ``True``/``False``, so ``1``, ``1.0`` and ``"1"`` are one level
(synthetic tables read back from CSV often change the dtype, not the value).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from synth.schema import ColumnKind, Schema
from synth.stats.bootstrap import paired_index_chunks

Statistic = Literal["ks", "tvd"]


def numeric_values(series: pd.Series, kind: ColumnKind) -> np.ndarray:
    """A numeric/integer/datetime column as float64 (datetimes: ns since epoch); NaN = missing.

    Values that do not parse as numbers (or dates) count as missing.
    """
    if kind == ColumnKind.DATETIME:
        dt = pd.to_datetime(series, errors="coerce")
        if isinstance(dt.dtype, pd.DatetimeTZDtype):
            dt = dt.dt.tz_convert("UTC").dt.tz_localize(None)
        # pandas 2 keeps s/ms/us resolutions: without a common unit two tables disagree by 10^3..10^9
        out = dt.dt.as_unit("ns").astype("int64").to_numpy().astype(float)
        out[dt.isna().to_numpy()] = np.nan
        return out
    out = pd.to_numeric(series, errors="coerce").astype(float).to_numpy(copy=True)
    out[~np.isfinite(out)] = np.nan
    return out


def level_key(value: object) -> str:
    """The string a categorical level is matched by (``1``, ``1.0`` and ``"1"`` agree)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def level_codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes (shape (n,), int64, -1 = missing) into the returned list of distinct level keys."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    keys = [level_key(u) for u in uniques]
    distinct = sorted(set(keys))
    position = {k: i for i, k in enumerate(distinct)}
    remap = np.array([position[k] for k in keys] + [-1], dtype=np.int64)  # index -1 -> missing
    return remap[codes], distinct


@dataclass(frozen=True)
class BinnedColumn:
    """One column of two samples on a shared grid.

    ``real_codes`` (n_real,) and ``synthetic_codes`` (n_synthetic,) are int64 in
    ``[0, n_bins]``; code ``n_bins`` means missing. ``grid`` holds the bins: the sorted
    distinct values (float64, datetimes in ns) for ``statistic == "ks"``, the level keys
    for ``"tvd"``.
    """

    name: str
    kind: ColumnKind
    statistic: Statistic
    real_codes: np.ndarray
    synthetic_codes: np.ndarray
    grid: np.ndarray

    @property
    def n_bins(self) -> int:
        return len(self.grid)

    def counts(self, which: Literal["real", "synthetic"]) -> np.ndarray:
        """Bin counts (n_bins + 1,), the last one missing."""
        codes = self.real_codes if which == "real" else self.synthetic_codes
        return np.bincount(codes, minlength=self.n_bins + 1).astype(float)

    def observed(self, which: Literal["real", "synthetic"]) -> np.ndarray:
        """The observed (non-missing) values of a numeric column, float64."""
        codes = self.real_codes if which == "real" else self.synthetic_codes
        return self.grid[codes[codes < self.n_bins]].astype(float)


def bin_column(name: str, kind: ColumnKind, real: pd.Series, synthetic: pd.Series) -> BinnedColumn:
    """Put ``real`` and ``synthetic`` (one column each) on a shared grid; see the module doc."""
    if kind in (ColumnKind.NUMERIC, ColumnKind.INTEGER, ColumnKind.DATETIME):
        r = numeric_values(real, kind)
        s = numeric_values(synthetic, kind)
        grid = np.unique(np.concatenate([r[np.isfinite(r)], s[np.isfinite(s)]]))
        miss = len(grid)
        r_codes = np.where(np.isfinite(r), np.searchsorted(grid, np.nan_to_num(r)), miss)
        s_codes = np.where(np.isfinite(s), np.searchsorted(grid, np.nan_to_num(s)), miss)
        return BinnedColumn(name, kind, "ks", r_codes.astype(np.int64), s_codes.astype(np.int64), grid)
    if kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
        rc, r_keys = level_codes(real)
        sc, s_keys = level_codes(synthetic)
        keys = sorted(set(r_keys) | set(s_keys))
        pos = {k: i for i, k in enumerate(keys)}
        miss = len(keys)
        r_map = np.array([pos[k] for k in r_keys] + [miss], dtype=np.int64)
        s_map = np.array([pos[k] for k in s_keys] + [miss], dtype=np.int64)
        return BinnedColumn(name, kind, "tvd", r_map[rc], s_map[sc], np.array(keys, dtype=object))
    raise ValueError(f"column '{name}' of kind {kind.value} has no marginal distance (only modelled kinds do)")


def distance_from_counts(real_counts: np.ndarray, synthetic_counts: np.ndarray, statistic: Statistic) -> np.ndarray:
    """KS or TVD between the observed parts of count vectors.

    Args:
        real_counts, synthetic_counts: (b, n_bins + 1) bin counts (last column: missing).
        statistic: ``"ks"`` (bins ordered) or ``"tvd"``.

    Returns:
        (b,) distances in [0, 1]; NaN where one side has no observed value.
    """
    r = real_counts[:, :-1]
    s = synthetic_counts[:, :-1]
    n_r = r.sum(axis=1, keepdims=True)
    n_s = s.sum(axis=1, keepdims=True)
    valid = (n_r[:, 0] > 0) & (n_s[:, 0] > 0)
    pr = r / np.where(n_r > 0, n_r, 1.0)
    ps = s / np.where(n_s > 0, n_s, 1.0)
    if statistic == "ks":
        out = np.abs(np.cumsum(pr, axis=1) - np.cumsum(ps, axis=1)).max(axis=1, initial=0.0)
    else:
        out = 0.5 * np.abs(pr - ps).sum(axis=1)
    return np.where(valid, out, np.nan)


def missing_rate_from_counts(counts: np.ndarray) -> np.ndarray:
    """(b, n_bins + 1) counts -> (b,) share of missing values (NaN for an empty sample)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts[:, -1] / counts.sum(axis=1)


@dataclass(frozen=True)
class ColumnDistance:
    """Point estimates for one column (see the module doc for definitions)."""

    name: str
    kind: ColumnKind
    statistic: Statistic
    value: float  # KS or TVD, NaN when a side has no observed value
    wasserstein: float | None  # numeric only: W1 on values / real range
    missing_real: float
    missing_synthetic: float
    n_real: int
    n_synthetic: int

    @property
    def missing_diff(self) -> float:
        return abs(self.missing_real - self.missing_synthetic)


def real_range(column: BinnedColumn) -> float:
    """max - min of the real sample's observed values (1.0 when constant or empty)."""
    obs = column.real_codes[column.real_codes < column.n_bins]
    if obs.size == 0:
        return 1.0
    width = float(column.grid[obs.max()] - column.grid[obs.min()])
    return width if width > 0 else 1.0


def compare_column(column: BinnedColumn) -> ColumnDistance:
    """Point estimates of the distances of one binned column."""
    rc = column.counts("real")[None, :]
    sc = column.counts("synthetic")[None, :]
    w1: float | None = None
    if column.statistic == "ks":
        r, s = column.observed("real"), column.observed("synthetic")
        if r.size and s.size:
            value = float(stats.ks_2samp(r, s).statistic)
            scale = real_range(column)
            w1 = float(stats.wasserstein_distance(r / scale, s / scale))
        else:
            value = float("nan")
    else:
        value = float(distance_from_counts(rc, sc, "tvd")[0])
    return ColumnDistance(
        name=column.name,
        kind=column.kind,
        statistic=column.statistic,
        value=value,
        wasserstein=w1,
        missing_real=float(missing_rate_from_counts(rc)[0]),
        missing_synthetic=float(missing_rate_from_counts(sc)[0]),
        n_real=int(column.real_codes.size),
        n_synthetic=int(column.synthetic_codes.size),
    )


def bin_table(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: dict[str, ColumnKind]) -> list[BinnedColumn]:
    """:func:`bin_column` for every ``name -> kind`` in ``kinds`` (all present in both frames)."""
    return [bin_column(name, kind, real[name], synthetic[name]) for name, kind in kinds.items()]


def bootstrap_distances(
    columns: list[BinnedColumn], n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap the per-column distances by resampling *rows* of both tables.

    Every replicate draws one row resample of the real table and one of the synthetic
    table and applies it to all columns, so column means keep their cross-column
    dependence. All columns must come from the same two tables (equal code lengths).

    Returns:
        ``(distances, missing_diffs)``, both (n_boot, n_columns) float64: KS/TVD per
        column and ``|missing_real - missing_synthetic|`` per column, per replicate.
    """
    n_cols = len(columns)
    dist = np.empty((n_boot, n_cols))
    miss = np.empty((n_boot, n_cols))
    if n_cols == 0 or n_boot == 0:
        return dist, miss
    n_r, n_s = columns[0].real_codes.size, columns[0].synthetic_codes.size
    row = 0
    for idx_r, idx_s in paired_index_chunks(rng, n_r, n_s, n_boot):
        b = idx_r.shape[0]
        for j, col in enumerate(columns):
            rc = _chunk_counts(col.real_codes, idx_r, col.n_bins + 1)
            sc = _chunk_counts(col.synthetic_codes, idx_s, col.n_bins + 1)
            dist[row : row + b, j] = distance_from_counts(rc, sc, col.statistic)
            miss[row : row + b, j] = np.abs(missing_rate_from_counts(rc) - missing_rate_from_counts(sc))
        row += b
    return dist, miss


def _chunk_counts(codes: np.ndarray, idx: np.ndarray, width: int) -> np.ndarray:
    """(b, n) resample indices -> (b, width) bin counts, one bincount for the whole chunk."""
    b = idx.shape[0]
    if codes.size == 0:
        return np.zeros((b, width))
    flat = (codes[idx] + (np.arange(b, dtype=np.int64) * width)[:, None]).ravel()
    return np.bincount(flat, minlength=b * width).reshape(b, width).astype(float)


def compared_columns(schema: Schema, *frames: pd.DataFrame) -> tuple[dict[str, ColumnKind], list[str]]:
    """The modelled columns present in every frame, as ``name -> kind`` in schema order,
    and the modelled columns some frame lacks (for a note)."""
    present: dict[str, ColumnKind] = {}
    absent: list[str] = []
    for spec in schema.modelled().columns:
        if all(spec.name in f.columns for f in frames):
            present[spec.name] = spec.kind
        else:
            absent.append(spec.name)
    return present, absent


@dataclass(frozen=True)
class MarginalSummary:
    """Headline means over columns, as point estimates and bootstrap replicates.

    Means skip columns whose point distance is undefined (a side with no observed value).
    ``replicates`` maps ``"ks_mean"``, ``"tvd_mean"``, ``"marginal_score"`` and
    ``"missing_diff_max"`` to (n_boot,) arrays (empty when not bootstrapped).
    """

    ks_mean: float
    tvd_mean: float
    marginal_score: float  # 1 - mean(KS or TVD) over all defined columns
    missing_diff_max: float
    n_ks: int
    n_tvd: int
    worst: ColumnDistance | None
    replicates: dict[str, np.ndarray]


def summarise(points: list[ColumnDistance], distances: np.ndarray, missing_diffs: np.ndarray) -> MarginalSummary:
    """Summarise per-column points and their (n_boot, n_columns) replicates from :func:`bootstrap_distances`."""
    values = np.array([p.value for p in points], dtype=float)
    defined = np.isfinite(values)
    ks = defined & np.array([p.statistic == "ks" for p in points], dtype=bool)
    tvd = defined & np.array([p.statistic == "tvd" for p in points], dtype=bool)
    miss = np.array([p.missing_diff for p in points], dtype=float)

    reps: dict[str, np.ndarray] = {}
    if distances.shape[0] > 0:
        reps = {
            "ks_mean": _row_means(distances, ks),
            "tvd_mean": _row_means(distances, tvd),
            "marginal_score": 1.0 - _row_means(distances, defined),
            "missing_diff_max": _row_max(missing_diffs),
        }
    worst = max((p for p, d in zip(points, defined) if d), key=lambda p: p.value, default=None)
    return MarginalSummary(
        ks_mean=_mean(values, ks),
        tvd_mean=_mean(values, tvd),
        marginal_score=1.0 - _mean(values, defined),
        missing_diff_max=float(np.nanmax(miss)) if miss.size and np.isfinite(miss).any() else float("nan"),
        n_ks=int(ks.sum()),
        n_tvd=int(tvd.sum()),
        worst=worst,
        replicates=reps,
    )


def _mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else float("nan")


def _row_means(reps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n_boot, n_columns) -> (n_boot,) means over the masked columns, ignoring NaN."""
    if not mask.any():
        return np.full(reps.shape[0], np.nan)
    with warnings.catch_warnings():
        # a replicate that drew no observed value of a column is NaN there; the rest still count
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(reps[:, mask], axis=1)


def _row_max(v: np.ndarray) -> np.ndarray:
    """Row-wise max ignoring NaN; NaN for an all-NaN row."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(v, axis=1) if v.shape[1] else np.full(v.shape[0], np.nan)
