"""The CLI's listing and data commands: `--help` is the manual, listings show what is installed."""

from __future__ import annotations

import json

import pandas as pd
from mimic_fixture import write_mimic_iv_fixture
from typer.testing import CliRunner

from synth.cli.main import app

runner = CliRunner()


def test_datasets_list_shows_builtin_real_tables():
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0
    for name in ("builtin:actg175", "builtin:breast_cancer"):
        assert name in result.output


def test_generators_list_shows_parameters():
    result = runner.invoke(app, ["generators", "list"])
    assert result.exit_code == 0
    for text in ("gaussian_copula", "ctgan", "tvae", "epochs", "default_distribution"):
        assert text in result.output


def test_audits_list_shows_gateable_metrics():
    result = runner.invoke(app, ["audits", "list"])
    assert result.exit_code == 0
    for text in ("memorization", "privacy.dcr_share", "membership.auc", "utility.auroc_gap", "fidelity.detection_auc"):
        assert text in result.output


def test_config_schema_is_json_schema():
    result = runner.invoke(app, ["config", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["additionalProperties"] is False and "data" in schema["required"]


def test_mimic_iv_extraction_command(tmp_path):
    root = tmp_path / "mimic-iv"
    write_mimic_iv_fixture(root, n_patients=12)
    out = tmp_path / "cohort.parquet"
    result = runner.invoke(app, ["data", "mimic-iv", "--root", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    cohort = pd.read_parquet(out)
    assert {"stay_id", "age", "gender", "heart_rate_mean", "creatinine_max", "in_hospital_mortality"} <= set(cohort)
    assert cohort["stay_id"].is_unique


def test_mimic_iv_missing_table_is_a_user_error(tmp_path):
    root = tmp_path / "mimic-iv"
    write_mimic_iv_fixture(root, n_patients=5)
    (root / "icu" / "icustays.csv.gz").unlink()
    result = runner.invoke(app, ["data", "mimic-iv", "--root", str(root), "--out", str(tmp_path / "c.parquet")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "icustays" in result.output
    assert not (tmp_path / "c.parquet").exists()


def test_help_is_the_manual():
    result = runner.invoke(app, ["generate", "--help"])
    assert result.exit_code == 0 and "--config" in result.output
