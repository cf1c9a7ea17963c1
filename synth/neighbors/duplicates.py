"""Exact duplicates among encoded rows: which rows are identical, and how often.

Encoded rows (:mod:`synth.neighbors.encoding`) are identical exactly when the records are
identical on every modelled column (missing equal to missing), so exact duplicates are
found by hashing the rows' bytes: linear time, no distance computation.
"""

from __future__ import annotations

import numpy as np


def row_keys(*arrays: np.ndarray) -> list[np.ndarray]:
    """Integer keys, one (n_i,) int64 array per input, equal exactly when two rows are identical.

    All arrays must be 2-D with the same width and dtype (e.g. float32 encodings); keys are
    comparable across the arrays.
    """
    stacked = np.ascontiguousarray(np.vstack(arrays))
    view = stacked.view(np.dtype((np.void, stacked.dtype.itemsize * stacked.shape[1]))).ravel()
    _, codes = np.unique(view, return_inverse=True)
    codes = codes.ravel().astype(np.int64)
    out, start = [], 0
    for a in arrays:
        out.append(codes[start : start + len(a)])
        start += len(a)
    return out


def duplicate_counts(queries: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """How many rows of ``reference`` (n_r, d) are identical to each row of ``queries`` (n_q, d)."""
    q_keys, r_keys = row_keys(np.asarray(queries), np.asarray(reference, dtype=np.asarray(queries).dtype))
    counts = np.bincount(r_keys, minlength=int(max(q_keys.max(initial=0), r_keys.max(initial=0))) + 1)
    return counts[q_keys]
