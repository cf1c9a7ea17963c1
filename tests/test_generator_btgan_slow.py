"""Bt-GAN known answers that need real training (``-m slow``), and the example configs.

The fairness mechanism is judged here on large fresh samples of a known population, where
a subgroup's outcome rate is measured to about +-0.01: the fairness audit's own holdout
(a few hundred real rows) cannot resolve differences that small, see bench/bench_btgan.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

import synth
from synth.config.load import load_config
from synth.generators.btgan import BtGANGenerator
from synth.schema import ColumnKind, ColumnSpec, Role, Schema

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _population(n: int, seed: int, bias: float) -> pd.DataFrame:
    """Clinical-looking rows; the outcome's log-odds rise by ``bias`` for group 'B' (0: independent)."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B"], n, p=[0.7, 0.3])
    age = rng.integers(20, 80, n)
    lab = rng.normal(5 + 0.5 * (group == "B"), 1.0, n)
    treated = rng.uniform(size=n) < 0.4
    logit = -3.0 + 0.04 * (age - 50) + 0.8 * (lab - 5) - 0.7 * treated + bias * (group == "B")
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"age": pd.array(age, dtype="Int64"), "lab": lab, "treated": treated.astype(int),
                         "group": group, "y": y})


SCHEMA = Schema((
    ColumnSpec("age", ColumnKind.INTEGER, minimum=20, maximum=79),
    ColumnSpec("lab", ColumnKind.NUMERIC),
    ColumnSpec("treated", ColumnKind.CATEGORICAL, categories=(0, 1)),
    ColumnSpec("group", ColumnKind.CATEGORICAL, categories=("A", "B"), roles=frozenset({Role.SENSITIVE})),
    ColumnSpec("y", ColumnKind.CATEGORICAL, categories=(0, 1), roles=frozenset({Role.TARGET})),
))
FEATURES = ["age", "lab", "treated", "group"]
PARAMS = {"epochs": 120, "batch_size": 300, "progress": False}


def _downstream(synthetic: pd.DataFrame, fresh: pd.DataFrame) -> tuple[float, float]:
    """(AUROC, positive-rate gap between the groups) of a model trained on ``synthetic``, on ``fresh`` real rows."""
    x = lambda df: df[FEATURES].assign(group=(df["group"] == "B").astype(int)).astype(float)  # noqa: E731
    model = HistGradientBoostingClassifier(random_state=0).fit(x(synthetic), synthetic["y"].astype(int))
    p = model.predict_proba(x(fresh))[:, 1]
    flagged = p >= np.quantile(p, 1 - fresh["y"].mean())
    gap = abs(flagged[fresh["group"] == "B"].mean() - flagged[fresh["group"] == "A"].mean())
    return roc_auc_score(fresh["y"], p), float(gap)


def _rate_gap(frame: pd.DataFrame) -> float:
    rates = frame.groupby("group")["y"].apply(lambda s: s.astype(float).mean())
    return float(abs(rates["B"] - rates["A"]))


@pytest.mark.slow
def test_penalty_removes_a_real_outcome_gap_and_its_downstream_disparity():
    train, fresh = _population(2000, 0, bias=1.2), _population(20_000, 1, bias=1.2)
    fair = BtGANGenerator(seed=0, **PARAMS).fit(train, SCHEMA).sample(20_000)
    plain = BtGANGenerator(seed=0, fairness_weight=0.0, **PARAMS).fit(train, SCHEMA).sample(20_000)
    real_gap = _rate_gap(train)
    # the population's gap is about 0.12; its standard error on 2000 rows is about 0.017
    assert real_gap > 0.08
    assert _rate_gap(plain) > 0.5 * real_gap  # without the penalty the gap is learned
    assert _rate_gap(fair) < 0.35 * real_gap  # with it, most of the gap is gone
    fair_auc, fair_disparity = _downstream(fair, fresh)
    plain_auc, plain_disparity = _downstream(plain, fresh)
    assert fair_disparity < 0.5 * plain_disparity
    assert fair_auc > 0.6  # the outcome still carries its non-group signal


@pytest.mark.slow
def test_no_fairness_tax_where_the_outcome_does_not_depend_on_the_group():
    aucs = {True: [], False: []}
    for seed in (0, 1, 2):
        train, fresh = _population(2000, seed, bias=0.0), _population(20_000, seed + 10, bias=0.0)
        for on in (True, False):
            params = dict(PARAMS, fairness_weight=1.0 if on else 0.0)
            synthetic = BtGANGenerator(seed=seed, **params).fit(train, SCHEMA).sample(5000)
            aucs[on].append(_downstream(synthetic, fresh)[0])
    assert np.mean(aucs[True]) >= np.mean(aucs[False]) - 0.02


@pytest.mark.slow
@pytest.mark.parametrize("epsilon", [1.0, 10.0])
def test_dp_training_on_actg175_completes_within_the_target(epsilon, tmp_path):
    run = synth.generate({
        "seed": 3, "data": load_config(EXAMPLES / "btgan_dp.yaml").data.model_dump(exclude_unset=True),
        "generator": {"name": "btgan", "params": {"epochs": 30, "batch_size": 200, "dp_epsilon": epsilon,
                                                  "progress": False}},
        "audit": {"audits": ["membership"], "params": {"membership": {"attacks": ["distance", "domias"]}}},
        "gates": [], "output": {"dir": str(tmp_path)},
    })
    privacy = run.result.generator["privacy"]
    assert 0.8 * epsilon <= privacy["epsilon"] <= epsilon
    assert privacy["delta"] < 1 / run.result.data["n_train"]
    check = [g for g in run.result.gates if g.metric == "privacy.dp_claim_consistency"]
    assert len(check) == 1 and check[0].passed


def test_example_configs_are_valid():
    from synth.audits.runner import build_audits, provided_metrics
    from synth.verdict import parse_gates

    for name in ("btgan_fair.yaml", "btgan_dp.yaml"):
        cfg = load_config(EXAMPLES / name)
        assert cfg.generator.name == "btgan"
        BtGANGenerator.validate_params(cfg.generator.params)
        parse_gates(cfg.gates, provided_metrics(build_audits(cfg.audit.audits, cfg.audit.params)))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["btgan_fair.yaml", "btgan_dp.yaml"])
def test_examples_run_end_to_end(name, tmp_path):
    cfg = load_config(EXAMPLES / name)
    params = dict(cfg.generator.params, epochs=5)
    cfg = cfg.model_copy(update={"generator": cfg.generator.model_copy(update={"params": params})})
    run = synth.generate(cfg, output_dir=tmp_path)
    assert {"synthetic.csv", "result.json", "report.html", "manifest.json"} <= set(run.outputs)
