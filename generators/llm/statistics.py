"""Statistical metadata for the 'statistics' prompt: shares, typical ranges, means, correlations.

Computed from the training table by :func:`table_statistics`, or given by the user (the
same structure, :class:`TableStatistics`) when there is no data to show. Nothing in them
shows a single person (the rules of :mod:`synth.disclosure`, as for every output; a
statistics prompt may go to a remote server): ranges are the 1st and 99th percentiles
with at least ``k`` records beyond each, rounded outward to two significant digits, never
the minimum and maximum; means, standard deviations and correlations are taken over
values clipped to that range; a category level fewer than ``k`` records hold is not
named, its share is pooled into ``other (rare)``; shares are rounded to whole percents.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from synth.disclosure import DEFAULT_RARE_K, RARE_LABEL, coarse_range, level_counts, level_key, nameable
from synth.schema import ColumnKind, Schema

TAIL_QUANTILE = 0.01  # ranges span the 1st to 99th percentile (or wider, for the k-rule)
# Correlations shown: the strongest pairs, at most this many, with |r| at least this.
MAX_CORRELATIONS = 12
MIN_ABS_CORRELATION = 0.2


class ColumnStatistics(BaseModel):
    """Summary of one column (any field may be absent)."""

    model_config = ConfigDict(extra="forbid")

    mean: float | None = Field(None, description="mean (numeric columns)")
    sd: float | None = Field(None, description="standard deviation (numeric columns)")
    low: float | None = Field(None, description="typical low end (about the 1st percentile)")
    high: float | None = Field(None, description="typical high end (about the 99th percentile)")
    shares: dict[str, float] | None = Field(None, description="level -> share of rows (categorical columns)")
    missing: float | None = Field(None, ge=0, le=1, description="share of missing values")


class Correlation(BaseModel):
    """Pearson correlation of two columns (binary categorical columns as 0/1)."""

    model_config = ConfigDict(extra="forbid")

    a: str
    b: str
    r: float = Field(ge=-1, le=1)


class TableStatistics(BaseModel):
    """What the 'statistics' strategy shows the model."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, ColumnStatistics] = Field(default_factory=dict)
    correlations: list[Correlation] = Field(default_factory=list)


def _round(x: float) -> float:
    """Three significant digits: enough for a model, and no exact real value."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.3g}")


def table_statistics(data: pd.DataFrame, schema: Schema, k: int = DEFAULT_RARE_K) -> TableStatistics:
    """Statistics of ``data`` (n_rows x the schema's columns), rounded for a prompt; ``k``
    is the k-rule's count (see the module docstring).

    Means, standard deviations and correlations are taken over values clipped to the
    column's coarse range, so one outlier cannot be read back from them (a mean times n
    minus the others' sum would give it); a two-level column enters the correlations
    only when both levels may be named.
    """
    columns: dict[str, ColumnStatistics] = {}
    numeric: dict[str, np.ndarray] = {}
    for spec in schema.columns:
        col = data[spec.name]
        missing = float(col.isna().mean())
        if spec.kind in (ColumnKind.NUMERIC, ColumnKind.INTEGER):
            x = pd.to_numeric(col, errors="coerce").astype("float64").to_numpy()
            finite = x[np.isfinite(x)]
            span = coarse_range(pd.Series(finite), spec.kind, k, quantile=TAIL_QUANTILE)
            if span is not None:  # fewer than 2k values: nothing that would not nearly show them
                clipped = np.clip(x, span["low"], span["high"])
                kept = clipped[np.isfinite(clipped)]
                columns[spec.name] = ColumnStatistics(
                    mean=_round(float(kept.mean())), sd=_round(float(kept.std())),
                    low=span["low"], high=span["high"], missing=round(missing, 2) if missing else None,
                )
                numeric[spec.name] = clipped
        elif spec.kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
            counts = level_counts(col)
            total = max(sum(counts.values()), 1)
            levels = list(spec.categories) if spec.categories else sorted(counts)
            # a boolean's two levels are public by its kind; a category's only when k records hold it
            named = [lv for lv in levels
                     if spec.kind == ColumnKind.BOOLEAN or nameable(counts.get(level_key(lv), 0), k)]
            shown = {str(lv): round(counts.get(level_key(lv), 0) / total, 2) for lv in named}
            named_keys = {level_key(lv) for lv in named}
            rare = sum(n for key, n in counts.items() if key not in named_keys) / total
            if rare > 0:
                shown[RARE_LABEL] = round(rare, 2)
            columns[spec.name] = ColumnStatistics(shares=shown, missing=round(missing, 2) if missing else None)
            if len(levels) == 2 and len(named) == 2:
                second = level_key(levels[1])  # matched on the distinct values, not row by row
                held = [v for v in pd.unique(col.dropna()) if level_key(v) == second]
                numeric[spec.name] = col.isin(held).astype(float).where(col.notna()).to_numpy()
    return TableStatistics(columns=columns, correlations=_strongest_correlations(numeric))


def _strongest_correlations(values: dict[str, np.ndarray]) -> list[Correlation]:
    names = [n for n, x in values.items() if np.nanstd(x) > 0]
    if len(names) < 2:
        return []
    frame = pd.DataFrame({n: values[n] for n in names})
    corr = frame.corr(method="pearson", min_periods=10).to_numpy()
    pairs = [
        (abs(corr[i, j]), names[i], names[j], corr[i, j])
        for i in range(len(names)) for j in range(i + 1, len(names))
        if np.isfinite(corr[i, j]) and abs(corr[i, j]) >= MIN_ABS_CORRELATION
    ]
    pairs.sort(key=lambda p: -p[0])
    return [Correlation(a=a, b=b, r=round(float(r), 2)) for _, a, b, r in pairs[:MAX_CORRELATIONS]]
