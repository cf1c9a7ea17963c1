"""Adapter from SDV single-table synthesizers to the synth :class:`Generator` contract.

The SDV baselines (Gaussian copula, CTGAN, TVAE) share everything but their SDV class and
parameters, so the shared behaviour lives here:

- **metadata** comes from *our* :class:`Schema`, never from SDV's auto-detection, so a
  column the steward declared categorical stays categorical;
- **missing values** are modelled, not dropped: categorical and boolean columns treat a
  missing value as a level; numeric/datetime columns either get an is-missing indicator
  the model learns jointly with the other columns (``missing_values="joint"``) or have
  missing values re-inserted at random at their training rate (``"marginal"``, SDV's
  default);
- **seeding**: fit and sample run under a scoped seed (Python, NumPy, torch, the SDV
  model's and the rdt transformers' own random states) that is restored afterwards, so
  the same seed gives a byte-identical table and no global random state leaks out;
- **quiet**: SDV's warnings, prints and progress bars are routed to the
  ``synth.generators.sdv_adapter`` logger (the CLI shows its own progress);
- **output** is coerced back to the schema's dtypes, columns in schema order;
- **conditions** are validated against the schema and sampled with
  ``sdv.sampling.Condition``;
- **save/load** writes SDV's cloudpickle file plus a JSON sidecar; loading the pickle
  executes code, so :meth:`SDVGenerator.load` refuses unless ``trusted=True``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import numbers
import random
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field

import synth
from synth.atomic import write_text, write_with
from synth.errors import ConfigError, DataError, SynthUserError, did_you_mean
from synth.generators.base import Condition, Generator, GeneratorParams
from synth.schema import ColumnKind, ColumnSpec, Schema

_LOG = logging.getLogger(__name__)

TABLE_NAME = "table"  # SDV 2 addresses single tables by name; ours has one
MODEL_FILE = "sdv_synthesizer.pkl"
SIDECAR_FILE = "generator.json"
SAVE_FORMAT = "synth.sdv_synthesizer/1"
MAX_TRIES_PER_BATCH = 100  # SDV's default rejection-sampling budget per condition
_SEED_LIMIT = 2**32  # NumPy's legacy RandomState (used by ctgan/copulas) takes seeds below this

_SDTYPES: dict[ColumnKind, str] = {
    ColumnKind.NUMERIC: "numerical",
    ColumnKind.INTEGER: "numerical",
    ColumnKind.CATEGORICAL: "categorical",
    ColumnKind.BOOLEAN: "boolean",
    ColumnKind.DATETIME: "datetime",
}


MissingValues = Literal["joint", "marginal"]
MISSING_VALUES_HELP = (
    "How numeric/datetime columns get their missing values: 'joint' learns an is-missing "
    "indicator with the other columns (missingness may depend on them, but a weak model can "
    "get its rate wrong); 'marginal' re-inserts them at random at the training rate, "
    "independent of the other columns (SDV's default)."
)


class SDVParams(GeneratorParams):
    """Parameters every SDV single-table synthesizer takes.

    ``missing_values`` is synth's, not an SDV keyword: it picks the rdt transformers.
    """

    missing_values: MissingValues = Field("joint", description=MISSING_VALUES_HELP)
    enforce_min_max_values: bool = Field(
        True, description="Clip generated numeric and datetime values to the range seen in training."
    )
    enforce_rounding: bool = Field(
        True, description="Round generated numeric values to the decimal places seen in training."
    )


# -- seeding and quiet ------------------------------------------------------------------


def check_seed(seed: int, what: str = "seed") -> int:
    """Return ``seed`` as an int in [0, 2**32) or raise :class:`ConfigError` naming ``what``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) < _SEED_LIMIT:
        raise ConfigError(
            f"{what} must be a whole number between 0 and {_SEED_LIMIT - 1}, got {seed!r}."
        )
    return int(seed)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global generators for the block, then restore them.

    SDV, ctgan, copulas and rdt draw from these global generators; restoring them keeps a
    generator's fit/sample from changing the random state of the caller's program.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()
    cuda_devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=cuda_devices):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


