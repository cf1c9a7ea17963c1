"""The four SynLLM prompt strategies, rendered from template files.

==========================  ===============================================================
strategy                    what the prompt shows
==========================  ===============================================================
``examples``                the header and a few real rows
``definitions_examples``    a data dictionary (meanings, units, codes, ranges) and real rows
``statistics``              category shares, typical ranges, means, correlations (computed
                            from the training rows or given by the user); real rows only
                            with ``n_examples > 0``
``rules``                   the fields, the domain rules and the output format; no real rows
==========================  ===============================================================

Each strategy is a Jinja template in ``templates/`` (a user may pass their own file),
rendered in a sandbox with the schema and the material, so a template can read values but
not run code. Examples rotate: every prompt draws its own rows.

Outside the example rows, a prompt describes the data by the rules of
:mod:`synth.disclosure` (a ``rules`` or ``statistics`` prompt may go to a remote server):
a column's range is a coarse one (rounded percentiles with at least ``k`` records beyond
each), never the schema's minimum and maximum, which an inferred schema takes from one
person's record; a level that fewer than ``k`` training records hold is not named.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from synth.disclosure import DEFAULT_RARE_K, coarse_range, nameable_levels
from synth.errors import ConfigError
from synth.generators.llm.row_schema import json_value
from synth.generators.llm.statistics import TableStatistics
from synth.schema import ColumnKind, ColumnSpec, Schema

Strategy = Literal["examples", "definitions_examples", "statistics", "rules"]
STRATEGIES: tuple[str, ...] = ("examples", "definitions_examples", "statistics", "rules")


def shows_real_rows(strategy: str, n_examples: int) -> bool:
    """Whether prompts of ``strategy`` carry real training rows."""
    return strategy in ("examples", "definitions_examples") or (strategy == "statistics" and n_examples > 0)


def _number(x: float) -> str:
    return f"{x:g}"


def type_text(spec: ColumnSpec, levels: tuple[Any, ...] | None = None) -> str:
    """The value a column takes, in words: 'integer', 'one of 0, 1', ...

    ``levels``: the categories the prompt may name (default: all of the schema's); the
    others are mentioned as rare, not named. Numeric bounds are not given (see the module
    docstring: the range comes from :func:`range_text` or the statistics).
    """
    if spec.kind in (ColumnKind.NUMERIC, ColumnKind.INTEGER):
        text = "integer" if spec.kind == ColumnKind.INTEGER else "number"
    elif spec.kind == ColumnKind.BOOLEAN:
        text = "true or false"
    elif spec.kind == ColumnKind.CATEGORICAL and spec.categories:
        named = spec.categories if levels is None else levels
        text = "one of " + ", ".join(json.dumps(json_value(c, spec)) for c in named)
        if len(named) < len(spec.categories):
            text += " or a rare other level" if named else "a few rare levels"
    elif spec.kind == ColumnKind.DATETIME:
        text = "a date (YYYY-MM-DD)"
    else:
        text = "text"
    return text + (", or null when unknown" if spec.nullable else "")


def range_text(values: pd.Series, spec: ColumnSpec, k: int = DEFAULT_RARE_K) -> str:
    """'typically 20 to 55' for a numeric column's training ``values``: the coarse range of
    :func:`synth.disclosure.coarse_range` (5th to 95th percentile or wider); '' when there
    are too few values to give one."""
    if spec.kind not in (ColumnKind.NUMERIC, ColumnKind.INTEGER):
        return ""
    span = coarse_range(values, spec.kind, k)
    return f"typically {_number(span['low'])} to {_number(span['high'])}" if span else ""


def stats_text(name: str, stats: TableStatistics) -> str:
    col = stats.columns.get(name)
    if col is None:
        return ""
    parts = []
    if col.mean is not None:
        parts.append(f"mean {_number(col.mean)}")
    if col.sd is not None:
        parts.append(f"sd {_number(col.sd)}")
    if col.low is not None and col.high is not None:
        parts.append(f"typically {_number(col.low)} to {_number(col.high)}")
    if col.shares:
        parts.append("shares " + ", ".join(f"{k}: {round(100 * v)}%" for k, v in col.shares.items()))
    if col.missing:
        parts.append(f"missing in {round(100 * col.missing)}%")
    return ", ".join(parts)


def row_json(row: dict[str, Any]) -> str:
    """A row as one line of compact JSON, keys in schema order: the format the model answers in."""
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def example_rows(data: pd.DataFrame, schema: Schema) -> list[dict[str, Any]]:
    """Every training row as a JSON-ready dict (what an examples prompt may show)."""
    specs = schema.columns
    return [
        {spec.name: json_value(v, spec) for spec, v in zip(specs, values)}
        for values in data[schema.names].itertuples(index=False, name=None)
    ]


@dataclass(frozen=True)
class PromptTemplate:
    """A strategy's template: its text, where it came from and its SHA-256."""

    strategy: str
    text: str
    source: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @classmethod
    def load(cls, strategy: str, path: str | Path | None = None) -> PromptTemplate:
        """The built-in template of ``strategy``, or the user's file at ``path``."""
        if path is None:
            text = (resources.files("synth.generators.llm") / "templates" / f"{strategy}.j2").read_text("utf-8")
            return cls(strategy, text, f"builtin:{strategy}.j2")
        file = Path(path).expanduser()
        if not file.is_file():
            raise ConfigError(
                f"generator.params.template: '{file}' does not exist. Give the path of a Jinja template "
                "(copy one of the built-in templates in synth/generators/llm/templates/ as a start) or drop the key."
            )
        template = cls(strategy, file.read_text("utf-8"), str(file))
        template.compiled()  # syntax errors surface now, before any generation
        return template

    def compiled(self) -> Any:
        env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)
        try:
            return env.from_string(self.text)
        except TemplateError as exc:
            raise ConfigError(f"generator.params.template: '{self.source}' is not a valid Jinja template: {exc}") from None


