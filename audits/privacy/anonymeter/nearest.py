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

anonymeter runs one joblib task per query row and fully sorts each distance row. Here the
answer is the same index, found in three steps:

1. **the minimum and its ties.** Identical query rows are searched once. Then either
   - ``"index"``: an exact spatial index (:class:`scipy.spatial.cKDTree`, L1 metric) over the
     distinct candidate rows, in an embedding where the L1 distance *is* anonymeter's
     (scaled numeric values; a categorical column as a 0/1 indicator for two levels, a
     one-hot vector times 0.5 for more, so a mismatch costs exactly 1), one tree per
     pattern of missing values among the queries (a numeric NaN on one side only makes the
     distance NaN, so only rows missing the same numeric columns take part; a query's
     categorical NaN mismatches everything, even a NaN, so its column drops out).
     The tree's distances are rounded differently from anonymeter's, so it only proposes:
     every candidate within ``d_min + 1e-9 * D`` of the tree's nearest (``D`` the largest
     distance possible, at least 1: a margin a million times the rounding error of a sum
     of a few non-negative terms) is re-scored with anonymeter's own float64 arithmetic in
     its column order, and the minimum and its ties are read off those bit-identical
     distances. The tree is asked for a few neighbours first; a query whose last one is
     still inside the margin asks for all rows inside it, and one with more than
     ``_MAX_MEMBERS`` distinct rows there is scanned like ``"numba"`` instead;
   - ``"numba"``: a fused linear scan (distances of a cache-sized chunk of candidates, its
     minimum and tie check; no distance matrix in memory) with the same arithmetic.
   ``"auto"`` takes the index when the embedding has at most :data:`INDEX_MAX_DIMS`
   dimensions (where a k-d tree prunes well) and every value is finite or NaN.
2. **unambiguous queries** (one candidate at the minimum or, with ``tie_codes``, all tied
   candidates carrying one code) are done: any of those rows is anonymeter's answer.
3. **ambiguous queries** get their whole distance row, and the index ``argsort()[0]``
   returns is found by following the partitions of numba's own quicksort that contain
   position 0 (a quickselect, O(n)). Each partition is computed without the branchy scan:
   the positions where the left scan stops (value not below the pivot) and where the right
   scan stops (value not above it) are gathered branch-free, the k-th left stop is swapped
   with the k-th right stop while it lies left of it, and the pivot lands where the scans
   cross, which is exactly what numba's ``partition`` does, step for step.

``"torch"`` (distance blocks by column-wise tensor arithmetic, for a CUDA device) finds the
minimum and ties on the device and resolves ties as in step 3.

The tie-breaking re-implements numba's internal ``numba.misc.quicksort`` (the code numba's
own ``argsort`` is generated from); the tests compare against ``argsort`` itself, so a change
in a future numba shows up there.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import numba
import numpy as np
import pandas as pd
import torch
from numba.misc.quicksort import SMALL_QUICKSORT
from scipy.spatial import cKDTree

from synth.errors import DataError
from synth.execution.active import active_engine
from synth.execution.engine import Engine, Shard

Backend = Literal["auto", "index", "numba", "torch"]

# numba's quicksort insertion-sorts a part shorter than this instead of partitioning it.
_SMALL = SMALL_QUICKSORT

# "auto" uses the spatial index up to this many embedded dimensions.
INDEX_MAX_DIMS = 10
# Neighbours asked of the tree first; a query whose last one is still within the margin
# (many rows tied at the minimum) asks for every row within the margin instead.
_KNN = 3
# Margin around the tree's minimum distance, relative to the largest distance possible (at
# least 1): sums of a few non-negative terms in two orders, and the tree's running bounds,
# differ by some 1e-15 of that at most.
_MARGIN = 1e-9
# A query with more distinct candidates than this within the margin is scanned instead.
_MAX_MEMBERS = 4096
# Element operations below which a kernel runs on one thread: a parallel region costs a
# barrier, and on a busy machine waiting there for a descheduled thread costs milliseconds.
_PARALLEL_MIN_WORK = 4_000_000

