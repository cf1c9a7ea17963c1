"""Check that the holdout and the training rows are different records.

Every privacy audit compares how close synthetic records are to training records with
how close they are to holdout records. A holdout that repeats training records (the same
file passed twice, an export that overlaps) makes a copied training record look like a
holdout match, and a generator that copies its training data passes. So before auditing,
:func:`check_holdout_disjoint` counts holdout rows that equal a training row exactly and
compares the count with what natural duplicates explain.

Natural duplicates: in data with few distinct values (codes, small integers) two people
can share a row. The chance that a fresh record of the population equals one of the
training rows is estimated leave-one-out on the training table itself: the share ``p``
of training rows that equal another training row. Its one-sided 99.9 % Clopper-Pearson
upper bound ``p_hi`` is the most the population allows; the holdout overlaps when seeing
its count of matches among ``m`` holdout rows has probability below 1e-6 under
Binomial(m, p_hi). Rows are compared on the modelled columns after coercion to the
schema's dtypes (so ``1`` and ``1.0`` agree), missing values equal to each other.
With a group column, a person on both sides is itself an overlap (:func:`check_groups_disjoint`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from synth.errors import DataError

UPPER_LEVEL = 0.999  # one-sided confidence of the natural-duplicate rate's upper bound
ALARM_P = 1e-6  # chance, under natural duplicates alone, of an overlap we call an error


def row_keys(frame: pd.DataFrame) -> np.ndarray:
    """One uint64 per row (shape (n,)), equal for rows with equal values in every column."""
    return pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy()


def check_holdout_disjoint(train: pd.DataFrame, holdout: pd.DataFrame, *, source: str) -> None:
    """Raise :class:`DataError` when ``holdout`` repeats training rows beyond natural duplicates.

    ``train`` (n, p) and ``holdout`` (m, p) hold the same columns in the same dtypes.
    ``source`` names the two inputs in the message.
    """
    n, m = len(train), len(holdout)
    if n < 2 or m == 0:
        return
    train_keys = row_keys(train)
    hold_keys = row_keys(holdout[list(train.columns)])
    _, inverse, counts = np.unique(train_keys, return_inverse=True, return_counts=True)
    duplicated = int(np.sum(counts[inverse] > 1))  # training rows that equal another training row
    matches = int(np.isin(hold_keys, train_keys).sum())
    if matches == 0:
        return
    p_hi = 1.0 if duplicated >= n else float(stats.beta.ppf(UPPER_LEVEL, duplicated + 1, n - duplicated))
    if float(stats.binom.sf(matches - 1, m, p_hi)) >= ALARM_P:
        return
    raise DataError(
        f"{source}: {matches} of the {m} holdout rows are exact copies of training rows, far more than natural "
        f"duplicates explain ({duplicated} of the {n} training rows repeat another training row). The holdout must "
        "be real records the generator never saw, disjoint from the training data: with shared records every "
        "privacy audit reads a copied record as 'no leak'. Pass the rows that were held out when the generator "
        "was trained."
    )


def check_groups_disjoint(train_groups: pd.Series, holdout_groups: pd.Series, *, column: str, source: str) -> None:
    """Raise :class:`DataError` when a group label (a person) has rows in both the training data and the holdout."""
    shared = pd.Index(train_groups.dropna().unique()).intersection(pd.Index(holdout_groups.dropna().unique()))
    if len(shared):
        raise DataError(
            f"{source}: {len(shared)} value(s) of the group column '{column}' (data.group) occur in both the training "
            "data and the holdout: the same person on both sides makes every privacy audit read a leak as 'no "
            "leak'. Split by person, so that each person's rows are on one side only."
        )
