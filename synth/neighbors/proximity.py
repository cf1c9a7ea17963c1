"""Which rows of one table lie within a distance of some row of another.

Generators use it to refuse near-copies of training records (a copy guard); it is the
same exact search (:func:`synth.neighbors.search.nearest`) and the same mixed-type
encoding (:class:`synth.neighbors.encoding.MixedEncoder`) the privacy audits measure
distances with, so a row the guard lets through is at least as far from every training
row as the audit will find it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.neighbors.encoding import MixedEncoder
from synth.neighbors.search import Metric, nearest_distance


def rows_within(
    queries: np.ndarray,
    reference: np.ndarray,
    radius: float,
    *,
    metric: Metric = "euclidean",
) -> np.ndarray:
    """Whether each query row is within ``radius`` of at least one reference row.

    Args:
        queries: (n_q, d) float array.
        reference: (n_r, d) float array in the same encoding.
        radius: distance in the metric's units, >= 0; ``0`` marks exact copies only (rows
            at distance zero, i.e. equal up to the encoding's float32 rounding).
        metric: as for :func:`~synth.neighbors.search.nearest`.

    Returns:
        (n_q,) bool array: ``True`` where the nearest reference row is at distance
        ``<= radius``. All ``False`` when the reference is empty.
    """
    if not np.isfinite(radius) or radius < 0:
        raise ValueError(f"radius must be a finite distance >= 0, got {radius!r}")
    queries = np.asarray(queries)
    reference = np.asarray(reference)
    if queries.shape[0] == 0 or reference.shape[0] == 0:
        return np.zeros(queries.shape[0], dtype=bool)
    return nearest_distance(queries, reference, metric=metric) <= radius


def frame_rows_within(
    queries: pd.DataFrame,
    reference: pd.DataFrame,
    encoder: MixedEncoder,
    radius: float,
) -> np.ndarray:
    """:func:`rows_within` on tables, both encoded by ``encoder`` (already fitted).

    Shapes: ``queries`` (n_q rows) and ``reference`` (n_r rows) carry the encoder's
    columns; returns (n_q,) bool. Distances are Euclidean in the documented mixed-type
    encoding (a categorical mismatch adds 1 to the squared distance, a numeric column's
    full training range adds 1).
    """
    if len(queries) == 0:
        return np.zeros(0, dtype=bool)
    return rows_within(encoder.transform(queries), encoder.transform(reference), radius)
