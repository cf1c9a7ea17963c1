"""One-dimensional Gaussian mixtures for many columns at once (mode-specific normalisation).

CTGAN fits one scikit-learn ``BayesianGaussianMixture`` per numeric column, a Python loop
of iterative fits that takes seconds on a 10k-row table. Here every numeric column is
fitted in the same array operations: an EM algorithm on a ``(columns, rows, components)``
array, with

- **initial means** at evenly spaced quantiles of each column; a quantile that repeats the
  previous one (a column with few distinct values) starts no component, so a 0/1-like
  column gets two modes, not ten copies of them;
- a **variance floor** of ``(var_floor * column std)^2`` so a component that sits on one
  repeated value (a spike of zeros) cannot collapse to zero width;
- **pruning**: components whose weight ends below ``min_weight`` are dropped (CTGAN's
  0.005 threshold), the rest renormalised.

Rows with a missing value take no part in a column's fit (they get a missing-value
indicator elsewhere). The fit uses at most ``max_fit_rows`` rows per column, drawn at
random: ten components are pinned down by far fewer rows, and the cost stays flat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_LOG_2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class Mixtures:
    """Fitted mixtures of ``m`` columns with up to ``K`` components each.

    ``means``, ``stds``, ``weights``: (m, K) float64; ``active``: (m, K) bool, which
    components exist (inactive ones have weight 0). Active components come first in each
    row, so a column's modes are ``0 .. n_modes[j] - 1``.
    """

    means: np.ndarray
    stds: np.ndarray
    weights: np.ndarray
    active: np.ndarray

    @property
    def n_modes(self) -> np.ndarray:
        """(m,) number of active components per column."""
        return self.active.sum(axis=1)

    def log_resp(self, x: np.ndarray) -> np.ndarray:
        """(n, m, K) log posterior of each component for values ``x`` (n, m); NaN rows give NaN."""
        logp = _log_joint(x.T[:, :, None], self.means[:, None, :], self.stds[:, None, :],
                          self.weights[:, None, :], self.active[:, None, :])
        norm = _logsumexp(logp, axis=2)
        return np.transpose(logp - norm[:, :, None], (1, 0, 2))

    def to_dict(self) -> dict[str, list]:
        return {"means": self.means.tolist(), "stds": self.stds.tolist(),
                "weights": self.weights.tolist(), "active": self.active.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, list]) -> Mixtures:
        return cls(np.asarray(d["means"], dtype=np.float64), np.asarray(d["stds"], dtype=np.float64),
                   np.asarray(d["weights"], dtype=np.float64), np.asarray(d["active"], dtype=bool))


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(top, axis) + np.log(np.sum(np.exp(a - top), axis=axis))


def _log_joint(x: np.ndarray, mu: np.ndarray, sd: np.ndarray, w: np.ndarray, active: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        logw = np.where(active, np.log(np.maximum(w, 1e-300)), -np.inf)
    z = (x - mu) / sd
    return logw - np.log(sd) - 0.5 * _LOG_2PI - 0.5 * z * z


def fit_mixtures(
    x: np.ndarray,
    *,
    n_components: int = 10,
    max_iter: int = 100,
    tol: float = 1e-3,
    var_floor: float = 1e-3,
    min_weight: float = 0.005,
    max_fit_rows: int = 5000,
    rng: np.random.Generator | None = None,
) -> Mixtures:
    """Fit a ``n_components`` Gaussian mixture to every column of ``x`` (n, m) by EM.

    NaN marks a missing value. A column without any finite value gets one component at
    0 with unit width. Returns :class:`Mixtures`; the fit stops when no column's mean
    log-likelihood per row improves by more than ``tol`` or after ``max_iter`` steps.
    """
    x = np.asarray(x, dtype=np.float64)
    n, m = x.shape
    k = n_components
    rng = rng if rng is not None else np.random.default_rng(0)
    if n > max_fit_rows:
        x = x[np.sort(rng.choice(n, max_fit_rows, replace=False))]
    observed = np.isfinite(x)
    counts = observed.sum(axis=0)
    xf = np.where(observed, x, 0.0).T[:, :, None]  # (m, n, 1)
    obs = observed.T[:, :, None].astype(np.float64)

    # Initial means at evenly spaced quantiles; repeated quantiles start no component.
    q = (np.arange(k) + 0.5) / k
    means = np.zeros((m, k))
    active = np.zeros((m, k), dtype=bool)
    std = np.ones(m)
    for j in range(m):  # a quantile per column: m is small, the heavy work is vectorised below
        values = x[observed[:, j], j]
        if values.size == 0:
            active[j, 0] = True
            continue
        start = np.unique(np.quantile(values, q))
        means[j, : start.size] = start
        active[j, : start.size] = True
        std[j] = float(values.std()) or 1.0
    floor = (var_floor * std)[:, None]
    spread = np.where(active, std[:, None] / np.maximum(active.sum(1, keepdims=True), 1), 1.0)
    stds = np.maximum(spread, floor)
    weights = active / np.maximum(active.sum(1, keepdims=True), 1)

    previous = np.full(m, -np.inf)
    for _ in range(max_iter):
        logp = _log_joint(xf, means[:, None, :], stds[:, None, :], weights[:, None, :], active[:, None, :])
        norm = _logsumexp(logp, axis=2)  # (m, n)
        resp = np.exp(logp - norm[:, :, None]) * obs
        nk = resp.sum(axis=1)  # (m, K)
        alive = active & (nk > 1e-8)
        safe = np.maximum(nk, 1e-300)
        means = np.where(alive, (resp * xf).sum(axis=1) / safe, means)
        var = (resp * (xf - means[:, None, :]) ** 2).sum(axis=1) / safe
        stds = np.where(alive, np.sqrt(np.maximum(var, floor**2)), stds)
        weights = np.where(alive, nk / np.maximum(counts[:, None], 1), 0.0)
        active = alive
        loglik = (norm * obs[:, :, 0]).sum(axis=1) / np.maximum(counts, 1)
        if np.all(loglik - previous <= tol):
            break
        previous = loglik
    return _pruned(means, stds, weights, active, min_weight)


def _pruned(means: np.ndarray, stds: np.ndarray, weights: np.ndarray, active: np.ndarray,
            min_weight: float) -> Mixtures:
    """Drop components below ``min_weight`` (keeping at least the heaviest), renormalise, and
    move each column's active components to the front, heaviest first."""
    keep = active & (weights >= min_weight)
    heaviest = np.argmax(np.where(active, weights, -1.0), axis=1)
    keep[np.arange(keep.shape[0]), heaviest] = True
    w = np.where(keep, weights, 0.0)
    w = w / w.sum(axis=1, keepdims=True)
    order = np.argsort(-w, axis=1, kind="stable")
    take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    return Mixtures(take(means), take(stds), take(w), take(keep))
