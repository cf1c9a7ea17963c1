"""A DP claim is checked against the membership audit's empirical epsilon lower bound."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import synth
from synth.audits.base import AuditInputs, Metric
from synth.audits.membership import MembershipAudit
from synth.cli.main import app
from synth.generators.base import PrivacyGuarantee
from synth.privacy_accounting import DP_CHECK_METRIC, delta_adjusted_bound, dp_claim_check
from synth.reports import render_html


@pytest.fixture(scope="module")
def distance_metrics(known, schema):
    """Membership metrics of the distance attack on copied and on fresh synthetic data."""
    audit = MembershipAudit(attacks=["distance"], n_boot=20)
    out = {}
    for kind in ("copy", "fresh"):
        inputs = AuditInputs(train=known["train"], holdout=known["holdout"], synthetic=known[kind], schema=schema,
                             seed=0)
        out[kind] = {m.name: m for m in audit.run(inputs).metrics}
    return out


# ACTG 175 with every bound and level declared, as DP requires (the DP example's data block).
DP_EXAMPLE = Path(__file__).parents[1] / "examples" / "btgan_dp.yaml"
DP_DATA = yaml.safe_load(DP_EXAMPLE.read_text())["data"]

CLAIM = PrivacyGuarantee(mechanism="DP-SGD", epsilon=0.5, delta=1e-5, accountant="RDP")


def test_copying_generator_contradicts_its_claim_and_fresh_data_does_not(distance_metrics):
    failed = dp_claim_check(CLAIM, distance_metrics["copy"])
    assert failed is not None and not failed.passed
    assert failed.metric == DP_CHECK_METRIC and failed.threshold == 0.5 and failed.observed > 0.5
    # The gate names the bound it read: the distance attack's own or the audit's combined one.
    assert any(f"({name}," in failed.expression for name in distance_metrics["copy"] if name.endswith("epsilon_lower_bound"))
    fine = dp_claim_check(CLAIM, distance_metrics["fresh"])
    assert fine is not None and fine.passed and fine.observed <= 0.5


def test_nothing_to_check_without_a_claim_or_without_the_membership_audit(distance_metrics):
    assert dp_claim_check(PrivacyGuarantee(), distance_metrics["copy"]) is None
    assert dp_claim_check(CLAIM, {}) is None
    assert dp_claim_check(CLAIM.to_dict(), distance_metrics["copy"]).passed is False  # a result.json dict works too


def test_the_bound_is_restated_for_the_claimed_delta():
    metric = Metric(name="membership.x.epsilon_lower_bound", value=math.log(5), passing="",
                    details={"tpr_lower": 0.5, "fpr_upper": 0.1, "inequality": "tpr/fpr"})
    assert delta_adjusted_bound(metric, 0.0) == pytest.approx(math.log(5))
    assert delta_adjusted_bound(metric, 0.05) == pytest.approx(math.log(0.45 / 0.1))
    other = Metric(name="membership.x.epsilon_lower_bound", value=1.0, passing="",
                   details={"tpr_lower": 0.2, "fpr_upper": 0.6, "inequality": "tnr/fnr"})
    assert delta_adjusted_bound(other, 0.1) == pytest.approx(math.log(0.3 / 0.8) if 0.3 / 0.8 > 1 else 0.0)
    assert delta_adjusted_bound(Metric(name="m", value=2.0, passing=""), 0.1) == 2.0  # no details: the delta-0 value


def test_a_dp_run_reports_both_numbers_and_a_contradiction_fails_in_red(tmp_path):
    run = synth.generate({
        "seed": 1,
        "data": DP_DATA,
        "generator": {"name": "btgan", "params": {
            "epochs": 2, "batch_size": 200, "embedding_dim": 8, "generator_dim": [16], "discriminator_dim": [16],
            "classifier_dim": [8], "dp_epsilon": 5.0, "progress": False}},
        "sample": {"rows": 300},
        "audit": {"audits": ["membership"], "params": {"membership": {"attacks": ["distance"], "n_boot": 20}}},
        "gates": [],
        "output": {"dir": str(tmp_path / "run")},
    })
    check = [g for g in run.result.gates if g.metric == DP_CHECK_METRIC]
    assert len(check) == 1 and check[0].threshold <= 5.0
    assert check[0].passed == (check[0].observed <= check[0].threshold)
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'id="dp-check"' in html and "DP epsilon spent" in html

    result = run.result.to_dict()
    gate = next(g for g in result["gates"] if g["metric"] == DP_CHECK_METRIC)
    gate.update(observed=gate["threshold"] + 1.0, passed=False)
    result["passed"] = False
    html = render_html(result)
    assert 'class="callout fail" id="dp-check"' in html and "bound exceeds the claim" in html


def test_dp_on_inferred_bounds_is_a_user_error_with_nothing_written(tmp_path):
    """ACTG 175 as inferred: its bounds and levels come from the training records, which
    DP must not use. Exit 2 before training, the columns named, no output folder."""
    cfg = {"seed": 1, "data": {"source": "builtin:actg175", "target": "cens", "sensitive": ["race", "gender"],
                               "columns": {k: v for k, v in DP_DATA["columns"].items() if k != "wtkg"}},
           "generator": {"name": "btgan", "params": {"epochs": 1, "batch_size": 200, "dp_epsilon": 1.0,
                                                     "progress": False}},
           "gates": [], "output": {"dir": str(tmp_path / "out")}}
    path = tmp_path / "dp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["generate", "--config", str(path)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "Traceback" not in text and "numeric columns without both min and max: wtkg" in text
    assert "categorical columns" not in text  # every other fact is declared
    assert not (tmp_path / "out").exists()
