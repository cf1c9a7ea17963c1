"""Confidence intervals shared by audits and generators (all two-sided, default 95 %)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """A confidence interval ``[low, high]`` at ``level`` (0.95 = 95 %), and how it was made."""

    low: float
    high: float
    method: str  # "wilson", "clopper-pearson", "bootstrap (n=200)", "normal", ...
    level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return {"low": json_number(self.low), "high": json_number(self.high), "method": self.method, "level": self.level}



def json_number(x: Any) -> Any:
    """JSON-safe float: NaN/inf become None; anything else is returned unchanged."""
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    return x


def wilson(successes: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion ``successes / n``."""
    if n <= 0:
        return Interval(float("nan"), float("nan"), "wilson", level)
    z = stats.norm.ppf(0.5 + level / 2)
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    # At 0 (or n) successes the bound is exactly 0 (or 1); float round-off would leave ~1e-19.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(float(low), float(high), "wilson", level)


def clopper_pearson(successes: int, n: int, level: float = 0.95) -> Interval:
    """Exact (Clopper-Pearson) interval for a binomial proportion."""
    if n <= 0:
        return Interval(float("nan"), float("nan"), "clopper-pearson", level)
    alpha = 1 - level
    low = 0.0 if successes == 0 else stats.beta.ppf(alpha / 2, successes, n - successes + 1)
    high = 1.0 if successes == n else stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes)
    return Interval(float(low), float(high), "clopper-pearson", level)


def newcombe_difference(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> Interval:
    """Interval for the difference of two independent proportions ``k1/n1 - k2/n2``.

    Newcombe's hybrid score interval (Newcombe 1998, *Statistics in Medicine* 17:873,
    method 10): the Wilson bounds of each proportion combined in quadrature. Unlike the
    Wald interval it stays inside [-1, 1], keeps its coverage near 0 and 1, and is not
    degenerate at ``0/n1 - 0/n2`` (then it is minus and plus the Wilson upper bounds).
    """
    if n1 <= 0 or n2 <= 0:
        return Interval(float("nan"), float("nan"), "newcombe", level)
    p1, p2 = k1 / n1, k2 / n2
    a, b = wilson(k1, n1, level), wilson(k2, n2, level)
    d = p1 - p2
    low = d - math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2)
    high = d + math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2)
    return Interval(float(max(-1.0, low)), float(min(1.0, high)), "newcombe", level)


def bootstrap(
    statistic: Callable[..., float],
    n_items: int | Sequence[int],
    *,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
    streams: Sequence[tuple[int | Sequence[int], Sequence[int]]] | None = None,
) -> Interval:
    """Percentile bootstrap interval of ``statistic(indices)`` over ``n_items`` items.

    ``statistic`` receives an int array of resampled row indices (with replacement) and
    returns a float (with several sizes in ``n_items``, one index array per table, each
    resampled independently); NaN replicates (e.g. a resample with one class) are ignored. It must
    depend on the indices only (see :func:`synth.stats.bootstrap.replicates`, which runs it,
    sharded over a distributed engine).
    """
    from synth.stats.bootstrap import replicates  # bootstrap.py imports Interval from here

    reps = replicates(statistic, n_items, n_boot=n_boot, seed=seed, streams=streams)
    return percentile_interval(reps, f"bootstrap (n={n_boot})", level)


def percentile_interval(replicates: np.ndarray, method: str, level: float = 0.95) -> Interval:
    """Percentile interval of the finite entries of ``replicates`` (NaN bounds when none is finite)."""
    finite = np.asarray(replicates, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return Interval(float("nan"), float("nan"), method, level)
    alpha = 1 - level
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return Interval(float(lo), float(hi), method, level)


def mean_normal(values: np.ndarray, level: float = 0.95) -> Interval:
    """Normal-approximation interval of the mean of ``values`` (e.g. paired differences)."""
    values = np.asarray(values, dtype=float)
    n = values.size
    if n < 2:
        return Interval(float("nan"), float("nan"), "normal", level)
    z = stats.norm.ppf(0.5 + level / 2)
    m = values.mean()
    se = values.std(ddof=1) / np.sqrt(n)
    return Interval(float(m - z * se), float(m + z * se), "normal", level)
