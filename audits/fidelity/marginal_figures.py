"""Figures of one column's real and synthetic marginals (aggregates only).

Histograms share their edges between the two samples and show densities (each sums to 1
over the bin widths), so samples of different sizes compare directly. The edges span the
pooled 0.5th-99.5th percentiles; values beyond them are counted in the end bins, which
keeps one extreme value (real or synthetic) from squeezing the plot and keeps the
extremes of real records out of the figure. Integer columns with a short span get one
bin per integer. Datetimes are shown in decimal years. The outer edges are rounded
outward to a power of ten near the bin width, so no edge is one record's exact value.

Bars name only the levels held by at least ``k`` real records (the k-rule of
:mod:`synth.disclosure`); the rarer ones, and levels only the synthetic data has, are
pooled into one "other (rare)" bar.
"""

from __future__ import annotations

import numpy as np

from synth.audits.base import Figure
from synth.audits.fidelity.column_stats import BinnedColumn
from synth.disclosure import DEFAULT_RARE_K, pool_rare
from synth.schema import ColumnKind

_NS_PER_YEAR = 365.2425 * 86400e9
_MAX_BARS = 20


def histogram_figure(column: BinnedColumn, figure_id: str, n_bins: int = 30) -> Figure:
    """Overlaid real/synthetic density histograms of a numeric, integer or datetime column."""
    grid = column.grid.astype(float)
    real = column.counts("real")[:-1]
    syn = column.counts("synthetic")[:-1]
    x = grid / _NS_PER_YEAR + 1970.0 if column.kind == ColumnKind.DATETIME else grid
    pooled = real / max(real.sum(), 1) + syn / max(syn.sum(), 1)
    lo, hi = _weighted_quantiles(x, pooled, (0.005, 0.995))
    lo, hi = _round_to_bin_scale(lo, hi, n_bins)
    if column.kind == ColumnKind.INTEGER and hi - lo <= 60:
        edges = np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.0, 1.0)
    else:
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, n_bins + 1)
    clipped = np.clip(x, edges[0], edges[-1])
    series = []
    for label, counts in (("real", real), ("synthetic", syn)):
        hist, _ = np.histogram(clipped, bins=edges, weights=counts)
        total = hist.sum()
        density = hist / (total * np.diff(edges)) if total > 0 else hist
        series.append({"label": label, "edges": [float(e) for e in edges], "counts": [float(v) for v in density]})
    unit = " (year)" if column.kind == ColumnKind.DATETIME else ""
    return Figure(
        id=figure_id,
        title=f"{column.name}: real vs synthetic",
        kind="histograms",
        data={"x_label": f"{column.name}{unit}", "series": series},
        caption=(
            "Densities on shared bins spanning the pooled 0.5th-99.5th percentiles; values beyond "
            "them are counted in the end bins. Missing values are not shown (see the table)."
        ),
    )


def bars_figure(column: BinnedColumn, figure_id: str, k: int = DEFAULT_RARE_K) -> Figure:
    """Grouped bars of real and synthetic level shares (over observed values) of a categorical column.

    Levels with fewer than ``k`` real records are pooled into one "other (rare)" bar.
    """
    real = column.counts("real")[:-1]
    syn = column.counts("synthetic")[:-1]
    pr = real / max(real.sum(), 1)
    ps = syn / max(syn.sum(), 1)
    order = np.lexsort((-ps, -pr))  # most common real levels first, synthetic-only ones after
    labels, (pr, ps) = pool_rare([str(column.grid[i]) for i in order], real[order], k, pr[order], ps[order])
    if len(labels) > _MAX_BARS:
        keep = _MAX_BARS - 1
        labels = labels[:keep] + [f"(other {len(labels) - keep} levels)"]
        pr = np.append(pr[:keep], pr[keep:].sum())
        ps = np.append(ps[:keep], ps[keep:].sum())
    return Figure(
        id=figure_id,
        title=f"{column.name}: real vs synthetic",
        kind="bars",
        data={
            "y_label": "share of observed values",
            "categories": labels,
            "series": [
                {"label": "real", "values": [float(v) for v in pr]},
                {"label": "synthetic", "values": [float(v) for v in ps]},
            ],
        },
        caption="Share of each level among the non-missing values of each table.",
    )


def _round_to_bin_scale(lo: float, hi: float, n_bins: int) -> tuple[float, float]:
    """``lo`` down and ``hi`` up to a multiple of the power of ten at or below the bin width."""
    width = (hi - lo) / n_bins
    if not np.isfinite(width) or width <= 0:
        return lo, hi
    step = 10.0 ** np.floor(np.log10(width))
    return float(np.floor(lo / step) * step), float(np.ceil(hi / step) * step)


def _weighted_quantiles(x: np.ndarray, weights: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Quantiles of sorted values ``x`` carrying ``weights``; ``x`` must be ascending."""
    if x.size == 0:
        return [0.0 for _ in qs]
    cum = np.cumsum(weights)
    total = cum[-1]
    if total <= 0:
        return [float(x[0]), float(x[-1])][: len(qs)]
    return [float(x[min(np.searchsorted(cum, q * total), x.size - 1)]) for q in qs]
