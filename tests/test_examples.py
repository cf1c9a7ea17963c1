"""The examples run as written: configs are valid, the pipeline script gates a release."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mimic_fixture import write_mimic_iv_fixture

from synth.config import load_config
from synth.data.mimic_iv import extract_mimic_iv_cohort
from synth.prepare import prepare
from synth.registry import generator_class

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _pipeline_module():
    spec = importlib.util.spec_from_file_location("audit_pipeline", EXAMPLES / "audit_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ctgan_config_uses_the_quickstarts_split_so_the_reports_compare():
    ctgan, quick = load_config(EXAMPLES / "ctgan.yaml"), load_config(EXAMPLES / "quickstart.yaml")
    generator_class(ctgan.generator.name).validate_params(ctgan.generator.params)
    assert ctgan.generator.name == "ctgan"
    assert (ctgan.seed, ctgan.data.source, ctgan.data.split) == (quick.seed, quick.data.source, quick.data.split)
    assert ctgan.output.dir != quick.output.dir


def test_mimic_iv_config_reads_an_extracted_cohort(tmp_path, monkeypatch):
    root = tmp_path / "mimiciv"
    write_mimic_iv_fixture(root, n_patients=40)
    cohort = tmp_path / "cohort.parquet"
    extract_mimic_iv_cohort(root, cohort)
    monkeypatch.setenv("MIMIC_IV_COHORT", str(cohort))
    cfg = load_config(EXAMPLES / "mimic_iv.yaml")
    prep = prepare(cfg.data, seed=cfg.seed, base_dir=EXAMPLES)  # load, roles, checks and split, as a run does
    assert prep.modelled.target == "in_hospital_mortality"
    assert set(prep.modelled.sensitive) == {"gender", "race", "insurance"}
    assert {"stay_id", "subject_id", "hadm_id"} <= {d["name"] for d in prep.dropped}
    assert cfg.report.audience == "steward" and len(prep.holdout) > 0
    assert not set(prep.train_groups) & set(prep.holdout_groups)  # a patient's stays on one side only


def test_audit_pipeline_releases_fresh_data_and_holds_back_copies(tmp_path, capsys):
    pipeline = _pipeline_module()
    pipeline.split("builtin:actg175", "cens", tmp_path / "work", holdout_fraction=0.3, seed=7)
    train = pd.read_csv(tmp_path / "work" / "train.csv")
    holdout = pd.read_csv(tmp_path / "work" / "holdout.csv")
    assert len(train) + len(holdout) == 2139 and not set(train["pidnum"]) & set(holdout["pidnum"])

    # a "generator" that hands back its training rows must not be released
    train.to_csv(tmp_path / "work" / "synthetic.csv", index=False)
    code = pipeline.release(tmp_path / "work", "cens", ["race", "gender"], tmp_path / "copies",
                            audits=["memorization"], gates=pipeline.GATES[:2])  # the memorisation gates
    assert code == pipeline.EXIT_HELD_BACK and not (tmp_path / "copies").exists()
    assert "held back" in capsys.readouterr().out

    # the real rows the generator never saw stand in for fresh draws of the population
    fresh = pd.concat([holdout, holdout]).iloc[: len(train)]
    fresh.to_csv(tmp_path / "work" / "synthetic.csv", index=False)
    code = pipeline.release(tmp_path / "work", "cens", ["race", "gender"], tmp_path / "out",
                            audits=["fidelity_columns"], gates=["fidelity.tvd_mean.upper_ci <= 0.2"])
    assert code == pipeline.EXIT_RELEASED
    assert (tmp_path / "out" / "synthetic.csv").is_file()
    public = (tmp_path / "out" / "report.html").read_text()
    assert 'data-audience="public"' in public


@pytest.mark.slow
def test_audit_pipeline_demo_runs_offline(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "audit_pipeline.py"), "demo", "--work", str(tmp_path / "w"),
                           "--release", str(tmp_path / "r")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "r" / "synthetic.csv").is_file() and (tmp_path / "r" / "report.html").is_file()
