"""What the CLI writes when it runs in a pipe or a CI log rather than a terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import synth
from synth.cli.main import app
from synth.data.datasets import load_dataset
from synth.errors import SynthUserError

SYNTH = str(Path(sys.executable).parent / "synth")
runner = CliRunner()


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> tuple[Path, Any]:
    """A quick generate run whose output is not a terminal (in-process: CliRunner's streams are
    no tty either): two cheap audits, a long gate, an output dir with '..', the public report."""
    base = tmp_path_factory.mktemp("cli")
    (base / "configs").mkdir()
    cfg = {
        "seed": 3,
        "data": {"source": "builtin:actg175", "target": "cens"},
        "audit": {"audits": ["fidelity_columns", "memorization"]},
        "gates": ["privacy.exact_copy_excess.lower_ci <= 0", "fidelity.missing_rate_diff_max.upper_ci <= 0.5"],
        "report": {"audience": "public"},
        "output": {"dir": "../runs/small"},
    }
    (base / "configs" / "run.yaml").write_text(yaml.safe_dump(cfg))
    here = Path.cwd()
    os.chdir(base)
    try:
        done = CliRunner().invoke(app, ["generate", "--config", "configs/run.yaml"])
    finally:
        os.chdir(here)
    return base, done


def test_progress_is_one_plain_line_per_stage_with_elapsed_time(small_run):
    _, done = small_run
    assert done.exit_code == 0, done.stdout + done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    stages = [re.fullmatch(r"synth \[\s*(\d+\.\d) s\] (.+)", ln) for ln in lines]
    assert all(stages), lines  # no spinner frames, no escape codes
    said = [m.group(2) for m in stages]
    assert said[0] == "loading and checking the data" and said[-1] == "done"
    assert "auditing: Memorisation: exact copies and distance to closest record" in said or any(
        s.startswith("auditing: ") for s in said)
    seconds = [float(m.group(1)) for m in stages]
    assert seconds == sorted(seconds)


def test_piped_output_keeps_gates_whole_and_paths_plain(small_run):
    base, done = small_run
    out = done.stdout
    assert "fidelity.missing_rate_diff_max.upper_ci <= 0.5" in out  # not cut at 80 columns
    assert "\u2026" not in out and "\x1b[" not in out
    assert "outputs in runs/small" in out and ".." not in out.split("outputs in ")[1].splitlines()[0]
    assert (base / "runs" / "small" / "report.html").is_file()


def test_listings_are_plain_lines_in_a_pipe():
    done = runner.invoke(app, ["datasets", "list"])
    assert done.exit_code == 0
    rows = [ln.split("\t") for ln in done.stdout.splitlines()]
    assert rows[0] == ["source", "rows", "columns", "target", "sensitive", "title"]
    actg = next(r for r in rows if r[0] == "builtin:actg175")
    assert actg[5].startswith("ACTG 175: zidovudine, didanosine and zalcitabine")  # whole, not squeezed


def test_generator_defaults_are_values_not_pydantic_internals():
    result = runner.invoke(app, ["generators", "list"])
    assert result.exit_code == 0
    assert "PydanticUndefined" not in result.output
    assert re.search(r"numerical_distributions = \{\}", result.output)


@pytest.mark.parametrize("args", [("config", "schema"), ("datasets", "list")])
def test_a_closed_pipe_is_not_an_error(args):
    proc = subprocess.Popen([SYNTH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader is gone before anything is written, as after `| head`
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_audit_without_holdout_stops_before_auditing(tmp_path):
    real, _ = load_dataset("actg175")
    real.iloc[:300].to_csv(tmp_path / "real.csv", index=False)
    real.iloc[300:600].to_csv(tmp_path / "syn.csv", index=False)
    done = CliRunner().invoke(app, ["audit", "--real", str(tmp_path / "real.csv"), "--synthetic",
                                                    str(tmp_path / "syn.csv"), "--out", str(tmp_path / "audit")])
    assert done.exit_code == 2, done.stdout + done.stderr
    assert "no holdout" in done.stderr and "privacy.dcr_share.upper_ci <= 0.6" in done.stderr
    assert "--holdout" in done.stderr and "Traceback" not in done.stderr
    assert "auditing:" not in done.stderr and not (tmp_path / "audit").exists()
    help_text = runner.invoke(app, ["audit", "--help"], env={"COLUMNS": "200"}).output
    assert "never saw" in help_text and "only the fidelity audits run" in help_text


def test_audit_without_holdout_runs_fidelity_gates(tmp_path):
    real, _ = load_dataset("actg175")
    result = synth.audit(real=real.iloc[:300], synthetic=real.iloc[300:600], audits=["fidelity_columns"],
                         gates=["fidelity.tvd_mean.upper_ci <= 0.5"])
    assert result.passed
    with pytest.raises(SynthUserError, match="no holdout"):
        synth.audit(real=real.iloc[:300], synthetic=real.iloc[300:600], audits=["fidelity_columns", "memorization"])


def test_an_all_empty_column_is_a_clear_error_before_any_work(tmp_path):
    real, _ = load_dataset("actg175")
    real["lab_never_measured"] = np.nan
    real.to_csv(tmp_path / "cohort.csv", index=False)
    cfg = {"data": {"source": "cohort.csv", "target": "cens"}, "output": {"dir": "out"}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    done = CliRunner().invoke(app, ["generate", "--config", str(tmp_path / "run.yaml")])
    assert done.exit_code == 2, done.stdout + done.stderr
    assert "'lab_never_measured'" in done.stderr and "no values" in done.stderr
    assert "data.identifiers" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
    # the suggested fix works: the column is left out and noted in the result
    cfg["data"]["identifiers"] = ["pidnum", "lab_never_measured"]
    cfg["audit"] = {"audits": ["fidelity_columns"]}
    cfg["gates"] = []
    run = synth.generate(cfg, data=real.iloc[:400], output_dir=tmp_path / "out")
    assert run.passed and "lab_never_measured" in [d["name"] for d in run.result.data["dropped_columns"]]


def test_config_chooses_the_public_report(small_run):
    base, _ = small_run
    page = (base / "runs" / "small" / "report.html").read_text()
    assert 'data-audience="public"' in page and "<h4 class=\"block-title\">Most exposed training records" not in page
    result = json.loads((base / "runs" / "small" / "result.json").read_text())
    assert any(t.get("per_record") for s in result["sections"] for t in s["tables"])  # the steward keeps it
