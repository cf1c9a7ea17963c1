"""Mixed-type encoding for distances and density models.

Documented distance (used by every nearest-neighbour audit): each row becomes a float32
vector where

- numeric, integer and datetime columns are min-max scaled by the *training* range
  (Gower-style), so a difference of the full range counts 1;
- categorical and boolean columns are one-hot encoded and scaled by 1/sqrt(2), so a
  mismatch adds exactly 1 to the squared Euclidean distance (unseen levels encode as
  all-zeros, half a mismatch);
- a missing value sets a per-column indicator (weight 1) and takes the training median
  (numeric) or an all-zero one-hot (categorical), so "missing vs present" counts like a
  mismatch.

Squared Euclidean distance between two encoded rows is then
``sum(scaled numeric diff^2) + (#categorical mismatches) + (#missingness mismatches)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.schema import ColumnKind, Schema

_INV_SQRT2 = np.float32(1 / np.sqrt(2))


def _as_float(series: pd.Series, kind: ColumnKind) -> np.ndarray:
    if kind == ColumnKind.DATETIME:
        # One unit for every table: pandas 2 keeps s/ms/us resolutions, and int64 of those differ.
        dt = pd.to_datetime(series, errors="coerce").dt.as_unit("ns")
        out = dt.astype("int64").astype(float)
        out[dt.isna().to_numpy()] = np.nan
        return np.asarray(out, dtype=float)
    return pd.to_numeric(series, errors="coerce").astype(float).to_numpy()


def _level_key(value: object) -> str:
    return str(value)


class MixedEncoder:
    """Fit on the training table, then transform any table with the same columns.

    ``transform`` returns a float32 array of shape (n_rows, n_features).
    """

    def __init__(self, schema: Schema, columns: list[str] | None = None) -> None:
        self.schema = schema
        self.columns = list(columns) if columns is not None else schema.modelled().names
        self._numeric: dict[str, tuple[float, float, float]] = {}  # name -> (min, range, median)
        self._levels: dict[str, list[str]] = {}
        self._has_missing: dict[str, bool] = {}
        self.feature_names: list[str] = []

    def fit(self, frame: pd.DataFrame) -> MixedEncoder:
        self.feature_names = []
        for name in self.columns:
            spec = self.schema.column(name)
            col = frame[name]
            self._has_missing[name] = bool(col.isna().any()) or spec.nullable
            if spec.is_numeric:
                x = _as_float(col, spec.kind)
                finite = x[np.isfinite(x)]
                lo = float(finite.min()) if finite.size else 0.0
                hi = float(finite.max()) if finite.size else 1.0
                med = float(np.median(finite)) if finite.size else 0.0
                self._numeric[name] = (lo, (hi - lo) or 1.0, med)
                self.feature_names.append(name)
            else:
                levels = sorted({_level_key(v) for v in col.dropna().unique()})
                self._levels[name] = levels
                self.feature_names.extend(f"{name}={lv}" for lv in levels)
            if self._has_missing[name]:
                self.feature_names.append(f"{name}__missing")
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks: list[np.ndarray] = []
        n = len(frame)
        for name in self.columns:
            spec = self.schema.column(name)
            col = frame[name]
            missing = col.isna().to_numpy()
            if name in self._numeric:
                lo, rng, med = self._numeric[name]
                x = _as_float(col, spec.kind)
                missing = missing | ~np.isfinite(x)
                x = np.where(missing, med, x)
                blocks.append(((x - lo) / rng).astype(np.float32)[:, None])
            else:
                levels = self._levels[name]
                index = {lv: i for i, lv in enumerate(levels)}
                codes = np.array([index.get(_level_key(v), -1) if not m else -1 for v, m in zip(col.to_numpy(), missing)])
                onehot = np.zeros((n, len(levels)), dtype=np.float32)
                ok = codes >= 0
                onehot[np.nonzero(ok)[0], codes[ok]] = _INV_SQRT2
                blocks.append(onehot)
            if self._has_missing[name]:
                blocks.append(missing.astype(np.float32)[:, None])
        if not blocks:
            return np.zeros((n, 0), dtype=np.float32)
        return np.ascontiguousarray(np.hstack(blocks), dtype=np.float32)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)
