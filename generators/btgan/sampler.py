"""Conditions: what every generated row is asked for, in training and at sample time.

A row is generated from noise and its :class:`Conditions`:

- its **subgroup** (the sensitive columns, always given; :mod:`.groups`);
- a CTGAN-style **column condition**: one discrete column (neither sensitive nor the
  outcome) fixed to one level, or none;
- its **density bucket** (:mod:`.weights`) when weighted sampling is on.

**Training-by-sampling** (not with DP): pick a condition column uniformly, a level by
(log) frequency, then a training record with that level, drawn with probability
proportional to its density weight. The discriminator sees the record and a generated row
with the record's subgroup, condition and bucket. Rare levels and sparse buckets are
trained often.

**At sample time** (and for the fairness penalty's batch) conditions follow the data:
a column uniformly, a level by its frequency within the row's subgroup, a bucket by its
frequency within subgroup and level (:class:`ConditionTable`, counts only). Because each
condition is drawn with its real frequency, the output follows the real distribution even
though training over-sampled rare levels and sparse regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from synth.generators.btgan.encoding import Span


@dataclass
class Conditions:
    """Per-row conditions, each (B,): subgroup, condition column (-1: none), its level, density bucket (-1: none)."""

    groups: np.ndarray
    column: np.ndarray
    level: np.ndarray
    bucket: np.ndarray

    def __len__(self) -> int:
        return len(self.groups)

    @classmethod
    def only_groups(cls, groups: np.ndarray) -> Conditions:
        b = len(groups)
        return cls(np.asarray(groups), np.full(b, -1), np.zeros(b, dtype=np.int64), np.full(b, -1))


@dataclass(frozen=True)
class ConditionLayout:
    """The condition vector: one one-hot block per condition column, then the bucket one-hot.

    ``spans`` are the condition columns' level spans in the generator's output (for the
    conditioning loss); ``buckets`` is 0 without weighted sampling.
    """

    columns: tuple[str, ...]
    sizes: tuple[int, ...]
    spans: tuple[Span, ...]
    buckets: int = 0

    @property
    def offsets(self) -> np.ndarray:
        return np.cumsum((0,) + self.sizes)[:-1].astype(np.int64)

    @property
    def width(self) -> int:
        return int(sum(self.sizes)) + self.buckets

    def vectors(self, cond: Conditions, device: torch.device) -> torch.Tensor:
        """(B, width) condition vectors."""
        out = torch.zeros(len(cond), self.width, device=device)
        on = np.flatnonzero(cond.column >= 0)
        if on.size:
            pos = self.offsets[cond.column[on]] + cond.level[on]
            out[torch.as_tensor(on, device=device), torch.as_tensor(pos, device=device)] = 1.0
        on = np.flatnonzero(cond.bucket >= 0)
        if on.size and self.buckets:
            pos = int(sum(self.sizes)) + cond.bucket[on]
            out[torch.as_tensor(on, device=device), torch.as_tensor(pos, device=device)] = 1.0
        return out


class TrainingSampler:
    """Training-by-sampling with density weights (see the module docstring).

    Args:
        codes: (n, C) level index of every training row in each condition column.
        weights: (n,) positive sampling weights.
        sizes: levels per condition column.
        log_frequency: draw levels by log(1 + count) instead of count.
        rng: the generator's random source.
    """

    def __init__(self, codes: np.ndarray, weights: np.ndarray, sizes: tuple[int, ...], *, log_frequency: bool,
                 rng: np.random.Generator) -> None:
        self.rng = rng
        self.n = len(weights)
        self.weights = weights / weights.sum()
        self.level_probs: list[np.ndarray] = []
        self.members: list[list[tuple[np.ndarray, np.ndarray]]] = []
        for c, size in enumerate(sizes):
            counts = np.bincount(codes[:, c], minlength=size).astype(np.float64)
            freq = np.log1p(counts) if log_frequency else counts
            self.level_probs.append(freq / freq.sum())
            per_level = []
            for k in range(size):
                rows = np.flatnonzero(codes[:, c] == k)
                w = weights[rows]
                per_level.append((rows, w / w.sum() if rows.size else w))
            self.members.append(per_level)

    def inclusion(self) -> np.ndarray:
        """(n,) probability that one draw returns each training row (sums to 1).

        ``1 / (n * inclusion)`` are the importance weights that turn an average over drawn
        rows back into an average over the training data.
        """
        if not self.members:
            return self.weights
        q = np.zeros(self.n)
        for c, per_level in enumerate(self.members):
            for k, (rows, p) in enumerate(per_level):
                q[rows] += self.level_probs[c][k] * p / len(self.members)
        return q

    def draw(self, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, column, level)``, each (b,): training rows and the column condition each matches."""
        rng = self.rng
        if not self.members:
            rows = rng.choice(self.n, size=b, p=self.weights)
            return rows, np.full(b, -1), np.zeros(b, dtype=np.int64)
        column = rng.integers(len(self.members), size=b)
        level = np.empty(b, dtype=np.int64)
        rows = np.empty(b, dtype=np.int64)
        for c in np.unique(column):
            at = np.flatnonzero(column == c)
            level[at] = rng.choice(len(self.level_probs[c]), size=at.size, p=self.level_probs[c])
            for k in np.unique(level[at]):
                where = at[level[at] == k]
                members, p = self.members[c][k]
                rows[where] = rng.choice(members, size=where.size, p=p)
        return rows, column, level


