"""Percentile intervals from bootstrap replicates computed in bulk.

:func:`synth.stats.intervals.bootstrap` calls a statistic once per resample. The fidelity
audits instead compute all replicates at once (vectorised over resamples), so they need
index draws in bounded chunks and vectorised resampled means; the interval of the
replicates is :func:`synth.stats.intervals.percentile_interval`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from synth.stats.intervals import Interval


def paired_index_chunks(
    rng: np.random.Generator, n_real: int, n_synthetic: int, n_boot: int, chunk: int = 10
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Resampled row indices of two tables, ``chunk`` replicates at a time.

    Yields ``(real_idx, synthetic_idx)`` of shapes (b, n_real) and (b, n_synthetic), int64,
    drawn with replacement; the b's add up to ``n_boot``. Chunking bounds memory at about
    ``chunk * (n_real + n_synthetic) * 8`` bytes whatever ``n_boot`` is.
    """
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        yield rng.integers(0, max(n_real, 1), (b, n_real)), rng.integers(0, max(n_synthetic, 1), (b, n_synthetic))
        done += b


def resampled_means(values: np.ndarray, n_boot: int, rng: np.random.Generator, chunk: int = 50) -> np.ndarray:
    """Means of ``n_boot`` with-replacement resamples of ``values`` (shape (n,)) -> (n_boot,)."""
    values = np.asarray(values, dtype=float)
    n = values.size
    if n == 0:
        return np.full(n_boot, np.nan)
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        out[start : start + b] = values[rng.integers(0, n, (b, n))].mean(axis=1)
    return out


def recentred_interval(
    replicates: np.ndarray,
    estimate: float,
    n_boot: int,
    *,
    lower: float = 0.0,
    upper: float = 1.0,
    level: float = 0.95,
) -> Interval:
    """Percentile interval of replicates shifted so their mean is ``estimate``, clipped to [lower, upper].

    Why: a distance between two samples (KS, TVD, |corr_a - corr_b|) is biased upwards by
    sampling noise, and resampling both samples adds that noise a second time, so the raw
    bootstrap distribution sits above the estimate (for identical tables: estimate 0,
    every replicate > 0). Removing the bootstrap's estimate of that bias keeps the spread,
    which is what the interval is for, and centres it on the reported value.
    """
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    method = f"bootstrap, recentred (n={n_boot})"
    if reps.size == 0 or not np.isfinite(estimate):
        return Interval(float("nan"), float("nan"), method, level)
    alpha = 1 - level
    lo, hi = np.quantile(reps + (estimate - reps.mean()), [alpha / 2, 1 - alpha / 2])
    return Interval(float(np.clip(lo, lower, upper)), float(np.clip(hi, lower, upper)), method, level)
