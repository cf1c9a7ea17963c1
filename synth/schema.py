"""The table schema: what each column is and what role it plays.

A :class:`Schema` is inferred from data (see :mod:`synth.data.infer`) and can be
overridden from the config. Generators model only :meth:`Schema.modelled` columns;
identifiers are dropped before fitting and never appear in synthetic data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from synth.errors import DataError, did_you_mean


class ColumnKind(StrEnum):
    """How a column's values behave."""

    NUMERIC = "numeric"  # real-valued, float64
    INTEGER = "integer"  # whole numbers with order (counts, ages), pandas Int64
    CATEGORICAL = "categorical"  # unordered levels (strings or codes)
    BOOLEAN = "boolean"
    DATETIME = "datetime"  # pandas datetime64[ns]
    ID = "id"  # a record identifier: never modelled, never copied
    TEXT = "text"  # free text: not modelled by tabular generators
    # A path (relative to the data set's root folder, or absolute) of an image file: one row
    # per image. A table with an image column is image data (DataKind.IMAGE).
    IMAGE = "image"


class Role(StrEnum):
    """What a column means to the audit."""

    TARGET = "target"  # the outcome for utility / fairness models
    SENSITIVE = "sensitive"  # a protected attribute for fairness audits
    QUASI_IDENTIFIER = "quasi_identifier"  # what a linkage attacker may know
    IDENTIFIER = "identifier"  # direct identifier: dropped before fitting
    # The person a row belongs to (e.g. subject_id when a patient has several ICU stays):
    # never modelled; the split keeps each group's rows on one side, and the privacy
    # audits judge leaks per group, since a person, not a row, is what they protect.
    GROUP = "group"
    # The text that conditions an image generator (e.g. a radiology report's impression):
    # a text column with this role is modelled by image generators, never by tabular ones.
    PROMPT = "prompt"


class DataKind(StrEnum):
    """What one row of a data set is: a table record, or an image with its metadata."""

    TABLE = "table"
    IMAGE = "image"


NUMERIC_KINDS = frozenset({ColumnKind.NUMERIC, ColumnKind.INTEGER, ColumnKind.DATETIME})
DISCRETE_KINDS = frozenset({ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN})


@dataclass(frozen=True)
class ColumnSpec:
    """One column.

    ``minimum``/``maximum`` are in the column's own units (for datetimes: nanoseconds
    since the epoch, as float). ``categories`` lists the observed levels of a
    categorical/boolean column, in a stable order (natural order when all numbers or all strings, else by string form).
    """

    name: str
    kind: ColumnKind
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[Any, ...] | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    # Which facts ("nullable", "minimum", "maximum", "categories") the config declared
    # rather than the rows revealed: a differentially private generator may only use
    # declared ones. Provenance, not a fact, so two specs with the same facts compare equal.
    declared: frozenset[str] = field(default_factory=frozenset, compare=False)

    @property
    def is_numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def is_discrete(self) -> bool:
        return self.kind in DISCRETE_KINDS

    @property
    def is_modelled(self) -> bool:
        """Identifiers and free text are never given to a generator; a prompt (text) is, to image generators."""
        if Role.IDENTIFIER in self.roles or Role.GROUP in self.roles or self.kind == ColumnKind.ID:
            return False
        return self.kind != ColumnKind.TEXT or Role.PROMPT in self.roles

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "nullable": self.nullable,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "categories": list(self.categories) if self.categories is not None else None,
            "roles": sorted(r.value for r in self.roles),
            "declared": sorted(self.declared),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnSpec:
        return cls(
            name=d["name"],
            kind=ColumnKind(d["kind"]),
            nullable=bool(d.get("nullable", False)),
            minimum=d.get("minimum"),
            maximum=d.get("maximum"),
            categories=tuple(d["categories"]) if d.get("categories") is not None else None,
            roles=frozenset(Role(r) for r in d.get("roles", [])),
            declared=frozenset(d.get("declared", [])),
        )


@dataclass(frozen=True)
class Schema:
    """An ordered set of columns; the order is the data's column order."""

    columns: tuple[ColumnSpec, ...]

    # -- lookup -------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def column(self, name: str) -> ColumnSpec:
        """Return the column called ``name`` or raise a :class:`DataError` naming it."""
        for c in self.columns:
            if c.name == name:
                return c
        raise DataError(
            f"Column '{name}' is not in the data (columns: {', '.join(self.names)})."
            + did_you_mean(name, self.names)
        )

    def with_role(self, role: Role) -> list[str]:
        return [c.name for c in self.columns if role in c.roles]

    @property
    def target(self) -> str | None:
        targets = self.with_role(Role.TARGET)
        return targets[0] if targets else None

    @property
    def group(self) -> str | None:
        """The column naming the person each row belongs to, or None (every row its own person)."""
        groups = self.with_role(Role.GROUP)
        return groups[0] if groups else None

    @property
    def prompt(self) -> str | None:
        """The text column that conditions an image generator, or None."""
        prompts = self.with_role(Role.PROMPT)
        return prompts[0] if prompts else None

    @property
    def images(self) -> list[str]:
        """The image columns (paths of image files)."""
        return [c.name for c in self.columns if c.kind == ColumnKind.IMAGE]

    @property
    def data_kind(self) -> DataKind:
        """IMAGE when the table has an image column (one row per image), else TABLE."""
        return DataKind.IMAGE if self.images else DataKind.TABLE

    @property
    def sensitive(self) -> list[str]:
        return self.with_role(Role.SENSITIVE)

    @property
    def quasi_identifiers(self) -> list[str]:
        return self.with_role(Role.QUASI_IDENTIFIER)

    @property
    def identifiers(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == ColumnKind.ID or Role.IDENTIFIER in c.roles]

    # -- derived schemas ----------------------------------------------------
    def modelled(self) -> Schema:
        """The columns a generator models (no identifiers, no free text)."""
        return Schema(tuple(c for c in self.columns if c.is_modelled))

    def select(self, names: list[str]) -> Schema:
        return Schema(tuple(self.column(n) for n in names))

    def replace_column(self, spec: ColumnSpec) -> Schema:
        self.column(spec.name)  # raises a clear error if absent
        return Schema(tuple(spec if c.name == spec.name else c for c in self.columns))

    def with_roles(self, name: str, roles: frozenset[Role]) -> Schema:
        return self.replace_column(replace(self.column(name), roles=roles))

    # -- serialisation ------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        return cls(tuple(ColumnSpec.from_dict(c) for c in d["columns"]))
