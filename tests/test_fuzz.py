"""Property-based fuzzing (issue 8): configs, tables, CSV bytes and result.json.

Every input either works or raises a :class:`SynthUserError` (exit 2 in the CLI) -- never
another exception (a traceback, exit 3) -- and what works is safe to write: the public
schema is plain JSON and names no level held by fewer than k records. Example counts and
deadlines keep the whole file within a few seconds.
"""

from __future__ import annotations

import copy
import decimal
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth.config import load_config, parse_config
from synth.config.model import DataConfig
from synth.data.load import load_table
from synth.disclosure import public_schema
from synth.errors import DataError, SynthUserError
from synth.prepare import prepare
from synth.result_file import check_result_dict

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
HOSTILE_TEXT = st.sampled_from(["", " ", "[/x]", "[bold]", "${HOME}", "${NOPE_SYNTH}", "<script>", "a\x00b", "é",
                                "1e999", "inf", "-0", "NaN", "null", "~", "yes", "0x1F", "2021-02-30", "*a", "&a",
                                "<<", "a: b", "- x", "\u202e", "x" * 300])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), HOSTILE_TEXT)
TREES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.one_of(st.text(max_size=8), HOSTILE_TEXT),
                                                                      inner, max_size=4)), max_leaves=12)

BASE_CONFIG = {
    "name": "fuzz", "seed": 1,
    "data": {"source": "cohort.csv", "target": "outcome", "sensitive": ["sex"], "columns": {"age": {"min": 0}},
             "split": {"holdout_fraction": 0.25}},
    "generator": {"name": "gaussian_copula", "params": {}},
    "sample": {"rows": 100},
    "audit": {"audits": ["fidelity_columns"], "params": {}, "rare_level_k": 5},
    "gates": ["fidelity.ks_mean <= 0.5"],
    "output": {"dir": "out", "formats": ["csv"]},
}
PATHS = [(), ("data",), ("data", "columns"), ("data", "columns", "age"), ("data", "split"), ("generator",),
         ("sample",), ("audit",), ("audit", "params"), ("output",)]


@FAST
@given(path=st.sampled_from(PATHS), key=st.one_of(st.sampled_from(
    ["seed", "source", "target", "min", "max", "rows", "rare_level_k", "holdout_fraction", "dir", "formats", "kind",
     "infinite", "group", "params", "gates", "name"]), st.text(max_size=8), HOSTILE_TEXT), value=TREES)
def test_any_config_tree_validates_or_is_a_config_error(path, key, value):
    raw = copy.deepcopy(BASE_CONFIG)
    node = raw
    for part in path:
        node = node[part]
    node[key] = value
    try:
        cfg = parse_config(raw, "fuzz.yaml")
    except SynthUserError as exc:
        assert "fuzz.yaml" in str(exc) or "Column" in str(exc) or "config" in str(exc)
        return
    assert 0 <= cfg.seed < 2**32 and 1 <= cfg.audit.rare_level_k
    for override in cfg.data.columns.values():
        assert override.min is None or override.max is None or override.min <= override.max


YAML_PIECES = st.sampled_from(["data:", " source: a.csv", "\n", "  ", "- ", "&a ", "*a", "<<: *a", "{", "}", "[", "]",
                               "seed: ", "-1", "1e999", "'", '"', "#", ":", ",", "!!python/object:os.system",
                               "!!binary AAAA", "? ", "|", ">", "---", "...", "%YAML 1.1", "\t", "data: &d {x: *d}",
                               "target: a\ntarget: b", "\x00", "\ufeff"])


@FAST
@given(pieces=st.lists(YAML_PIECES, max_size=30))
def test_any_yaml_text_loads_or_is_a_config_error(tmp_path, pieces):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes("".join(pieces).encode("utf-8", "surrogatepass"))
    try:
        load_config(path)
    except SynthUserError:
        pass


CELLS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**66), max_value=2**66),
                  st.floats(allow_nan=True, allow_infinity=True, width=64), st.text(max_size=6), HOSTILE_TEXT,
                  st.sampled_from([decimal.Decimal("1.5"), decimal.Decimal("NaN"), "2021-03-04", "04/03/2021",
                                   pd.Timestamp("2020-01-01"), b"\x00", ["a"], {"k": 1}]))
COLUMN_KINDS = st.sampled_from(["cells", "floats", "ints", "labels", "unique"])


