"""Known answers for the whole audit with its default gates.

A "generator" that returns its training rows must fail the privacy gates; one that
returns fresh records of the same population must pass them; one that adds small noise
to training rows must be caught by the DCR share and the distance attack.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import synth
from synth.errors import SynthUserError


@pytest.fixture(scope="module")
def known(known_twins):
    """The population with natural duplicates: about 4 % of rows have an exact twin."""
    return known_twins


SYNTH = str(Path(sys.executable).parent / "synth")
PRIVACY_AUDITS = ["memorization", "membership"]


def _audit(known, synthetic_key):
    return synth.audit(real=known["train"], holdout=known["holdout"], synthetic=known[synthetic_key],
                       target="outcome", sensitive=["sex", "race"], audits=PRIVACY_AUDITS, seed=0)


def test_copying_generator_fails_every_default_privacy_gate(known):
    result = _audit(known, "copy")
    metrics = result.metrics()
    assert not result.passed
    assert all(g.default for g in result.gates)
    # every gate that reads a leak towards training fails; only "worse than chance" holds
    assert [g.passed for g in result.gates] == [False, False, False, False, True]
    assert metrics["privacy.exact_copy_rate"].value > 0.99
    assert metrics["privacy.dcr_share"].value > 0.95
    assert metrics["membership.auc"].value > 0.95


def test_fresh_population_sample_passes_the_default_privacy_gates(known):
    result = _audit(known, "fresh")
    metrics = result.metrics()
    assert result.passed, [g for g in result.gates if not g.passed]
    share = metrics["privacy.dcr_share"].ci
    assert share.low <= 0.5 <= share.high
    auc = metrics["membership.auc"].ci
    assert auc.low <= 0.5 <= auc.high or metrics["membership.auc"].value < 0.56


def test_noisy_copies_are_caught_by_dcr_share_and_the_distance_attack(known):
    result = _audit(known, "noisy")
    metrics = result.metrics()
    assert metrics["privacy.exact_copy_rate"].value < 0.01  # noise hides exact copies ...
    assert metrics["privacy.dcr_share"].ci.low > 0.9  # ... but not the closeness
    assert metrics["membership.distance.auc"].ci.low > 0.8
    assert not result.passed


# Each case is a whole CLI audit (every installed audit) in a subprocess, so both are slow.
# Their fast equivalents: test_copying_generator_fails_every_default_privacy_gate and
# test_fresh_population_sample_passes_the_default_privacy_gates (same gates, in process, the
# audits they need); the console script's exit 1 on a failed gate is checked in the default
# set by test_pipeline_quickstart.
@pytest.mark.slow
@pytest.mark.parametrize(("synthetic", "exit_code"), [("copy", 1), ("fresh", 0)])
def test_bare_cli_audit_applies_default_gates(known, tmp_path, synthetic, exit_code):
    paths = {}
    for key in ("train", "holdout", synthetic):
        paths[key] = tmp_path / f"{key}.csv"
        known[key].to_csv(paths[key], index=False)
    done = subprocess.run(
        [SYNTH, "audit", "--real", str(paths["train"]), "--holdout", str(paths["holdout"]),
         "--synthetic", str(paths[synthetic]), "--out", str(tmp_path / "audit")],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == exit_code, done.stdout + done.stderr
    result = json.loads((tmp_path / "audit" / "result.json").read_text())
    assert [g["default"] for g in result["gates"]] == [True] * 5
    assert all(g["rules_out"] and g["shown_to_fail"] for g in result["gates"])
    assert (tmp_path / "audit" / "report.html").is_file() and (tmp_path / "audit" / "manifest.json").is_file()
    html = (tmp_path / "audit" / "report.html").read_text()
    assert "Default conservative privacy gates" in html
    assert "Rules out synthetic rows that point at individual training persons" in html


def test_audit_without_holdout_cannot_pass(known):
    # the default privacy gates need a holdout: a user mistake, said before any audit runs
    with pytest.raises(SynthUserError, match="no holdout"):
        synth.audit(real=known["train"], synthetic=known["fresh"], audits=PRIVACY_AUDITS)


def test_real_records_reach_the_report_only_when_the_config_asks(known):
    from dataclasses import replace

    from population import population_schema

    from synth.audits.base import AuditInputs
    from synth.audits.privacy.memorization import MemorizationAudit

    inputs = AuditInputs(train=known["train"], holdout=known["holdout"], synthetic=known["copy"],
                         schema=population_schema())
    default = MemorizationAudit(top_n=5).run(inputs)
    assert [t.title for t in default.tables] == ["Most exposed training records (by row index)"]
    shown = MemorizationAudit(top_n=5).run(replace(inputs, include_real_records=True))
    records = shown.tables[-1]
    assert "real records" in records.title and len(records.rows) == 5
    label = records.rows[0][0]
    expected = tuple("" if pd.isna(v) else str(v) for v in known["train"].loc[label])
    assert records.rows[0][1:] == expected
