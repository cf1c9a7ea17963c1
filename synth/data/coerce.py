"""Bring a table to the schema's canonical dtypes, and check a table can be used for a run.

Canonical dtypes (what every generator and audit may rely on):

============  =====================================================================
kind          dtype and values
============  =====================================================================
numeric       ``float64``; missing is ``NaN``
integer       pandas ``Int64``; whole-number floats from a generator are rounded
boolean       pandas ``boolean``; accepts bools, 0/1 and the strings true/false/yes/no/1/0
datetime      ``datetime64[ns]``, timezone-naive (aware values are converted to UTC)
categorical   ``object`` holding the values as given; floats that are whole numbers
              become ``int`` when the schema's categories are integers (a CSV
              round trip or a generator turns 0/1 into 0.0/1.0)
id            ``Int64`` when every value is a whole number, else ``object``
text          ``object``
image         ``object`` holding each image file's path as ``str``; a missing path is an error
============  =====================================================================

Missing values stay missing (``NaN``/``NA``/``NaT``). A value that cannot be converted
raises a :class:`~synth.errors.DataError` naming the column and one offending value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from synth.errors import DataError
from synth.schema import ColumnKind, ColumnSpec, Schema

MIN_ROWS = 20  # below this a train/holdout split and the audits' intervals are meaningless

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_BAD = object()  # marks a value that is neither true nor false


def coerce_to_schema(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Return a copy of ``df`` with every column converted to its kind's canonical dtype.

    ``df`` may lack the columns a generator never sees (identifiers, free text); every
    other schema column must be present and every column of ``df`` must be in the schema.
    The result keeps ``df``'s index and lists the columns in schema order.
    """
    extra = [c for c in df.columns if c not in schema]
    if extra:
        raise DataError(
            f"Table has columns that are not in the schema: {', '.join(map(str, extra))}. "
            f"The schema lists: {', '.join(schema.names)}; infer the schema from this table or drop those columns."
        )
    missing = [c.name for c in schema.columns if c.name not in df.columns and c.is_modelled]
    if missing:
        raise DataError(
            f"Table lacks the schema column(s) {', '.join(missing)}: every modelled column must be present."
        )
    out = {spec.name: coerce_column(df[spec.name], spec) for spec in schema.columns if spec.name in df.columns}
    return pd.DataFrame(out, index=df.index)