@st.composite
def tables(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=0, max_value=45))
    names = draw(st.lists(st.one_of(st.text(min_size=0, max_size=6), HOSTILE_TEXT), min_size=1, max_size=5))
    columns = {}
    for i, name in enumerate(names):
        kind = draw(COLUMN_KINDS)
        if kind == "cells":
            values = draw(st.lists(CELLS, min_size=n, max_size=n))
        elif kind == "floats":
            values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=n, max_size=n))
        elif kind == "ints":
            values = draw(st.lists(st.integers(min_value=-5, max_value=5), min_size=n, max_size=n))
        elif kind == "labels":
            values = draw(st.lists(st.sampled_from(["a", "b", "c", "[/x]", "rare"]), min_size=n, max_size=n))
        else:
            values = [f"u{j}-{i}" for j in range(n)]
        columns[f"{name}" if name not in columns else f"{name}{i}"] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(frame=tables(), k=st.integers(min_value=1, max_value=6))
def test_any_table_prepares_or_is_a_data_error_and_outputs_stay_safe(frame, k):
    try:
        prep = prepare(DataConfig(source="<DataFrame>"), seed=0, frame=frame, source_label="fuzz")
    except SynthUserError:
        return
    public = public_schema(prep.modelled, prep.train, k)
    text = json.dumps(public, allow_nan=False)  # plain JSON: no NaN, no Decimal, no numpy scalar
    for column in public["columns"]:
        # a level is named by its text, and 0 and 0.0 are one level (pandas' own equality)
        def text_of(v):
            return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

        counts = prep.train[column["name"]].dropna().map(text_of).value_counts()
        for level in column.get("categories") or []:
            assert counts.get(text_of(level), 0) >= k or str(level) in ("True", "False"), (level, text)
        bounds = column.get("range")
        if bounds and isinstance(bounds["low"], float):
            assert math.isfinite(bounds["low"]) and math.isfinite(bounds["high"])


@FAST
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_csv_bytes_load_or_are_a_data_error(tmp_path, data):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        frame = load_table(path)
    except DataError:
        return
    assert len(frame) > 0 and frame.shape[1] > 0


def _small_result() -> dict:
    return {
        "schema_version": 1, "synth_version": "0", "created_utc": "2026-01-01T00:00:00Z", "passed": True,
        "gates": [{"expression": "x.y <= 1", "metric": "x.y", "field": "value", "op": "<=", "threshold": 1,
                   "observed": 0.5, "passed": True, "default": False, "error": None}],
        "data": {"n_train": 10, "n_holdout": 5, "n_synthetic": 10, "columns": ["a"],
                 "schema": {"columns": [{"name": "a", "kind": "categorical", "nullable": False, "roles": [],
                                         "categories": ["p", "q"], "rare_levels": 1}]}, "dropped_columns": []},
        "generator": None, "manifest": None,
        "audits": {"applied": ["x"], "not_applicable": [{"audit": "fid", "reason": "applies to image data"}]},
        "sections": [{"audit": "x", "family": "fidelity", "title": "X", "summary": "s", "skipped": None,
                      "error": None, "seconds": 0.1,
                      "metrics": [{"name": "x.y", "value": 0.5, "ci": {"low": 0.1, "high": 0.9, "method": "m",
                                                                        "level": 0.95},
                                   "better": "lower", "ideal": None, "passing": "p", "threat_model": None,
                                   "details": {"n": 3}}],
                      "figures": [], "tables": [{"title": "t", "columns": ["a", "b"], "rows": [["p", 0.5]],
                                                 "caption": ""}], "notes": ["n"]}],
    }


RESULT_PATHS = [("gates", 0), ("sections", 0), ("sections", 0, "metrics", 0), ("sections", 0, "metrics", 0, "ci"),
                ("sections", 0, "tables", 0), ("data",), ("data", "schema", "columns", 0), ("audits",),
                ("audits", "not_applicable", 0), ()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(RESULT_PATHS), key=st.one_of(st.sampled_from(
    ["name", "value", "metric", "threshold", "observed", "rows", "columns", "level", "low", "categories", "n_train",
     "sections", "gates", "audit", "details", "roles", "passed", "applied", "not_applicable", "kind", "reason"]),
    st.text(max_size=5)), value=TREES)
def test_a_result_that_passes_the_check_always_renders(path, key, value):
    from synth.reports.html import render_html

    result = _small_result()
    node = result
    for part in path:
        node = node[part]
    node[key] = value
    try:
        check_result_dict(json.loads(json.dumps(result, default=str)) if _jsonable(result) else result, "fuzz")
    except DataError:
        return
    assert "<html" in render_html(result).lower()


def _jsonable(x) -> bool:
    try:
        json.dumps(x, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


@pytest.mark.parametrize("value", [np.float64("nan"), np.inf, 10**400])
def test_result_check_refuses_non_finite_and_huge_numbers(value):
    result = _small_result()
    result["gates"][0]["observed"] = value
    with pytest.raises(DataError, match=r"gates\[0\]\.observed"):
        check_result_dict(result, "r.json")
