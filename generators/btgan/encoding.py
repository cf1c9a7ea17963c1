"""The table <-> matrix encoding the networks see (mode-specific normalisation).

Every modelled column becomes a block of the row vector:

- **numeric, integer, datetime** (datetimes as nanoseconds since the epoch): a scalar
  ``alpha`` in (-1, 1) (a ``tanh`` output of the generator) followed by a one-hot *mode*
  (a softmax output). The modes are the components of a Gaussian mixture fitted to the
  column (:mod:`.gmm`); a value ``x`` in mode ``k`` has ``alpha = (x - mu_k) / (4 sd_k)``,
  and its mode is drawn from the posterior over components, as in CTGAN. With
  ``fixed_modes`` (the differentially private path) the modes are instead ``n_modes``
  equal-width bins over the schema's declared range, so nothing about the encoding is
  learned from the records;
- a **missing-value indicator** (a two-way softmax: present, missing) follows a numeric
  block when the column is nullable or has missing values; a missing value is encoded as
  the column's median (the bin range's midpoint with ``fixed_modes``) with the indicator
  set, and decoded back to missing;
- **categorical and boolean** columns are one-hot over their levels, missing being a
  level of its own when the column can be missing.

``inverse`` takes the argmax of every softmax block, so it also decodes the generator's
soft (Gumbel-softmax) outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from synth.errors import DataError
from synth.generators.btgan.gmm import Mixtures, fit_mixtures
from synth.schema import ColumnKind, ColumnSpec, Schema

SpanRole = Literal["alpha", "mode", "missing", "level"]
_ALPHA_CLIP = 0.99  # CTGAN's: keeps alpha inside tanh's range


@dataclass(frozen=True)
class Span:
    """Columns ``start:end`` of the row vector: one ``role`` of one table ``column``.

    ``alpha`` spans are one wide and take a tanh; the others are one-hot and take a softmax.
    """

    column: str
    role: SpanRole
    start: int
    end: int

    @property
    def width(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Block:
    """All spans of one column: its slice ``start:end`` of the row vector."""

    column: str
    start: int
    end: int
    spans: tuple[Span, ...]


class TableTransformer:
    """Fit on the training table, then encode tables to float32 matrices and decode back.

    Args:
        schema: the modelled columns (numeric, integer, datetime, categorical, boolean).
        fixed_modes: use equal-width bins over the schema's bounds instead of fitted
            mixtures (no statistic of the records enters the encoding).
        n_modes: mixture components (or bins) per numeric column, at most.
    """

    def __init__(self, schema: Schema, *, fixed_modes: bool = False, n_modes: int = 10) -> None:
        self.schema = schema
        self.fixed_modes = fixed_modes
        self.n_modes = n_modes
        self.numeric: list[str] = []
        self.mixtures: Mixtures | None = None
        self.impute: dict[str, float] = {}
        self.bounds: dict[str, tuple[float | None, float | None]] = {}
        self.levels: dict[str, list[Any]] = {}  # discrete column -> levels (None = missing)
        self.nullable: dict[str, bool] = {}
        self.blocks: list[Block] = []

    # -- fit ----------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, rng: np.random.Generator) -> TableTransformer:
        """Learn modes and levels from ``frame`` (n_rows x schema columns)."""
        self.numeric = [c.name for c in self.schema.columns if c.is_numeric]
        for spec in self.schema.columns:
            col = frame[spec.name]
            # With fixed modes (DP) whether a column can be missing is the schema's word only:
            # "some record is missing here" is a fact of the records (see .public_schema).
            self.nullable[spec.name] = bool(spec.nullable or (not self.fixed_modes and col.isna().any()))
            if spec.is_numeric:
                self.bounds[spec.name] = (spec.minimum, spec.maximum)
            elif spec.is_discrete:
                self.levels[spec.name] = self._levels_of(spec, col)
            else:
                raise DataError(
                    f"Column '{spec.name}' has kind '{spec.kind.value}', which btgan does not model. Drop it "
                    "or give it another kind in the config's data.columns."
                )
        values = self._numeric_matrix(frame)
        if self.fixed_modes:
            self.mixtures = self._bins()
            for j, name in enumerate(self.numeric):
                lo, hi = self.bounds[name]
                self.impute[name] = 0.5 * (lo + hi)
        elif self.numeric:
            self.mixtures = fit_mixtures(values, n_components=self.n_modes, rng=rng)
            for j, name in enumerate(self.numeric):
                finite = values[np.isfinite(values[:, j]), j]
                self.impute[name] = float(np.median(finite)) if finite.size else 0.0
        self._layout()
        return self

    def _levels_of(self, spec: ColumnSpec, col: pd.Series) -> list[Any]:
        if spec.categories is not None:
            levels = list(spec.categories)
        elif spec.kind == ColumnKind.BOOLEAN:
            levels = [False, True]
        elif self.fixed_modes:
            raise DataError(
                f"Column '{spec.name}' has no declared categories; with differential privacy the levels must come "
                f"from the schema, not the records. Set data.columns.{spec.name}.categories in the config."
            )
        else:
            levels = sorted(col.dropna().unique().tolist(), key=str)
        if self.nullable[spec.name]:
            levels.append(None)
        return levels

    def _bins(self) -> Mixtures:
        """Equal-width bins over each numeric column's schema range, as a 'mixture'."""
        m, k = len(self.numeric), self.n_modes
        means, stds = np.zeros((m, k)), np.ones((m, k))
        for j, name in enumerate(self.numeric):
            lo, hi = self.bounds[name]
            if lo is None or hi is None:
                raise DataError(
                    f"Column '{name}' has no declared range; with differential privacy numeric columns are encoded "
                    f"over the schema's bounds. Set data.columns.{name}.min and .max in the config."
                )
            width = (float(hi) - float(lo)) / k or 1.0
            means[j] = float(lo) + width * (np.arange(k) + 0.5)
            stds[j] = width / 4.0  # alpha = (x - centre) / width, in [-0.5, 0.5]
        return Mixtures(means, stds, np.full((m, k), 1.0 / k), np.ones((m, k), dtype=bool))

    def _layout(self) -> None:
        blocks, at = [], 0
        modes = self.mixtures.n_modes if self.mixtures is not None else []
        index = {name: j for j, name in enumerate(self.numeric)}
        for spec in self.schema.columns:
            spans = []
            if spec.is_numeric:
                spans.append(Span(spec.name, "alpha", at, at + 1))
                spans.append(Span(spec.name, "mode", at + 1, at + 1 + int(modes[index[spec.name]])))
                at = spans[-1].end
                if self.nullable[spec.name]:
                    spans.append(Span(spec.name, "missing", at, at + 2))
                    at += 2
            else:
                spans.append(Span(spec.name, "level", at, at + len(self.levels[spec.name])))
                at = spans[-1].end
            blocks.append(Block(spec.name, spans[0].start, at, tuple(spans)))
        self.blocks = blocks

    # -- layout queries -----------------------------------------------------------------
    @property
    def width(self) -> int:
        return self.blocks[-1].end if self.blocks else 0

    @property
    def spans(self) -> list[Span]:
        return [s for b in self.blocks for s in b.spans]

    def block(self, column: str) -> Block:
        for b in self.blocks:
            if b.column == column:
                return b
        raise KeyError(column)

    # -- encode -------------------------------------------------------------------------
    def _numeric_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.numeric)), dtype=np.float64)
        for j, name in enumerate(self.numeric):
            out[:, j] = numeric_values(frame[name], self.schema.column(name).kind)
        return out

    def codes(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        """(n,) int level index of each row of a discrete ``column`` (the missing level for missing)."""
        levels = self.levels[column]
        col = frame[column]
        present = [v for v in levels if v is not None]
        codes = pd.Index(present, dtype=object).get_indexer(col.astype(object).where(col.notna(), None))
        missing = col.isna().to_numpy()
        if None in levels:
            codes = np.where(missing, levels.index(None), codes)
        bad = (codes < 0) & ~missing
        if bad.any() or (missing.any() and None not in levels):
            shown = col[bad].iloc[0] if bad.any() else "a missing value"
            raise DataError(f"Column '{column}' holds {shown!r}, which is not one of its levels {present!r}.")
        return codes.astype(np.int64)

    def transform(self, frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """(n_rows, width) float32 encoding of ``frame``; modes are drawn with ``rng``."""
        n = len(frame)
        out = np.zeros((n, self.width), dtype=np.float32)
        rows = np.arange(n)
        if self.numeric:
            values = self._numeric_matrix(frame)
            missing = ~np.isfinite(values)
            for j, name in enumerate(self.numeric):
                lo, hi = self.bounds[name]
                values[missing[:, j], j] = self.impute[name]
                if self.fixed_modes:
                    values[:, j] = np.clip(values[:, j], lo, hi)
            mix = self.mixtures
            if self.fixed_modes:
                width = mix.stds[:, 0] * 4.0
                lo = mix.means[:, 0] - width / 2
                mode = np.clip(((values - lo) / width).astype(np.int64), 0, self.n_modes - 1)
            else:
                logr = mix.log_resp(values)  # (n, m, K)
                gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, size=logr.shape)))
                mode = np.argmax(np.where(mix.active[None], logr + gumbel, -np.inf), axis=2)
            cols = np.arange(len(self.numeric))
            mu, sd = mix.means[cols, mode], mix.stds[cols, mode]  # (n, m)
            alpha = np.clip((values - mu) / (4.0 * sd), -_ALPHA_CLIP, _ALPHA_CLIP)
            for j, name in enumerate(self.numeric):
                spans = {s.role: s for s in self.block(name).spans}
                out[:, spans["alpha"].start] = alpha[:, j]
                out[rows, spans["mode"].start + mode[:, j]] = 1.0
                if "missing" in spans:
                    out[rows, spans["missing"].start + missing[:, j].astype(np.int64)] = 1.0
        for column in self.levels:
            out[rows, self.block(column).start + self.codes(frame, column)] = 1.0
        return out

    # -- decode -------------------------------------------------------------------------
    def inverse(self, matrix: np.ndarray) -> pd.DataFrame:
        """Decode (n_rows, width) generator output (soft or one-hot) into a table.

        Numeric values are clipped to the schema's bounds; the caller casts to schema dtypes.
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        out: dict[str, Any] = {}
        index = {name: j for j, name in enumerate(self.numeric)}
        for block in self.blocks:
            spans = {s.role: s for s in block.spans}
            if block.column in self.levels:
                s = spans["level"]
                pick = np.argmax(matrix[:, s.start : s.end], axis=1)
                levels = np.array(self.levels[block.column] + [None], dtype=object)[:-1]
                out[block.column] = pd.Series(levels[pick], dtype=object)
                continue
            j = index[block.column]
            mode = np.argmax(matrix[:, spans["mode"].start : spans["mode"].end], axis=1)
            # A fixed-mode (DP) bin encodes its values as alpha in [-0.5, 0.5]; the generator's tanh
            # reaches +-1, which would put a value half a bin outside its bin, and an edge bin's
            # overshoot on the bound itself (on ACTG 175 at epsilon 10, 77-95 % of some columns).
            reach = 0.5 if self.fixed_modes else 1.0
            alpha = np.clip(matrix[:, spans["alpha"].start], -reach, reach)
            x = alpha * 4.0 * self.mixtures.stds[j, mode] + self.mixtures.means[j, mode]
            lo, hi = self.bounds[block.column]
            x = np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)
            if "missing" in spans:
                s = spans["missing"]
                x = np.where(np.argmax(matrix[:, s.start : s.end], axis=1) == 1, np.nan, x)
            out[block.column] = from_numeric(x, self.schema.column(block.column).kind)
        return pd.DataFrame(out)

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (levels are the schema's categories or the observed levels)."""
        return {
            "fixed_modes": self.fixed_modes, "n_modes": self.n_modes, "numeric": self.numeric,
            "mixtures": self.mixtures.to_dict() if self.mixtures is not None else None,
            "impute": self.impute, "bounds": {k: list(v) for k, v in self.bounds.items()},
            "levels": self.levels, "nullable": self.nullable,
        }

    @classmethod
    def from_dict(cls, schema: Schema, d: dict[str, Any]) -> TableTransformer:
        t = cls(schema, fixed_modes=bool(d["fixed_modes"]), n_modes=int(d["n_modes"]))
        t.numeric = list(d["numeric"])
        t.mixtures = Mixtures.from_dict(d["mixtures"]) if d["mixtures"] is not None else None
        t.impute = {k: float(v) for k, v in d["impute"].items()}
        t.bounds = {k: (v[0], v[1]) for k, v in d["bounds"].items()}
        t.levels = {k: list(v) for k, v in d["levels"].items()}
        t.nullable = {k: bool(v) for k, v in d["nullable"].items()}
        t._layout()
        return t


def numeric_values(series: pd.Series, kind: ColumnKind) -> np.ndarray:
    """(n,) float64 values of a numeric/integer/datetime column (datetimes in ns); NaN when missing."""
    if kind == ColumnKind.DATETIME:
        stamps = pd.to_datetime(series).astype("datetime64[ns]")
        out = stamps.astype("int64").to_numpy(dtype=np.float64)
        out[stamps.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(series).astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)


def from_numeric(x: np.ndarray, kind: ColumnKind) -> pd.Series:
    """Back from :func:`numeric_values`: datetimes from ns, integers rounded; NaN stays missing."""
    if kind == ColumnKind.DATETIME:
        return pd.Series(pd.to_datetime(np.where(np.isnan(x), np.nan, np.round(x)), unit="ns"))
    if kind == ColumnKind.INTEGER:
        return pd.Series(np.round(x))
    return pd.Series(x)