# Candidates per chunk of the CPU kernels: a distance buffer (4 KiB) that stays in L1 cache.
_CHUNK = 512
# On a distributed engine (synth.execution), queries go out in shards of at least this many.
_MIN_SHARD_QUERIES = 256
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
    n_c, n_q = len(candidates), len(queries)
    c_arr = np.empty((n_c, len(num_c) + len(cat)))
    q_arr = np.empty((n_q, len(num_c) + len(cat)))
    if num_c:
        c_arr[:, : len(num_c)], q_arr[:, : len(num_c)] = _scale_like_anonymeter(candidates, queries, num_c)
    for j, col in enumerate(cat, start=len(num_c)):
        c_col, q_col = candidates[col].to_numpy(), queries[col].to_numpy()
        if c_col.dtype == q_col.dtype:
            both = np.concatenate([c_col, q_col])
        else:  # let pandas find the common dtype, as anonymeter's concat does
            both = pd.concat([candidates[col], queries[col]], ignore_index=True)
        # Codes only ever meet in equality tests, so any one-to-one labelling will do.
        codes = pd.factorize(both, use_na_sentinel=True)[0]
        c_arr[:, j] = codes[:n_c]
        q_arr[:, j] = codes[n_c:]
    return c_arr, q_arr, len(num_c)