def coerce_column(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Convert one column to the canonical dtype of ``spec.kind`` (see the module table)."""
    kind = spec.kind
    if kind == ColumnKind.NUMERIC:
        return _to_float(values, spec.name)
    if kind == ColumnKind.INTEGER:
        return _to_int(values, spec.name)
    if kind == ColumnKind.BOOLEAN:
        return _to_boolean(values, spec.name)
    if kind == ColumnKind.DATETIME:
        return _to_datetime(values, spec.name)
    if kind == ColumnKind.CATEGORICAL:
        return _to_categorical(values, spec)
    if kind == ColumnKind.ID:
        return _to_id(values)
    if kind == ColumnKind.IMAGE:
        return _to_image_path(values, spec.name)
    return values.astype(object)


def parse_datetimes(values: pd.Series) -> pd.Series:
    """Parse ``values`` to timezone-naive ``datetime64[ns]``; what does not parse becomes NaT.

    Strings are read as ISO 8601 first, the rest with pandas' per-value format inference;
    numbers are read as nanoseconds since the epoch; aware times are converted to UTC.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    if ptypes.is_datetime64_any_dtype(values.dtype):
        return values.astype("datetime64[ns]")
    if ptypes.is_bool_dtype(values.dtype):
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if ptypes.is_numeric_dtype(values.dtype):
        return pd.to_datetime(values.astype("float64"), unit="ns", errors="coerce").astype("datetime64[ns]")
    obj = values.astype(object).where(values.notna(), None)
    parsed = pd.to_datetime(obj, errors="coerce", format="ISO8601", utc=True)
    retry = parsed.isna() & obj.notna()
    if retry.any():
        parsed[retry] = pd.to_datetime(obj[retry].astype(str), errors="coerce", format="mixed", utc=True)
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def infinite_values(df: pd.DataFrame, *, policy: str, source: str) -> pd.DataFrame:
    """Refuse (``policy="error"``) or blank (``policy="missing"``) infinite numbers in ``df``.

    An infinite value (``inf``, ``-inf``, or a number such as ``1e999`` that a CSV reader
    turns into one) cannot be modelled: generators fitted on it produce columns of NaN.
    With ``"error"`` a :class:`DataError` names the column(s) and the config key that
    turns them into missing values; with ``"missing"`` they become NaN (returns a copy).
    """
    bad: dict[str, int] = {}
    numbers: dict[str, pd.Series] = {}  # the column as float64, for those with infinite values
    for name in df.columns:
        col = df[name]
        if ptypes.is_float_dtype(col.dtype):
            values = col.astype("float64")
        elif col.dtype == object:
            # a CSV reader keeps a column as text when one value overflows ("1e999"): a column whose
            # every value reads as a number is numeric, infinite values included
            values = col.map(_as_float)
            if (values.isna() & col.notna()).any():
                continue
            values = values.astype("float64")
        else:
            continue
        n = int(np.isinf(values.to_numpy()).sum())
        if n:
            bad[name], numbers[name] = n, values
    if not bad:
        return df
    if policy == "missing":
        out = df.copy()
        for name, values in numbers.items():
            out[name] = values.where(np.isfinite(values), np.nan)
        return out
    listed = ", ".join(f"'{c}' ({n} value{'s' if n > 1 else ''})" for c, n in bad.items())
    raise DataError(
        f"Table from {source} has infinite numbers in {listed}: inf, -inf or a number too large for a float "
        "(e.g. 1e999). Fix those values, or set data.infinite: missing in the config to treat them as missing."
    )


def clip_to_bounds(df: pd.DataFrame, bounds: dict[str, tuple[float | None, float | None]]) -> pd.DataFrame:
    """Clip each column named in ``bounds`` (name -> (min, max), None = open) into its bounds.

    For the bounds a config declares (``data.columns.NAME.min/max``): the synthetic data
    never leaves them. Numeric and integer columns are clipped in their units, datetime
    columns in nanoseconds since the epoch. Returns a copy; other columns are unchanged.
    """
    out = df.copy()
    for name, (low, high) in bounds.items():
        if name not in out.columns:
            continue
        col = out[name]
        if ptypes.is_datetime64_any_dtype(col.dtype):
            lo = pd.Timestamp(int(low)) if low is not None else None
            hi = pd.Timestamp(int(high)) if high is not None else None
            out[name] = col.clip(lower=lo, upper=hi)
        elif ptypes.is_numeric_dtype(col.dtype) and not ptypes.is_bool_dtype(col.dtype):
            if ptypes.is_integer_dtype(col.dtype):
                # an integer column stays whole: a fractional bound rounds inward
                low = None if low is None else float(np.ceil(low))
                high = None if high is None else float(np.floor(high))
            out[name] = col.clip(lower=low, upper=high)
    return out


def check_bounds(df: pd.DataFrame, schema: Schema, *, source: str) -> None:
    """Raise :class:`DataError` when a numeric, integer or datetime column leaves its schema bounds.

    Bounds a config declares (``min``/``max``) describe the column's valid range; real
    values outside them are a contradiction to resolve (fix the data or widen the bound),
    not something to drop or clip silently.
    """
    for spec in schema.columns:
        if not spec.is_numeric or spec.name not in df.columns or (spec.minimum is None and spec.maximum is None):
            continue
        present = df[spec.name].dropna()
        if spec.kind == ColumnKind.DATETIME:
            numbers = present.astype("int64").astype("float64")  # the schema keeps datetime bounds in ns
        else:
            numbers = pd.to_numeric(present, errors="coerce").astype("float64")
        for bound, outside, word in (
            (spec.minimum, lambda b: numbers < b, "below the min"),
            (spec.maximum, lambda b: numbers > b, "above the max"),
        ):
            if bound is None:
                continue
            n = int(outside(bound).sum())
            if n:
                raise DataError(
                    f"Column '{spec.name}' in {source} has {n} value(s) {word} {_bound_text(spec, bound)} set in "
                    f"data.columns.{spec.name}. Widen the bound or fix those values; synth does not clip or drop "
                    "real data silently."
                )


def _bound_text(spec: ColumnSpec, bound: float) -> str:
    if spec.kind == ColumnKind.DATETIME:
        return pd.Timestamp(int(bound)).isoformat()
    return f"{bound:g}"


def validate_for_run(df: pd.DataFrame, schema: Schema, *, source: str) -> None:
    """Raise :class:`DataError` when ``df`` cannot feed a generate-and-audit run.

    Checks: the table has rows and columns; at least :data:`MIN_ROWS` rows; no modelled
    column is empty (every value missing: a generator cannot learn it and the audits
    cannot compare it); the target and every sensitive column exist and hold at least two
    distinct non-missing values; no value lies outside its column's bounds (:func:`check_bounds`).
    """
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataError(f"Table from {source} is empty ({df.shape[0]} rows, {df.shape[1]} columns): give a table with data.")
    if len(df) < MIN_ROWS:
        raise DataError(
            f"Table from {source} has only {len(df)} rows: a run needs at least {MIN_ROWS} to split off a "
            "holdout and audit the synthetic data. Use more records."
        )
    checks = [(schema.target, "target column", "a model needs at least two classes; pick another target or fix the data")]
    checks += [
        (name, "sensitive column", "a fairness audit needs at least two groups; drop it from 'sensitive' or fix the data")
        for name in schema.sensitive
    ]
    for name, what, why in checks:
        if name is None:
            continue
        if name not in df.columns:
            raise DataError(f"The {what} '{name}' is not in the table from {source}; check the column name.")
        levels = df[name].dropna().unique()
        if len(levels) == 0:
            raise DataError(f"{what.capitalize()} '{name}' in {source} has no values (all missing): {why}.")
        if len(levels) == 1:
            raise DataError(f"{what.capitalize()} '{name}' in {source} has a single value '{levels[0]}': {why}.")
    empty = [c.name for c in schema.columns if c.is_modelled and c.name in df.columns and df[c.name].isna().all()]
    if empty:
        names = ", ".join(f"'{n}'" for n in empty)
        raise DataError(
            f"Table from {source}: the column(s) {names} have no values (every row is missing), so a generator "
            "cannot learn them and the audits cannot compare them. Drop them from the table, or list them under "
            "data.identifiers in the config to leave them out of the run."
        )
    check_bounds(df, schema, source=source)


# -- per-kind conversions ----------------------------------------------------


def _to_image_path(values: pd.Series, name: str) -> pd.Series:
    """Paths as ``str``: a row of an image data set without its image is unusable, never silently dropped."""
    missing = values.isna()
    if missing.any():
        raise DataError(
            f"Image column '{name}' has no path in {int(missing.sum())} of {len(values)} rows (e.g. row "
            f"{values.index[missing][0]}): every row of an image data set names its image file. Fill in the paths "
            "or drop those rows."
        )
    return values.map(lambda v: v if isinstance(v, str) else str(v)).astype(object)


def _bad_value(name: str, original: pd.Series, failed: pd.Series, expected: str) -> DataError:
    example = original[failed].iloc[0]
    count = int(failed.sum())
    return DataError(
        f"Column '{name}' should hold {expected} but has {count} value(s) that are not, e.g. {example!r}. "
        "Fix those values, or override the column's kind in the config."
    )


def _to_float(values: pd.Series, name: str) -> pd.Series:
    if ptypes.is_bool_dtype(values.dtype):
        return values.astype("float64")
    if ptypes.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    obj = values.astype(object)
    out = pd.to_numeric(obj.map(_plain_bool_to_int), errors="coerce")
    failed = out.isna() & values.notna()
    if failed.any():
        raise _bad_value(name, values, failed, "numbers")
    return out.astype("float64")


def _as_float(v: object) -> float:
    """``float(v)`` for numbers and numeric text ("1e999" is inf, as Python reads it); NaN otherwise."""
    if isinstance(v, (bool, np.bool_)) or v is None:
        return np.nan
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return np.nan


def _plain_bool_to_int(v: object) -> object:
    return int(v) if isinstance(v, (bool, np.bool_)) else v


def _to_int(values: pd.Series, name: str) -> pd.Series:
    numbers = _to_float(values, name)
    finite = np.isfinite(numbers) | numbers.isna()
    if not finite.all():
        raise _bad_value(name, values, ~finite, "whole numbers")
    return numbers.round().astype("Int64")  # generators emit floats such as 33.6 for integers


def _to_boolean(values: pd.Series, name: str) -> pd.Series:
    if ptypes.is_bool_dtype(values.dtype):
        return values.astype("boolean")

    def convert(v: object) -> object:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return pd.NA
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, float, np.integer, np.floating)):
            return bool(v) if v in (0, 1) else _BAD
        text = str(v).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else _BAD

    converted = values.astype(object).map(convert)
    failed = converted.map(lambda v: v is _BAD)
    if failed.any():
        raise _bad_value(name, values, failed, "true/false values (true/false, yes/no or 1/0)")
    return converted.astype("boolean")


