"""Exact nearest-neighbour search by blocked matrix arithmetic.

The reference table is cut into tiles of at most ``block_reference`` rows and the queries
into tiles of at most ``block_queries`` rows, both further capped at a cache-sized
512 x 1024 (a tile of distances stays in one core's L2 cache). Memory stays bounded --
a few tile-sized buffers and a ``chunk x n_tiles`` table of tile minima per thread, plus
a float64 and a float32 copy of the reference -- whatever the table size. Nothing is
subsampled and no approximate index is used.

The queries are split into chunks, one thread per chunk at a time (one thread per core
torch may use, each running single-threaded torch kernels, so a core briefly taken by
another process does not stall the others). A chunk is searched in two passes:

1. **screen**: for every (query, reference tile) the smallest screening value in the tile
   (one matrix product and one row minimum per tile pair, nothing else);
2. **exact**: for each query, only the tiles that can hold one of its ``k`` nearest rows
   are recomputed in float64 and merged into the running ``k`` best.

**Euclidean.** Squared distances come from the expansion
``|q - r|^2 = |q|^2 + (|r|^2 - 2 q.r)``, rows first centred on the reference mean (fewer
cancelling digits), ``|r|^2 - 2 q.r`` computed as one matrix product of augmented rows
``[q, 1] . [-2 r, |r|^2]`` (``|q|^2`` is the same for every candidate of a query, so it
is left out of the ranking). The ranking values are this expansion in float64; the
distances of the ``k`` winners are then recomputed from their differences (no
cancellation: an exact copy is exactly 0), squared distances below ``_ZERO_TOL`` counting
as 0, and re-sorted. The screen runs in float32 (twice as fast): by the standard bound on a
floating-point dot product (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd
ed. 2002, section 3.1; any summation order, with or without FMA) a float32 value differs
from the float64 one by at most

    E_q = 2 * gamma_{d+3} * (2 |q| R + R^2),   gamma_n = n u / (1 - n u),   u = 2^-24,

with ``R`` the largest (centred) reference norm; ``d + 3`` covers the ``d + 1`` products
and the rounding of both factors to float32, the factor 2 the float64 value's own, far
smaller, error. Let ``m_b`` be a query's float32 minimum in tile ``b`` and ``U`` the
``k``-th smallest of the ``m_b``: these are ``k`` distinct entries whose float64 values
are at most ``U + E_q``, so the ``k``-th smallest float64 value overall is at most
``U + E_q``, and every one of the ``k`` nearest rows (ties included) has a float32 value,
hence a tile minimum, of at most ``U + 2 E_q``. Only tiles with ``m_b <= U + 2 E_q`` are
recomputed, so the result is that of a pure float64 search. The screen runs in float64
instead (the same bound with float64's ``u = 2^-53``, which covers the two passes summing in
different orders) when torch's float32 matrix products may use reduced precision
(``torch.get_float32_matmul_precision() != "highest"``, or a ``fp32_precision`` backend
setting other than IEEE) or the data's magnitude would overflow float32.

**Row screen (many neighbours, few tiles).** Tile minima only prune when a query's ``k``
nearest rows fall into few of many tiles; with ``k`` near or above the number of tiles (50
nearest of 10,000 images: 10 tiles) every tile is a candidate and the exact pass redoes the
whole product in float64. For Euclidean searches with ``k >= 8`` and more than half as many
neighbours as tiles the screen instead keeps, per query, its ``K = k + max(8, k // 4)``
smallest screening values over all rows (a running top-``K`` merged tile by tile). With
``U`` the ``k``-th smallest of them, the argument above, made row by row, puts every one of
the ``k`` nearest rows at a screening value of at most ``U + 2 E_q``; when the ``K``-th kept
value lies above that bound, the kept rows under it are a complete candidate set and their
distances are computed from differences in float64 (about ``k`` rows per query instead of
all of them). A query whose ``K``-th value does not clear the bound (more than ``K - k``
rows tie with its ``k``-th neighbour, e.g. exact duplicates) takes the exact pass over every
tile. Either way the answer is that of a float64 search.

**City block / mean absolute** distances are computed in float64 by ``torch.cdist`` in both
passes; the tile test allows ``2 * 2 gamma_{d+1} (|q|_1 + max |r|_1)`` for their rounding.

``exclude_self``: the search asks for ``k + 1`` rows and drops the query's own row (or,
when exact duplicates crowd it out, the last of the ``k + 1``, which then is at distance
zero like the rest), so the distances are those of the nearest *other* rows.

**Shards.** On a distributed engine (:mod:`synth.execution`, e.g. Ray) the queries are cut
into row ranges, the reference goes to the workers once (the engine's object store), and
each worker runs the search above on its range. Nothing a query's neighbours depend on
changes with the range it is in (the reference's shuffle and tiles, the screen's bound,
the float64 re-check), so the sharded search returns the unsharded one's distances. The
ranges are whole chunks of the unsharded search, so the worker multiplies the same blocks
of queries and also picks the same row among equidistant ones (the DCR share and the
per-person statistics credit that row's person): indices equal the local engine's too.

Ties: among reference rows at the same distance any one may be returned (the distances
are the same). Tiles hold the reference rows in a fixed pseudo-random order, so a table
sorted along some column does not bunch its nearest rows into few tiles; results are
deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Literal

import numpy as np
import torch

from synth.execution.active import active_engine
from synth.execution.engine import Engine, Shard
from synth.execution.progress import QUIET, track

Metric = Literal["euclidean", "cityblock", "mean_abs"]
METRICS: tuple[str, ...] = ("euclidean", "cityblock", "mean_abs")

# Squared distances below this count as zero: such rows are the same record up to the
# float32 rounding of the encoding (real differences are far larger). It once absorbed the
# round-off of the |q|^2 + |r|^2 - 2 q.r expansion; winners are now recomputed from differences.
_ZERO_TOL = 1e-10
# Cache-sized tiles: 512 x 1024 float32 or 256 x 1024 float64 values are 2 MiB (one core's L2).
_TILE_REFERENCE = 1024
_TILE_QUERIES = {torch.float32: 512, torch.float64: 256}
# Queries per chunk (one thread's unit of work): enough rows that the exact pass merges
# many rows per tile, few enough that the chunk x n_tiles minima stay small.
_CHUNK_QUERIES = 4096
_MAX_CHUNK_ENTRIES = 1 << 23
# Running k-best buffers (rows x (k + tile width)) stay below this many entries.
_MAX_CANDIDATES = 1 << 22
# The row screen's float64 differences (rows x kept x columns) stay below this many entries.
_MAX_DIFFERENCE_ENTRIES = 1 << 22
# A sharded search (a distributed engine) gives each shard at least this many queries, and
# cuts the queries into at most this many shards per worker (a dead worker's shard is small
# to redo, and a slow worker does not hold up the rest).
_MIN_SHARD_QUERIES = 2048
_SHARDS_PER_WORKER = 4
# Row screen (module docstring): used for Euclidean searches with at least this many
# neighbours when there are fewer than twice as many reference tiles as neighbours; it keeps
# k + max(_ROW_SCREEN_SPARE, k // 4) screening values per query.
_ROW_SCREEN_MIN_K = 8
_ROW_SCREEN_SPARE = 8
# Unit round-offs of float32 and float64.
_U32 = 2.0**-24
_U64 = 2.0**-53
# Beyond this norm float32 products could overflow.
_MAX_FLOAT32_NORM = 1e15


@contextmanager
def _single_threaded_torch() -> Iterator[int]:
    """Yield how many threads torch may use, while torch kernels run single-threaded
    (the parallelism is then ours: one chunk of queries per thread)."""
    threads = max(1, torch.get_num_threads())
    if threads == 1:
        yield 1
        return
    torch.set_num_threads(1)
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)


def _float32_products_are_ieee() -> bool:
    """Whether torch's float32 matrix products on the CPU are plain IEEE float32 (no bf16/tf32);
    when unsure, no (the search then stays in float64)."""
    for backend in (torch.backends, getattr(torch.backends.mkldnn, "matmul", None)):
        setting = getattr(backend, "fp32_precision", None)  # torch >= 2.9 names it per backend
        if setting is not None and setting not in ("none", "ieee"):
            return False
    try:
        return torch.get_float32_matmul_precision() == "highest"
    except RuntimeError:  # legacy and new precision settings mixed
        return False


def _gamma(n: int, u: float) -> float:
    """Higham's gamma_n = n u / (1 - n u): relative error bound of an n-term dot product."""
    return n * u / (1.0 - n * u)


