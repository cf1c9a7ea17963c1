"""A realistic ``result.json`` dict for report tests, built with the real dataclasses.

The numbers are aggregates of the test population (tests/population.py): a "real"
training draw against a noisier "synthetic" draw, so histograms, bars, correlation
heatmaps and ROC curves have the shapes the audits produce. Every family appears; one
audit is skipped; the gates mix a pass, a failure and one that could not be evaluated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from population import make_population, population_schema
from sklearn.metrics import roc_auc_score, roc_curve

from synth.audits.base import AuditSection, Figure, Interval, Metric, TableBlock, ThreatModel
from synth.generators.base import PrivacyGuarantee
from synth.result import AuditResult, GateOutcome
from synth.schema import ColumnKind, ColumnSpec, Schema

HOSTILE = "<script>alert(1)</script>"

SYNTHETIC_HOLDS = ("the synthetic data",)
DCR_THREAT = ThreatModel(
    attack="distance to closest record",
    attacker_has=("the synthetic data", "a candidate real record"),
    description="The attacker claims a real record was in the training data when a synthetic record "
    "lies closer to it than real records from the same population usually do.",
)
SINGLING_OUT = ThreatModel(
    attack="singling out (anonymeter)",
    attacker_has=SYNTHETIC_HOLDS,
    description="The attacker writes predicates that match exactly one training record.",
)
LINKABILITY = ThreatModel(
    attack="linkability (anonymeter)",
    attacker_has=("the synthetic data", "two disjoint sets of quasi-identifiers of some training records"),
    description="The attacker links the two partial records of the same person through the synthetic data.",
)
DISTANCE_MIA = ThreatModel(
    attack="distance-based membership inference",
    attacker_has=("the synthetic data", "the target records"),
    description="The attacker scores each target by its distance to the nearest synthetic record.",
)
DOMIAS_MIA = ThreatModel(
    attack="density-ratio membership inference (DOMIAS)",
    attacker_has=("the synthetic data", "the target records",
                  "a reference sample of the population (disjoint from training)"),
    description="The attacker compares the synthetic density with the population density at each target.",
)


def _frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    pop = make_population(2000, seed)
    train, holdout = pop.iloc[:1200], pop.iloc[1200:]
    synthetic = make_population(1200, seed + 11)
    rng = np.random.default_rng(seed + 3)
    synthetic["bmi"] = synthetic["bmi"] + rng.normal(0, 1.5, len(synthetic))
    return train, holdout, synthetic


def _histogram(col: str, train: pd.DataFrame, synthetic: pd.DataFrame, bins: int = 20) -> dict[str, Any]:
    real = train[col].dropna().astype(float).to_numpy()
    syn = synthetic[col].dropna().astype(float).to_numpy()
    edges = np.histogram_bin_edges(np.concatenate([real, syn]), bins=bins)
    return {
        "x_label": col,
        "y_label": "density",
        "series": [
            {"label": label, "edges": edges.tolist(), "counts": np.histogram(x, edges, density=True)[0].tolist()}
            for label, x in (("real (train)", real), ("synthetic", syn))
        ],
    }


def _frequencies(col: str, train: pd.DataFrame, synthetic: pd.DataFrame, categories: list[Any]) -> dict[str, Any]:
    real = train[col].value_counts(normalize=True)
    syn = synthetic[col].value_counts(normalize=True)
    return {
        "y_label": "share of rows",
        "categories": [str(c) for c in categories],
        "series": [
            {"label": "real (train)", "values": [float(real.get(c, 0.0)) for c in categories]},
            {"label": "synthetic", "values": [float(syn.get(c, 0.0)) for c in categories]},
        ],
    }


def _roc(label_scores: list[tuple[str, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    curves = []
    for label, y, score in label_scores:
        fpr, tpr, _ = roc_curve(y, score)
        keep = np.linspace(0, len(fpr) - 1, min(len(fpr), 60)).astype(int)  # a figure needs no more points
        curves.append({"label": label, "fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist(),
                       "auc": float(roc_auc_score(y, score))})
    return {"curves": curves}


def build_result(*, default_gates: bool = False, hostile: bool = False, seed: int = 0) -> AuditResult:
    """An :class:`AuditResult` with every family, a skipped audit and gates.

    ``default_gates``: the config set no gates, so the two conservative privacy defaults
    were applied (all pass). Otherwise the config's gates: one passes, one fails and one
    names a metric of the skipped audit. ``hostile`` puts :data:`HOSTILE` into a category
    value, a column name, a note, a gate expression, a table cell, a figure label and a
    threat model, to test escaping.
    """
    train, holdout, synthetic = _frames(seed)
    evil = HOSTILE if hostile else None
    race_levels = ["asian", "black", "other", "white"]
    schema = population_schema()
    if evil:
        synthetic = synthetic.assign(race=synthetic["race"].replace({"other": evil}))
        train = train.assign(race=train["race"].replace({"other": evil}))
        race_levels = ["asian", "black", evil, "white"]
        schema = Schema(
            tuple(
                ColumnSpec(evil, ColumnKind.NUMERIC) if c.name == "sbp"
                else ColumnSpec("race", ColumnKind.CATEGORICAL, categories=tuple(race_levels),
                                roles=c.roles) if c.name == "race"
                else c
                for c in schema.columns
            )
        )
    rng = np.random.default_rng(seed)
    numeric = ["age", "bmi", "sbp", "creatinine"]

    # -- fidelity -------------------------------------------------------------------
    ks = {c: float(abs(train[c].astype(float).mean() - synthetic[c].astype(float).mean())
                   / train[c].astype(float).std()) for c in numeric}
    columns = AuditSection(
        audit="fidelity_columns", family="fidelity", title="Column distributions",
        summary="Each synthetic column is compared with the same real column: Kolmogorov-Smirnov "
                "distance for numbers, total variation distance for categories.",
        metrics=[
            Metric("fidelity.ks_mean", 0.0612, "Mean KS distance under 0.1: marginals match closely.",
                   Interval(0.0521, 0.0733, "bootstrap (n=200)"), better="lower"),
            Metric("fidelity.tv_mean", 0.0318, "Mean total variation under 0.1.",
                   Interval(0.0240, 0.0412, "bootstrap (n=200)"), better="lower"),
            Metric("fidelity.missing_rate_gap", float("nan"), "Missing-value rates agree (undefined: no gaps).",
                   None, better="lower"),
        ],
        figures=[
            Figure("hist-age", "age: real vs synthetic", "histograms", _histogram("age", train, synthetic)),
            Figure("hist-bmi", "bmi: real vs synthetic", "histograms", _histogram("bmi", train, synthetic),
                   caption="Synthetic BMI is wider than the real one (KS 0.09)."),
            Figure("bars-race", "race: category shares", "bars",
                   _frequencies("race", train, synthetic, race_levels)),
        ],
        tables=[TableBlock(
            "Per-column distance", ("column", "kind", "statistic", "distance"),
            tuple((c if not (evil and c == "sbp") else evil, "numeric", "KS", ks[c]) for c in numeric)
            + (("race", "categorical", "TV", 0.028), ("missing", "numeric", "KS", float("nan"))),
        )],
        notes=["Datetime columns: none in this data."] + ([evil] if evil else []),
        seconds=0.84,
    )
    corr_real = train[numeric].astype(float).corr().to_numpy()
    corr_syn = synthetic[numeric].astype(float).corr().to_numpy()
    diff = corr_syn - corr_real
    labels = [evil if (evil and c == "sbp") else c for c in numeric]
    pairs = AuditSection(
        audit="fidelity_pairs", family="fidelity", title="Pairwise dependence",
        summary="Differences between real and synthetic correlation matrices.",
        metrics=[Metric("fidelity.corr_diff_max", float(np.abs(diff).max()),
                        "Largest correlation difference under 0.1.",
                        Interval(0.041, 0.093, "bootstrap (n=200)"), better="lower")],
        figures=[Figure("heat-corr", "Correlation difference (synthetic - real)", "heatmap",
                        {"labels": labels, "matrix": diff.round(4).tolist(), "value_label": "difference in Pearson r",
                         "vmin": -0.3, "vmax": 0.3})],
        seconds=0.21,
    )
    y_det = np.r_[np.zeros(600), np.ones(600)]
    s_det = np.r_[rng.normal(0, 1, 600), rng.normal(0.18, 1, 600)]
    detection = AuditSection(
        audit="detection", family="fidelity", title="Detection (classifier two-sample test)",
        summary="A gradient-boosted classifier tries to tell real from synthetic rows; AUC 0.5 means it cannot.",
        metrics=[Metric("fidelity.detection_auc", float(roc_auc_score(y_det, s_det)),
                        "AUC close to 0.5: a classifier cannot tell synthetic from real.",
                        Interval(0.521, 0.566, "bootstrap (n=200)"), better="closer", ideal=0.5)],
        figures=[Figure("roc-detection", "Detection ROC", "roc", _roc([("gradient boosting", y_det, s_det)]))],
        seconds=3.12,
    )
    subgroup = AuditSection(audit="subgroup_fidelity", family="fidelity", title="Subgroup fidelity",
                            skipped="no subgroup of a sensitive attribute has the 50 real rows this audit needs "
                                    "(set audit.params.subgroup_fidelity.min_rows lower to run it)")

    # -- utility and fairness ---------------------------------------------------------
    utility = AuditSection(
        audit="utility", family="utility", title="Train on synthetic, test on real",
        summary="Models trained on synthetic rows are scored on the real holdout and compared with models "
                "trained on real rows.",
        metrics=[
            Metric("utility.auc_ratio", 0.962, "Ratio of synthetic-trained to real-trained AUC at least 0.9.",
                   Interval(0.931, 0.990, "bootstrap (n=200)"), better="higher", ideal=1.0),
            Metric("utility.auc_synthetic", 0.741, "AUC of the model trained on synthetic data.",
                   Interval(0.702, 0.779, "bootstrap (n=200)"), better="higher"),
        ],
        figures=[Figure("bars-utility", "AUC by model", "bars", {
            "y_label": "AUC on real holdout",
            "categories": ["logistic regression", "random forest", "gradient boosting"],
            "series": [{"label": "trained on real", "values": [0.771, 0.758, 0.779]},
                       {"label": "trained on synthetic", "values": [0.741, 0.722, 0.751]}]})],
        tables=[TableBlock("AUC by model", ("model", "real", "synthetic", "ratio"),
                           (("logistic regression", 0.771, 0.741, 0.961), ("random forest", 0.758, 0.722, 0.952),
                            ("gradient boosting", 0.779, 0.751, 0.964)))],
        seconds=5.4,
    )
    fairness = AuditSection(
        audit="fairness", family="fairness", title="Downstream fairness",
        summary="Demographic parity and equalized odds gaps of a model trained on synthetic data, by sensitive "
                "attribute.",
        metrics=[
            Metric("fairness.dp_gap", 0.046, "Demographic parity gap under 0.1.",
                   Interval(0.012, 0.081, "bootstrap (n=200)"), better="lower"),
            Metric("fairness.eo_gap", 0.071, "Equalized odds gap under 0.1.",
                   Interval(0.030, 0.118, "bootstrap (n=200)"), better="lower"),
        ],
        figures=[Figure("bars-fair", "Positive prediction rate by race", "bars", {
            "y_label": "positive rate", "categories": race_levels,
            "series": [{"label": "real-trained model", "values": [0.21, 0.29, 0.24, 0.23]},
                       {"label": "synthetic-trained model", "values": [0.22, 0.31, 0.22, 0.24]}]})],
        seconds=1.7,
    )

    # -- privacy and membership -------------------------------------------------------
    dcr_train = rng.gamma(4.0, 0.25, 1200)
    dcr_hold = rng.gamma(4.0, 0.26, 800)
    edges = np.linspace(0, 3.5, 29)
    memorization = AuditSection(
        audit="memorization", family="privacy", title="Memorization: copies and distance to closest record",
        summary="How close synthetic records come to training records compared with unseen holdout records.",
        metrics=[
            Metric("privacy.exact_copies", 0.0, "No synthetic row is an exact copy of a training row.",
                   Interval(0.0, 0.0031, "clopper-pearson"), better="lower", threat_model=DCR_THREAT,
                   details={"copies": 0, "n_synthetic": 1200}),
            Metric("privacy.dcr_share", 0.512, "Share of synthetic rows closer to training than to holdout "
                   "at most 0.55 (0.5 = no memorization).", Interval(0.483, 0.541, "wilson"),
                   better="closer", ideal=0.5, threat_model=DCR_THREAT),
        ],
        figures=[Figure("hist-dcr", "Distance to closest record", "histograms", {
            "x_label": "distance (mixed-type, documented encoding)", "series": [
                {"label": "synthetic -> train", "edges": edges.tolist(),
                 "counts": np.histogram(dcr_train, edges)[0].astype(float).tolist()},
                {"label": "holdout -> train", "edges": edges.tolist(),
                 "counts": np.histogram(dcr_hold, edges)[0].astype(float).tolist()}]})],
        notes=["Distances use the mixed-type encoding of audits/encoding.py; exact nearest neighbours."],
        seconds=2.2,
    )
    anonymeter = AuditSection(
        audit="anonymeter", family="privacy", title="Anonymeter risks",
        summary="Singling-out and linkability attacks from anonymeter, each against a control set.",
        metrics=[
            Metric("privacy.singling_out_risk", 0.012, "Risk under 0.05.", Interval(0.0, 0.031, "wilson"),
                   better="lower", threat_model=SINGLING_OUT),
            Metric("privacy.linkability_risk", 0.008, "Risk under 0.05.", Interval(0.0, 0.024, "wilson"),
                   better="lower", threat_model=LINKABILITY),
        ],
        tables=[TableBlock("Attack success rates", ("attack", "main attack", "baseline", "control", "risk"),
                           (("singling out", 0.061, 0.058, 0.050, 0.012), ("linkability", 0.044, 0.041, 0.037, 0.008)),
                           caption="Rates are shares of attack guesses that were right.")],
        seconds=8.9,
    )
    y_mia = np.r_[np.ones(400), np.zeros(400)]
    s_dist = np.r_[rng.normal(0.06, 1, 400), rng.normal(0, 1, 400)]
    s_dom = np.r_[rng.normal(0.10, 1, 400), rng.normal(0, 1, 400)]
    membership = AuditSection(
        audit="membership", family="membership", title="Membership inference",
        summary="Can an attacker tell whether a record was in the training data?",
        metrics=[
            Metric("membership.auc_distance", float(roc_auc_score(y_mia, s_dist)), "AUC at most 0.6.",
                   Interval(0.478, 0.558, "bootstrap (n=200)"), better="lower", threat_model=DISTANCE_MIA),
            Metric("membership.auc_domias", float(roc_auc_score(y_mia, s_dom)), "AUC at most 0.6.",
                   Interval(0.490, 0.571, "bootstrap (n=200)"), better="lower", threat_model=DOMIAS_MIA),
            Metric("membership.tpr_at_fpr_0.01", 0.0125, "TPR at 1 % FPR close to 0.01.",
                   Interval(0.004, 0.029, "clopper-pearson"), better="lower", threat_model=DISTANCE_MIA),
            Metric("membership.epsilon_lower_bound", 0.21, "Empirical epsilon lower bound under 1.",
                   Interval(0.0, 0.62, "clopper-pearson"), better="lower", threat_model=DISTANCE_MIA),
        ],
        figures=[Figure("roc-mia", "Membership inference ROC", "roc",
                        _roc([("distance", y_mia, s_dist), ("DOMIAS", y_mia, s_dom)]))],
        seconds=4.6,
    )
    sections = [columns, pairs, detection, subgroup, utility, fairness, memorization, anonymeter, membership]
    metrics = {m.name: m for s in sections for m in s.metrics}

    def gate(expression: str, metric: str, field: str, op: str, threshold: float, *, default: bool = False,
             error: str | None = None) -> GateOutcome:
        if error:
            return GateOutcome(expression, metric, field, op, threshold, None, False, default, error)
        observed = metrics[metric].field_value(field)
        passed = observed <= threshold if op == "<=" else observed >= threshold
        return GateOutcome(expression, metric, field, op, threshold, round(observed, 4), passed, default)

    if default_gates:
        gates = [gate("privacy.dcr_share.upper_ci <= 0.6", "privacy.dcr_share", "upper_ci", "<=", 0.6, default=True),
                 gate("membership.auc_distance.upper_ci <= 0.6", "membership.auc_distance", "upper_ci", "<=", 0.6,
                      default=True)]
    else:
        gates = [
            gate("utility.auc_ratio.lower_ci >= 0.9", "utility.auc_ratio", "lower_ci", ">=", 0.9),
            gate("privacy.dcr_share.upper_ci <= 0.53", "privacy.dcr_share", "upper_ci", "<=", 0.53),
            gate(evil or "fidelity.subgroup_tv_max.value <= 0.2", "fidelity.subgroup_tv_max", "value", "<=", 0.2,
                 error="metric not computed: audit 'subgroup_fidelity' was skipped"),
        ]

    generator = {"name": "gaussian_copula",
                 "params": {"default_distribution": "beta", "enforce_min_max_values": True,
                            "numerical_distributions": {}},
                 "privacy": PrivacyGuarantee().to_dict()}
    data = {"n_train": len(train), "n_holdout": len(holdout), "n_synthetic": len(synthetic),
            "columns": [c.name for c in schema.columns], "schema": schema.to_dict(),
            "dropped_columns": [{"name": "patient_id", "reason": "identifier"}]}
    manifest = {
        "run_id": "20261126T012345Z-3f9a1c",
        "config_path": "examples/release.yaml",
        "config_sha256": "9b1f0c3e5d7a2b4c6e8f0a1b3c5d7e9f1a2b3c4d5e6f708192a3b4c5d6e7f809",
        "seed": 0,
        "timings_s": {"load": 0.12, "split": 0.01, "fit": 4.31, "sample": 0.22, "audit": 27.9, "report": 1.4},
        "versions": {"python": "3.11.9", "synth": "0.1.0", "numpy": "1.26.4", "pandas": "2.3.1", "sdv": "2.0.0"},
        "hardware": {"cpu": "x86_64, 2 cores", "gpu": None},
        "outputs": [
            {"name": "synthetic", "path": "out/synthetic.parquet",
             "sha256": "0d4c1f7e2a9b8c3d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d"},
            {"name": "result", "path": "out/result.json",
             "sha256": "7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f"},
        ],
    }
    return AuditResult(sections=sections, gates=gates, data=data, generator=generator, manifest=manifest,
                       created_utc="2026-11-26T01:23:45Z")


def sample_result(**kwargs: Any) -> dict[str, Any]:
    """``build_result(**kwargs).to_dict()``: the dict a report is rendered from."""
    return build_result(**kwargs).to_dict()
