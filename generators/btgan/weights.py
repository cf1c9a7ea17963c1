"""Score-based weighted sampling: density scores of the training records turned into weights.

**Score.** The space is synth's shared mixed-type encoding (:class:`synth.neighbors.MixedEncoder`):
numeric columns min-max scaled by the training range, categorical columns one-hot scaled
so a mismatch adds 1 to the squared distance, missing values as indicators. The density
score of a record is the Euclidean distance ``r_k`` to its ``k``-th nearest *other*
training record (exact search, :func:`synth.neighbors.nearest_other`). A k-nearest-
neighbour density estimate is ``p ~ k / (n r_k^d)``, so a large ``r_k`` marks a record in
a sparse region: a rare combination, the tail of a distribution, a small subgroup (a
differing sensitive level adds 1 to the squared distance, so small subgroups are sparse).

**Buckets and weights.** The records are cut into ``n_buckets`` equal-count *density
buckets* by their score (bucket 0 densest). A bucket's weight is the mean over its records
of ``r_k / median(r_k)`` clipped to ``[1 / cap, cap]``; every record of the bucket gets it,
rescaled so the weights average 1. The weight grows like ``p^(-1/d)``, not ``1/p``:
inverse density in ``d`` dimensions would hand a handful of outliers all the training
signal, and the cap bounds how often one record is seen (and so how much an isolated
record can be memorised).

**Faithful output.** Drawing records by weight alone would make the generator learn the
re-weighted distribution: sparse regions over-represented in the output, every marginal
shifted. So the bucket is also a *condition* (:mod:`.sampler`): the generator learns
``p(row | subgroup, condition, bucket)`` from records drawn with the bucket weights, sees
sparse buckets up to ``cap`` times as often, and at sample time buckets are drawn with
their real frequencies within the subgroup, which restores the real distribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.neighbors import MixedEncoder, nearest_other
from synth.schema import Schema


def density_scores(frame: pd.DataFrame, schema: Schema, *, neighbors: int = 5) -> np.ndarray:
    """(n,) distance of each row of ``frame`` to its ``neighbors``-th nearest other row (0 when n <= neighbors)."""
    n = len(frame)
    if n <= neighbors:
        return np.zeros(n)
    encoded = MixedEncoder(schema).fit_transform(frame)
    distances, _ = nearest_other(encoded, np.arange(n), neighbors)
    return distances[:, -1]


def density_buckets(scores: np.ndarray, n_buckets: int) -> np.ndarray:
    """(n,) bucket index 0..n_buckets-1 of each score: equal-count bins by rank, densest (smallest score) first."""
    n = len(scores)
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.argsort(scores, kind="stable")] = np.arange(n)
    return (ranks * n_buckets // max(n, 1)).astype(np.int64)


def bucket_weights(scores: np.ndarray, buckets: np.ndarray, n_buckets: int, *, cap: float = 5.0) -> np.ndarray:
    """(n,) sampling weight of each record: its bucket's, mean 1 over the records (all 1 without density
    differences)."""
    scale = float(np.median(scores)) if len(scores) else 0.0
    if scale <= 0:
        scale = float(scores.mean()) if len(scores) else 0.0
    if scale <= 0:  # every record has k exact duplicates: nothing to weight
        return np.ones(len(scores))
    clipped = np.clip(scores / scale, 1.0 / cap, cap)
    per_bucket = np.array([clipped[buckets == b].mean() if (buckets == b).any() else 1.0 for b in range(n_buckets)])
    w = per_bucket[buckets]
    return w / w.mean()