@contextmanager
def quiet_sdv() -> Iterator[None]:
    """Route SDV's warnings and prints to the log; drop its progress bars.

    SDV prints alerts to stdout (CTGAN's "PerformanceAlert") and draws tqdm bars on
    stderr while sampling with conditions; inside synth the CLI owns the terminal, and
    stdout may carry a result a pipeline parses.
    """
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with redirect_stdout(printed), redirect_stderr(io.StringIO()):
                yield
        finally:
            for warning in caught:
                _LOG.info("SDV %s: %s", warning.category.__name__, warning.message)
            if printed.getvalue().strip():
                _LOG.info("SDV printed: %s", printed.getvalue().strip())


# -- schema -> SDV ----------------------------------------------------------------------


def sdv_metadata(schema: Schema) -> Any:
    """SDV ``Metadata`` for one table whose columns and sdtypes come from ``schema``.

    ``schema`` must hold only modelled columns (see :meth:`Schema.modelled`). SDV 2
    dropped ``computer_representation``; integer columns reach SDV as ``Int64`` data,
    from which it learns to round, and :func:`to_schema_dtypes` restores ``Int64``.
    """
    from sdv.metadata import Metadata

    columns = {spec.name: {"sdtype": _sdtype(spec)} for spec in schema.columns}
    return Metadata.load_from_dict({"tables": {TABLE_NAME: {"columns": columns}}})


def _sdtype(spec: ColumnSpec) -> str:
    try:
        return _SDTYPES[spec.kind]
    except KeyError:
        raise DataError(
            f"Column '{spec.name}' has kind '{spec.kind.value}', which the SDV generators do not "
            "model. Drop it from the data or give it another kind in the config's schema."
        ) from None


def training_frame(data: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Check ``data`` against ``schema`` (modelled columns only) and cast it for SDV.

    Returns a new frame (n_rows x schema columns, in schema order, index 0..n-1) with
    integer columns as ``Int64``, numeric as ``float64``, boolean as ``boolean`` and
    datetimes as ``datetime64[ns]``; missing values are kept. ``data`` is not modified.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"fit() expects a pandas DataFrame, got {type(data).__name__}.")
    extra = [str(c) for c in data.columns if c not in schema]
    if extra:
        raise DataError(
            f"fit() got column(s) the generator does not model: {', '.join(extra)}. Pass only "
            f"the schema's modelled columns ({', '.join(schema.names)}); identifiers and free "
            "text are dropped before fitting (Schema.modelled())."
        )
    missing = [n for n in schema.names if n not in data.columns]
    if missing:
        raise DataError(f"fit() data lacks the schema column(s): {', '.join(missing)}.")
    if len(data) == 0:
        raise DataError("fit() got an empty table: the generator needs at least one row.")
    if not schema.names:
        raise DataError("The schema has no modelled columns: there is nothing to fit.")
    return pd.DataFrame(
        {spec.name: _training_column(data[spec.name], spec) for spec in schema.columns}
    ).reset_index(drop=True)


def _training_column(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    try:
        if spec.kind == ColumnKind.NUMERIC:
            return pd.to_numeric(values).astype("float64")
        if spec.kind == ColumnKind.INTEGER:
            return pd.to_numeric(values).astype("Int64")
        if spec.kind == ColumnKind.BOOLEAN:
            return values.astype("boolean")
        if spec.kind == ColumnKind.DATETIME:
            return pd.to_datetime(values).astype("datetime64[ns]")
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"Column '{spec.name}' is declared {spec.kind.value} in the schema but its values "
            f"cannot be read as {spec.kind.value} ({exc}). Fix the data or the column's kind."
        ) from None
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)  # SDV's CTGAN refuses pandas 'category' dtype
    if spec.categories is not None:
        known = {_category_key(c) for c in spec.categories}
        unknown = [v for v in values.dropna().unique() if _category_key(v) not in known]
        if unknown:
            shown = ", ".join(repr(v) for v in unknown[:5])
            raise DataError(
                f"Column '{spec.name}' has value(s) {shown} that are not among its schema "
                f"categories ({', '.join(map(repr, spec.categories))}). Add them to the "
                "column's categories in the config or fix the data."
            )
    return values


# -- SDV -> schema dtypes ---------------------------------------------------------------


def _category_key(value: Any) -> tuple[str, Any]:
    """A key under which equal category values from CSV, NumPy and pandas coincide.

    1, 1.0 and np.int64(1) are the same level; True is not the level 1.
    """
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, numbers.Number):
        return ("number", float(value))
    if isinstance(value, str):
        return ("str", value)
    return ("other", value)