class ConditionTable:
    """Counts that let sampling draw conditions with their real frequencies (aggregates only).

    ``cells`` (G, C, L, B): rows per subgroup, condition column level and density bucket;
    ``group_buckets`` (G, B): rows per subgroup and bucket. ``B`` is 1 without buckets.
    """

    def __init__(self, cells: np.ndarray, group_buckets: np.ndarray, *, buckets: bool) -> None:
        self.cells = np.asarray(cells, dtype=np.float64)
        self.group_buckets = np.asarray(group_buckets, dtype=np.float64)
        self.buckets = buckets

    @classmethod
    def from_codes(cls, groups: np.ndarray, codes: np.ndarray, buckets: np.ndarray | None, n_groups: int,
                   sizes: tuple[int, ...], n_buckets: int) -> ConditionTable:
        b = buckets if buckets is not None else np.zeros(len(groups), dtype=np.int64)
        width = max(sizes) if sizes else 0
        cells = np.zeros((n_groups, len(sizes), width, max(n_buckets, 1)))
        for c in range(len(sizes)):
            np.add.at(cells, (groups, c, codes[:, c], b), 1.0)
        group_buckets = np.zeros((n_groups, max(n_buckets, 1)))
        np.add.at(group_buckets, (groups, b), 1.0)
        return cls(cells, group_buckets, buckets=buckets is not None)

    def to_dict(self) -> dict:
        return {"shape": list(self.cells.shape), "cells": self.cells.ravel().tolist(),
                "group_buckets": self.group_buckets.tolist(), "buckets": self.buckets}

    @classmethod
    def from_dict(cls, d: dict) -> ConditionTable:
        cells = np.asarray(d["cells"], dtype=np.float64).reshape(d["shape"])
        return cls(cells, np.asarray(d["group_buckets"], dtype=np.float64), buckets=bool(d["buckets"]))

    @classmethod
    def empty(cls, n_groups: int) -> ConditionTable:
        return cls(np.zeros((n_groups, 0, 0, 1)), np.ones((n_groups, 1)), buckets=False)

    def draw(self, groups: np.ndarray, rng: np.random.Generator, fixed: tuple[int, int] | None = None) -> Conditions:
        """Conditions for rows of subgroups ``groups`` (b,): a column uniformly (or ``fixed``
        ``(column, level)``), a level by frequency within the subgroup, a bucket by frequency
        within subgroup and level."""
        b = len(groups)
        n_cols = self.cells.shape[1]
        if n_cols == 0 and fixed is None:
            column, level = np.full(b, -1), np.zeros(b, dtype=np.int64)
            bucket_weights = _fallback(self.group_buckets[groups], self.group_buckets.sum(0))
        else:
            if fixed is None:
                column = rng.integers(n_cols, size=b)
                by_level = self.cells[groups, column].sum(axis=2)  # (b, L)
                by_level = _fallback(by_level, self.cells[:, column].sum(axis=(0, 3)))
                level = _draw(by_level, rng)
            else:
                column, level = np.full(b, fixed[0]), np.full(b, fixed[1])
            bucket_weights = _fallback(self.cells[groups, column, level], self.cells[:, column, level].sum(axis=0))
        bucket = _draw(bucket_weights, rng) if self.buckets else np.full(b, -1)
        return Conditions(np.asarray(groups), column, level, bucket)


def _fallback(weights: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    """Rows of ``weights`` (b, K) that are all zero (a subgroup without records, reachable only
    through target shares) take the pooled counts of every subgroup (b, K) or (K,)."""
    pooled = np.broadcast_to(pooled, weights.shape)
    empty = weights.sum(axis=1, keepdims=True) <= 0
    return np.where(empty, pooled, weights)


def _draw(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of ``weights`` (b, K), with probability proportional to the row."""
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((rng.uniform(size=(len(weights), 1)) > cum).sum(axis=1), weights.shape[1] - 1)
