"""Fairness audit: known answers on the test population, fairlearn agreement, contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio, equalized_odds_difference

from synth.audits.base import AuditInputs
from synth.audits.utility.fairness import FairnessAudit, _bootstrap_parity
from synth.errors import ConfigError
from synth.schema import Role

N_BOOT = 100


def _run(known, schema, synthetic, **params):
    params = {"n_boot": N_BOOT, **params}
    return FairnessAudit(**params).run(
        AuditInputs(known["train"], known["holdout"], synthetic, schema, seed=0, n_jobs=1)
    )


@pytest.fixture(scope="module")
def fresh_section(known, schema):
    return _run(known, schema, known["fresh"])


@pytest.fixture(scope="module")
def amplified_section(known, schema):
    synthetic = known["fresh"].copy()
    synthetic["outcome"] = pd.array((synthetic["race"] == "black").astype(int), dtype="Int64")
    return _run(known, schema, synthetic)


# -- known answers ---------------------------------------------------------------------------


def test_fresh_population_draws_show_no_amplification(fresh_section):
    amp = fresh_section.metric("fairness.bias_amplification")
    assert amp.ci.low <= 0 <= amp.ci.high
    assert abs(amp.value) < 0.05
    increase = fresh_section.metric("fairness.dp_diff_increase")
    assert increase.ci.low <= 0 <= increase.ci.high
    assert fresh_section.metric("fairness.representation_tvd_max").value < 0.06


def test_forced_outcome_by_race_is_amplified(amplified_section, fresh_section):
    amp = amplified_section.metric("fairness.bias_amplification")
    # synthetic gap: P(y|black) - P(y|other races) = 1 - 0; the real gap is below 0.1
    assert amp.value > 0.85 and amp.ci.low > 0.5
    per_attr = amp.details["per_attribute"]
    assert per_attr["race"]["gap_synthetic"] == pytest.approx(1.0)
    assert per_attr["race"]["gap_real"] < 0.1
    increase = amplified_section.metric("fairness.dp_diff_increase")
    assert increase.value > 0.5 and increase.ci.low > 0
    assert amplified_section.metric("fairness.dp_diff_synthetic").value == pytest.approx(1.0)
    assert amplified_section.metric("fairness.eo_diff_increase").value > 0.3
    assert amplified_section.metric("fairness.dp_ratio_synthetic").value == pytest.approx(0.0)
    # the real-trained reference and representation do not depend on the synthetic outcome
    assert amplified_section.metric("fairness.dp_diff_real").value == fresh_section.metric("fairness.dp_diff_real").value
    assert (amplified_section.metric("fairness.representation_tvd_max").value
            == fresh_section.metric("fairness.representation_tvd_max").value)


def test_underrepresented_group_raises_representation_distance(known, schema):
    synthetic = known["fresh"][known["fresh"]["race"] != "black"]
    section = _run(known, schema, synthetic, model="logistic", n_boot=20)
    tvd = section.metric("fairness.representation_tvd_max")
    # dropping a group that holds ~20 % of the rows moves ~20 % of the mass (more for the intersection)
    assert 0.15 < tvd.details["per_attribute"]["race"] < 0.25
    assert tvd.value >= tvd.details["per_attribute"]["race"]
    rows = {(r[0], r[1]): r for r in section.tables[0].rows}
    assert rows[("race", "black")][3] == 0.0 and rows[("race", "black")][5] == 0


def test_intersection_and_small_groups(fresh_section):
    representation = {(r[0], r[1]) for r in fresh_section.tables[0].rows}
    assert ("sex|race", "F|black") in representation
    assert any(f.id == "fairness-representation-sex-race" for f in fresh_section.figures)
    # M|other has 18 holdout rows (< min_group_rows = 20): reported, left out of the max
    downstream = [r for r in fresh_section.tables[2].rows if r[0] == "sex|race" and r[1] == "M|other"]
    assert downstream and all(r[3] == 18 and r[-1] == "no" for r in downstream)
    assert any("M|other" in n and "fewer than 20 holdout rows" in n for n in fresh_section.notes)


def test_prevalence_threshold_flags_the_base_rate(known, schema):
    synthetic = known["fresh"].copy()
    synthetic["outcome"] = pd.array((synthetic["race"] == "black").astype(int), dtype="Int64")
    section = _run(known, schema, synthetic, threshold="prevalence", model="logistic")
    rows = [r for r in section.tables[2].rows if r[0] == "race" and "synthetic" in r[2]]
    rates = {r[1]: r[4] for r in rows}
    # the synthetic-trained model ranks the black patients first and flags about its training
    # prevalence (20 % black) of the holdout, which is 19 % black
    assert rates["black"] == pytest.approx(1.0) and rates["white"] == 0.0
    flagged = sum(r[3] * r[4] for r in rows) / sum(r[3] for r in rows)
    assert flagged == pytest.approx(0.2, abs=0.02)


# -- fairlearn agreement -----------------------------------------------------------------------


def test_vectorised_replicates_match_fairlearn_on_the_sample():
    rng = np.random.default_rng(0)
    n = 400
    groups = rng.choice(["a", "b", "c"], n)
    truth = (rng.random(n) < 0.4).astype(float)
    preds = [(rng.random(n) < np.where(groups == "a", 0.6, 0.3)).astype(float) for _ in range(2)]
    codes, names = pd.factorize(groups, sort=True)
    onehot = np.eye(len(names))[codes]
    boot = _bootstrap_parity(onehot, truth, preds, n_boot=3, seed=0)
    assert boot["dp_diff"].shape == (3, 2)
    # with unit weights the vectorised rates are the plain sample: compare with fairlearn
    import synth.audits.utility.fairness as fairness

    ones = np.ones((1, n))
    for pred in preds:
        sel = fairness._rates(ones, onehot, pred)
        dp = demographic_parity_difference(truth, pred, sensitive_features=groups)
        assert fairness._spread(sel)[0] == pytest.approx(dp)
        assert (sel.min() / sel.max()) == pytest.approx(demographic_parity_ratio(truth, pred, sensitive_features=groups))
        eo = max(fairness._spread(fairness._rates(ones, onehot * truth[:, None], pred))[0],
                 fairness._spread(fairness._rates(ones, onehot * (1 - truth)[:, None], pred))[0])
        assert eo == pytest.approx(equalized_odds_difference(truth, pred, sensitive_features=groups))


# -- contract --------------------------------------------------------------------------------


def test_skips_without_target_or_sensitive_attribute(known, schema):
    no_target = _run(known, schema.with_roles("outcome", frozenset()), known["fresh"])
    assert no_target.skipped and "target" in no_target.skipped and not no_target.metrics
    plain = schema.with_roles("sex", frozenset()).with_roles("race", frozenset())
    no_sensitive = _run(known, plain, known["fresh"])
    assert no_sensitive.skipped and "sensitive" in no_sensitive.skipped


def test_regression_target_reports_representation_only(known, schema):
    regression = schema.with_roles("outcome", frozenset()).with_roles("sbp", frozenset({Role.TARGET}))
    section = _run(known, regression, known["fresh"], n_boot=20)
    assert [m.name for m in section.metrics] == ["fairness.representation_tvd_max"]
    assert any("binary targets only" in n for n in section.notes)


def test_numeric_sensitive_attribute_uses_quartiles(known, schema):
    with_age = schema.with_roles("age", frozenset({Role.SENSITIVE}))
    section = _run(known, with_age.with_roles("race", frozenset()), known["fresh"], model="logistic", n_boot=20)
    age_groups = {r[1] for r in section.tables[0].rows if r[0] == "age"}
    assert len(age_groups) == 4 and any(g.startswith("< ") for g in age_groups)
    assert any("'age' is numeric" in n for n in section.notes)
    assert "age|sex" in section.metric("fairness.bias_amplification").details["per_attribute"]


def test_inputs_not_mutated(known, schema):
    train, holdout, synthetic = (known[k].copy() for k in ("train", "holdout", "fresh"))
    before = [f.copy() for f in (train, holdout, synthetic)]
    audit = FairnessAudit(n_boot=20, model="logistic")
    section = audit.run(AuditInputs(train, holdout, synthetic, schema, seed=1, n_jobs=1))
    for frame, copy in zip((train, holdout, synthetic), before):
        pd.testing.assert_frame_equal(frame, copy)
    payload = json.loads(json.dumps(section.to_dict()))
    assert {m["name"] for m in payload["metrics"]} == set(FairnessAudit.provides)
    assert all(not math.isnan(m.value) for m in section.metrics)


def test_bad_parameters_name_the_key():
    with pytest.raises(ConfigError, match=r"audit\.params\.fairness\.threshold"):
        FairnessAudit(threshold=1.5)
    with pytest.raises(ConfigError, match=r"audit\.params\.fairness\.model.*logistic"):
        FairnessAudit(model="logistc")
    with pytest.raises(ConfigError, match=r"audit\.params\.fairness\.min_group_rows"):
        FairnessAudit(min_group_rows=0)
