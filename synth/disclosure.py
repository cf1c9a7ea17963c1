"""What an output may say about the real data: the k-rule and coarsened ranges.

Outputs (result.json, report.html, manifest.json, logs) describe the real data only in
ways that no single person's record shows through:

- **the k-rule** (:func:`nameable`): a category level held by fewer than ``k`` real
  records (default :data:`DEFAULT_RARE_K` = 5, ``audit.rare_level_k`` in the config) is
  *rare* and is never named; tables and figures pool rare levels into one
  :data:`RARE_LABEL` bucket (:func:`pool_rare`), schema summaries count them;
- **coarsened ranges** (:func:`coarse_range`): instead of a column's minimum and maximum
  (one person's values) an output gives rounded percentiles that at least ``k`` records
  lie beyond.

Every place that names levels or ranges in an output calls these functions, so the rule
is the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from synth.schema import ColumnKind, ColumnSpec, Schema

DEFAULT_RARE_K = 5
RARE_LABEL = "other (rare)"
RANGE_QUANTILE = 0.05  # coarse ranges span at least the 5th-95th percentiles
RANGE_DIGITS = 2  # significant digits of a coarse range bound


def nameable(real_count: int | np.ndarray, k: int) -> bool | np.ndarray:
    """The k-rule: may a category level held by ``real_count`` real records be named?

    ``real_count`` is a count or an array of counts (records of the real data the output
    describes); the answer is ``real_count >= k``. A level the real data does not hold at
    all (count 0) is not nameable either: it may be another real table's value.
    """
    return np.asarray(real_count) >= k if isinstance(real_count, np.ndarray) else bool(real_count >= k)


def rare_count(real_counts: Sequence[int] | np.ndarray, k: int) -> int:
    """How many levels with counts ``real_counts`` (all > 0) are rare under the k-rule."""
    counts = np.asarray(real_counts)
    return int(np.sum(~nameable(counts, k)))


def pool_rare(
    labels: Sequence[str], real_counts: Sequence[float] | np.ndarray, k: int, *values: np.ndarray
) -> tuple[list[str], list[np.ndarray]]:
    """Pool the rare levels of a table or figure into one :data:`RARE_LABEL` entry.

    ``labels`` (m,) name the levels, ``real_counts`` (m,) their real record counts, and each
    array in ``values`` (m,) a per-level number to pool by summing (counts or shares).
    Returns the nameable labels in their original order followed by :data:`RARE_LABEL`
    (only when some level is rare) and the pooled arrays, aligned with the labels.
    """
    keep = nameable(np.asarray(real_counts), k)
    out_labels = [str(lab) for lab, ok in zip(labels, keep) if ok]
    pooled = [np.asarray(v)[keep] for v in values]
    if not keep.all():
        out_labels.append(RARE_LABEL)
        pooled = [np.append(p, np.asarray(v)[~keep].sum()) for p, v in zip(pooled, values)]
    return out_labels, pooled


def round_outward(x: float, up: bool) -> float:
    """``x`` rounded outward (down for a low bound, up for a high one) to RANGE_DIGITS significant digits."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    step = 10.0 ** (math.floor(math.log10(abs(x))) - RANGE_DIGITS + 1)
    rounded = (math.ceil(x / step) if up else math.floor(x / step)) * step
    return float(f"{rounded:.{RANGE_DIGITS + 2}g}")  # drop float noise such as 55.000000001


def coarse_range(values: pd.Series, kind: ColumnKind, k: int,
                 quantile: float = RANGE_QUANTILE) -> dict[str, Any] | None:
    """A range of ``values`` that names no single record: rounded outer percentiles.

    The low and high bounds are the ``q`` and ``1 - q`` quantiles with
    ``q = max(quantile, k / n)`` (default 5 %; so at least ``k`` of the ``n`` values lie at
    or beyond each), rounded outward to two significant digits; datetimes are given as
    year-month (``"2021-03"``). Returns ``{"low", "high", "quantiles": [q, 1 - q]}``, or
    None with fewer than ``2 k`` values.
    """
    present = values.dropna()
    if kind == ColumnKind.DATETIME:
        numbers = pd.to_datetime(present).astype("int64").astype("float64")
    else:
        numbers = pd.to_numeric(present, errors="coerce").astype("float64")
    numbers = numbers[np.isfinite(numbers)]
    n = len(numbers)
    if n < 2 * max(k, 1):
        return None
    q = max(quantile, k / n)
    lo, hi = np.quantile(numbers.to_numpy(), [q, 1 - q])
    if kind == ColumnKind.DATETIME:
        low, high = (pd.Timestamp(int(v)).strftime("%Y-%m") for v in (lo, hi))
        return {"low": low, "high": high, "quantiles": [round(q, 3), round(1 - q, 3)]}
    return {"low": round_outward(float(lo), up=False), "high": round_outward(float(hi), up=True),
            "quantiles": [round(q, 3), round(1 - q, 3)]}


def public_column(spec: ColumnSpec, values: pd.Series | None, k: int) -> dict[str, Any]:
    """What an output may say about one column: kind, roles, nullability, nameable levels, coarse range.

    ``values`` are the column's real (training) values; without them (None) only the
    kind, roles and nullability are given. Categories list the levels held by at least
    ``k`` records, in the schema's order; ``rare_levels`` counts the others.
    """
    out: dict[str, Any] = {
        "name": spec.name,
        "kind": spec.kind.value,
        "nullable": spec.nullable,
        "roles": sorted(r.value for r in spec.roles),
    }
    if values is None or not spec.is_modelled:
        return out
    if spec.is_discrete:
        out["categories"] = [_json_level(c) for c in nameable_levels(spec, values, k)]
        out["rare_levels"] = sum(1 for c, n in level_counts(values).items() if not nameable(n, k))
    elif spec.is_numeric:
        out["range"] = coarse_range(values, spec.kind, k)
    return out


def nameable_levels(spec: ColumnSpec, values: pd.Series, k: int) -> tuple[Any, ...]:
    """The levels of ``spec.categories`` (as the schema holds them, in its order) that at
    least ``k`` of the real ``values`` hold: the levels an output may name."""
    counts = level_counts(values)
    return tuple(c for c in (spec.categories or ()) if nameable(counts.get(level_key(c), 0), k))


def public_schema(schema: Schema, real: pd.DataFrame, k: int) -> dict[str, Any]:
    """``{"columns": [public_column(...)], "rare_level_k": k}`` of ``schema`` over the real rows ``real``."""
    return {
        "columns": [public_column(c, real[c.name] if c.name in real.columns else None, k) for c in schema.columns],
        "rare_level_k": k,
    }


def level_key(value: Any) -> str:
    """Levels compare by string form, with integral floats as ints (1, 1.0 and "1" agree)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value.item() if isinstance(value, np.generic) else value)


def _json_level(value: Any) -> Any:
    """A level as plain JSON: booleans, numbers and text as they are, anything else (a
    timestamp or date among labels) as its text, since result.json must stay plain JSON."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(float(value)):
        return float(value)
    return value if isinstance(value, str) else level_key(value)


def level_counts(values: pd.Series) -> dict[str, int]:
    """Records per level of ``values``, keyed by :func:`level_key` (1, 1.0 and "1" count together)."""
    counts: dict[str, int] = {}
    for v, n in values.dropna().astype(object).value_counts().items():
        counts[level_key(v)] = counts.get(level_key(v), 0) + int(n)
    return counts
