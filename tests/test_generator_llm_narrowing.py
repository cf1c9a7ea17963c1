"""Hard rules applied while a row is written (generators/llm/rule_narrowing.py): the values a
field may still take given the row so far, checked against enumeration of whole rows."""

from __future__ import annotations

import itertools
import json

import pandas as pd

from synth.generators.llm.backends.answer_writer import AnswerWriter, answer_fields
from synth.generators.llm.row_schema import batch_json_schema, column_schema
from synth.generators.llm.rule_narrowing import RowNarrowing
from synth.generators.llm.rules import parse_rule
from synth.schema import ColumnKind, ColumnSpec, Schema

SCHEMA = Schema((
    ColumnSpec("treat", ColumnKind.CATEGORICAL, categories=(0, 1)),
    ColumnSpec("dose", ColumnKind.INTEGER, nullable=True, minimum=0, maximum=3),
    ColumnSpec("site", ColumnKind.CATEGORICAL, categories=("A", "B", "C")),
    ColumnSpec("flag", ColumnKind.BOOLEAN),
    ColumnSpec("arm", ColumnKind.CATEGORICAL, categories=(0, 1, 2, 3)),
))
RULES = [
    "if arm == 0 then treat == 0",
    "if arm != 0 then treat == 1",
    "if treat == 0 then dose is missing",
    "if treat == 1 then dose is not missing",
    'if site == "C" then flag == true',
    'if dose >= 2 then site != "A"',
    "if flag == false then arm in [0, 1]",
]
# every value a column can take (numbers: the whole bounded range)
DOMAIN = {"treat": [0, 1], "dose": [None, 0, 1, 2, 3], "site": ["A", "B", "C"], "flag": [True, False], "arm": [0, 1, 2, 3]}


def _narrowing() -> RowNarrowing:
    return RowNarrowing([parse_rule(t).bind(SCHEMA) for t in RULES], SCHEMA)


def _passes(row: dict) -> bool:
    frame = pd.DataFrame([row])
    return not any(parse_rule(t).bind(SCHEMA).violated(frame, SCHEMA)[0] for t in RULES)


def _allowed(schema: dict, value) -> bool:
    """Whether a value fits a (narrowed) column schema, read independently of the narrowing code."""
    for option in schema.get("anyOf", [schema]):
        if any(v == value and type(v) is type(value) for v in option.get("enum", [])):
            return True
        if option.get("type") == "null" and value is None:
            return True
        if option.get("type") == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option.get("type") == "boolean" and isinstance(value, bool):
            return True
    return False


def test_the_known_cases():
    narrowing = _narrowing()
    spec = lambda c: column_schema(SCHEMA.column(c))  # noqa: E731
    assert narrowing.narrow("treat", spec("treat"), {}) is None  # nothing known yet: nothing taken out
    assert narrowing.narrow("dose", spec("dose"), {"treat": 0}) == {"type": "null"}
    assert narrowing.narrow("dose", spec("dose"), {"treat": 1}) == {"type": "integer", "minimum": 0, "maximum": 3}
    assert narrowing.narrow("arm", spec("arm"), {"treat": 0, "flag": True}) == {"enum": [0]}
    assert narrowing.narrow("arm", spec("arm"), {"treat": 1, "flag": False}) == {"enum": [1]}
    assert narrowing.narrow("arm", spec("arm"), {"treat": 1, "flag": True}) == {"enum": [1, 2, 3]}
    assert narrowing.narrow("flag", spec("flag"), {"site": "C"}) == {"enum": [True]}


def test_nothing_valid_is_taken_out_and_the_last_field_of_every_rule_is_exact():
    """Brute force over every row: a value the narrowing takes out has no valid completion; at
    the last field, where every rule's columns are known, exactly the valid values stay."""
    narrowing = _narrowing()
    names = list(DOMAIN)
    for depth in range(len(names)):
        column = names[depth]
        for prefix in itertools.product(*(DOMAIN[c] for c in names[:depth])):
            written = dict(zip(names, prefix))
            schema = column_schema(SCHEMA.column(column))
            narrowed = narrowing.narrow(column, schema, written) or schema
            rest = names[depth + 1 :]
            viable = {
                value: any(_passes({**written, column: value, **dict(zip(rest, c))})
                           for c in itertools.product(*(DOMAIN[c] for c in rest)))
                for value in DOMAIN[column]
            }
            for value, ok in viable.items():
                if not _allowed(narrowed, value):
                    assert not ok, (written, column, value)
                elif depth == len(names) - 1 and any(viable.values()):
                    assert ok, (written, column, value)  # a row not doomed before its last field


def test_the_writer_forces_what_the_rules_leave_single():
    """treat 0 leaves dose only null and, with flag false, arm only 0: neither is sampled."""
    writer = AnswerWriter(answer_fields(batch_json_schema(SCHEMA, 1)), rows=1, narrowing=_narrowing())
    fed = writer.take_forced()
    for piece in ["0", '"B"', "false"]:
        assert writer.add(piece)
        fed += piece + writer.take_forced()
    assert writer.done
    assert json.loads(writer.text) == {"rows": [{"treat": 0, "dose": None, "site": "B", "flag": False, "arm": 0}]}
    assert fed == writer.text
