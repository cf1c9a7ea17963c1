"""Exact nearest synthetic row under anonymeter's mixed-type distance, fast.

anonymeter's ``MixedTypeKNeighbors`` (v1.1, ``neighbors/mixed_types_kneighbors.py``) is the
model the inference and linkability attacks use. Its definition, read from the source:

- columns are split by dtype: numeric dtypes (``select_dtypes("number")``) are divided by
  their range over *both* frames (``x / (max - min)``; a zero range counts 1), every other
  dtype is label-encoded over both frames; the columns are ordered
  ``sorted(numeric) + sorted(categorical)``;
- the distance of two rows sums, column by column in that order, in float64:
  ``1`` when both values are NaN, else ``|a - b|`` for a numeric column (NaN when one of
  them is NaN, and a NaN distance sorts last) and ``1`` for a categorical mismatch;
- the nearest row is ``dist_row.argsort()[0]`` under numba's quicksort (not stable), so a tie
  goes to whichever tied row numba's quicksort puts first.

anonymeter runs one joblib task per query row and fully sorts each distance row. Here each
query row is scanned once for its minimum (O(n) instead of O(n log n)), in parallel, with
the same float64 arithmetic in the same column order, so the distances are bit-identical.
Only where the minimum is tied between rows that matter (with ``tie_codes``: rows with
different secrets) is the tie resolved, by following the partitions of numba's own quicksort
that contain position 0 (its jitted ``partition`` and ``insertion_sort``): the same index
``argsort()[0]`` returns, in O(n).

Two backends compute the same answer: ``"numba"`` (a fused CPU kernel: distances of a
cache-sized chunk of candidates, then its minimum and tie check; no distance matrix in
memory) and ``"torch"`` (distance blocks by column-wise tensor arithmetic, for a CUDA device).

The tie-breaking leans on numba's internal ``numba.misc.quicksort``, the code numba's own
``argsort`` is generated from; the tests compare against ``argsort`` itself, so a change in a
future numba shows up there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import numba
import numpy as np
import pandas as pd
import torch
from numba.misc.quicksort import SMALL_QUICKSORT, make_jit_quicksort
from numba.np.numpy_support import lt_floats

from synth.errors import DataError

Backend = Literal["auto", "numba", "torch"]

# Exactly the routines numba's ``np.argsort`` (kind "quicksort") of a float array is made of.
_QUICKSORT = make_jit_quicksort(lt=lt_floats, is_argsort=True, is_np_array=True)
_partition = _QUICKSORT.partition
_insertion_sort = _QUICKSORT.insertion_sort
_SMALL = SMALL_QUICKSORT

# Elements of one (queries x candidates) float64 block of the torch backend.
_CPU_BLOCK_ELEMENTS = 1 << 22
_CUDA_BLOCK_ELEMENTS = 1 << 27


def encode_like_anonymeter(candidates: pd.DataFrame, queries: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """anonymeter's ``mixed_types_transform`` as float64 arrays.

    Returns ``(C, Q, n_numeric)``: ``C`` (n_candidates, d) and ``Q`` (n_queries, d) with
    columns ordered ``sorted(numeric) + sorted(categorical)``; numeric values divided by the
    column's range over both frames, categorical values replaced by shared integer codes
    (a missing level gets code -1, where anonymeter's LabelEncoder would raise instead).
    """
    num_c = sorted(candidates.select_dtypes("number").columns)
    num_q = sorted(queries.select_dtypes("number").columns)
    if num_c != num_q or sorted(candidates.columns) != sorted(queries.columns):
        differ = sorted(set(num_c) ^ set(num_q)) or sorted(set(candidates.columns) ^ set(queries.columns))
        raise DataError(
            f"Columns {differ} differ between the synthetic and the real rows (missing, or numeric in "
            "one and not in the other); give both the same columns with the same dtypes."
        )
    cat = sorted(c for c in candidates.columns if c not in num_c)
    c_parts: list[np.ndarray] = []
    q_parts: list[np.ndarray] = []
    if num_c:
        # The same pandas expressions as anonymeter's _scale_numerical, hence the same bits.
        c_num, q_num = candidates[num_c], queries[num_c]
        c_min, c_max, q_min, q_max = c_num.min(), c_num.max(), q_num.min(), q_num.max()
        mins = c_min.where(c_min < q_min, q_min)
        maxs = c_max.where(c_max > q_max, q_max)
        ranges = maxs - mins
        ranges[ranges == 0] = 1
        c_parts.append(np.asarray(c_num.apply(lambda x: x / ranges[x.name]).values, dtype=np.float64))
        q_parts.append(np.asarray(q_num.apply(lambda x: x / ranges[x.name]).values, dtype=np.float64))
    for col in cat:
        both = pd.concat([candidates[col], queries[col]], ignore_index=True)
        codes = pd.factorize(both, use_na_sentinel=True)[0].astype(np.float64)
        c_parts.append(codes[: len(candidates), None])
        q_parts.append(codes[len(candidates) :, None])
    c_arr = np.hstack(c_parts) if c_parts else np.zeros((len(candidates), 0))
    q_arr = np.hstack(q_parts) if q_parts else np.zeros((len(queries), 0))
    return np.ascontiguousarray(c_arr), np.ascontiguousarray(q_arr), len(num_c)


def nearest_like_anonymeter(
    queries: pd.DataFrame,
    candidates: pd.DataFrame,
    *,
    tie_codes: np.ndarray | None = None,
    backend: Backend = "auto",
    device: str | torch.device = "cpu",
    n_jobs: int | None = None,
    block_elements: int | None = None,
) -> tuple[np.ndarray, int]:
    """The nearest candidate row of each query, as ``MixedTypeKNeighbors(n_neighbors=1)``.

    Args:
        queries: (n_q, d) frame of the attacker's known columns (the targets).
        candidates: (n_c, d) frame with the same columns (the synthetic rows).
        tie_codes: optional (n_c,) integer codes of what the caller reads off the neighbour
            (the secret). Ties among rows with equal codes are then not resolved (any of
            them gives the same answer); ``None`` resolves every tie.
        backend: ``"numba"`` (fused CPU kernel), ``"torch"`` (blocked tensors, any device),
            or ``"auto"``: torch on a CUDA ``device``, numba otherwise.
        device: torch device of the torch backend.
        n_jobs: threads (``None`` or ``-1``: all the library's default threads).
        block_elements: elements per torch distance block (8 bytes each, ~3 buffers).

    Returns:
        ``(indices, n_resolved)``: (n_q,) int64 positions into ``candidates`` equal to
        anonymeter's ``kneighbors(queries)[:, 0]`` (with ``tie_codes``: a row with the same
        code as that one), and how many queries needed their tie resolved.
    """
    c_arr, q_arr, n_num = encode_like_anonymeter(candidates, queries)
    if c_arr.shape[0] == 0:
        raise DataError("There are no synthetic rows to search: the synthetic data is empty.")
    codes = np.zeros(c_arr.shape[0], dtype=np.int64) if tie_codes is None else np.asarray(tie_codes, dtype=np.int64)
    dev = torch.device(device)
    use_torch = backend == "torch" or (backend == "auto" and dev.type == "cuda")
    if backend not in ("auto", "numba", "torch"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'torch', not {backend!r}")
    with _threads(n_jobs):
        if use_torch:
            idx, resolved = _torch_nearest(q_arr, c_arr, n_num, None if tie_codes is None else codes, dev, block_elements)
        else:
            nan_cols = np.isnan(c_arr).any(axis=0) | np.isnan(q_arr).any(axis=0)
            cand_cols = np.ascontiguousarray(c_arr.T)
            idx, amb = _fused_nearest(q_arr, cand_cols, n_num, nan_cols, codes, tie_codes is not None)
            resolved = int(amb.sum())
    return idx, resolved


def argsort_first(rows: np.ndarray) -> np.ndarray:
    """``row.argsort()[0]`` under numba's quicksort, for each row of an (m, n) float64 array.

    Position 0 of a quicksort depends only on the partitions that contain it, so following
    those (a quickselect on numba's own ``partition``) gives numba's index in O(n).
    """
    return _argsort_first_rows(np.ascontiguousarray(rows, dtype=np.float64))


@contextmanager
def _threads(n_jobs: int | None) -> Iterator[None]:
    """Run with ``n_jobs`` numba and torch threads, restoring both afterwards."""
    if n_jobs is None or n_jobs < 0:
        yield
        return
    n = max(1, min(int(n_jobs), numba.config.NUMBA_NUM_THREADS))
    old_numba, old_torch = numba.get_num_threads(), torch.get_num_threads()
    numba.set_num_threads(n)
    torch.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(old_numba)
        torch.set_num_threads(old_torch)


# -- numba backend ------------------------------------------------------------------------


# Candidates per chunk of the fused kernel: its distance buffer (4 KiB) stays in L1 cache.
_CHUNK = 512


@numba.njit(nogil=True, cache=True)
def _distances(
    q: np.ndarray, cand_cols: np.ndarray, n_num: int, nan_cols: np.ndarray, start: int, out: np.ndarray
) -> None:  # pragma: no cover - numba
    """anonymeter's gower_distance of query ``q`` (d,) to candidates ``start .. start+len(out)``.

    ``cand_cols`` is (d, n_c), column-major, so each column's loop runs over contiguous
    memory and vectorises. Per candidate the float64 operations and their order are
    anonymeter's: ``1`` for two NaNs, ``|a - b|`` for a numeric column, ``1`` for a
    categorical mismatch, summed over columns in order (the first term is stored rather than
    added to 0.0, and a categorical match adds 0.0: both leave every bit unchanged).
    """
    m = out.shape[0]
    if q.shape[0] == 0:
        out[:] = 0.0
    for j in range(q.shape[0]):
        qj = q[j]
        col = cand_cols[j, start : start + m]
        first = j == 0
        if j < n_num and nan_cols[j]:
            q_nan = math.isnan(qj)
            for k in range(m):
                a = col[k]
                t = 1.0 if (q_nan and math.isnan(a)) else math.fabs(qj - a)
                out[k] = t if first else out[k] + t
        elif j < n_num:
            if first:
                for k in range(m):
                    out[k] = math.fabs(qj - col[k])
            else:
                for k in range(m):
                    out[k] += math.fabs(qj - col[k])
        elif first:
            for k in range(m):
                out[k] = 1.0 if qj != col[k] else 0.0
        else:
            for k in range(m):
                out[k] += 1.0 if qj != col[k] else 0.0


@numba.njit(nogil=True, cache=True)
def _first_of_quicksort(row: np.ndarray) -> int:  # pragma: no cover - numba
    order = np.arange(row.size)
    high = row.size - 1
    while high >= _SMALL:
        p = _partition(row, order, 0, high)
        if p == 0:  # the pivot landed at position 0: it stays there
            return order[0]
        high = p - 1  # position 0 is in the left part; sorting the right part never touches it
    _insertion_sort(row, order, 0, high)
    return order[0]


@numba.njit(nogil=True, parallel=True, cache=True)
def _fused_nearest(
    queries: np.ndarray, cand_cols: np.ndarray, n_num: int, nan_cols: np.ndarray, codes: np.ndarray, use_codes: bool
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    n_q, n_c = queries.shape[0], cand_cols.shape[1]
    out = np.empty(n_q, dtype=np.int64)
    ambiguous = np.zeros(n_q, dtype=np.bool_)
    for i in numba.prange(n_q):
        q = queries[i]
        buf = np.empty(_CHUNK)
        best_d = np.inf
        best = -1
        amb = False
        for start in range(0, n_c, _CHUNK):
            m = min(_CHUNK, n_c - start)
            _distances(q, cand_cols, n_num, nan_cols, start, buf[:m])
            for k in range(m):
                d = buf[k]
                if d < best_d:  # NaN never compares smaller: it sorts last, as in numba's argsort
                    best_d = d
                    best = start + k
                    amb = False
                elif d == best_d and (best < 0 or not use_codes or codes[start + k] != codes[best]):
                    amb = True
        if best < 0:  # no finite distance: numba's NaN-last order decides
            amb = True
        if amb:  # the whole distance row, then the index numba's argsort()[0] gives
            row = np.empty(n_c)
            _distances(q, cand_cols, n_num, nan_cols, 0, row)
            best = _first_of_quicksort(row)
        out[i] = best
        ambiguous[i] = amb
    return out, ambiguous


@numba.njit(nogil=True, parallel=True, cache=True)
def _argsort_first_rows(rows: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r in numba.prange(rows.shape[0]):
        out[r] = _first_of_quicksort(rows[r])
    return out


# -- torch backend ------------------------------------------------------------------------


def _torch_nearest(
    q_arr: np.ndarray,
    c_arr: np.ndarray,
    n_num: int,
    codes: np.ndarray | None,
    dev: torch.device,
    block_elements: int | None,
) -> tuple[np.ndarray, int]:
    n_q, n_c = q_arr.shape[0], c_arr.shape[0]
    if block_elements is None:
        block_elements = _CUDA_BLOCK_ELEMENTS if dev.type == "cuda" else _CPU_BLOCK_ELEMENTS
    block_q = max(1, min(block_elements // n_c, max(n_q, 1)))
    # Column-major copies: each column is then one contiguous vector to broadcast.
    c_cols = torch.from_numpy(np.ascontiguousarray(c_arr.T)).to(dev)
    q_cols = torch.from_numpy(np.ascontiguousarray(q_arr.T)).to(dev)
    codes_t = None if codes is None else torch.as_tensor(codes.astype(np.float64), device=dev)
    c_nan = np.isnan(c_arr).any(0).tolist()
    q_nan = np.isnan(q_arr).any(0).tolist()
    has_nan = any(c_nan[:n_num]) or any(q_nan[:n_num])
    buffers = _Buffers(block_q, n_c, dev)
    out = np.empty(n_q, dtype=np.int64)
    n_resolved = 0
    with torch.no_grad():
        for qs in range(0, n_q, block_q):
            q = q_cols[:, qs : qs + block_q]
            dist = _distance_block(q, c_cols, n_num, c_nan, q_nan, buffers)
            best, amb = _best_and_ambiguous(dist, codes_t, has_nan, buffers)
            amb_rows = torch.nonzero(amb).flatten()
            if amb_rows.numel():
                rows = dist[amb_rows].cpu().numpy()
                best[amb_rows] = torch.from_numpy(argsort_first(rows)).to(dev)
                n_resolved += int(amb_rows.numel())
            out[qs : qs + q.shape[1]] = best.cpu().numpy()
    return out, n_resolved


class _Buffers:
    """Work arrays of one (block_q, n_c) block, allocated once (a fresh large allocation
    costs page faults on every block)."""

    def __init__(self, block_q: int, n_c: int, device: torch.device) -> None:
        self.acc = torch.empty((block_q, n_c), dtype=torch.float64, device=device)
        self.term = torch.empty((block_q, n_c), dtype=torch.float64, device=device)
        self.tie = torch.empty((block_q, n_c), dtype=torch.bool, device=device)
        self.other = torch.empty((block_q, n_c), dtype=torch.bool, device=device)

    def take(self, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.acc[:m], self.term[:m], self.tie[:m], self.other[:m]


def _distance_block(
    q: torch.Tensor, c: torch.Tensor, n_num: int, c_nan: list[bool], q_nan: list[bool], buffers: _Buffers
) -> torch.Tensor:
    """(bq, n_c) distances of the (d, bq) query columns to the (d, n_c) candidate columns.

    One float64 addition per column in anonymeter's column order keeps the sums
    bit-identical to its loop (addition is not associative); the first column is written
    straight into the sum, as ``0.0 + x == x``.
    """
    acc, term, both, _ = buffers.take(q.shape[1])
    if q.shape[0] == 0:
        return acc.zero_()
    for j in range(q.shape[0]):
        qj, cj = q[j][:, None], c[j][None, :]
        dst = acc if j == 0 else term
        torch.sub(qj, cj, out=dst)
        if j < n_num:
            dst.abs_()
            if q_nan[j] and c_nan[j]:
                torch.logical_and(torch.isnan(qj), torch.isnan(cj), out=both)
                dst.masked_fill_(both, 1.0)
        else:
            dst.ne_(0.0)  # codes are small integers: a - b != 0 exactly when a != b
        if j > 0:
            acc.add_(term)
    return acc


def _best_and_ambiguous(
    dist: torch.Tensor, codes: torch.Tensor | None, has_nan: bool, buffers: _Buffers
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: one position of the minimum (NaN sorts last), and whether its tie matters.

    A row is ambiguous when several candidates share its minimum and (with ``codes``) they
    carry different codes, or when it has no finite distance (numba's NaN-last order must
    then decide). ``has_nan``: whether ``dist`` may hold NaN (a NaN in a numeric column).
    """
    _, term, tie, other = buffers.take(dist.shape[0])
    filled = torch.nan_to_num(dist, nan=float("inf"), out=term) if has_nan else dist
    best_d, best_i = filled.min(dim=1)
    torch.eq(filled, best_d[:, None], out=tie)
    if codes is None:
        ambiguous = tie.sum(dim=1) > 1
    else:
        torch.ne(codes[None, :], codes[best_i][:, None], out=other)
        ambiguous = tie.logical_and_(other).any(dim=1)
    return best_i, ambiguous | ~torch.isfinite(best_d)
