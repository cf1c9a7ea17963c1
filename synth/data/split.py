"""Split a table into the training part (shown to the generator) and the holdout.

The holdout is never shown to a generator; the privacy audits compare how close the
synthetic records are to training records against how close they are to holdout records.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from synth.errors import DataError
from synth.schema import Schema

MAX_HOLDOUT_FRACTION = 0.9


def split_train_holdout(
    df: pd.DataFrame,
    schema: Schema,
    *,
    holdout_fraction: float,
    seed: int,
    stratify: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Randomly split ``df`` into ``(train, holdout)``.

    With a group column (``schema.group``, e.g. ``subject_id``) whole groups are split:
    ``ceil(holdout_fraction * n_groups)`` groups go to the holdout with all their rows, so
    no person has rows on both sides (a row-level split would let a patient's second stay
    sit in the holdout and make every privacy metric read "no leak"); stratification does
    not apply then. Otherwise the holdout has ``ceil(holdout_fraction * n)`` rows. With ``stratify`` the split keeps
    the target's class shares when the target is categorical or boolean and every class
    (missing counts as a class) has at least 2 rows and each side can hold one row per
    class; otherwise the split is plain random. Both parts keep ``df``'s index labels and
    its row order, so audits can refer back to the original records. The same ``seed``
    gives the same split.
    """
    if isinstance(holdout_fraction, bool) or not isinstance(holdout_fraction, (int, float)) or not (
        0 < holdout_fraction <= MAX_HOLDOUT_FRACTION
    ):
        raise DataError(
            f"holdout_fraction must be a number in (0, {MAX_HOLDOUT_FRACTION}], got {holdout_fraction!r}: "
            "e.g. 0.2 keeps a fifth of the records back for the privacy audits."
        )
    if schema.group is not None:
        return _split_groups(df, schema.group, holdout_fraction, seed)
    n = len(df)
    n_holdout = math.ceil(holdout_fraction * n)
    if n_holdout < 1 or n - n_holdout < 1:
        raise DataError(
            f"Cannot split {n} rows with holdout_fraction={holdout_fraction}: the training part would have "
            f"{n - n_holdout} rows and the holdout {n_holdout}. Use more records or another holdout_fraction."
        )
    labels = _stratify_labels(df, schema, n_holdout) if stratify else None
    positions = np.arange(n)
    train_pos, holdout_pos = train_test_split(
        positions, test_size=n_holdout, random_state=seed, shuffle=True, stratify=labels
    )
    return df.iloc[np.sort(train_pos)], df.iloc[np.sort(holdout_pos)]


def _stratify_labels(df: pd.DataFrame, schema: Schema, n_holdout: int) -> np.ndarray | None:
    target = schema.target
    if target is None or target not in df.columns or not schema.column(target).is_discrete:
        return None
    # strings so that mixed types and missing values sort and compare
    labels = df[target].astype(object).where(df[target].notna(), "<missing>").map(str).to_numpy()
    _, counts = np.unique(labels, return_counts=True)
    n_classes = len(counts)
    if n_classes < 2 or counts.min() < 2 or n_holdout < n_classes or len(df) - n_holdout < n_classes:
        return None
    return labels


def _split_groups(
    df: pd.DataFrame, group: str, holdout_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Whole groups to each side: ``ceil(holdout_fraction * n_groups)`` to the holdout."""
    labels = df[group]
    if labels.isna().any():
        raise DataError(
            f"The group column '{group}' (data.group) is missing in {int(labels.isna().sum())} of {len(df)} rows; "
            "every row must name the person it belongs to. Fill it in, or drop data.group if rows are people."
        )
    codes, uniques = pd.factorize(labels, sort=True)
    n_groups = len(uniques)
    n_holdout = math.ceil(holdout_fraction * n_groups)
    if n_holdout < 1 or n_groups - n_holdout < 1:
        raise DataError(
            f"Cannot split {n_groups} groups of '{group}' (data.group) with holdout_fraction={holdout_fraction}: "
            f"the training part would have {n_groups - n_holdout} groups and the holdout {n_holdout}. "
            "Use more people or another holdout_fraction."
        )
    held = np.zeros(n_groups, dtype=bool)
    held[np.random.default_rng(seed).permutation(n_groups)[:n_holdout]] = True
    in_holdout = held[codes]
    return df.iloc[np.flatnonzero(~in_holdout)], df.iloc[np.flatnonzero(in_holdout)]
