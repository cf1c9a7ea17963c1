"""Utility audit (TSTR vs TRTR): known answers on the test population, edge cases, contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from synth.audits.base import AuditInputs
from synth.audits.utility.downstream_models import Task, auprc, auroc, detect_task, label_key, r2
from synth.audits.utility.tstr import UtilityAudit
from synth.errors import ConfigError, DataError
from synth.schema import Role

N_BOOT = 100


def _run(known, schema, synthetic, **params):
    return UtilityAudit(n_boot=N_BOOT, **params).run(
        AuditInputs(known["train"], known["holdout"], synthetic, schema, seed=0, n_jobs=1)
    )


@pytest.fixture(scope="module")
def fresh_section(known, schema):
    return _run(known, schema, known["fresh"])


@pytest.fixture(scope="module")
def shuffled_section(known, schema):
    synthetic = known["fresh"].copy()
    synthetic["outcome"] = np.random.default_rng(0).permutation(synthetic["outcome"].to_numpy())
    return _run(known, schema, synthetic)


@pytest.fixture(scope="module")
def regression_schema(schema):
    return schema.with_roles("outcome", frozenset()).with_roles("sbp", frozenset({Role.TARGET}))


# -- known answers ---------------------------------------------------------------------------


def test_fresh_population_draws_keep_utility(fresh_section):
    trtr = fresh_section.metric("utility.auroc_trtr")
    tstr = fresh_section.metric("utility.auroc_tstr")
    gap = fresh_section.metric("utility.auroc_gap")
    assert trtr.value > 0.65  # the outcome depends on age, bmi, diabetes, race
    assert abs(tstr.value - trtr.value) < 0.05
    assert gap.value == pytest.approx(trtr.value - tstr.value)
    assert gap.ci.low <= 0 <= gap.ci.high or gap.value < 0.05
    assert "paired" in gap.ci.method
    assert trtr.ci.low < trtr.value < trtr.ci.high


def test_shuffled_label_loses_utility(shuffled_section, fresh_section):
    tstr = shuffled_section.metric("utility.auroc_tstr")
    gap = shuffled_section.metric("utility.auroc_gap")
    assert abs(tstr.value - 0.5) < 0.15
    assert gap.value > 0.1
    assert gap.ci.low > 0
    assert gap.value > fresh_section.metric("utility.auroc_gap").value + 0.1
    # the real-trained side does not depend on the synthetic data
    assert shuffled_section.metric("utility.auroc_trtr").value == fresh_section.metric("utility.auroc_trtr").value


def test_single_class_synthetic_target_scores_chance(known, schema):
    synthetic = known["fresh"].copy()
    synthetic["outcome"] = pd.array(np.zeros(len(synthetic), dtype=int), dtype="Int64")
    section = _run(known, schema, synthetic)
    trtr = section.metric("utility.auroc_trtr").value
    assert math.isnan(section.metric("utility.auroc_tstr").value)
    # the gap is taken against chance: TSTR AUROC = 0.5
    assert section.metric("utility.auroc_gap").value == pytest.approx(trtr - 0.5)
    assert section.metric("utility.auroc_gap").ci.low > 0.05
    assert any("single class" in n for n in section.notes)
    assert any("n/a" in cell for row in section.tables[0].rows for cell in row[2:4])
    assert math.isnan(section.metric("utility.feature_importance_rank_corr").value)


def test_regression_target(known, regression_schema):
    section = _run(known, regression_schema, known["fresh"])
    names = {m.name for m in section.metrics}
    assert {"utility.r2_trtr", "utility.r2_tstr", "utility.r2_gap", "utility.mae_ratio"} <= names
    assert not names & {"utility.auroc_gap", "utility.auprc_gap"}
    r2_trtr = section.metric("utility.r2_trtr")
    assert r2_trtr.value > 0.25  # sbp = 110 + 0.5 age + noise
    gap = section.metric("utility.r2_gap")
    assert gap.ci.low <= 0 <= gap.ci.high or abs(gap.value) < 0.05
    assert 0.9 < section.metric("utility.mae_ratio").value < 1.1
    importance = section.metric("utility.feature_importance_rank_corr").details
    top_real = max(importance["importance_real"], key=importance["importance_real"].get)
    top_syn = max(importance["importance_synthetic"], key=importance["importance_synthetic"].get)
    assert top_real == top_syn == "age"
    assert [f.kind for f in section.figures] == ["bars"]  # no ROC for regression


def test_regression_detects_information_loss(known, regression_schema):
    synthetic = known["fresh"].copy()
    synthetic["sbp"] = np.random.default_rng(0).permutation(synthetic["sbp"].to_numpy())
    section = _run(known, regression_schema, synthetic, models=["linear"])
    assert section.metric("utility.r2_gap").value > 0.2
    assert section.metric("utility.mae_ratio").ci.low > 1.0


def test_multiclass_target_with_a_class_missing_from_synthetic(known, schema):
    multiclass = schema.with_roles("outcome", frozenset()).with_roles("race", frozenset({Role.TARGET}))
    synthetic = known["fresh"][known["fresh"]["race"] != "other"]
    section = _run(known, multiclass, synthetic, models=["logistic"])
    assert section.notes[0].startswith("Task: 4-class")
    assert any("other never occur in the synthetic" in n for n in section.notes)
    assert np.isfinite(section.metric("utility.auroc_tstr").value)
    assert not any(f.kind == "roc" for f in section.figures)


# -- contract --------------------------------------------------------------------------------


def test_skips_without_target(known, schema):
    no_target = schema.with_roles("outcome", frozenset())
    section = _run(known, no_target, known["fresh"])
    assert section.skipped and "target" in section.skipped
    assert section.metrics == []


def test_inputs_not_mutated_and_rows_capped(known, schema):
    train, holdout, synthetic = (known[k].copy() for k in ("train", "holdout", "fresh"))
    synthetic["outcome"] = synthetic["outcome"].astype(float).astype(str)  # "1.0"/"0.0": still the same classes
    before = [f.copy() for f in (train, holdout, synthetic)]
    section = UtilityAudit(n_boot=30, max_train_rows=400, models=["logistic"]).run(
        AuditInputs(train, holdout, synthetic, schema, seed=3, n_jobs=1)
    )
    for frame, copy in zip((train, holdout, synthetic), before):
        pd.testing.assert_frame_equal(frame, copy)
    assert sum("subsampled to 400 of 1000" in n for n in section.notes) == 2
    assert np.isfinite(section.metric("utility.auroc_tstr").value)


def test_section_is_json_and_figures_have_shapes(fresh_section):
    payload = json.loads(json.dumps(fresh_section.to_dict()))
    assert {m["name"] for m in payload["metrics"]} == {
        "utility.auroc_trtr", "utility.auroc_tstr", "utility.auroc_gap", "utility.auprc_gap",
        "utility.feature_importance_rank_corr",
    }
    bars, roc = fresh_section.figures
    assert bars.kind == "bars" and bars.data["categories"] == ["logistic regression", "gradient boosting"]
    assert [len(s["values"]) for s in bars.data["series"]] == [2, 2]
    assert roc.kind == "roc" and len(roc.data["curves"]) == 2
    for curve in roc.data["curves"]:
        assert curve["fpr"][0] == 0 and curve["fpr"][-1] == 1 and len(curve["fpr"]) == len(curve["tpr"])
    table = fresh_section.tables[0]
    assert table.columns == ("model", "metric", "TRTR [95% CI]", "TSTR [95% CI]", "gap [95% CI]")
    assert len(table.rows) == 4  # 2 models x (AUROC, AUPRC)


def test_bad_parameters_name_the_key():
    with pytest.raises(ConfigError, match=r"audit\.params\.utility\.models.*gradient_boosting"):
        UtilityAudit(models=["gradient_bosting"])
    with pytest.raises(ConfigError, match=r"audit\.params\.utility\.n_boot"):
        UtilityAudit(n_boot=0)
    with pytest.raises(ConfigError, match=r"audit\.params\.utility\.max_train_rows"):
        UtilityAudit(max_train_rows=10**6)


def test_missing_synthetic_column_is_a_data_error(known, schema):
    with pytest.raises(DataError, match="'bmi'"):
        _run(known, schema, known["fresh"].drop(columns=["bmi"]))


# -- metric helpers --------------------------------------------------------------------------


def test_ranking_metrics_match_sklearn_with_ties():
    rng = np.random.default_rng(1)
    task = Task("y", "binary", ("0", "1"), 1)
    for _ in range(30):
        y = (rng.random(200) < 0.3).astype(int)
        p1 = np.round(rng.random(200), 1)  # many ties
        scores = np.c_[1 - p1, p1]
        assert auroc(y, scores, task) == pytest.approx(roc_auc_score(y, p1), abs=1e-12)
        assert auprc(y, scores, task) == pytest.approx(average_precision_score(y, p1), abs=1e-12)
    assert math.isnan(auroc(np.zeros(5, dtype=int), np.full((5, 2), 0.5), task))
    assert math.isnan(r2(np.ones(4), np.zeros(4), Task("y", "regression")))


def test_task_detection(known, schema):
    task = detect_task(schema, known["train"], known["holdout"])
    assert task.kind == "binary" and task.classes == ("0", "1") and task.positive == 1
    with pytest.raises(ConfigError, match="positive_class"):
        detect_task(schema, known["train"], known["holdout"], positive_class="yes")
    assert [label_key(v) for v in (1, 1.0, "1.0", True, np.nan, "F")] == ["1", "1", "1", "True", None, "F"]
