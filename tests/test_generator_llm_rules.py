"""The llm generator's rule language: parsing, checks against the schema, three-valued evaluation."""

from __future__ import annotations

import pandas as pd
import pytest

from synth.errors import ConfigError
from synth.generators.llm.rules import parse_rule
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
