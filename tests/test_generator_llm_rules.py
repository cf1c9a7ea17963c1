"""The llm generator's rule language: parsing, checks against the schema, three-valued evaluation."""

from __future__ import annotations

import pandas as pd
import pytest

from synth.errors import ConfigError
from synth.generators.llm.rules import PRESENT, UNWRITTEN, parse_rule
from synth.schema import ColumnKind, ColumnSpec, Schema

SCHEMA = Schema((
    ColumnSpec("age", ColumnKind.INTEGER, nullable=True, minimum=0, maximum=100),
    ColumnSpec("bili", ColumnKind.NUMERIC),
    ColumnSpec("stage", ColumnKind.CATEGORICAL, categories=(1, 2, 3, 4)),
    ColumnSpec("ascites", ColumnKind.CATEGORICAL, categories=("N", "Y")),
    ColumnSpec("edema", ColumnKind.CATEGORICAL, nullable=True, categories=("N", "S", "Y")),
    ColumnSpec("my col", ColumnKind.NUMERIC),
))

ROWS = pd.DataFrame({
    "age": pd.array([10, 30, None, 40], dtype="Int64"),
    "bili": [0.5, 2.0, 1.0, 12.0],
    "stage": [4, 4, 2, 4],
    "ascites": ["N", "Y", "N", "N"],
    "edema": ["N", "N", "Y", None],
    "my col": [1.0, 2.0, 3.0, 4.0],
})
NA = None


def _holds(text: str) -> list:
    out = parse_rule(text).bind(SCHEMA).holds(ROWS, SCHEMA)
    return [None if pd.isna(v) else bool(v) for v in out]


@pytest.mark.parametrize("text, expected", [
    ("age >= 18", [False, True, NA, True]),
    # if A then B == not A or B, with SQL's unknowns: stage 4 and edema unknown -> unknown
    ('if stage == 4 then ascites == "Y" or edema == "Y"', [False, True, True, NA]),
    ('IF stage == 4 THEN edema is not missing', [True, True, True, False]),
    ("age is missing or age > 5", [True, True, True, True]),
    ("stage in [1, 2]", [False, False, True, False]),
    ('edema not in ["Y"]', [True, True, False, NA]),
    ("not (age < 18)", [False, True, NA, True]),
    ("age * 2 - 1 > 30", [False, True, NA, True]),
    ("bili / (age - 10) < 1", [NA, True, NA, True]),  # division by zero is unknown, not an error
    ("-bili < -1", [False, True, False, True]),
    ("`my col` >= 3 and bili > 1", [False, False, False, True]),
    ("age < 18 or false", [True, False, NA, False]),
    ("stage >= 3", [True, True, False, True]),  # ordered comparison of numeric levels
])
def test_three_valued_evaluation(text, expected):
    assert _holds(text) == expected


def test_violated_means_definitely_false():
    rule = parse_rule('if stage == 4 then ascites == "Y" or edema == "Y"').bind(SCHEMA)
    assert rule.violated(ROWS, SCHEMA).tolist() == [True, False, False, False]
    assert rule.columns == ["stage", "ascites", "edema"]


@pytest.mark.parametrize("text, message", [
    ("age >= ", "cannot be parsed"),
    ("age >> 3", "cannot be parsed"),
    ("age + 1", "not a condition"),
    ("agee > 3", r"'agee'.*Did you mean 'age'"),
    ('ascites == "X"', r"'X' is not a level of 'ascites'"),
    ('ascites > "N"', "non-numeric levels"),
    ('age == "x"', "compare numeric columns with numbers"),
    ("stage == 7", "not a level of 'stage'"),
    ('ascites + 1 > 2', "arithmetic"),
    ("__import__('os')", "cannot be parsed"),
])
def test_mistakes_are_config_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_rule(text).bind(SCHEMA)


# -- rows being written: cells not known yet ----------------------------------------------

PARTIAL = pd.DataFrame({
    "age": pd.Series([UNWRITTEN, PRESENT, None, 30, UNWRITTEN], dtype=object),
    "bili": [1.0, 1.0, 1.0, 1.0, 1.0],
    "stage": pd.Series([4, 4, 4, UNWRITTEN, 2], dtype=object),
    "ascites": ["N", "N", "N", "N", "N"],
    "edema": pd.Series(["N", UNWRITTEN, PRESENT, None, None], dtype=object),
    "my col": [1.0, 1.0, 1.0, 1.0, 1.0],
})


def _partial(text: str) -> list:
    out = parse_rule(text).bind(SCHEMA).holds(PARTIAL, SCHEMA)
    return [None if pd.isna(v) else bool(v) for v in out]


@pytest.mark.parametrize("text, expected", [
    # an unwritten cell may still become anything, missing included; PRESENT is some value
    ("age is missing", [NA, False, True, False, NA]),
    ("age is not missing", [NA, True, False, True, NA]),
    ("age >= 18", [NA, NA, NA, True, NA]),
    ("age + bili is missing", [NA, NA, True, False, NA]),  # null + anything is missing
    ('if stage == 4 then edema == "Y"', [False, NA, NA, NA, True]),
    ("if stage == 4 then age is not missing", [NA, True, False, True, True]),
    ("stage in [1, 2] or age > 100", [NA, NA, NA, NA, True]),
    ("stage in [1, 2] and age > 100", [False, False, False, False, NA]),  # false whatever the unknowns are
])
def test_cells_not_written_yet_are_unknown(text, expected):
    assert _partial(text) == expected


def test_a_rule_false_with_unknown_cells_is_false_for_every_value_they_take():
    """Known answer by enumeration (Kleene logic is monotone): wherever the partial row
    violates a rule, every completion of its unknown cells violates it too."""
    import itertools

    rules = [parse_rule(t).bind(SCHEMA) for t in (
        'if stage == 4 then ascites == "Y" or edema == "Y"', "if stage >= 3 then age is not missing",
        "age is missing or age < 50", 'edema is missing or stage != 1')]
    choices = {"age": [UNWRITTEN, PRESENT, None, 20, 60], "stage": [UNWRITTEN, 1, 4], "edema": [UNWRITTEN, PRESENT, None, "N", "Y"]}
    fill = {"age": [None, 20, 60], "stage": [1, 4], "edema": [None, "N", "Y"]}
    for values in itertools.product(*choices.values()):
        row = dict(zip(choices, values))
        frame = pd.DataFrame([{**row, "bili": 1.0, "ascites": "N", "my col": 1.0}], dtype=object)
        for rule in rules:
            if not rule.violated(frame, SCHEMA)[0]:
                continue
            options = [fill[c] if v is UNWRITTEN else [x for x in fill[c] if x is not None] if v is PRESENT else [v]
                       for c, v in row.items()]
            for completion in itertools.product(*options):
                full = pd.DataFrame([{**dict(zip(row, completion)), "bili": 1.0, "ascites": "N", "my col": 1.0}])
                assert rule.violated(full, SCHEMA)[0], (rule.text, row, completion)