@dataclass
class PromptMaterial:
    """What every prompt of a fitted generator shares (built by ``fit``)."""

    schema: Schema
    title: str
    definitions: dict[str, str] = field(default_factory=dict)
    statistics: TableStatistics | None = None
    rules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    levels: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # column -> nameable levels
    ranges: dict[str, str] = field(default_factory=dict)  # column -> range_text

    @classmethod
    def from_training(cls, data: pd.DataFrame, schema: Schema, k: int = DEFAULT_RARE_K, **given: Any) -> PromptMaterial:
        """The material for ``schema`` with the levels and ranges ``data`` (training rows) allows naming."""
        levels = {s.name: nameable_levels(s, data[s.name], k) for s in schema.columns
                  if s.kind == ColumnKind.CATEGORICAL and s.categories}
        ranges = {s.name: range_text(data[s.name], s, k) for s in schema.columns}
        return cls(schema=schema, levels=levels, ranges={c: t for c, t in ranges.items() if t}, **given)

    def columns(self) -> list[dict[str, str]]:
        """Per column what templates read: name, kind, definition, type_text, range_text, stats_text."""
        return [
            {
                "name": spec.name,
                "kind": spec.kind.value,
                "definition": self.definitions.get(spec.name, ""),
                "type_text": type_text(spec, self.levels.get(spec.name)),
                "range_text": self.ranges.get(spec.name, ""),
                "stats_text": stats_text(spec.name, self.statistics) if self.statistics else "",
            }
            for spec in self.schema.columns
        ]


def output_format(schema: Schema, rows: int) -> str:
    return (
        f"Write {rows} new records that are different from the examples, as one JSON object "
        '{"rows":[...]} holding ' + f"{rows} record objects with the fields {', '.join(schema.names)}, "
        "in that order.\n"
    )


class PromptRenderer:
    """Renders one prompt per model call: the shared material plus that call's examples."""

    def __init__(self, template: PromptTemplate, material: PromptMaterial) -> None:
        self.template = template
        self.material = material
        self._compiled = template.compiled()
        self._columns = material.columns()

    def render(self, examples: list[dict[str, Any]], rows: int) -> str:
        """The prompt text asking for ``rows`` records, showing ``examples`` (JSON-ready dicts)."""
        stats = self.material.statistics
        context = {
            "title": self.material.title,
            "columns": self._columns,
            "column_names": self.material.schema.names,
            "examples": [row_json(e) for e in examples],
            "statistics": stats.model_dump() if stats else {},
            "correlations": [c.model_dump() for c in stats.correlations] if stats else [],
            "rules": list(self.material.rules),
            "notes": list(self.material.notes),
            "n_rows": rows,
            "output_format": output_format(self.material.schema, rows),
        }
        try:
            return self._compiled.render(**context).strip() + "\n"
        except TemplateError as exc:
            raise ConfigError(
                f"generator.params.template: '{self.template.source}' failed to render: {exc}. Templates may use "
                f"{', '.join(sorted(context))}."
            ) from None