def _to_datetime(values: pd.Series, name: str) -> pd.Series:
    parsed = parse_datetimes(values)
    failed = parsed.isna() & values.notna()
    if failed.any():
        raise _bad_value(name, values, failed, "dates/times (e.g. 2021-03-04 or 2021-03-04 12:30:00)")
    return parsed


def _to_categorical(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    cats = spec.categories or ()
    int_levels = bool(cats) and all(isinstance(c, int) and not isinstance(c, bool) for c in cats)
    convert = _whole_float_to_int if int_levels else _numpy_to_python
    missing = values.isna().to_numpy()
    # built element by element: Series.map would re-infer int64 and lose the object dtype
    cells = [np.nan if m else convert(v) for v, m in zip(values.astype(object).to_numpy(), missing)]
    return pd.Series(cells, index=values.index, dtype=object, name=values.name)


def _whole_float_to_int(v: object) -> object:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
        return int(v)
    return _numpy_to_python(v)


def _numpy_to_python(v: object) -> object:
    return v.item() if isinstance(v, np.generic) else v


def _to_id(values: pd.Series) -> pd.Series:
    if ptypes.is_integer_dtype(values.dtype):
        return values.astype("Int64")
    if ptypes.is_float_dtype(values.dtype):
        present = values.dropna()
        if np.all(np.isfinite(present)) and np.all(np.mod(present, 1) == 0):
            return values.astype("Int64")
    return values.astype(object)

