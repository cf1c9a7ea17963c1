"""Who each real row belongs to: the unit the privacy audits protect and count.

A person, not a row, is what a privacy audit protects. Without a group column every row
is its own person. With one (``data.group``, e.g. ``subject_id`` when a patient has
several ICU stays), :class:`~synth.audits.base.AuditInputs` carries each training and
holdout row's group label, and the audits:

- count members and non-members, exposed records and copied records per person;
- never let a person's own other rows serve as "another real record" (a patient's second
  stay would otherwise hide a near-copy of the first);
- treat the split as a random partition of *persons*, which is how the pipeline makes it.

:func:`persons` turns the labels into integer codes: training persons ``0..n_train - 1``,
holdout persons ``n_train..n_train + n_holdout - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.errors import DataError
from synth.neighbors.search import nearest


@dataclass(frozen=True)
class Persons:
    """Person codes of the training and holdout rows.

    ``train`` (n_train_rows,) and ``holdout`` (n_holdout_rows,) int64 codes;
    ``n_train`` / ``n_holdout``: persons on each side; ``grouped``: whether a group column
    named the persons (else one person per row).
    """

    train: np.ndarray
    holdout: np.ndarray
    n_train: int
    n_holdout: int
    grouped: bool

    @property
    def pool(self) -> np.ndarray:
        """(n_train_rows + n_holdout_rows,) codes of the training rows then the holdout rows."""
        return np.r_[self.train, self.holdout]

    @property
    def n(self) -> int:
        return self.n_train + self.n_holdout

    @property
    def max_rows(self) -> int:
        """The most rows any one person has (1 without groups)."""
        pool = self.pool
        return int(np.bincount(pool).max()) if pool.size else 1


def _codes(labels: np.ndarray | None, n_rows: int, side: str) -> tuple[np.ndarray, np.ndarray]:
    if labels is None:
        return np.arange(n_rows, dtype=np.int64), np.arange(n_rows).astype(object)
    labels = np.asarray(labels, dtype=object)
    if labels.shape != (n_rows,):
        raise DataError(
            f"The {side} group labels have {labels.size} entries for {n_rows} {side} rows; give one label per row."
        )
    if pd.isna(pd.Series(labels)).any():
        raise DataError(f"The group column is missing in some {side} rows; every row must name the person it belongs to.")
    codes, uniques = pd.factorize(pd.Series(labels), sort=False)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def persons(train_groups: np.ndarray | None, holdout_groups: np.ndarray | None,
            n_train_rows: int, n_holdout_rows: int) -> Persons:
    """Person codes from the audit inputs' group labels (``None``: one person per row).

    A label found on both sides is a :class:`~synth.errors.DataError`: a person cannot be a
    training and a holdout record at once.
    """
    grouped = train_groups is not None or holdout_groups is not None
    if grouped and (train_groups is None or holdout_groups is None):
        raise DataError("Group labels were given for only one of the training and holdout tables; give both or neither.")
    t_codes, t_labels = _codes(train_groups, n_train_rows, "training")
    h_codes, h_labels = _codes(holdout_groups, n_holdout_rows, "holdout")
    if grouped:
        shared = set(map(str, t_labels)) & set(map(str, h_labels))
        if shared:
            raise DataError(
                f"{len(shared)} group(s) have rows in both the training and the holdout data; a person must sit on one "
                "side only. Split the data by the group column (data.group does this)."
            )
    return Persons(t_codes, h_codes + len(t_labels), len(t_labels), len(h_labels), grouped)


def per_person_max(values: np.ndarray, codes: np.ndarray, n_persons: int, *, offset: int = 0) -> np.ndarray:
    """The largest value over each person's rows, shape (n_persons,).

    ``codes`` (n_rows,) person codes; person ``offset + j`` lands at position ``j``. A person
    without rows gets -inf.
    """
    out = np.full(n_persons, -np.inf)
    np.maximum.at(out, np.asarray(codes) - offset, np.asarray(values, dtype=np.float64))
    return out


def per_person_min(values: np.ndarray, codes: np.ndarray, n_persons: int, *, offset: int = 0) -> np.ndarray:
    """The smallest value over each person's rows, shape (n_persons,); +inf without rows."""
    out = np.full(n_persons, np.inf)
    np.minimum.at(out, np.asarray(codes) - offset, np.asarray(values, dtype=np.float64))
    return out


def nearest_other_person(
    data: np.ndarray, codes: np.ndarray, rows: np.ndarray, *, metric: str = "euclidean", max_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to, and index of, the closest row of ``data`` that belongs to another person.

    Args:
        data: (n, d) encoded rows; codes: (n,) their person codes; rows: (n_q,) the query
            rows (indices into ``data``).
        max_rows: the most rows one person has (computed when None).

    Returns:
        ``(distances, indices)``, each (n_q,). Exact: the search asks for ``max_rows + 1``
        neighbours, at most ``max_rows`` of which can be the query's own person's rows.
        Without groups (one row per person) this is the closest *other* row.
    """
    rows = np.asarray(rows, dtype=np.int64)
    codes = np.asarray(codes)
    if max_rows is None:
        max_rows = int(np.bincount(codes).max()) if codes.size else 1
    k = min(max_rows + 1, data.shape[0])
    d, idx = nearest(data[rows], data, k, metric=metric)  # type: ignore[arg-type]
    other = codes[idx] != codes[rows][:, None]
    first = np.argmax(other, axis=1)  # rows come sorted nearest first
    found = other[np.arange(rows.size), first]
    dist = np.where(found, d[np.arange(rows.size), first], np.inf)
    return dist, np.where(found, idx[np.arange(rows.size), first], -1)
