"""The copy guard: no emitted row equals, or comes closer than a set distance to, a training row.

Distances are the privacy audits' own: the mixed-type encoding
(:class:`synth.neighbors.MixedEncoder`, fitted on the training rows) and the exact
nearest-neighbour search behind :func:`synth.neighbors.rows_within`. An exact copy is a
row at distance zero; with ``min_distance > 0`` near-copies go too. Rows shown in a
prompt are training rows, so a verbatim echo of an example is an exact copy and is
dropped like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.neighbors import MixedEncoder, rows_within
from synth.schema import Schema


@dataclass
class GuardCounts:
    """Rows the guard dropped so far."""

    exact_copies: int = 0
    near_copies: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"exact_copies": self.exact_copies, "near_copies": self.near_copies}


class CopyGuard:
    """Drops candidate rows that copy, or come within ``min_distance`` of, a training row."""

    def __init__(self, train: pd.DataFrame, schema: Schema, min_distance: float = 0.0) -> None:
        self.schema = schema
        self.min_distance = float(min_distance)
        self.encoder = MixedEncoder(schema, schema.names).fit(train)
        self._train = self.encoder.transform(train)
        self.counts = GuardCounts()

    def keep(self, candidates: pd.DataFrame) -> np.ndarray:
        """(n_rows,) bool: which candidate rows may be emitted; counts the others."""
        if len(candidates) == 0:
            return np.zeros(0, dtype=bool)
        encoded = self.encoder.transform(candidates)
        exact = rows_within(encoded, self._train, 0.0)
        near = rows_within(encoded, self._train, self.min_distance) & ~exact if self.min_distance > 0 else np.zeros_like(exact)
        self.counts.exact_copies += int(exact.sum())
        self.counts.near_copies += int(near.sum())
        return ~(exact | near)
