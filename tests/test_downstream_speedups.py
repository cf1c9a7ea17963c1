"""The fast paths of the utility and fairness audits give the numbers of the plain computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from synth.audits.utility.downstream_models import (
    ResampledMetrics,
    Task,
    auprc,
    auroc,
    detect_task,
    feature_columns,
    feature_frame,
    fit_model,
    fit_models,
    label_key,
    label_keys,
    mae,
    predict_scores,
    r2,
    resample_weights,
    resamples,
)
from synth.audits.utility.fairness import _cells, _group_rows


@pytest.mark.parametrize("series", [
    pd.Series([1, 2, 1, None], dtype="Int64"),
    pd.Series([1.0, np.nan, 2.5, -0.0, 0.0, 3.0]),
    pd.Series([True, False, True]),
    pd.Series([True, None, False], dtype="boolean"),
    pd.Series(["a", "b", None, "a"], dtype="category"),
    pd.Series(["x", None, "1.0"], dtype="string"),
    pd.to_datetime(pd.Series(["2020-01-01", None, "2020-01-01"])),
    pd.Series([1, True, 1.0, "1", None, "F"], dtype=object),
    pd.Series(pd.Categorical([1, 2, 1, None])),
], ids=lambda s: str(s.dtype))
def test_label_keys_equal_label_key_per_value(series):
    assert label_keys(series) == [label_key(v) for v in series.to_numpy(dtype=object)]


def _scores(rng, n, k):
    p = np.round(rng.random((n, k)), 2) + 0.01  # two decimals: many tied scores
    return p / p.sum(1, keepdims=True)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_resampled_metrics_equal_metrics_on_resampled_rows(kind):
    rng = np.random.default_rng(1)
    n = 1500
    if kind == "regression":
        task = Task("t", "regression")
        y = rng.normal(size=n)
        scores = y + rng.normal(size=n)
        fns = (r2, mae)
    else:
        task = Task("t", "binary", ("0", "1"), 1) if kind == "binary" else Task("t", "multiclass", ("a", "b", "c"))
        y = rng.integers(0, len(task.classes), n)
        scores = _scores(rng, n, len(task.classes))
        fns = (auroc, auprc)
    fast = ResampledMetrics(y, scores, task)
    for idx, w in zip(resamples(n, 25, 7), resample_weights(n, 25, 7)):
        expected = [fn(y[idx], scores[idx], task) for fn in fns]
        assert fast.values(w) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_resampled_metrics_nan_without_both_classes():
    task = Task("t", "binary", ("0", "1"), 1)
    y = np.array([1, 1, 0, 0])
    fast = ResampledMetrics(y, np.full((4, 2), 0.5), task)
    assert all(np.isnan(fast.values(np.array([2.0, 2.0, 0.0, 0.0]))))  # only positives drawn
    assert fast.values(np.ones(4)) == (0.5, 0.5)  # a constant scorer: chance AUROC, prevalence AUPRC


def test_fairlearn_on_cells_equals_fairlearn_on_rows():
    rng = np.random.default_rng(2)
    n = 3000
    groups = rng.choice(np.array(["F|a", "F|b", "M|a", "M|b", "X|c"], dtype=object), n, p=[0.3, 0.2, 0.3, 0.19, 0.01])
    truth = (rng.random(n) < 0.3).astype(float)
    pred = (rng.random(n) < np.where(groups == "F|a", 0.5, 0.3)).astype(float)
    t, p, g, w = _cells(truth, pred, groups)
    assert w.sum() == n and len(w) <= 4 * 5
    for fn in (demographic_parity_difference, demographic_parity_ratio, equalized_odds_difference):
        assert fn(t, p, sensitive_features=g, sample_weight=w) == fn(truth, pred, sensitive_features=groups)
    rows = _group_rows("a", "m", truth, pred, groups, {k: True for k in set(groups)})
    plain = MetricFrame(
        metrics={"n": count, "selection rate": selection_rate, "TPR": true_positive_rate, "FPR": false_positive_rate},
        y_true=truth, y_pred=pred, sensitive_features=groups,
    ).by_group
    assert [r[1] for r in rows] == list(plain.index)
    for r, (_, expected) in zip(rows, plain.iterrows()):
        assert r[3:7] == (int(expected["n"]), expected["selection rate"], expected["TPR"], expected["FPR"])


def test_parallel_single_threaded_fits_equal_sequential_fits(population, schema):
    train, holdout = population.iloc[:1500], population.iloc[1500:]
    task = detect_task(schema, train, holdout)
    columns = feature_columns(schema, task.target)
    jobs = [(m, task, schema, columns, frame, 0, what)
            for m in ("gradient_boosting", "logistic") for frame, what in ((train, "real"), (holdout, "other"))]
    parallel = fit_models(jobs, n_jobs=2)
    X = feature_frame(holdout, schema, columns)
    for job, fitted in zip(jobs, parallel):
        alone = fit_model(*job)
        assert fitted.name == job[0] and fitted.n_train == alone.n_train
        np.testing.assert_allclose(predict_scores(fitted, X, task), predict_scores(alone, X, task), rtol=1e-9, atol=1e-12)
