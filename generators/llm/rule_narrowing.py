"""Hard rules applied while a row is written: the values a field may still take.

When a decoder starts a field, the row's earlier fields are known. Each value the field
could take -- every level of a categorical or boolean column, ``null`` if it is nullable,
and "some value" (:data:`~synth.generators.llm.rules.PRESENT`) for numbers, dates and
text -- is tried against the hard rules that name the field, with the fields not written
yet left unknown (:data:`~synth.generators.llm.rules.UNWRITTEN`). A value for which a rule
is already definitely false is taken out of the field's JSON Schema, so the grammar never
lets the model write it; a field left with one value is not sampled at all.

Kleene logic is monotone: a rule that is false with unknowns is false whatever values
replace them, so a value taken out could never have been part of a row that passes every
rule -- nothing valid is lost. What this cannot decide (a number's exact value against a
bound, two fields both unwritten) is still caught by the check after the row is written.

Rows are then drawn from the model's distribution restricted field by field (the usual
effect of constrained decoding), not from the distribution of whole rows conditioned on
the rules as rejection sampling would give; ``generator.params.rules_in_decoding: false``
restores pure rejection.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synth.generators.llm.rules import PRESENT, UNWRITTEN, Rule
from synth.schema import Schema

CACHE_SIZE = 4096  # narrowed schemas kept per generator (keys: the written values the rules read)


class RowNarrowing:
    """The hard rules of a generator, applied field by field to rows being written."""

    def __init__(self, rules: list[Rule], schema: Schema) -> None:
        self.schema = schema
        self._rules: dict[str, list[Rule]] = {}
        for rule in rules:
            for name in rule.columns:
                self._rules.setdefault(name, []).append(rule)
        self._read = {name: sorted({c for r in rs for c in r.columns} - {name}) for name, rs in self._rules.items()}
        self._cache: dict[Any, dict[str, Any] | None] = {}

    def narrow(self, column: str, value_schema: dict[str, Any], written: dict[str, Any]) -> dict[str, Any] | None:
        """The JSON Schema of ``column``'s value without the values that break a hard rule,
        given the row's ``written`` values (column -> JSON value); ``None`` when nothing is
        taken out (or everything would be: such a row fails its check later, as without this).
        """
        rules = self._rules.get(column)
        if not rules:
            return None
        try:
            key = (column, tuple((c, written.get(c, UNWRITTEN)) for c in self._read[column]))
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in self._cache:
            return self._cache[key]
        result = self._narrow(column, value_schema, written, rules)
        if key is not None:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = result
        return result

    def _narrow(self, column: str, value_schema: dict[str, Any], written: dict[str, Any],
                rules: list[Rule]) -> dict[str, Any] | None:
        options = value_schema.get("anyOf", [value_schema])
        candidates = [(i, v) for i, option in enumerate(options) for v in _values(option)]
        frame = pd.DataFrame(
            {c: pd.Series([v for _, v in candidates] if c == column else [written.get(c, UNWRITTEN)] * len(candidates),
                          dtype=object)
             for c in {column, *self._read[column]}}
        )
        ok = np.ones(len(frame), dtype=bool)
        for rule in rules:
            ok &= ~rule.violated(frame, self.schema)
        if ok.all() or not ok.any():
            return None
        kept: list[dict[str, Any]] = []
        for i, option in enumerate(options):
            values = [v for (j, v), good in zip(candidates, ok) if j == i and good]
            if not values:
                continue
            if "enum" in option:
                kept.append({**option, "enum": values})
            elif option.get("type") == "boolean" and len(values) == 1:
                kept.append({"enum": values})
            else:
                kept.append(option)
        return kept[0] if len(kept) == 1 else {**value_schema, "anyOf": kept}


def _values(option: dict[str, Any]) -> list[Any]:
    """The values to try for one ``anyOf`` option of a column's JSON Schema."""
    if "enum" in option:
        return list(option["enum"])
    kind = option.get("type")
    if kind == "null":
        return [None]
    if kind == "boolean":
        return [True, False]
    return [PRESENT]
