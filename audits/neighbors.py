"""Exact nearest-neighbour search by blocked matrix arithmetic.

Distances are computed block by block with torch (BLAS, all cores), so memory stays
bounded at about ``block_queries * block_reference * 8`` bytes whatever the table size,
and the answer is exact: no subsampling, no approximate index.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

Metric = Literal["euclidean", "cityblock", "mean_abs"]

# Squared distances below this are treated as exact ties at zero: float64 round-off of
# the |q|^2 + |r|^2 - 2 q.r expansion is far smaller, real differences far larger.
_ZERO_TOL = 1e-10


def nearest(
    queries: np.ndarray,
    reference: np.ndarray,
    k: int = 1,
    *,
    metric: Metric = "euclidean",
    exclude_self: bool = False,
    block_queries: int = 2048,
    block_reference: int = 16384,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest reference rows of each query row.

    Args:
        queries: (n_q, d) float array.
        reference: (n_r, d) float array, same encoding as ``queries``.
        k: neighbours per query (``k <= n_r``, minus one with ``exclude_self``).
        metric: ``"euclidean"`` (L2), ``"cityblock"`` (L1) or ``"mean_abs"``
            (L1 divided by d: the mean per-feature absolute difference).
        exclude_self: queries *are* the reference (same array); skip each row's own index.
        block_queries / block_reference: block sizes bounding memory.

    Returns:
        ``(distances, indices)``, both (n_q, k), sorted nearest first; distances float64 in
        the metric's units, indices int64 into ``reference``.
    """
    q_all = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float64))
    r_all = torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float64))
    n_q, n_r = q_all.shape[0], r_all.shape[0]
    if q_all.ndim != 2 or r_all.ndim != 2 or q_all.shape[1] != r_all.shape[1]:
        raise ValueError(f"queries {tuple(q_all.shape)} and reference {tuple(r_all.shape)} must be 2-D with equal width")
    k_eff = k + (1 if exclude_self else 0)
    if k_eff > n_r:
        raise ValueError(f"k={k} neighbours requested but the reference has {n_r} rows")
    dims = max(q_all.shape[1], 1)
    out_d = np.empty((n_q, k), dtype=np.float64)
    out_i = np.empty((n_q, k), dtype=np.int64)
    r_sq = (r_all * r_all).sum(1) if metric == "euclidean" else None

    with torch.no_grad():
        for qs in range(0, n_q, block_queries):
            q = q_all[qs : qs + block_queries]
            best_d = torch.full((q.shape[0], k_eff), float("inf"), dtype=torch.float64)
            best_i = torch.full((q.shape[0], k_eff), -1, dtype=torch.int64)
            q_sq = (q * q).sum(1, keepdim=True) if metric == "euclidean" else None
            for rs in range(0, n_r, block_reference):
                r = r_all[rs : rs + block_reference]
                if metric == "euclidean":
                    d = torch.addmm(r_sq[rs : rs + r.shape[0]][None, :], q, r.T, alpha=-2.0).add_(q_sq)
                else:
                    d = torch.cdist(q, r, p=1.0)
                if exclude_self:
                    rows = torch.arange(q.shape[0])
                    cols = rows + qs - rs
                    inside = (cols >= 0) & (cols < r.shape[0])
                    d[rows[inside], cols[inside]] = float("inf")
                # Reduce the block to its own k best first, then merge with the running best:
                # top-k over a (block x k) candidate set is cheap, over the full block is not.
                kb = min(k_eff, r.shape[0])
                if kb == 1:
                    blk_d, blk_pos = d.min(dim=1, keepdim=True)
                else:
                    blk_d, blk_pos = torch.topk(d, kb, dim=1, largest=False, sorted=False)
                cand_d = torch.cat([best_d, blk_d], dim=1)
                cand_i = torch.cat([best_i, blk_pos + rs], dim=1)
                top_d, pos = torch.topk(cand_d, k_eff, dim=1, largest=False, sorted=True)
                best_d, best_i = top_d, torch.gather(cand_i, 1, pos)
            if metric == "euclidean":
                best_d = best_d.clamp(min=0.0)
                best_d[best_d < _ZERO_TOL] = 0.0
                best_d = best_d.sqrt()
            elif metric == "mean_abs":
                best_d = best_d / dims
            out_d[qs : qs + q.shape[0]] = best_d[:, :k].numpy()
            out_i[qs : qs + q.shape[0]] = best_i[:, :k].numpy()
    return out_d, out_i


def nearest_distance(queries: np.ndarray, reference: np.ndarray, *, metric: Metric = "euclidean") -> np.ndarray:
    """Distance of each query row to its closest reference row, shape (n_q,)."""
    return nearest(queries, reference, 1, metric=metric)[0][:, 0]
