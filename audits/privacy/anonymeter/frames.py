"""Preparing train / synthetic / holdout frames so anonymeter's evaluators can use them.

anonymeter 1.1 has sharp edges (each found in its source and checked by a test):

- **pandas nullable dtypes** (``Int64``, ``Float64``, ``boolean``): its nearest-neighbour
  search turns the frame into an object array and numba refuses it (``TypingError``).
- **NaN in a categorical column**: its label encoder sorts the values and fails on a mix
  of strings and floats.
- **quotes in a category**: the singling-out query builder escapes ``'`` and ``"`` as if
  the query were a string, but it is a polars expression, so the escaped value never
  matches and a record holding it can never be singled out.
- **odd column names** (spaces, ``-``, ``#``, keywords): its ``_safe_column_names`` maps
  every name to itself (a no-op), so nothing protects a name.
- **datetimes**: not numeric to anonymeter, so it compares them as categories (exact match
  only), and the singling-out query builder compares a datetime column with a string.

So every modelled column gets a safe name ``c0, c1, ...`` (mapped back for reporting), and
values are re-encoded per the schema's kind:

- numeric, integer: ``float64``, missing -> ``NaN`` (anonymeter then matches "missing" only
  with "missing": in its distance a one-sided NaN gives a NaN distance, which sorts last);
- datetime: ``float64`` days since 1970-01-01, missing -> ``NaN``;
- categorical, boolean: an opaque level code ``"L0", "L1", ...`` (object dtype) shared by
  the three frames, missing -> the level ``"missing"``. Codes keep equality, which is all
  anonymeter uses of a category, and carry no quotes.

Identifier and free-text columns are left out (they are never modelled). The inputs are
never modified; the returned frames are new, with a fresh 0..n-1 index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.errors import DataError, did_you_mean
from synth.schema import ColumnKind, Schema

MISSING_LEVEL = "missing"
_EPOCH = pd.Timestamp("1970-01-01")


@dataclass(frozen=True)
class AnonymeterFrames:
    """The three frames in anonymeter-safe form and the column-name mapping.

    ``ori`` = training rows, ``syn`` = synthetic rows, ``control`` = holdout rows, all with
    columns ``safe_names[c]`` for each original column ``c`` in ``columns`` (schema order).
    ``numeric`` holds the original names encoded as float64 (numeric, integer, datetime).
    """

    ori: pd.DataFrame
    syn: pd.DataFrame
    control: pd.DataFrame
    columns: tuple[str, ...]
    safe_names: dict[str, str]
    numeric: frozenset[str]

    def safe(self, column: str) -> str:
        """The safe name of an original column (a :class:`DataError` naming it if unknown)."""
        try:
            return self.safe_names[column]
        except KeyError:
            raise DataError(
                f"Column '{column}' is not among the audited columns ({', '.join(self.columns)})."
                + did_you_mean(column, self.columns)
            ) from None

    def original(self, safe: str) -> str:
        """The original name of a safe column name."""
        for name, s in self.safe_names.items():
            if s == safe:
                return name
        raise KeyError(safe)


def prepare_frames(
    train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, schema: Schema
) -> AnonymeterFrames:
    """Encode the schema's modelled columns of the three frames for anonymeter.

    Raises a :class:`DataError` naming the column and the frame when a modelled column is
    missing, or when a numeric/datetime column holds values that are not numbers/dates.
    """
    columns = schema.modelled().names
    frames = {"training": train, "synthetic": synthetic, "holdout": holdout}
    for label, frame in frames.items():
        for col in columns:
            if col not in frame.columns:
                raise DataError(
                    f"Column '{col}' of the schema is missing from the {label} data "
                    f"(its columns: {', '.join(map(str, frame.columns))})."
                    + did_you_mean(col, map(str, frame.columns))
                    + " Give all three tables the same modelled columns."
                )
    safe_names = {col: f"c{i}" for i, col in enumerate(columns)}
    out: dict[str, dict[str, np.ndarray]] = {label: {} for label in frames}
    numeric: set[str] = set()
    for col in columns:
        spec = schema.column(col)
        if spec.kind in (ColumnKind.NUMERIC, ColumnKind.INTEGER, ColumnKind.DATETIME):
            numeric.add(col)
            for label, frame in frames.items():
                out[label][safe_names[col]] = _as_float(frame[col], spec.kind, col, label)
        else:
            levels = _levels(frame[col] for frame in frames.values())
            for label, frame in frames.items():
                out[label][safe_names[col]] = _as_level_codes(frame[col], levels)
    ori, syn, control = (pd.DataFrame(out[label], index=pd.RangeIndex(len(frames[label]))) for label in frames)
    return AnonymeterFrames(
        ori=ori, syn=syn, control=control, columns=tuple(columns), safe_names=safe_names, numeric=frozenset(numeric)
    )


def _as_float(series: pd.Series, kind: ColumnKind, col: str, label: str) -> np.ndarray:
    """float64 values (datetimes as days since the epoch); missing and infinite -> NaN."""
    if kind == ColumnKind.DATETIME:
        dt = pd.to_datetime(series, errors="coerce")
        if isinstance(dt.dtype, pd.DatetimeTZDtype):  # an instant: count days in UTC
            dt = dt.dt.tz_convert(None)
        bad = dt.isna() & series.notna()
        values = ((dt - _EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64, na_value=np.nan)
        expected = "dates"
    else:
        num = pd.to_numeric(series, errors="coerce")
        bad = num.isna() & series.notna()
        values = num.to_numpy(dtype=np.float64, na_value=np.nan)
        expected = "numbers"
    if bad.any():
        example = series[bad].iloc[0]
        raise DataError(
            f"Column '{col}' is {kind.value} in the schema but the {label} data holds {int(bad.sum())} "
            f"value(s) that are not {expected} (e.g. {example!r}). Fix the data, or declare the column "
            "categorical in the schema."
        )
    values = values.copy()
    values[~np.isfinite(values)] = np.nan
    return values


def _level_key(value: object) -> str:
    """One string per category level, so 1, 1.0 and "1" (or True and "True") are one level."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def _levels(columns: Iterable[pd.Series]) -> dict[str, str]:
    """Level code of every non-missing value's key across the frames, in sorted key order."""
    keys: set[str] = set()
    for series in columns:
        keys.update(_level_key(v) for v in pd.unique(series.dropna()))
    return {key: f"L{i}" for i, key in enumerate(sorted(keys))}


def _as_level_codes(series: pd.Series, levels: dict[str, str]) -> np.ndarray:
    missing = series.isna().to_numpy()
    values = series.astype(object).to_numpy()
    return np.array([MISSING_LEVEL if m else levels[_level_key(v)] for v, m in zip(values, missing)], dtype=object)