def _categorical_dtype(categories: tuple[Any, ...]) -> str | None:
    """``Int64`` for integer levels (0/1 stay ints), ``boolean`` for bools, else object."""
    if categories and all(isinstance(c, (bool, np.bool_)) for c in categories):
        return "boolean"
    if categories and all(
        isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_)) for c in categories
    ):
        return "Int64"
    return None


def to_schema_dtypes(raw: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Coerce SDV's output to ``schema``: its columns in its order, index 0..n-1.

    integer -> ``Int64`` (rounded), numeric -> ``float64``, boolean -> ``boolean``,
    datetime -> ``datetime64[ns]``; categorical values become the schema's own category
    objects (so int levels stay ints, as ``Int64``; other levels as ``object``).
    Missing values stay missing.
    """
    raw = raw.reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    for spec in schema.columns:
        col = raw[spec.name]
        if spec.kind == ColumnKind.NUMERIC:
            out[spec.name] = pd.to_numeric(col).astype("float64")
        elif spec.kind == ColumnKind.INTEGER:
            out[spec.name] = pd.to_numeric(col).astype("float64").round().astype("Int64")
        elif spec.kind == ColumnKind.BOOLEAN:
            out[spec.name] = col.astype("boolean")
        elif spec.kind == ColumnKind.DATETIME:
            out[spec.name] = pd.to_datetime(col).astype("datetime64[ns]")
        else:
            out[spec.name] = _categorical_output(col, spec)
    return pd.DataFrame(out, index=pd.RangeIndex(len(raw)))


def _categorical_output(col: pd.Series, spec: ColumnSpec) -> pd.Series:
    if spec.categories is None:
        return col
    canonical = {_category_key(c): c for c in spec.categories}
    values = [np.nan if _is_missing(v) else canonical.get(_category_key(v), v) for v in col.tolist()]
    dtype = _categorical_dtype(spec.categories)
    return pd.Series(values, dtype=dtype if dtype else object, name=spec.name)


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and math.isnan(value)
    )


# -- conditions -------------------------------------------------------------------------


def sample_request(
    generator: Generator, n: int, conditions: list[Condition] | None, seed: int | None
) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
    """Check a ``sample(n, conditions, seed)`` call on ``generator``; return ``(seed, plan)``.

    ``plan`` is ``[(n, {})]`` without conditions, else :func:`condition_plan`'s. Raises
    :class:`SynthUserError` when the generator is not fitted and :class:`ConfigError`
    for a bad ``n``, seed or condition.
    """
    if not generator.is_fitted:
        raise SynthUserError(
            f"Generator '{generator.name}' is not fitted: call fit(data, schema) or load(path) before sample()."
        )
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ConfigError(f"sample(n): n must be a whole number >= 0, got {n!r}.")
    seed = generator.seed if seed is None else check_seed(seed, "sample seed")
    plan = [(int(n), {})] if conditions is None else condition_plan(conditions, int(n), generator.schema)
    return seed, plan


def condition_plan(
    conditions: list[Condition], n: int, schema: Schema
) -> list[tuple[int, dict[str, Any]]]:
    """Validate ``conditions`` for ``sample(n, conditions)``; return ``(rows, values)`` pairs.

    Values come back in the form SDV matches against the training data (schema category
    objects, ints for integer columns, floats, Timestamps, NaN for a missing value).
    Raises :class:`ConfigError` naming the condition, column and valid values.
    """
    rows = []
    for i, cond in enumerate(conditions, start=1):
        if not isinstance(cond, Condition):
            raise ConfigError(
                f"condition {i} is a {type(cond).__name__}; pass synth.generators.base.Condition(rows, values)."
            )
        if isinstance(cond.rows, bool) or not isinstance(cond.rows, numbers.Integral) or cond.rows < 0:
            raise ConfigError(f"condition {i}: rows must be a whole number >= 0, got {cond.rows!r}.")
        rows.append(int(cond.rows))
    if sum(rows) != n:
        raise ConfigError(
            f"sample(n={n}) with conditions: n must equal the sum of the conditions' rows "
            f"({' + '.join(map(str, rows)) or '0'} = {sum(rows)}). Set n to {sum(rows)} or change the rows."
        )
    plan = []
    for i, (cond, count) in enumerate(zip(conditions, rows), start=1):
        values = {}
        for column, value in cond.values.items():
            if column not in schema:
                raise ConfigError(
                    f"condition {i} names column '{column}', which this generator does not model."
                    + did_you_mean(str(column), schema.names)
                    + f" Valid columns: {', '.join(schema.names)}."
                )
            values[column] = _condition_value(schema.column(column), value, i)
        plan.append((count, values))
    return plan


def _condition_value(spec: ColumnSpec, value: Any, i: int) -> Any:
    where = f"condition {i}, column '{spec.name}'"
    if _is_missing(value):
        if not spec.nullable:
            raise ConfigError(
                f"{where}: asks for a missing value, but the column is not nullable in the schema. "
                "Give a value, or mark the column nullable."
            )
        return np.nan
    if spec.is_discrete:
        if spec.categories is None:
            return value
        for category in spec.categories:
            if _category_key(category) == _category_key(value):
                return category
        shown = ", ".join(repr(c) for c in spec.categories)
        raise ConfigError(
            f"{where}: {value!r} is not one of the column's categories ({shown})."
            + did_you_mean(str(value), [str(c) for c in spec.categories])
        )
    if spec.kind == ColumnKind.DATETIME:
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {value!r} is not a date or time (use e.g. '2021-03-01').") from None
        _check_bounds(spec, float(stamp.value), repr(value), where)
        return stamp
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number for this {spec.kind.value} column, got {value!r}.")
    if spec.kind == ColumnKind.INTEGER:
        if float(value) != round(float(value)):
            raise ConfigError(f"{where}: expected a whole number for this integer column, got {value!r}.")
        value = int(round(float(value)))
    else:
        value = float(value)
    _check_bounds(spec, float(value), repr(value), where)
    return value


def _check_bounds(spec: ColumnSpec, value: float, shown: str, where: str) -> None:
    low = spec.minimum if spec.minimum is not None else -math.inf
    high = spec.maximum if spec.maximum is not None else math.inf
    if not low <= value <= high:
        raise ConfigError(
            f"{where}: {shown} is outside the column's range [{spec.minimum}, {spec.maximum}] "
            "in the schema; the generator cannot produce it."
        )


# -- persistence helpers ----------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    """JSON for the NumPy scalars and dates an inferred schema may hold."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _read_sidecar(path: Path, generator: str) -> dict[str, Any]:
    sidecar = path / SIDECAR_FILE
    if not sidecar.is_file():
        raise DataError(
            f"'{path}' is not a saved '{generator}' generator: {SIDECAR_FILE} is missing. "
            "Pass the folder that save() wrote."
        )
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"'{sidecar}' cannot be read as JSON ({exc}); save the generator again.") from None
    required = {"format", "generator", "params", "seed", "schema", "sha256"}
    if not isinstance(meta, dict) or not required <= set(meta):
        missing = sorted(required - set(meta)) if isinstance(meta, dict) else sorted(required)
        raise DataError(f"'{sidecar}' lacks the key(s) {', '.join(missing)}; save the generator again.")
    if meta["format"] != SAVE_FORMAT:
        raise DataError(
            f"'{sidecar}' has format {meta['format']!r}; this synth reads {SAVE_FORMAT!r}. "
            "Save the generator again with this version."
        )
    if meta["generator"] != generator:
        raise DataError(
            f"'{path}' holds a '{meta['generator']}' generator, not '{generator}'. "
            f"Load it with the '{meta['generator']}' generator."
        )
    return meta


