"""Pairwise association of mixed-type columns, computed from one weighted Gram matrix.

Measures (all in [0, 1] except the signed rank correlation in [-1, 1]):

- numeric-numeric: Spearman's rank correlation. Ranks, not raw values, because clinical
  measurements are skewed and heavy-tailed (labs, lengths of stay) and a monotone
  transform of a column should not change its dependence. Ranks are taken per column
  over its observed values; a pair uses the rows where both are observed (with no
  missing values this is exactly Spearman's rho).
- categorical-categorical: Cramér's V with Bergsma's (2013) bias correction, so that
  independent columns score about 0 whatever their number of levels.
- numeric-categorical: the correlation ratio eta = sqrt(between-level variance / total
  variance) of the numeric column's ranks across the categorical levels (eta^2 on
  ranks is the Kruskal-Wallis epsilon^2 effect size).

A constant column (one level, or one distinct value) carries no information about any
other column; its associations are 0 by definition.

Every measure is a function of weighted sums over rows (cross-products of centred
ranks, squared ranks, observed indicators and level indicators, and two-way counts), so
a bootstrap replicate only re-weights those sums (weights = how often each row was
drawn); the ranks are kept from the full sample, the usual plug-in treatment of a rank
transform.
Categorical columns with more than ``max_levels`` levels (default 100) keep their most
frequent real levels and pool the rest into one, which bounds every two-way table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from synth.audits.fidelity.column_stats import level_codes, numeric_values
from synth.schema import DISCRETE_KINDS, NUMERIC_KINDS, ColumnKind

_OTHER = "\x00other"  # pooled rare levels; cannot collide with a level's string form from data


@dataclass(frozen=True)
class AssociationLayout:
    """Which columns are numeric/categorical, and the levels of each categorical column.

    ``levels[name]`` lists the level keys of a categorical column shared by every table
    encoded with this layout (so joint tables line up); beyond ``max_levels`` the rarer
    levels are pooled into one.
    """

    names: tuple[str, ...]
    kinds: tuple[ColumnKind, ...]
    levels: dict[str, list[str]]

    @property
    def numeric(self) -> list[int]:
        return [i for i, k in enumerate(self.kinds) if k in NUMERIC_KINDS]

    @property
    def categorical(self) -> list[int]:
        return [i for i, k in enumerate(self.kinds) if k in DISCRETE_KINDS]

    def level_slice(self, i: int) -> slice:
        """Position of column ``i``'s one-hot block among all level indicators."""
        start = 0
        for j in self.categorical:
            width = len(self.levels[self.names[j]])
            if j == i:
                return slice(start, start + width)
            start += width
        raise KeyError(self.names[i])


def make_layout(kinds: dict[str, ColumnKind], *frames: pd.DataFrame, max_levels: int = 100) -> AssociationLayout:
    """A layout for ``kinds``; categorical levels are the union over ``frames``, the
    ``max_levels`` most frequent in the first frame (the real table) kept and the others pooled."""
    levels: dict[str, list[str]] = {}
    for name, kind in kinds.items():
        if kind in DISCRETE_KINDS:
            keys: set[str] = set()
            for f in frames:
                keys |= set(level_codes(f[name])[1])
            if len(keys) > max_levels:
                codes, first_keys = level_codes(frames[0][name])
                freq = np.bincount(codes[codes >= 0], minlength=len(first_keys))
                keys = {first_keys[j] for j in np.argsort(-freq, kind="stable")[:max_levels]} | {_OTHER}
            levels[name] = sorted(keys)
    return AssociationLayout(tuple(kinds), tuple(kinds.values()), levels)


@dataclass(frozen=True)
class EncodedTable:
    """One table encoded for association sums.

    ``dense`` (n, 3k) for the k numeric columns: centred ranks ``u`` in [-0.5, 0.5] (0 where
    missing), ``u**2``, observed indicators. ``onehot`` (n, n_levels), sparse CSR: one block
    per categorical column, all-zero where missing. ``codes`` (n, n_categorical) int64:
    level index within each categorical column, -1 where missing.
    """

    dense: np.ndarray
    onehot: sparse.csr_matrix
    codes: np.ndarray


def encode(frame: pd.DataFrame, layout: AssociationLayout) -> EncodedTable:
    """Encode ``frame`` (its columns named in ``layout``) for :func:`moments`."""
    n = len(frame)
    num = layout.numeric
    u = np.zeros((n, len(num)))
    obs = np.zeros((n, len(num)))
    for a, i in enumerate(num):
        x = numeric_values(frame[layout.names[i]], layout.kinds[i])
        ok = np.isfinite(x)
        if ok.any():
            u[ok, a] = stats.rankdata(x[ok]) / ok.sum() - 0.5
        obs[:, a] = ok
    codes = np.full((n, len(layout.categorical)), -1, dtype=np.int64)
    rows, cols = [], []
    offset = 0
    for a, i in enumerate(layout.categorical):
        name = layout.names[i]
        raw, keys = level_codes(frame[name])
        levels = layout.levels[name]
        pos = {k: j for j, k in enumerate(levels)}
        other = pos.get(_OTHER, -1)
        remap = np.array([pos.get(k, other) for k in keys] + [-1], dtype=np.int64)
        codes[:, a] = remap[raw]
        ok = np.nonzero(codes[:, a] >= 0)[0]
        rows.append(ok)
        cols.append(codes[ok, a] + offset)
        offset += len(levels)
    r = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
    onehot = sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(n, offset))
    return EncodedTable(np.hstack([u, u * u, obs]), onehot, codes)