def _scale_like_anonymeter(
    candidates: pd.DataFrame, queries: pd.DataFrame, num: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """anonymeter's ``_scale_numerical``: each column divided by its range over both frames.

    Plain numpy columns take numpy's route, which is the arithmetic pandas performs for
    them: per-frame minima and maxima in the frame's common dtype (NaN skipped), the
    smaller / larger of the two, their difference (0 counts 1), then an element-wise
    true division. Other dtypes (pandas extension arrays) go through anonymeter's pandas
    expressions themselves.
    """
    c_cols = [candidates[c].to_numpy() for c in num]
    q_cols = [queries[c].to_numpy() for c in num]
    plain = all(isinstance(a.dtype, np.dtype) and a.dtype.kind in "iuf" for a in c_cols + q_cols)
    if not plain or len(candidates) == 0 or len(queries) == 0:
        c_num, q_num = candidates[num], queries[num]
        c_min, c_max, q_min, q_max = c_num.min(), c_num.max(), q_num.min(), q_num.max()
        mins = c_min.where(c_min < q_min, q_min)
        maxs = c_max.where(c_max > q_max, q_max)
        ranges = maxs - mins
        ranges[ranges == 0] = 1
        return (np.asarray(c_num.apply(lambda x: x / ranges[x.name]).values, dtype=np.float64),
                np.asarray(q_num.apply(lambda x: x / ranges[x.name]).values, dtype=np.float64))
    c_type = np.result_type(*[a.dtype for a in c_cols])
    q_type = np.result_type(*[a.dtype for a in q_cols])
    c_min = np.array([np.fmin.reduce(a) for a in c_cols], dtype=c_type)
    c_max = np.array([np.fmax.reduce(a) for a in c_cols], dtype=c_type)
    q_min = np.array([np.fmin.reduce(a) for a in q_cols], dtype=q_type)
    q_max = np.array([np.fmax.reduce(a) for a in q_cols], dtype=q_type)
    mins = np.where(c_min < q_min, c_min, q_min)
    maxs = np.where(c_max > q_max, c_max, q_max)
    with np.errstate(over="ignore", invalid="ignore"):
        ranges = maxs - mins
    ranges[ranges == 0] = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        c_out = np.column_stack([a / r for a, r in zip(c_cols, ranges)]).astype(np.float64, copy=False)
        q_out = np.column_stack([a / r for a, r in zip(q_cols, ranges)]).astype(np.float64, copy=False)
    return c_out, q_out


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
        backend: ``"index"`` (k-d tree proposals, exact re-scoring), ``"numba"`` (fused CPU
            scan), ``"torch"`` (blocked tensors, any device), or ``"auto"``: torch on a
            CUDA ``device``, else the index when the embedding is small (see the module
            doc), else numba. ``"index"`` scans like numba when a value is infinite.
        device: torch device of the torch backend.
        n_jobs: threads (``None`` or ``-1``: all the libraries' default threads).
        block_elements: elements per torch distance block (8 bytes each, ~3 buffers).

    Returns:
        ``(indices, n_resolved)``: (n_q,) int64 positions into ``candidates`` equal to
        anonymeter's ``kneighbors(queries)[:, 0]`` (with ``tie_codes``: a row with the same
        code as that one), and how many queries needed their tie resolved.
    """
    c_arr, q_arr, n_num = encode_like_anonymeter(candidates, queries)
    return nearest_encoded(
        q_arr, c_arr, n_num, tie_codes=tie_codes, backend=backend, device=device, n_jobs=n_jobs,
        block_elements=block_elements,
    )


def nearest_encoded(
    q_arr: np.ndarray,
    c_arr: np.ndarray,
    n_num: int,
    *,
    tie_codes: np.ndarray | None = None,
    backend: Backend = "auto",
    device: str | torch.device = "cpu",
    n_jobs: int | None = None,
    block_elements: int | None = None,
) -> tuple[np.ndarray, int]:
    """:func:`nearest_like_anonymeter` on arrays already encoded by :func:`encode_like_anonymeter`.

    ``q_arr`` (n_q, d) and ``c_arr`` (n_c, d) float64, numeric columns first (``n_num`` of
    them). Returns ``(indices, n_resolved)`` as :func:`nearest_like_anonymeter` does.
    """
    if backend not in ("auto", "index", "numba", "torch"):
        raise ValueError(f"backend must be 'auto', 'index', 'numba' or 'torch', not {backend!r}")
    c_arr = np.ascontiguousarray(c_arr, dtype=np.float64)
    q_arr = np.ascontiguousarray(q_arr, dtype=np.float64)
    if c_arr.shape[0] == 0:
        raise DataError("There are no synthetic rows to search: the synthetic data is empty.")
    if c_arr.shape[0] >= np.iinfo(np.int32).max:
        raise DataError(
            f"{c_arr.shape[0]} synthetic rows are more than this search handles (2**31 - 1); audit a sample of them."
        )
    if q_arr.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), 0
    use_codes = tie_codes is not None
    codes = np.zeros(c_arr.shape[0], dtype=np.int64) if tie_codes is None else np.asarray(tie_codes, dtype=np.int64)
    if codes.shape != (c_arr.shape[0],):
        raise ValueError(f"tie_codes needs one code per candidate row ({c_arr.shape[0]}), not shape {codes.shape}")
    dev = torch.device(device)
    engine = active_engine()
    if engine.distributed and dev.type == "cpu" and q_arr.shape[0] >= 2 * _MIN_SHARD_QUERIES:
        return _sharded(engine, q_arr, c_arr, n_num, codes if use_codes else None, backend, block_elements)
    path = "torch" if backend == "auto" and dev.type == "cuda" else backend
    levels: list[np.ndarray] = []
    if path in ("auto", "index"):
        levels = _category_levels(c_arr, q_arr, n_num)
        small = _embedded_dims(n_num, levels) <= INDEX_MAX_DIMS
        finite = not (np.isinf(c_arr).any() or np.isinf(q_arr).any())  # the tree takes no infinities
        path = "index" if finite and (small or path == "index") else "numba"
    # Identical query rows have identical distance rows, hence one answer.
    q_first, q_inverse = _distinct_rows(q_arr)
    uq = np.ascontiguousarray(q_arr[q_first])
    workers = -1 if n_jobs is None or n_jobs < 0 else max(1, int(n_jobs))
    with _threads(n_jobs):
        if path == "torch":
            best, amb = _torch_nearest(uq, c_arr, n_num, codes if use_codes else None, dev, block_elements)
        else:
            if path == "index":
                best, amb = _index_nearest(uq, c_arr, n_num, levels, codes, use_codes, workers)
            else:
                best, amb = _scan(uq, c_arr, n_num, codes, use_codes)
            todo = np.flatnonzero(amb)
            if todo.size:
                best[todo] = _resolve(uq[todo], c_arr, n_num)
    return best[q_inverse], int(amb[q_inverse].sum())


def _shard(shared: dict[str, np.ndarray], q_arr: np.ndarray, n_num: int, use_codes: bool, backend: Backend,
           block_elements: int | None) -> tuple[np.ndarray, int]:
    """One shard of queries against all candidates (on an engine's worker, one thread)."""
    return nearest_encoded(q_arr, shared["candidates"], n_num, tie_codes=shared["codes"] if use_codes else None,
                           backend=backend, n_jobs=1, block_elements=block_elements)


def _sharded(engine: Engine, q_arr: np.ndarray, c_arr: np.ndarray, n_num: int, codes: np.ndarray | None,
             backend: Backend, block_elements: int | None) -> tuple[np.ndarray, int]:
    """:func:`nearest_encoded` with the queries cut into shards run by ``engine``: each query's
    answer depends on it and the candidates only, so the shards' answers are the unsharded ones."""
    n_q = q_arr.shape[0]
    n_shards = max(1, min(n_q // _MIN_SHARD_QUERIES, 4 * engine.workers))
    size = -(-n_q // n_shards)
    shards = [Shard((q_arr[s : s + size], n_num, codes is not None, backend, block_elements), rows=min(size, n_q - s),
                    work={"queries": n_q, "reference_rows": c_arr.shape[0], "dims": c_arr.shape[1]})
              for s in range(0, n_q, size)]
    shared = {"candidates": c_arr, "codes": codes if codes is not None else np.zeros(0, dtype=np.int64)}
    parts = engine.map(_shard, shards, shared=shared, label="anonymeter nearest-neighbour search")
    return np.concatenate([p[0] for p in parts]), int(sum(p[1] for p in parts))


def index_dims(c_arr: np.ndarray, q_arr: np.ndarray, n_num: int) -> int:
    """Dimensions of the index embedding of encoded (n, d) arrays: the ``n_num`` numeric
    columns, plus per categorical column 0 (one level), 1 (two levels) or its number of
    levels (more). ``"auto"`` uses the index up to :data:`INDEX_MAX_DIMS`."""
    return _embedded_dims(n_num, _category_levels(c_arr, q_arr, n_num))


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel of every CPU path on a tiny input,
    so that a first real search measures the search alone."""
    rng = np.random.default_rng(0)
    c_arr = rng.integers(0, 3, (64, 3)).astype(np.float64)
    c_arr[::9, 0] = np.nan  # a second pattern of missing values
    q_arr = np.vstack([c_arr[:8], [[np.nan, np.nan, 0.0]], [[0.5, 0.5, 2.0]]])  # no candidate shares a pattern
    codes = rng.integers(0, 2, 64)
    for backend in ("index", "numba"):
        for tie_codes in (codes, None):
            nearest_encoded(q_arr, c_arr, 2, tie_codes=tie_codes, backend=backend)
    argsort_first(c_arr[:, :1].T.copy())


def _embedded_dims(n_num: int, levels: list[np.ndarray]) -> int:
    return n_num + sum(0 if lv.size < 2 else 1 if lv.size == 2 else lv.size for lv in levels)


def argsort_first(rows: np.ndarray) -> np.ndarray:
    """``row.argsort()[0]`` under numba's quicksort, for each row of an (m, n) float64 array.

    Position 0 of a quicksort depends only on the partitions that contain it, so following
    those (a quickselect with numba's own partition rule) gives numba's index in O(n).
    """
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] == 0:
        raise ValueError(f"argsort_first needs a non-empty (m, n) array, not shape {rows.shape}")
    with _serial_below(2 * rows.size):
        return _argsort_first_rows(rows, _n_chunks(rows.shape[0]))


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


def _distinct_rows(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)`` of the bitwise-distinct rows of a 2-D array: ``arr[first]`` are
    the distinct rows (first occurrences) and ``arr[first][inverse] == arr`` bit for bit."""
    arr = np.ascontiguousarray(arr)
    n, d = arr.shape
    if n == 0 or d == 0:
        return np.zeros(min(n, 1), dtype=np.int64), np.zeros(n, dtype=np.int64)
    keys = arr.view(np.dtype((np.void, arr.dtype.itemsize * d))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.reshape(-1).astype(np.int64)


def _n_chunks(n_items: int) -> int:
    """Work chunks for a parallel loop: a few per thread, so uneven chunks even out."""
    return max(1, min(n_items, 4 * numba.get_num_threads()))


@contextmanager
def _serial_below(work: float) -> Iterator[None]:
    """Run numba kernels on one thread when ``work`` (element operations) is small."""
    if work >= _PARALLEL_MIN_WORK or numba.get_num_threads() == 1:
        yield
        return
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(old)


# -- exact distances and numba's quicksort ------------------------------------------------


@numba.njit(nogil=True, cache=True)
def _gower(q: np.ndarray, c: np.ndarray, n_num: int) -> float:  # pragma: no cover - numba
    """anonymeter's ``gower_distance`` of two encoded rows, operation for operation."""
    dist = 0.0
    for i in range(q.shape[0]):
        if math.isnan(q[i]) and math.isnan(c[i]):
            dist += 1
        elif i < n_num:
            dist += math.fabs(q[i] - c[i])
        elif q[i] != c[i]:
            dist += 1
    return dist


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


@numba.njit(nogil=True, cache=True, inline="always")
def _lt(a: float, b: float) -> bool:  # pragma: no cover - numba
    """numba's ``lt_floats``: the order its argsort uses (NaN after every number)."""
    return a < b or (math.isnan(b) and not math.isnan(a))


@numba.njit(nogil=True, cache=True)
def _first_of_quicksort(
    values: np.ndarray, order: np.ndarray, stops_left: np.ndarray, stops_right: np.ndarray
) -> int:  # pragma: no cover - numba
    """``values.argsort()[0]`` under numba's quicksort; ``values`` (n,) is overwritten.

    ``order`` (n,) and ``stops_left`` / ``stops_right`` (n + 1,) are int32 work arrays.
    numba's ``run_quicksort1`` partitions ``[low, high]`` and later sorts both parts
    separately, so position 0 only ever depends on the left parts: this follows them.
    ``values`` is kept permuted along with ``order`` (numba permutes only the indices and
    reads ``values[order[i]]``; the comparisons and swaps are the same).
    """
    n = values.shape[0]
    for x in range(n):
        order[x] = x
    high = n - 1
    while high >= _SMALL:
        # numba's median of three of positions 0, mid, high; the pivot is stashed at high.
        mid = high >> 1
        if _lt(values[mid], values[0]):
            values[0], values[mid] = values[mid], values[0]
            order[0], order[mid] = order[mid], order[0]
        if _lt(values[high], values[mid]):
            values[high], values[mid] = values[mid], values[high]
            order[high], order[mid] = order[mid], order[high]
        if _lt(values[mid], values[0]):
            values[0], values[mid] = values[mid], values[0]
            order[0], order[mid] = order[mid], order[0]
        pivot = values[mid]
        values[high], values[mid] = values[mid], values[high]
        order[high], order[mid] = order[mid], order[high]
        # numba's scans: i rises past values lt(v, pivot), j falls past lt(pivot, v).
        # Gather where each would stop, over the original values, without branches.
        n_left = 0
        n_right = 0
        if math.isnan(pivot):  # not lt(v, nan) <=> v is nan; not lt(nan, v) always
            for x in range(high):
                stops_left[n_left] = x
                n_left += math.isnan(values[x])
                stops_right[x] = x
            n_right = high
        else:  # not lt(v, p) <=> not v < p (NaN included); not lt(p, v) <=> v <= p
            for x in range(high):
                v = values[x]
                stops_left[n_left] = x
                n_left += not (v < pivot)
                stops_right[n_right] = x
                n_right += v <= pivot
        stops_left[n_left] = high  # i never passes high (where the pivot waits)
        # Round k swaps the k-th left stop with the k-th right stop (from the right) while
        # the left one lies before it; between the previous pair both scans see original
        # values, and past it the left scan meets the previous right stop (now holding a
        # value not below the pivot) first.
        k = 0
        while k < n_right and stops_left[k] < stops_right[n_right - 1 - k]:
            a = stops_left[k]
            b = stops_right[n_right - 1 - k]
            values[a], values[b] = values[b], values[a]
            order[a], order[b] = order[b], order[a]
            k += 1
        i = stops_left[0] if k == 0 else min(stops_left[k], stops_right[n_right - k])
        values[i], values[high] = values[high], values[i]
        order[i], order[high] = order[high], order[i]
        if i == 0:  # the pivot landed at position 0: it stays there
            return order[0]
        high = i - 1  # position 0 is in the left part; sorting the right part never touches it
    # numba insertion-sorts [0, high]: a stable sort, so the first minimal value comes first.
    best = 0
    for x in range(1, high + 1):
        if _lt(values[x], values[best]):
            best = x
    return order[best]


@numba.njit(nogil=True, parallel=True, cache=True)
def _argsort_first_rows(rows: np.ndarray, n_chunks: int) -> np.ndarray:  # pragma: no cover - numba
    m, n = rows.shape
    out = np.empty(m, dtype=np.int64)
    for t in numba.prange(n_chunks):
        values = np.empty(n)
        order = np.empty(n, dtype=np.int32)
        left = np.empty(n + 1, dtype=np.int32)
        right = np.empty(n + 1, dtype=np.int32)
        for r in range(t * m // n_chunks, (t + 1) * m // n_chunks):
            values[:] = rows[r]
            out[r] = _first_of_quicksort(values, order, left, right)
    return out


@numba.njit(nogil=True, parallel=True, cache=True)
def _resolve_rows(
    queries: np.ndarray, cand_cols: np.ndarray, n_num: int, nan_cols: np.ndarray, n_chunks: int
) -> np.ndarray:  # pragma: no cover - numba
    """Per query: its whole distance row, then the index numba's ``argsort()[0]`` gives."""
    m, n = queries.shape[0], cand_cols.shape[1]
    out = np.empty(m, dtype=np.int64)
    for t in numba.prange(n_chunks):
        values = np.empty(n)
        order = np.empty(n, dtype=np.int32)
        left = np.empty(n + 1, dtype=np.int32)
        right = np.empty(n + 1, dtype=np.int32)
        for r in range(t * m // n_chunks, (t + 1) * m // n_chunks):
            for start in range(0, n, _CHUNK):  # chunks: the running sums stay in L1 cache
                _distances(queries[r], cand_cols, n_num, nan_cols, start, values[start : min(n, start + _CHUNK)])
            out[r] = _first_of_quicksort(values, order, left, right)
    return out


def _resolve(queries: np.ndarray, c_arr: np.ndarray, n_num: int) -> np.ndarray:
    """anonymeter's index for each (m, d) query row, ties and NaNs included."""
    nan_cols = np.isnan(c_arr).any(axis=0) | np.isnan(queries).any(axis=0)
    with _serial_below(queries.shape[0] * c_arr.shape[0] * (c_arr.shape[1] + 2)):
        return _resolve_rows(np.ascontiguousarray(queries), np.ascontiguousarray(c_arr.T), n_num, nan_cols,
                             _n_chunks(queries.shape[0]))


# -- numba scan ---------------------------------------------------------------------------


def _scan(
    queries: np.ndarray, c_arr: np.ndarray, n_num: int, codes: np.ndarray, use_codes: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One position of each query's minimum, and whether the minimum's tie matters."""
    nan_cols = np.isnan(c_arr).any(axis=0) | np.isnan(queries).any(axis=0)
    with _serial_below(queries.shape[0] * c_arr.size):
        return _fused_nearest(np.ascontiguousarray(queries), np.ascontiguousarray(c_arr.T), n_num, nan_cols, codes,
                              use_codes)


@numba.njit(nogil=True, parallel=True, cache=True)
def _fused_nearest(
    queries: np.ndarray, cand_cols: np.ndarray, n_num: int, nan_cols: np.ndarray, codes: np.ndarray, use_codes: bool
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Per query: the first position of its minimum distance and whether that is ambiguous
    (tied rows with different codes, or no finite distance at all)."""
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
            best = 0
        out[i] = best
        ambiguous[i] = amb
    return out, ambiguous


# -- spatial index ------------------------------------------------------------------------


def _category_levels(c_arr: np.ndarray, q_arr: np.ndarray, n_num: int) -> list[np.ndarray]:
    """The sorted codes of each categorical column over both arrays (NaN once, last)."""
    return [np.unique(np.concatenate([c_arr[:, j], q_arr[:, j]])) for j in range(n_num, c_arr.shape[1])]


def _embed(rows: np.ndarray, n_num: int, keep: np.ndarray, levels: list[np.ndarray]) -> np.ndarray:
    """(m, e) points whose L1 distance is anonymeter's distance less its constant terms.

    Columns flagged in ``keep`` (d,) only: numeric ones as they are (already scaled); a
    categorical one as a 0/1 indicator (two levels: a mismatch costs |1 - 0| = 1) or a
    one-hot vector times 0.5 (more levels: 0.5 + 0.5 = 1); one level costs nothing. A
    candidate's NaN is a level of its own here (it mismatches every value); a query's NaN
    mismatches even another NaN, so its column is constant and left out (``keep``).
    """
    parts = [rows[:, :n_num][:, keep[:n_num]]]
    for j, lv in zip(range(n_num, rows.shape[1]), levels):
        if not keep[j] or lv.size < 2:
            continue
        col = rows[:, j]
        hit = (col[:, None] == lv[None, :]) | (np.isnan(col)[:, None] & np.isnan(lv)[None, :])
        parts.append(hit[:, 1:].astype(np.float64) if lv.size == 2 else 0.5 * hit)
    return np.ascontiguousarray(np.hstack(parts), dtype=np.float64)


def _index_nearest(
    uq: np.ndarray,
    c_arr: np.ndarray,
    n_num: int,
    levels: list[np.ndarray],
    codes: np.ndarray,
    use_codes: bool,
    workers: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Step 1 with the spatial index (module doc): per distinct query row, one position of
    its minimum and whether the minimum's tie matters. ``levels``: each categorical
    column's codes over both arrays."""
    # Distinct candidate rows ("groups"): a group's rows are at the same distance from any
    # query. A group is "mixed" when its rows would need a tie-break among themselves.
    g_first, g_inverse = _distinct_rows(c_arr)
    groups = np.ascontiguousarray(c_arr[g_first])
    n_g = groups.shape[0]
    if use_codes:
        g_code = codes[g_first]
        g_mixed = np.zeros(n_g, dtype=np.bool_)
        g_mixed[g_inverse[codes != g_code[g_inverse]]] = True
    else:
        g_code = np.arange(n_g, dtype=np.int64)
        g_mixed = np.bincount(g_inverse, minlength=n_g) > 1

    n_u = uq.shape[0]
    best = np.zeros(n_u, dtype=np.int64)
    amb = np.zeros(n_u, dtype=np.bool_)
    scan = np.zeros(n_u, dtype=np.bool_)
    member_q: list[np.ndarray] = []
    member_g: list[np.ndarray] = []
    for qs, missing, gs in _nan_patterns(groups, uq, n_num):
        if gs.size == 0:  # every distance is NaN: numba's NaN-last order decides
            amb[qs] = True
            continue
        points = _embed(groups[gs], n_num, ~missing, levels)
        if points.shape[1] == 0:  # every candidate of the pattern is at the same distance
            scan[qs] = True
            continue
        targets = _embed(uq[qs], n_num, ~missing, levels)
        tree = cKDTree(points, balanced_tree=False, compact_nodes=False)
        # Threads only pay for a long search (each call starts its own).
        threads = workers if qs.size * math.log2(gs.size + 1) * points.shape[1] * _KNN >= _PARALLEL_MIN_WORK else 1
        k = min(_KNN, gs.size)
        dist, nb = tree.query(targets, k=k, p=1, workers=threads)
        dist, nb = dist.reshape(qs.size, k), nb.reshape(qs.size, k)
        span = np.fmax(points.max(axis=0), targets.max(axis=0)) - np.fmin(points.min(axis=0), targets.min(axis=0))
        radius = dist[:, 0] + _MARGIN * max(1.0, float(span.sum()))
        within = dist <= radius[:, None]
        crowded = within[:, -1] if gs.size > k else np.zeros(qs.size, dtype=np.bool_)
        calm = ~crowded
        member_q.append(np.repeat(qs[calm], within[calm].sum(axis=1)))
        member_g.append(gs[nb[calm][within[calm]]])
        if crowded.any():
            cq = np.flatnonzero(crowded)
            counts = tree.query_ball_point(targets[cq], radius[cq], p=1, workers=threads, return_length=True)
            few = counts <= _MAX_MEMBERS
            scan[qs[cq[~few]]] = True
            cq = cq[few]
            if cq.size:
                hits = tree.query_ball_point(targets[cq], radius[cq], p=1, workers=threads, return_sorted=False)
                lengths = np.fromiter(map(len, hits), dtype=np.int64, count=cq.size)
                member_q.append(np.repeat(qs[cq], lengths))
                member_g.append(gs[np.fromiter(itertools.chain.from_iterable(hits), dtype=np.int64,
                                               count=int(lengths.sum()))])

    if member_q:
        mq, mg = np.concatenate(member_q), np.concatenate(member_g)
        order = np.argsort(mq, kind="stable")
        offsets = np.zeros(n_u + 1, dtype=np.int64)
        np.cumsum(np.bincount(mq, minlength=n_u), out=offsets[1:])
        has = np.flatnonzero(offsets[1:] > offsets[:-1])
        with _serial_below(mg.size * groups.shape[1] * 4):
            b, a = _nearest_among(uq, groups, n_num, offsets, mg[order], has, g_code, g_mixed)
        best[has] = g_first[b]
        amb[has] = a
    if scan.any():
        sq = np.flatnonzero(scan)
        best[sq], amb[sq] = _scan(uq[sq], c_arr, n_num, codes, use_codes)
    return best, amb


def _nan_patterns(groups: np.ndarray, uq: np.ndarray, n_num: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The queries grouped by their missing values: ``(queries, missing, candidates)`` per
    pattern, ``missing`` (d,) bool. A numeric NaN on one side only makes the distance NaN,
    so the candidates are those missing exactly the same numeric columns; a categorical NaN
    makes no distance NaN (it only ever mismatches)."""
    q_nan, g_nan = np.isnan(uq), np.isnan(groups[:, :n_num])
    if not q_nan.any() and not g_nan.any():
        return [(np.arange(len(uq)), np.zeros(uq.shape[1], dtype=bool), np.arange(len(groups)))]
    g_first, g_pattern = _distinct_rows(g_nan)
    g_order = np.argsort(g_pattern, kind="stable")
    g_bounds = np.searchsorted(g_pattern[g_order], np.arange(len(g_first) + 1))
    by_numeric = {g_nan[f].tobytes(): g_order[g_bounds[i] : g_bounds[i + 1]] for i, f in enumerate(g_first)}
    q_first, q_pattern = _distinct_rows(q_nan)
    q_order = np.argsort(q_pattern, kind="stable")
    q_bounds = np.searchsorted(q_pattern[q_order], np.arange(len(q_first) + 1))
    none = np.zeros(0, dtype=np.int64)
    return [
        (q_order[q_bounds[i] : q_bounds[i + 1]], q_nan[f], by_numeric.get(q_nan[f, :n_num].tobytes(), none))
        for i, f in enumerate(q_first)
    ]


@numba.njit(nogil=True, parallel=True, cache=True)
def _nearest_among(
    queries: np.ndarray,
    groups: np.ndarray,
    n_num: int,
    offsets: np.ndarray,
    members: np.ndarray,
    which: np.ndarray,
    g_code: np.ndarray,
    g_mixed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """For each query ``which[t]``: the group at the minimum of anonymeter's distance over its
    members ``members[offsets[q]:offsets[q + 1]]``, and whether that minimum is ambiguous
    (a mixed group, or groups with different codes, at the minimum)."""
    out = np.empty(which.shape[0], dtype=np.int64)
    ambiguous = np.zeros(which.shape[0], dtype=np.bool_)
    for t in numba.prange(which.shape[0]):
        q = which[t]
        best_d = np.inf
        best = -1
        amb = False
        for s in range(offsets[q], offsets[q + 1]):
            g = members[s]
            d = _gower(queries[q], groups[g], n_num)
            if d < best_d:  # NaN never compares smaller
                best_d = d
                best = g
                amb = g_mixed[g]
            elif d == best_d and best >= 0 and (g_mixed[g] or g_code[g] != g_code[best]):
                amb = True
        if best < 0:  # no finite distance (not reached for finite values): resolve in full
            best = members[offsets[q]]
            amb = True
        out[t] = best
        ambiguous[t] = amb
    return out, ambiguous


# -- torch backend ------------------------------------------------------------------------


def _torch_nearest(
    q_arr: np.ndarray,
    c_arr: np.ndarray,
    n_num: int,
    codes: np.ndarray | None,
    dev: torch.device,
    block_elements: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per query: anonymeter's index (ties already resolved) and whether it needed that."""
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
    ambiguous = np.zeros(n_q, dtype=np.bool_)
    with torch.no_grad():
        for qs in range(0, n_q, block_q):
            q = q_cols[:, qs : qs + block_q]
            dist = _distance_block(q, c_cols, n_num, c_nan, q_nan, buffers)
            best, amb = _best_and_ambiguous(dist, codes_t, has_nan, buffers)
            amb_rows = torch.nonzero(amb).flatten()
            if amb_rows.numel():
                rows = dist[amb_rows].cpu().numpy()
                best[amb_rows] = torch.from_numpy(argsort_first(rows)).to(dev)
            out[qs : qs + q.shape[1]] = best.cpu().numpy()
            ambiguous[qs : qs + q.shape[1]] = amb.cpu().numpy()
    return out, ambiguous


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
