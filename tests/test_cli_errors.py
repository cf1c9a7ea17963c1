"""Bad input through the CLI: exit code 2, one clear paragraph, no traceback, no outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from population import make_population
from typer.testing import CliRunner

from synth.cli.main import app

runner = CliRunner()


def _config(tmp_path: Path, **data_overrides) -> dict:
    csv = tmp_path / "cohort.csv"
    if not csv.exists():
        make_population(200, seed=3).to_csv(csv, index=False)
    data = {"source": "cohort.csv", "target": "outcome", **data_overrides}
    return {"seed": 1, "data": data, "audit": {"audits": ["fidelity_columns"]}, "gates": ["fidelity.ks_mean <= 1"],
            "output": {"dir": "out"}}


def _run(tmp_path: Path, cfg: dict):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = runner.invoke(app, ["generate", "--config", str(path)])
    return result


def _assert_user_error(result, *needles: str, tmp_path: Path) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    for needle in needles:
        assert needle in text, text
    assert not (tmp_path / "out").exists()
    assert not any(p.name.startswith(".synth-tmp") for p in tmp_path.iterdir())


def test_misspelled_config_key(tmp_path):
    cfg = _config(tmp_path)
    cfg["data"]["targte"] = cfg["data"].pop("target")
    _assert_user_error(_run(tmp_path, cfg), "run.yaml", "'data.targte'", "Did you mean 'target'", tmp_path=tmp_path)


def test_missing_data_file(tmp_path):
    cfg = _config(tmp_path, source="cohrt.csv")
    _assert_user_error(_run(tmp_path, cfg), "cohrt.csv", "does not exist", tmp_path=tmp_path)


def test_ragged_csv_row(tmp_path):
    (tmp_path / "ragged.csv").write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n" + "".join(f"{i},{i},{i}\n" for i in range(40)))
    cfg = _config(tmp_path, source="ragged.csv", target="c")
    _assert_user_error(_run(tmp_path, cfg), "ragged.csv", "line 3", tmp_path=tmp_path)


def test_config_column_not_in_data(tmp_path):
    cfg = _config(tmp_path, sensitive=["gender"])
    _assert_user_error(_run(tmp_path, cfg), "'gender'", "run.yaml", tmp_path=tmp_path)


def test_empty_table(tmp_path):
    (tmp_path / "empty.csv").write_text("age,sex,outcome\n")
    cfg = _config(tmp_path, source="empty.csv")
    _assert_user_error(_run(tmp_path, cfg), "empty.csv", "no rows", tmp_path=tmp_path)


def test_target_with_one_value(tmp_path):
    df = make_population(100, seed=4)
    df["outcome"] = 1
    df.to_csv(tmp_path / "one.csv", index=False)
    cfg = _config(tmp_path, source="one.csv")
    _assert_user_error(_run(tmp_path, cfg), "'outcome'", "single value", tmp_path=tmp_path)


def test_parquet_that_is_text(tmp_path):
    (tmp_path / "fake.parquet").write_text("age,sex\n1,F\n")
    cfg = _config(tmp_path, source="fake.parquet")
    _assert_user_error(_run(tmp_path, cfg), "fake.parquet", "Parquet", tmp_path=tmp_path)


def test_unknown_generator_and_param(tmp_path):
    cfg = _config(tmp_path)
    cfg["generator"] = {"name": "gausian_copula"}
    _assert_user_error(_run(tmp_path, cfg), "Did you mean 'gaussian_copula'", tmp_path=tmp_path)
    cfg["generator"] = {"name": "ctgan", "params": {"epoch": 3}}
    _assert_user_error(_run(tmp_path, cfg), "'epoch'", "Did you mean 'epochs'", tmp_path=tmp_path)


def test_unknown_audit_param_and_gate_metric(tmp_path):
    cfg = _config(tmp_path)
    cfg["audit"]["params"] = {"fidelity_columns": {"n_bot": 5}}
    _assert_user_error(_run(tmp_path, cfg), "audit.params.fidelity_columns.n_bot", "n_boot", tmp_path=tmp_path)
    cfg = _config(tmp_path)
    cfg["gates"] = ["fidelity.ks_meen <= 0.1"]
    _assert_user_error(_run(tmp_path, cfg), "fidelity.ks_meen", "Did you mean 'fidelity.ks_mean'", tmp_path=tmp_path)


def test_missing_config_file(tmp_path):
    result = runner.invoke(app, ["generate", "--config", str(tmp_path / "nope.yaml")])
    _assert_user_error(result, "nope.yaml", "does not exist", tmp_path=tmp_path)


@pytest.mark.parametrize("args", [["report", "missing.json"], ["audit", "--real", "missing.csv", "--synthetic", "s.csv"]])
def test_other_commands_report_user_errors(tmp_path, args, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "missing" in result.output