# -- the shared generator ---------------------------------------------------------------


class SDVGenerator(Generator):
    """A synth generator backed by an SDV single-table synthesizer.

    Subclasses set ``name``, ``description``, ``Params`` (a :class:`SDVParams` subclass
    whose fields are the SDV class's keyword arguments) and ``sdv_class_name`` (the class
    in ``sdv.single_table``).
    """

    supports_conditions: ClassVar[bool] = True
    Params: ClassVar[type[GeneratorParams]] = SDVParams
    sdv_class_name: ClassVar[str]

    def __init__(self, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=check_seed(seed), **params)
        self._synthesizer: Any = None

    @classmethod
    def sdv_class(cls) -> type:
        """The SDV synthesizer class (imported lazily: SDV is slow to import)."""
        import sdv.single_table

        return getattr(sdv.single_table, cls.sdv_class_name)

    def check_params(self, schema: Schema) -> None:
        """Check parameters that name columns against ``schema``; raise :class:`ConfigError`.

        The default has none to check; subclasses override.
        """

    def sdv_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the SDV synthesizer (besides ``metadata``)."""
        return self.params.model_dump(exclude={"missing_values"})

    # -- fit / sample -----------------------------------------------------------------
    def fit(self, data: pd.DataFrame, schema: Schema) -> SDVGenerator:
        """Fit on ``data`` (n_rows x the modelled columns of ``schema``). Returns self.

        Missing values are modelled. Raises :class:`DataError` when ``data`` has columns
        the schema does not model, lacks one it does, or values that contradict it.
        """
        from sdv.errors import InvalidDataError, SynthesizerInputError
        from sdv.metadata.errors import InvalidMetadataError

        modelled = schema.modelled()
        frame = training_frame(data, modelled)
        self.check_params(modelled)
        with seeded(self.seed), quiet_sdv():
            synthesizer = self.sdv_class()(sdv_metadata(modelled), **self.sdv_kwargs())
            try:
                if self.params.missing_values == "joint":
                    synthesizer.auto_assign_transformers({TABLE_NAME: frame})
                    synthesizer.update_transformers(self._joint_missingness_transformers(modelled))
                synthesizer.fit({TABLE_NAME: frame})
            except (InvalidDataError, SynthesizerInputError, InvalidMetadataError) as exc:
                raise DataError(f"SDV could not fit generator '{self.name}' on the data: {exc}") from None
        self._synthesizer = synthesizer
        self.schema = modelled
        return self

    def _joint_missingness_transformers(self, schema: Schema) -> dict[str, Any]:
        """rdt transformers that hand each numeric/datetime column's missingness to the model.

        SDV's defaults re-insert missing values at random at the marginal rate, ignoring
        the other columns, while a missing lab is rarely missing at random in clinical data.
        With ``missing_value_generation='from_column'`` an is-missing indicator becomes a
        model column instead (a discrete one for CTGAN/TVAE). Columns without missing
        values get no indicator.
        """
        from rdt.transformers import FloatFormatter, UnixTimestampEncoder

        clip = bool(self.params.enforce_min_max_values)
        transformers: dict[str, Any] = {}
        for spec in schema.columns:
            if spec.kind in (ColumnKind.NUMERIC, ColumnKind.INTEGER):
                transformers[spec.name] = FloatFormatter(
                    missing_value_replacement="mean",
                    missing_value_generation="from_column",
                    learn_rounding_scheme=bool(self.params.enforce_rounding),
                    enforce_min_max_values=clip,
                )
            elif spec.kind == ColumnKind.DATETIME:
                transformers[spec.name] = UnixTimestampEncoder(
                    missing_value_replacement="mean",
                    missing_value_generation="from_column",
                    enforce_min_max_values=clip,
                )
        return transformers

    def sample(
        self,
        n: int,
        conditions: list[Condition] | None = None,
        seed: int | None = None,
    ) -> pd.DataFrame:
        """Return ``n`` rows (schema columns in schema order, schema dtypes, index 0..n-1).

        With ``conditions`` the rows are each condition's rows in turn, every one carrying
        the condition's values; ``n`` must equal the sum of their rows. ``seed`` (default:
        the constructor's) fixes the rows: the same seed gives the same table.
        """
        seed, plan = sample_request(self, n, conditions, seed)
        parts = []
        with seeded(seed), quiet_sdv():
            # SDV re-seeds its model with a fixed constant and rdt its transformers with
            # seeds hashed from the training data; there is no public per-call seed, so
            # reset both and give them states drawn from ours.
            self._synthesizer.reset_sampling()
            self._synthesizer._set_random_state(seed)
            self._seed_transformers(seed)
            for rows, values in plan:
                if rows > 0:
                    parts.append(self._sample_part(rows, values))
        raw = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=self.schema.names)
        return to_schema_dtypes(raw, self.schema)

    def _seed_transformers(self, seed: int) -> None:
        """Give every fitted rdt transformer a reverse-transform random state from ``seed``.

        rdt draws the 'marginal' missing values (and any other reverse-transform noise)
        from these states; left alone they would repeat the same pattern for every seed.
        """
        transformers = self._synthesizer.get_transformers()
        streams = np.random.SeedSequence(seed).spawn(len(transformers))
        for transformer, stream in zip(transformers.values(), streams):
            if transformer is not None:
                state = np.random.RandomState(stream.generate_state(1)[0])
                transformer.set_random_state(state, "reverse_transform")

    def _sample_part(self, rows: int, values: dict[str, Any]) -> pd.DataFrame:
        from sdv.sampling import Condition as SDVCondition

        if not values:
            return self._synthesizer.sample(rows)[TABLE_NAME]
        try:
            part = self._synthesizer.sample_from_conditions(
                [SDVCondition(values, num_rows=rows)], max_tries_per_batch=MAX_TRIES_PER_BATCH
            )[TABLE_NAME]
        except ValueError as exc:
            if "Unable to sample any rows" not in str(exc):
                raise
            part = pd.DataFrame()
        if len(part) < rows:
            raise ConfigError(
                f"Generator '{self.name}' produced only {len(part)} of {rows} rows with "
                f"{values} after {MAX_TRIES_PER_BATCH} rejection-sampling rounds: the fitted model "
                "rarely generates these values. Ask for fewer rows, a more common combination, "
                "train longer, or use 'gaussian_copula', which conditions exactly."
            )
        return part.head(rows)

    # -- persistence ------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the fitted generator into folder ``path``.

        ``sdv_synthesizer.pkl`` is SDV's cloudpickle of the synthesizer; ``generator.json``
        records the generator, parameters, seed, schema, the pickle's SHA-256 and the
        synth and SDV versions. The pickle holds fitted marginals and category levels of
        the training data: store it like the training data.
        """
        if not self.is_fitted:
            raise SynthUserError(f"Generator '{self.name}' is not fitted: there is nothing to save.")
        import sdv

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        model_path = path / MODEL_FILE
        with quiet_sdv():
            write_with(model_path, lambda tmp: self._synthesizer.save(str(tmp)))
        sidecar = {
            "format": SAVE_FORMAT,
            "generator": self.name,
            "params": self.params.model_dump(mode="json"),
            "seed": self.seed,
            "schema": self.schema.to_dict(),
            "model_file": MODEL_FILE,
            "sha256": _sha256(model_path),
            "synth_version": synth.__version__,
            "sdv_version": sdv.__version__,
        }
        # The sidecar goes last: a save interrupted between the two files leaves a
        # checksum mismatch that load() reports, never a silently inconsistent pair.
        write_text(path / SIDECAR_FILE, json.dumps(sidecar, indent=2, default=_json_default) + "\n")

    @classmethod
    def load(cls, path: Path, *, trusted: bool = False) -> SDVGenerator:
        """Load a generator that :meth:`save` wrote into folder ``path``.

        The sidecar and the pickle's SHA-256 are checked first (a changed or truncated file
        is a :class:`DataError`). The SDV model is a pickle, which runs code when loaded, so
        without ``trusted=True`` this raises :class:`SynthUserError` and loads nothing.
        """
        path = Path(path)
        meta = _read_sidecar(path, cls.name)
        model_path = path / MODEL_FILE
        if not model_path.is_file():
            raise DataError(f"'{path}' lacks {MODEL_FILE}; the saved generator is incomplete. Save it again.")
        if _sha256(model_path) != meta["sha256"]:
            raise DataError(
                f"'{model_path}' does not match the SHA-256 recorded in {SIDECAR_FILE}: the file "
                "changed after it was saved. Refusing to load it; save the generator again."
            )
        if not trusted:
            raise SynthUserError(
                f"'{model_path}' is a pickle (SDV's format): loading it executes code stored in the "
                "file, so a file from someone else can run anything on this machine. The checksum "
                "only shows the file matches its sidecar, not who wrote it. Pass trusted=True "
                "only for files you made yourself."
            )
        from sdv.utils import load_synthesizer

        generator = cls(seed=meta["seed"], **cls.validate_params(meta["params"]).model_dump())
        with quiet_sdv():
            synthesizer = load_synthesizer(str(model_path))
        if not isinstance(synthesizer, cls.sdv_class()):
            raise DataError(
                f"'{model_path}' holds a {type(synthesizer).__name__}, not the "
                f"{cls.sdv_class_name} that generator '{cls.name}' uses."
            )
        generator._synthesizer = synthesizer
        generator.schema = Schema.from_dict(meta["schema"])
        return generator
