"""Bootstrap replicates: one statistic per resample (sharded over the active engine), and
replicates computed in bulk.

:func:`replicates` evaluates a statistic on ``n_boot`` resamples drawn from seeded
streams. On a distributed engine the resamples are cut into shards; each shard replays the
stream from the seed up to its first resample (drawing indices costs far less than the
statistic), so every resample, and hence every replicate, is the one the local engine draws.

:func:`synth.stats.intervals.bootstrap` calls a statistic once per resample. The fidelity
audits instead compute all replicates at once (vectorised over resamples), so they need
index draws in bounded chunks and vectorised resampled means; the interval of the
replicates is :func:`synth.stats.intervals.percentile_interval`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from synth.execution.active import active_engine
from synth.execution.engine import Shard
from synth.stats.intervals import Interval

# Below this many resampled items in all (n_items * n_boot) the replicates run here: the
# statistic is too cheap for shipping it to pay.
_MIN_SHARDED_WORK = 1 << 22


Seed = int | Sequence[int]
"""A ``numpy.random.default_rng`` seed: an int, or a sequence such as ``[seed, 1]``."""


def replicates(
    statistic: Callable[..., float | np.ndarray],
    n_items: int | Sequence[int],
    *,
    n_boot: int = 200,
    seed: int = 0,
    streams: Sequence[tuple[Seed, Sequence[int]]] | None = None,
) -> np.ndarray:
    """``statistic(*idx)`` for ``n_boot`` resamples, ``idx`` one index array per table.

    ``n_items`` is a table's row count, or one count per table resampled independently
    (e.g. ``(n_synthetic, n_train)``). Resample ``b`` is the ``b``-th round of draws
    ``rng.integers(0, n, n)`` for each ``n`` in turn, from ``numpy.random.default_rng(seed)``,
    whichever engine runs it. ``streams`` replaces ``(seed, n_items)`` where tables are
    drawn from separate generators: one ``(seed, sizes)`` per generator, each drawing its
    sizes in turn every round; ``idx`` then lists the tables stream by stream (this keeps
    the draws of statistics written with one generator per table). ``statistic`` must
    depend on its index arrays only (no random state of its own: a distributed engine
    evaluates resamples in other processes) and may return a float or a fixed-length vector.

    Returns (n_boot,) float, or (n_boot, m) for a length-m vector statistic; NaN where the
    statistic is NaN (e.g. a resample with one class).
    """
    if streams is None:
        streams = ((seed, (int(n_items),) if np.ndim(n_items) == 0 else tuple(n_items)),)  # type: ignore[arg-type]
    plan = tuple((s, tuple(int(n) for n in sizes)) for s, sizes in streams)
    total = sum(sum(sizes) for _, sizes in plan)
    engine = active_engine()
    if not engine.distributed or total * n_boot < _MIN_SHARDED_WORK or n_boot < 2:
        return _replicate_range({"statistic": statistic}, plan, 0, n_boot)
    n_shards = min(n_boot, 2 * engine.workers)
    size = -(-n_boot // n_shards)
    work = {"items": total, "resamples": n_boot}
    shards = [Shard((plan, s, min(s + size, n_boot)), rows=min(size, n_boot - s), work=work)
              for s in range(0, n_boot, size)]
    # The statistic carries its data (a closure over arrays): shared once, not sent per shard.
    parts = engine.map(_replicate_range, shards, shared={"statistic": statistic}, label="bootstrap replicates")
    return np.concatenate(parts)


def _replicate_range(
    shared: dict[str, Any], plan: tuple[tuple[Seed, tuple[int, ...]], ...], start: int, stop: int
) -> np.ndarray:
    """Replicates ``start:stop`` of the seeded streams (earlier resamples drawn and skipped)."""
    statistic = shared["statistic"]
    rngs = [(np.random.default_rng(s), sizes) for s, sizes in plan]
    for _ in range(start):
        for rng, sizes in rngs:
            for n in sizes:
                rng.integers(0, max(n, 1), n)
    out = [statistic(*[rng.integers(0, max(n, 1), n) for rng, sizes in rngs for n in sizes])
           for _ in range(start, stop)]
    return np.array(out, dtype=float).reshape((stop - start, *np.shape(out[0]))) if out else np.empty(0)


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
