"""The run config: strict keys with suggestions, env interpolation, JSON Schema."""

from __future__ import annotations

import pytest

from synth.config import config_hash, config_json_schema, load_config, parse_config
from synth.errors import ConfigError


def test_minimal_config_fills_defaults():
    cfg = parse_config({"data": {"source": "builtin:actg175"}})
    assert cfg.generator.name == "gaussian_copula"
    assert cfg.data.split.holdout_fraction == 0.25
    assert cfg.gates is None  # -> default privacy gates


@pytest.mark.parametrize(
    ("raw", "key", "suggestion"),
    [
        ({"data": {"source": "x.csv", "targte": "y"}}, "data.targte", "target"),
        ({"data": {"source": "x.csv"}, "generater": {"name": "ctgan"}}, "generater", "generator"),
        ({"data": {"source": "x.csv", "split": {"holdout_fracion": 0.2}}}, "data.split.holdout_fracion", "holdout_fraction"),
        ({"data": {"source": "x.csv", "columns": {"age": {"knd": "integer"}}}}, "data.columns.age.knd", "kind"),
        ({"data": {"source": "x.csv"}, "output": {"formts": ["csv"]}}, "output.formts", "formats"),
    ],
)
def test_unknown_key_names_key_file_and_closest(raw, key, suggestion):
    with pytest.raises(ConfigError) as exc:
        parse_config(raw, "release.yaml")
    msg = str(exc.value)
    assert "release.yaml" in msg and f"'{key}'" in msg and f"Did you mean '{suggestion}'" in msg


def test_wrong_type_and_range_are_errors():
    with pytest.raises(ConfigError, match="holdout_fraction"):
        parse_config({"data": {"source": "x.csv", "split": {"holdout_fraction": 1.5}}})
    with pytest.raises(ConfigError, match="output.formats"):
        parse_config({"data": {"source": "x.csv"}, "output": {"formats": ["xlsx"]}})


def test_missing_data_section():
    with pytest.raises(ConfigError, match="required key 'data'"):
        parse_config({"seed": 1})


def test_env_interpolation(monkeypatch, tmp_path):
    monkeypatch.setenv("SYNTH_TEST_DIR", "/data/cohorts")
    cfg = parse_config({"data": {"source": "${SYNTH_TEST_DIR}/x.csv"}, "output": {"dir": "${NOT_SET_ANYWHERE:-out}"}})
    assert cfg.data.source == "/data/cohorts/x.csv"
    assert cfg.output.dir == "out"
    with pytest.raises(ConfigError, match=r"NOT_SET_ANYWHERE.*not set"):
        parse_config({"data": {"source": "${NOT_SET_ANYWHERE}/x.csv"}})


def test_load_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  source: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML at line"):
        load_config(bad)


def test_config_hash_is_stable_and_sensitive():
    a = parse_config({"data": {"source": "x.csv"}, "seed": 1})
    b = parse_config({"seed": 1, "data": {"source": "x.csv"}})
    c = parse_config({"data": {"source": "x.csv"}, "seed": 2})
    assert config_hash(a) == config_hash(b) != config_hash(c)


def test_json_schema_lists_sections():
    schema = config_json_schema()
    assert {"data", "generator", "sample", "audit", "gates", "output"} <= set(schema["properties"])