class _Search:
    """One search: the reference cut into (shuffled, centred, augmented) tiles, the queries
    prepared the same way, and the two-pass search of a chunk of queries."""

    def __init__(self, q: np.ndarray, r: np.ndarray, k: int, metric: Metric, tile_q: int, tile_r: int) -> None:
        n_r = r.shape[0]
        self.k, self.metric = k, metric
        # A fixed shuffle: a reference sorted along a column would put the nearest rows of
        # many queries into the same few tiles and make their tile minima uninformative.
        self.perm = torch.randperm(n_r, generator=torch.Generator().manual_seed(0))
        r_t = torch.from_numpy(r)[self.perm]
        q_t = torch.from_numpy(q)
        self.starts = list(range(0, n_r, tile_r))
        self.screen32 = False
        if metric == "euclidean":
            centre = r_t.mean(0)
            r_c, q_c = r_t - centre, q_t - centre
            r_sq = (r_c * r_c).sum(1)
            q_norm = (q_c * q_c).sum(1).sqrt()
            self.q64 = torch.cat([q_c, torch.ones(q_c.shape[0], 1, dtype=torch.float64)], 1)
            ref_aug = torch.cat([-2.0 * r_c, r_sq[:, None]], 1).T  # (d + 1, n_r)
            self.tiles64 = [ref_aug[:, s : s + tile_r].contiguous() for s in self.starts]
            r_max = float(r_sq.max().sqrt())
            self.screen32 = (
                _float32_products_are_ieee()
                and r_max < _MAX_FLOAT32_NORM
                and float(q_norm.max()) < _MAX_FLOAT32_NORM
            )
            if self.screen32:
                self.q32 = self.q64.to(torch.float32)
                self.tiles32 = [t.to(torch.float32) for t in self.tiles64]
            # Twice the error bound E_q: the screen's own error plus that of the exact value it
            # stands for. In float64 it only covers the two passes summing in different orders.
            gamma = _gamma(q_c.shape[1] + 3, _U32 if self.screen32 else _U64)
            self.slack = 4.0 * gamma * (2.0 * q_norm * r_max + r_max * r_max) + 1e-300
        else:
            self.q64 = q_t
            self.tiles64 = [r_t[s : s + tile_r].contiguous() for s in self.starts]
            # |sum |q - r| computed - exact| <= gamma_{d+1} (|q|_1 + |r|_1), twice over as above
            r_l1 = float(r_t.abs().sum(1).max())
            self.slack = 4.0 * _gamma(q_t.shape[1] + 1, _U64) * (q_t.abs().sum(1) + r_l1) + 1e-300
        self.tile_q = min(tile_q, _TILE_QUERIES[torch.float32 if self.screen32 else torch.float64])
        self.row_screen = metric == "euclidean" and k >= _ROW_SCREEN_MIN_K and 2 * k > len(self.starts)
        if self.row_screen:
            self.kept = min(n_r, k + max(_ROW_SCREEN_SPARE, k // 4))
            # uncentred rows, for distances from differences (the caller's arrays, not copies)
            self.q_rows, self.r_rows = q_t, torch.from_numpy(r)

    def _width(self, b: int) -> int:
        t = self.tiles64[b]
        return t.shape[1] if self.metric == "euclidean" else t.shape[0]

    def _exact(self, rows: torch.Tensor | slice, b: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """float64 values (rows x tile width) ranking the reference rows of tile ``b``."""
        if self.metric == "euclidean":
            return torch.mm(self.q64[rows], self.tiles64[b], out=out)
        return torch.cdist(self.q64[rows], self.tiles64[b], p=1.0)

    def _screen(self, cs: int, ce: int) -> torch.Tensor:
        """Pass 1: (n_tiles, ce - cs) smallest screening value of each tile for queries cs:ce."""
        dtype = torch.float32 if self.screen32 else torch.float64
        minima = torch.empty(len(self.starts), ce - cs, dtype=dtype)
        buf = torch.empty(self.tile_q * max(self._width(0), 1), dtype=dtype)
        for qs in range(cs, ce, self.tile_q):
            qe = min(qs + self.tile_q, ce)
            m = qe - qs
            for b in range(len(self.starts)):
                view = buf[: m * self._width(b)].view(m, self._width(b))
                if self.screen32:
                    t = torch.mm(self.q32[qs:qe], self.tiles32[b], out=view)
                elif self.metric == "euclidean":
                    t = self._exact(slice(qs, qe), b, out=view)
                else:
                    t = self._exact(slice(qs, qe), b)
                torch.amin(t, 1, out=minima[b, qs - cs : qe - cs])
        return minima

    def run_chunk(self, cs: int, ce: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` best (ranking values, positions in the shuffled reference) of queries cs:ce."""
        k, n_tiles = self.k, len(self.starts)
        minima = self._screen(cs, ce).to(torch.float64)
        if k <= n_tiles:
            bound = torch.kthvalue(minima, k, dim=0).values + self.slack[cs:ce]
            candidate = minima <= bound  # (n_tiles, rows)
        else:
            candidate = torch.ones_like(minima, dtype=torch.bool)
        best = torch.full((ce - cs, k), float("inf"), dtype=torch.float64)
        best_i = torch.full((ce - cs, k), -1, dtype=torch.int64)
        for b in range(n_tiles):
            rows = torch.nonzero(candidate[b]).squeeze(1)
            if rows.numel():
                self._merge(best, best_i, rows, self._exact(cs + rows, b), self.starts[b])
        return best, best_i

    def run_chunk_rows(self, cs: int, ce: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Row screen of queries cs:ce (module docstring): ``(d2, positions, complete)``.

        ``d2`` (rows, k) float64 squared Euclidean distances from differences, ascending, and
        ``positions`` (rows, k) in the shuffled reference, valid where ``complete`` (rows,) bool;
        the other rows need :meth:`run_rows_exact`.
        """
        k, kept, m = self.k, self.kept, ce - cs
        dtype = torch.float32 if self.screen32 else torch.float64
        tiles = self.tiles32 if self.screen32 else self.tiles64
        queries = self.q32 if self.screen32 else self.q64
        top = torch.full((m, kept), float("inf"), dtype=dtype)
        top_i = torch.full((m, kept), -1, dtype=torch.int64)
        for qs in range(cs, ce, self.tile_q):
            qe = min(qs + self.tile_q, ce)
            local = slice(qs - cs, qe - cs)
            for b, start in enumerate(self.starts):
                values = torch.mm(queries[qs:qe], tiles[b])
                v, pos = torch.topk(values, min(kept, values.shape[1]), dim=1, largest=False, sorted=False)
                cand = torch.cat([top[local], v], 1)
                cand_i = torch.cat([top_i[local], pos + start], 1)
                top[local], at = torch.topk(cand, kept, dim=1, largest=False, sorted=True)
                top_i[local] = torch.gather(cand_i, 1, at)
        top = top.to(torch.float64)
        bound = top[:, k - 1] + self.slack[cs:ce]
        complete = (top[:, -1] > bound) if kept < len(self.perm) else torch.ones(m, dtype=torch.bool)
        d2 = torch.full((m, kept), float("inf"), dtype=torch.float64)
        under = top <= bound[:, None]
        step = max(1, _MAX_DIFFERENCE_ENTRIES // max(kept * self.q_rows.shape[1], 1))
        for s in range(0, m, step):
            e = min(s + step, m)
            diff = self.q_rows[cs + s : cs + e, None, :] - self.r_rows[self.perm[top_i[s:e]]]
            d2[s:e] = torch.where(under[s:e], (diff * diff).sum(-1), torch.inf)
        d2, at = torch.topk(d2, k, dim=1, largest=False, sorted=True)
        return d2, torch.gather(top_i, 1, at), complete

    def run_rows_exact(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` best (ranking values, shuffled positions) of the queries ``rows`` over every tile."""
        best = torch.full((rows.numel(), self.k), float("inf"), dtype=torch.float64)
        best_i = torch.full((rows.numel(), self.k), -1, dtype=torch.int64)
        local = torch.arange(rows.numel())
        for b, start in enumerate(self.starts):
            self._merge(best, best_i, local, self._exact(rows, b), start)
        return best, best_i

    def _merge(self, best: torch.Tensor, best_i: torch.Tensor, rows: torch.Tensor, exact: torch.Tensor, rs: int) -> None:
        """Merge a tile's exact values for chunk rows ``rows`` into their running ``k`` best."""
        k = self.k
        if k == 1:
            v, pos = exact.min(1)
            better = v < best[rows, 0]
            rows = rows[better]
            best[rows, 0] = v[better]
            best_i[rows, 0] = pos[better] + rs
            return
        kb = min(k, exact.shape[1])
        v, pos = torch.topk(exact, kb, dim=1, largest=False, sorted=False)
        cand = torch.cat([best[rows], v], 1)
        cand_i = torch.cat([best_i[rows], pos + rs], 1)
        top, at = torch.topk(cand, k, dim=1, largest=False, sorted=True)
        best[rows] = top
        best_i[rows] = torch.gather(cand_i, 1, at)


def _recomputed(q: np.ndarray, r: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances of queries q (n, d) to their chosen rows ``r[idx]`` (idx (n, k)),
    recomputed from the differences (no cancellation: an exact copy is exactly 0), then
    sorted nearest first. Squared distances below ``_ZERO_TOL`` count as 0."""
    d2 = np.empty(idx.shape, dtype=np.float64)
    step = max(1, (1 << 22) // max(idx.shape[1] * q.shape[1], 1))
    for s in range(0, q.shape[0], step):
        diff = q[s : s + step, None, :] - r[idx[s : s + step]]
        d2[s : s + step] = np.einsum("ijk,ijk->ij", diff, diff)
    d2[d2 < _ZERO_TOL] = 0.0
    order = np.argsort(d2, axis=1, kind="stable")
    return np.sqrt(np.take_along_axis(d2, order, 1)), np.take_along_axis(idx, order, 1)


def _drop_self(d: np.ndarray, i: np.ndarray, own_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From (n, k + 1) neighbours of the reference rows ``own_rows`` (n,), drop each row's own
    index, or the last neighbour where the row itself is not among them (exact duplicates
    crowded it out, so all k + 1 are at its distance, zero)."""
    own = i == np.asarray(own_rows)[:, None]
    order = np.argsort(own, axis=1, kind="stable")[:, :-1]  # own index (if present) sorts last
    return np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)


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
        block_queries / block_reference: upper bounds on the tile sizes (the search uses
            at most 512 x 1024 tiles within them), bounding memory.

    Returns:
        ``(distances, indices)``, both (n_q, k), sorted nearest first; distances float64 in
        the metric's units, indices int64 into ``reference``. Exact (see the module
        docstring); among equidistant reference rows any one may be returned.
    """
    q = np.ascontiguousarray(queries, dtype=np.float64)
    r = np.ascontiguousarray(reference, dtype=np.float64)
    if q.ndim != 2 or r.ndim != 2 or q.shape[1] != r.shape[1]:
        raise ValueError(f"queries {tuple(q.shape)} and reference {tuple(r.shape)} must be 2-D with equal width")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: expected one of {', '.join(METRICS)}")
    n_q, n_r = q.shape[0], r.shape[0]
    if k < 1:
        raise ValueError(f"k={k}: ask for at least one neighbour")
    k_eff = k + (1 if exclude_self else 0)
    if k_eff > n_r:
        raise ValueError(f"k={k} neighbours requested but the reference has {n_r} rows")
    if exclude_self and n_q != n_r:
        raise ValueError(f"exclude_self needs the queries to be the reference; got {n_q} and {n_r} rows")
    if block_queries < 1 or block_reference < 1:
        raise ValueError(f"block sizes must be at least 1, got {block_queries} and {block_reference}")
    if not (np.isfinite(q).all() and np.isfinite(r).all()):
        raise ValueError("queries and reference must be finite (encode missing values first)")
    if n_q == 0:
        return np.empty((n_q, k), dtype=np.float64), np.empty((n_q, k), dtype=np.int64)
    engine = active_engine()
    if engine.distributed and n_q >= 2 * _MIN_SHARD_QUERIES:
        return _nearest_sharded(engine, q, r, k, metric, exclude_self, block_queries, block_reference)
    return _nearest_here(q, r, k, metric, exclude_self, block_queries, block_reference, label="nearest-neighbour search")


def _tiling(n_q: int, n_r: int, k_eff: int, block_reference: int, threads: int) -> tuple[int, int, int]:
    """``(tile_r, chunk, size)``: reference tile width, the most queries a chunk may hold, and
    the chunk size used (chunks of near-equal size, their count a multiple of ``threads``)."""
    # Wider tiles for large k keep the merges (k + tile width per row and tile) linear in n_r.
    tile_r = min(block_reference, n_r, max(_TILE_REFERENCE, 4 * k_eff))
    n_tiles = -(-n_r // tile_r)
    chunk = max(1, min(_CHUNK_QUERIES, _MAX_CHUNK_ENTRIES // n_tiles, _MAX_CANDIDATES // (k_eff + tile_r)))
    n_chunks = -(-n_q // chunk)
    n_chunks = -(-n_chunks // threads) * threads
    return tile_r, chunk, -(-n_q // n_chunks)


def _nearest_here(
    q: np.ndarray, r: np.ndarray, k: int, metric: Metric, exclude_self: bool, block_queries: int,
    block_reference: int, *, label: str | None = None, row_offset: int = 0, chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest` of checked float64 arrays in this process; ``row_offset``: where ``q``'s
    rows start in ``r`` (exclude_self on a shard of the reference's rows); ``chunk_size``:
    queries per chunk (a shard uses the unsharded search's chunks, see :func:`_nearest_sharded`)."""
    n_q, n_r = q.shape[0], r.shape[0]
    k_eff = k + (1 if exclude_self else 0)
    out_d = np.empty((n_q, k), dtype=np.float64)
    out_i = np.empty((n_q, k), dtype=np.int64)

    with torch.no_grad(), _single_threaded_torch() as threads:
        tile_r, chunk, size = _tiling(n_q, n_r, k_eff, block_reference, threads)
        if chunk_size is not None:
            chunk = size = chunk_size
        search = _Search(q, r, k_eff, metric, min(block_queries, chunk), tile_r)
        starts = list(range(0, n_q, size))

        def work(cs: int) -> None:
            ce = min(cs + size, n_q)
            if search.row_screen:
                d2, pos, complete = search.run_chunk_rows(cs, ce)
                d2[d2 < _ZERO_TOL] = 0.0
                d, i = d2.sqrt().numpy(), search.perm[pos].numpy()
                redo = np.flatnonzero(~complete.numpy())
                if redo.size:
                    _, redo_i = search.run_rows_exact(torch.from_numpy(redo + cs))
                    d[redo], i[redo] = _recomputed(q[redo + cs], r, search.perm[redo_i].numpy())
            else:
                best, best_i = search.run_chunk(cs, ce)
                if metric == "mean_abs":
                    best = best / max(q.shape[1], 1)
                d, i = best.numpy(), search.perm[best_i].numpy()
                if metric == "euclidean":
                    d, i = _recomputed(q[cs:ce], r, i)
            if exclude_self:
                d, i = _drop_self(d, i, np.arange(cs, ce) + row_offset)
            out_d[cs:ce], out_i[cs:ce] = d, i
            tracker.advance(ce - cs)

        tracker = track(label, n_q, len(starts)) if label else QUIET
        try:
            if threads == 1 or len(starts) == 1:
                for cs in starts:
                    work(cs)
            else:
                with ThreadPoolExecutor(max_workers=min(threads, len(starts))) as pool:
                    list(pool.map(work, starts))
        finally:
            tracker.close()
    return out_d, out_i


def _search_shard(
    shared: dict[str, np.ndarray], start: int, stop: int, k: int, metric: Metric, exclude_self: bool,
    block_queries: int, block_reference: int, chunk_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One shard of a sharded search (runs on an engine's worker): queries ``start:stop``
    (whole chunks of the unsharded search) against the whole reference."""
    r = shared["reference"]
    q = r if exclude_self else shared["queries"]
    return _nearest_here(q[start:stop], r, k, metric, exclude_self, block_queries, block_reference, row_offset=start,
                         chunk_size=chunk_size)


def _nearest_sharded(
    engine: Engine, q: np.ndarray, r: np.ndarray, k: int, metric: Metric, exclude_self: bool,
    block_queries: int, block_reference: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest` with the queries cut into shards run by ``engine``; the reference (and
    the queries) are shared once, each shard gets only its row range."""
    n_q = q.shape[0]
    # Shards hold whole chunks of the unsharded search here: equidistant reference rows are
    # ranked by float sums whose rounding can depend on which queries share a matrix product,
    # so the same chunks pick the same one of them (and every index equals the local one's).
    _, _, chunk = _tiling(n_q, r.shape[0], k + (1 if exclude_self else 0), block_reference, max(1, torch.get_num_threads()))
    n_shards = max(1, min(-(-n_q // _MIN_SHARD_QUERIES), _SHARDS_PER_WORKER * engine.workers))
    size = -(-(-(-n_q // n_shards)) // chunk) * chunk
    work = {"queries": n_q, "reference_rows": r.shape[0], "dims": r.shape[1], "k": k}
    shards = [Shard((s, min(s + size, n_q), k, metric, exclude_self, block_queries, block_reference, chunk),
                    rows=min(size, n_q - s), work=work) for s in range(0, n_q, size)]
    shared = {"reference": r} if exclude_self else {"reference": r, "queries": q}
    parts = engine.map(_search_shard, shards, shared=shared, label="nearest-neighbour search")
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def nearest_other(
    data: np.ndarray,
    rows: np.ndarray,
    k: int = 1,
    *,
    metric: Metric = "euclidean",
    block_queries: int = 2048,
    block_reference: int = 16384,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest *other* rows of ``data`` for the rows ``rows`` (indices into ``data``).

    ``nearest(data, data, k, exclude_self=True)`` restricted to some query rows: each query
    ``data[rows[j]]`` is compared with every row of ``data`` but itself. Shapes: data
    (n, d), rows (n_q,) distinct or not; returns ``(distances, indices)``, both (n_q, k).
    """
    rows = np.asarray(rows, dtype=np.int64)
    data = np.asarray(data)
    if k + 1 > data.shape[0]:
        raise ValueError(f"k={k} other rows requested but the data has {data.shape[0]} rows")
    d, i = nearest(data[rows], data, k + 1, metric=metric, block_queries=block_queries, block_reference=block_reference)
    return _drop_self(d, i, rows)


def nearest_distance(queries: np.ndarray, reference: np.ndarray, *, metric: Metric = "euclidean") -> np.ndarray:
    """Distance of each query row to its closest reference row, shape (n_q,)."""
    return nearest(queries, reference, 1, metric=metric)[0][:, 0]
