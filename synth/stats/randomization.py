"""Randomization (design-based) inference for statistics of a random train/holdout split.

The privacy audits compare training records with holdout records. Both are one random
partition of a pool of ``N`` real units (rows, or persons when a group column names who
a row belongs to): ``m`` units went to training, ``N - m`` to the holdout. Without
memorisation the synthetic data cannot depend on which units went where, so, given the
pool and the synthetic data, every partition with ``m`` training units is equally likely.
A statistic that is a sum over training units, ``T = sum_{u in train} v_u`` for values
``v_u`` computed from the pool and the synthetic data alone, then has a known null
distribution: that of the sum of a simple random sample (without replacement) of ``m``
of the ``N`` values. This holds whatever the population, the synthetic sample size or the
dependence between rows, which is why the audits' intervals use it: it accounts for the
sampling of training, holdout and synthetic rows at once (the values ``v_u`` already carry
the synthetic sample's randomness).

- :func:`partition_variance`: the exact variance of ``T`` over random partitions
  (the finite-population sampling formula, Cochran 1977, *Sampling Techniques*, thm 2.2).
- :func:`partition_sums`: Monte Carlo draws of ``T`` for an exact permutation test;
  with ``B`` draws, ``(1 + #{T_b >= T}) / (B + 1)`` is an exact-level p-value.

Both are pure functions of arrays with an explicit seed, so they can be sharded.
"""

from __future__ import annotations

import numpy as np


def partition_variance(values: np.ndarray, n_selected: int) -> float:
    """Variance of the sum of ``n_selected`` values drawn without replacement from ``values``.

    Args:
        values: (N,) float, one value per unit of the pool.
        n_selected: units in the sample (training units), 0 <= n_selected <= N.

    Returns:
        ``m (N - m) / N * S^2`` with ``S^2 = sum (v - mean)^2 / (N - 1)``; 0 when N < 2.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    m = int(n_selected)
    if n < 2 or m <= 0 or m >= n:
        return 0.0
    s2 = float(np.sum((v - v.mean()) ** 2) / (n - 1))
    return m * (n - m) / n * s2


def partition_sums(
    weights: np.ndarray, n_units: int, n_selected: int, *, n_draws: int = 4000, seed: int = 0
) -> np.ndarray:
    """Monte Carlo null distribution of ``T = sum_{u in sample} w_u`` for sparse weights.

    Args:
        weights: (K,) float, the non-zero values ``w_u`` of the ``K`` units that carry any
            (all other units of the pool have value 0).
        n_units: ``N``, units in the pool (>= K).
        n_selected: ``m``, units drawn into the sample (training units).
        n_draws: Monte Carlo draws ``B``.
        seed: seeds the draws (no global random state is touched).

    Returns:
        (n_draws,) float64 draws of ``T``. Units with equal weights are interchangeable, so
        a draw only needs how many units of each distinct weight fall into the sample:
        multivariate hypergeometric counts (:meth:`numpy.random.Generator.multivariate_hypergeometric`),
        exact, at a cost in the number of distinct weights rather than of units.
    """
    w = np.asarray(weights, dtype=np.float64)
    k = w.size
    if k == 0 or n_draws <= 0:
        return np.zeros(max(int(n_draws), 0))
    if k > n_units or not 0 <= n_selected <= n_units:
        raise ValueError(f"need 0 <= n_selected <= n_units and K <= n_units; got K={k}, N={n_units}, m={n_selected}")
    values, counts = np.unique(w, return_counts=True)
    colors = np.r_[counts, n_units - k].astype(np.int64)  # the last colour: the zero-weight units
    drawn = np.random.default_rng(seed).multivariate_hypergeometric(colors, int(n_selected), size=int(n_draws))
    return drawn[:, :-1] @ values


def permutation_p_value(observed: float, draws: np.ndarray) -> float:
    """One-sided (greater) Monte Carlo permutation p-value ``(1 + #{T_b >= T}) / (B + 1)``.

    Exact level: under the null it is at most ``alpha`` with probability at most ``alpha``
    (the observed statistic is one more exchangeable draw). A relative tolerance of 1e-12
    counts draws equal to the observed value up to round-off as ties (ties count against
    the alternative).
    """
    d = np.asarray(draws, dtype=np.float64)
    tol = 1e-12 * max(1.0, abs(observed))
    return float((1 + np.count_nonzero(d >= observed - tol)) / (d.size + 1))