@dataclass(frozen=True)
class Moments:
    """Weighted sums of an :class:`EncodedTable` under row weights ``w``.

    ``nn`` (3k, 3k): ``dense.T @ diag(w) @ dense``; ``on`` (n_levels, 3k):
    ``onehot.T @ diag(w) @ dense``; ``joint[(a, b)]`` (a < b, positions among the
    categorical columns): the weighted two-way count table, rows = a's levels.
    """

    nn: np.ndarray
    on: np.ndarray
    joint: dict[tuple[int, int], np.ndarray]


def moments(table: EncodedTable, layout: AssociationLayout, weights: np.ndarray | None = None) -> Moments:
    """All sums the associations need; ``weights`` (n,) are row multiplicities (None = all 1).

    Cost is about n * ((3k)^2 + 3k * n_categorical + n_categorical^2 / 2) whatever the
    number of levels: two-way tables are counted with one ``bincount`` per pair.
    """
    d, codes = table.dense, table.codes
    w = np.ones(d.shape[0]) if weights is None else weights
    wd = d * w[:, None]
    widths = [len(layout.levels[layout.names[i]]) for i in layout.categorical]
    missing = np.ascontiguousarray((codes < 0).T)  # (n_categorical, n): contiguous per column
    has_missing = missing.any(axis=1)
    safe = np.where(missing, 0, codes.T)
    joint: dict[tuple[int, int], np.ndarray] = {}
    for a in range(codes.shape[1]):
        for b in range(a + 1, codes.shape[1]):
            size = widths[a] * widths[b]
            cell = safe[a] * widths[b] + safe[b]
            if has_missing[a] or has_missing[b]:
                cell[missing[a] | missing[b]] = size  # an extra bin, dropped: pairs use rows with both
            joint[(a, b)] = np.bincount(cell, weights=w, minlength=size + 1)[:size].reshape(widths[a], widths[b])
    return Moments(nn=d.T @ wd, on=np.asarray(table.onehot.T @ wd), joint=joint)


@dataclass(frozen=True)
class Associations:
    """``matrix`` (p, p): signed Spearman / Cramér's V / eta per pair, 1 on the diagonal,
    NaN where a pair has fewer than 3 rows with both values observed.
    ``joint[(i, j)]`` (i < j, both categorical, positions in ``layout.names``): the joint
    level shares (rows: i's levels)."""

    matrix: np.ndarray
    joint: dict[tuple[int, int], np.ndarray]


def associations(m: Moments, layout: AssociationLayout) -> Associations:
    """All pairwise associations from the :func:`moments` of one table."""
    p = len(layout.names)
    a = np.full((p, p), np.nan)
    np.fill_diagonal(a, 1.0)
    num = layout.numeric
    k = len(num)
    cu, cuu, co = slice(0, k), slice(k, 2 * k), slice(2 * k, 3 * k)
    if k:
        n = m.nn[co, co]
        sx = m.nn[cu, co]  # sx[i, j] = sum of u_i over rows where j is observed (and i, as u_i = 0 if not)
        sxx = m.nn[cuu, co]
        sxy = m.nn[cu, cu]
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = sxy / n - (sx / n) * (sx.T / n)
            var = sxx / n - (sx / n) ** 2
            r = cov / np.sqrt(var * var.T)
        r = np.where(n >= 3, r, np.nan)
        r = np.where((n >= 3) & ((var <= 1e-12) | (var.T <= 1e-12)), 0.0, r)  # constant on the pair's rows
        r = np.clip(r, -1.0, 1.0)
        a[np.ix_(num, num)] = np.where(np.eye(k, dtype=bool), 1.0, r)
    for i in layout.categorical:
        si = layout.level_slice(i)
        for x, j in enumerate(num):
            eta = _eta(m.on[si, 2 * k + x], m.on[si, x], m.on[si, k + x])
            a[i, j] = a[j, i] = eta
    joint: dict[tuple[int, int], np.ndarray] = {}
    cats = layout.categorical
    for (x, y), table in m.joint.items():
        i, j = cats[x], cats[y]
        a[i, j] = a[j, i] = _cramers_v(table)
        total = table.sum()
        joint[(i, j)] = table / total if total > 0 else table
    return Associations(a, joint)


def _eta(n_l: np.ndarray, s_l: np.ndarray, ss_l: np.ndarray) -> float:
    """Correlation ratio from per-level counts, sums and sums of squares of the ranks."""
    n = n_l.sum()
    if n < 3:
        return float("nan")
    present = n_l > 0
    s = s_l.sum()
    total = ss_l.sum() - s * s / n
    if present.sum() < 2 or total <= 1e-12:
        return 0.0
    between = (s_l[present] ** 2 / n_l[present]).sum() - s * s / n
    return float(np.sqrt(np.clip(between / total, 0.0, 1.0)))


def _cramers_v(table: np.ndarray) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013) of a (weighted) contingency table."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    n = table.sum()
    if n < 3:
        return float("nan")
    r, c = table.shape
    if r < 2 or c < 2:
        return 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    phi2 = ((table - expected) ** 2 / expected).sum() / n
    phi2_corr = max(0.0, phi2 - (r - 1) * (c - 1) / (n - 1))
    r_corr = r - (r - 1) ** 2 / (n - 1)
    c_corr = c - (c - 1) ** 2 / (n - 1)
    denom = min(r_corr - 1, c_corr - 1)
    return float(np.sqrt(min(phi2_corr / denom, 1.0))) if denom > 0 else 0.0
