"""Known-answer tests of the fidelity audits (columns, pairs, detection, coverage, subgroups)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import cdist
from sklearn.metrics import roc_auc_score

from synth.audits.base import AuditInputs, AuditSection
from synth.audits.fidelity.association import associations, encode, make_layout, moments
from synth.audits.fidelity.column_stats import bin_column, compare_column, distance_from_counts, level_key
from synth.audits.fidelity.columns import ColumnFidelityAudit
from synth.audits.fidelity.coverage import CoverageAudit, ball_membership
from synth.audits.fidelity.detection import DetectionAudit, weighted_auc
from synth.audits.fidelity.pairs import PairFidelityAudit
from synth.audits.fidelity.subgroups import SubgroupFidelityAudit
from synth.errors import ConfigError
from synth.registry import audit_class
from synth.schema import ColumnKind, ColumnSpec, Schema

# -- scenarios -----------------------------------------------------------------------------


def _inputs(known: dict, schema, synthetic: pd.DataFrame) -> AuditInputs:
    return AuditInputs(
        train=known["train"], holdout=known["holdout"], synthetic=synthetic, schema=schema, seed=0, n_jobs=1
    )


@pytest.fixture(scope="module")
def shuffled(known) -> pd.DataFrame:
    """Fresh draws with every column permuted independently: right marginals, no dependence."""
    rng = np.random.default_rng(7)
    out = known["fresh"].copy()
    for c in out.columns:
        out[c] = out[c].to_numpy()[rng.permutation(len(out))]
    return out


@pytest.fixture(scope="module")
def bmi_shifted(known) -> pd.DataFrame:
    out = known["fresh"].copy()
    out["bmi"] = out["bmi"] + 5.0
    return out


@pytest.fixture(scope="module")
def collapsed(known) -> pd.DataFrame:
    """A mode-collapsed generator: one record repeated."""
    return known["fresh"].iloc[[3] * len(known["fresh"])].reset_index(drop=True)


def _interval_contains(metric, x: float) -> bool:
    return metric.ci.low - 1e-12 <= x <= metric.ci.high + 1e-12


def _json_safe(section: AuditSection) -> None:
    json.dumps(section.to_dict(), allow_nan=False)


# -- column statistics ---------------------------------------------------------------------


def test_ks_from_counts_equals_scipy_with_ties_and_missing():
    rng = np.random.default_rng(1)
    a = pd.Series(np.where(rng.random(300) < 0.1, np.nan, np.round(rng.normal(0, 1, 300), 1)))
    b = pd.Series(np.round(rng.normal(0.3, 1.2, 200), 1))
    col = bin_column("x", ColumnKind.NUMERIC, a, b)
    from_counts = distance_from_counts(col.counts("real")[None], col.counts("synthetic")[None], "ks")[0]
    expected = stats.ks_2samp(a.dropna(), b).statistic
    assert from_counts == pytest.approx(expected, abs=1e-12)
    point = compare_column(col)
    assert point.value == pytest.approx(expected, abs=1e-12)
    assert point.missing_real == pytest.approx(a.isna().mean())
    assert point.missing_synthetic == 0.0


def test_tvd_known_answer_and_level_matching():
    # shares a: {1: .5, 2: .5}; b: {1: .25, 2: .75} -> TVD 0.25; 1 / 1.0 / "1" are one level
    real = pd.Series([1, 1, 2, 2])
    syn = pd.Series(["1", 2.0, 2.0, 2.0])
    col = bin_column("c", ColumnKind.CATEGORICAL, real, syn)
    assert list(col.grid) == ["1", "2"]
    assert compare_column(col).value == pytest.approx(0.25)
    assert level_key(True) == "True" and level_key(np.float64(3.0)) == "3" and level_key("x") == "x"


def test_wasserstein_is_scaled_by_the_real_range():
    real = pd.Series(np.linspace(0, 100, 101))
    col = bin_column("x", ColumnKind.NUMERIC, real, real + 10)
    assert compare_column(col).wasserstein == pytest.approx(0.1, abs=1e-9)


# -- fidelity_columns ----------------------------------------------------------------------


def test_columns_identical_data_scores_zero_distance(known, schema):
    sec = ColumnFidelityAudit(n_boot=30).run(_inputs(known, schema, known["copy"]))
    assert sec.metric("fidelity.ks_mean").value == pytest.approx(0.0, abs=1e-12)
    assert sec.metric("fidelity.tvd_mean").value == pytest.approx(0.0, abs=1e-12)
    assert sec.metric("fidelity.marginal_score").value == pytest.approx(1.0)
    assert sec.metric("fidelity.missing_rate_diff_max").value == pytest.approx(0.0)
    for m in sec.metrics:
        assert _interval_contains(m, m.value), m.name
    _json_safe(sec)


def test_columns_fresh_draws_sit_at_the_noise_floor(known, schema):
    sec = ColumnFidelityAudit(n_boot=30).run(_inputs(known, schema, known["fresh"]))
    ks = sec.metric("fidelity.ks_mean")
    floor = ks.details["noise_floor_holdout"]
    assert 0.0 < ks.value < 0.08 and 0.0 < floor < 0.08
    assert sec.metric("fidelity.marginal_score").value > 0.95


def test_columns_shift_is_found_and_figured_worst_first(known, schema, bmi_shifted):
    fresh = ColumnFidelityAudit(n_boot=30).run(_inputs(known, schema, known["fresh"]))
    sec = ColumnFidelityAudit(n_boot=30, max_figures=3).run(_inputs(known, schema, bmi_shifted))
    table = {row[0]: row for row in sec.tables[0].rows}
    assert table["bmi"][3] > 0.35  # KS of a shift by ~1.1 sd
    assert table["bmi"][4] < 0.1  # the holdout's noise floor for bmi
    assert sec.metric("fidelity.ks_mean").ci.low > fresh.metric("fidelity.ks_mean").ci.high
    assert sec.metric("fidelity.marginal_score").details["worst_column"] == "bmi"
    assert len(sec.figures) == 3 and sec.figures[0].id == "fidelity_columns.bmi"
    hist = sec.figures[0].data["series"]
    for s in hist:
        widths = np.diff(s["edges"])
        assert np.sum(np.array(s["counts"]) * widths) == pytest.approx(1.0)
    assert len(sec.tables[0].rows) == len(schema.modelled())  # one aggregate row per column, no records


def test_columns_bars_figure_shares(known, schema):
    sec = ColumnFidelityAudit(n_boot=10, max_figures=20).run(_inputs(known, schema, known["fresh"]))
    race = next(f for f in sec.figures if f.id == "fidelity_columns.race")
    assert race.kind == "bars" and set(race.data["categories"]) == {"white", "black", "asian", "other"}
    for s in race.data["series"]:
        assert sum(s["values"]) == pytest.approx(1.0)
    assert race.data["categories"][0] == "white"  # most common real level first


# -- fidelity_pairs ------------------------------------------------------------------------


def test_association_measures_known_answers(population, schema):
    kinds = {c.name: c.kind for c in schema.columns}
    layout = make_layout(kinds, population)
    a = associations(moments(encode(population, layout), layout), layout).matrix
    i, j = layout.names.index("age"), layout.names.index("sbp")
    assert a[i, j] == pytest.approx(stats.spearmanr(population["age"].astype(float), population["sbp"]).statistic)
    # a column perfectly determined by another: Cramér's V 1; independent draws: about 0
    frame = pd.DataFrame({"x": np.repeat(["a", "b", "c"], 200)})
    frame["y"] = frame["x"].map({"a": "p", "b": "q", "c": "r"})
    frame["z"] = np.random.default_rng(0).choice(["u", "v"], len(frame))
    lay = make_layout({c: ColumnKind.CATEGORICAL for c in frame}, frame)
    m = associations(moments(encode(frame, lay), lay), lay).matrix
    assert m[0, 1] == pytest.approx(1.0, abs=0.01)
    assert m[0, 2] < 0.08


def test_joint_tables_weights_missing_and_pooled_levels():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.choice(["x", "y", None], 300), "b": rng.integers(0, 150, 300)})
    kinds = {"a": ColumnKind.CATEGORICAL, "b": ColumnKind.CATEGORICAL}
    layout = make_layout(kinds, frame, max_levels=100)
    assert len(layout.levels["b"]) == 101  # 100 most frequent + one pooled level
    enc = encode(frame, layout)
    w = np.bincount(rng.integers(0, 300, 300), minlength=300).astype(float)
    weighted = moments(enc, layout, w).joint[(0, 1)]
    repeated = frame.loc[frame.index.repeat(w.astype(int))]
    expanded = moments(encode(repeated, layout), layout).joint[(0, 1)]
    np.testing.assert_allclose(weighted, expanded)
    assert weighted.sum() == pytest.approx(w[frame["a"].notna().to_numpy()].sum())  # rows with both observed


def test_pairs_copy_and_shuffled(known, schema, shuffled):
    same = PairFidelityAudit(n_boot=20).run(_inputs(known, schema, known["copy"]))
    assert same.metric("fidelity.pairwise_corr_diff_mean").value == pytest.approx(0.0, abs=1e-12)
    assert same.metric("fidelity.contingency_similarity_mean").value == pytest.approx(1.0)
    fresh = PairFidelityAudit(n_boot=20).run(_inputs(known, schema, known["fresh"]))
    broken = PairFidelityAudit(n_boot=20).run(_inputs(known, schema, shuffled))
    d_fresh = fresh.metric("fidelity.pairwise_corr_diff_mean")
    d_broken = broken.metric("fidelity.pairwise_corr_diff_mean")
    assert d_broken.ci.low > d_fresh.ci.high
    top = broken.tables[0].rows[0]
    assert {top[0], top[1]} == {"age", "sbp"} and top[5] > 0.5  # rho ~0.67 destroyed
    heat = broken.figures[0]
    assert heat.kind == "heatmap" and heat.data["vmin"] == 0.0 and heat.data["vmax"] == 1.0
    assert len(heat.data["matrix"]) == len(heat.data["labels"]) == len(schema.modelled())
    _json_safe(broken)


# -- detection -----------------------------------------------------------------------------


def test_weighted_auc_matches_sklearn_with_ties_and_resamples():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    s = np.round(rng.normal(size=400) + 0.7 * y, 1)  # ties on purpose
    assert weighted_auc(s, y, np.ones((1, 400)))[0] == pytest.approx(roc_auc_score(y, s))
    w = np.bincount(rng.integers(0, 400, 400), minlength=400).astype(float)
    idx = np.repeat(np.arange(400), w.astype(int))
    assert weighted_auc(s, y, w[None])[0] == pytest.approx(roc_auc_score(y[idx], s[idx]))


@pytest.fixture(scope="module")
def detection_fresh(known, schema):
    return DetectionAudit(n_boot=100, max_rows_per_side=600).run(_inputs(known, schema, known["fresh"]))


def test_detection_cannot_tell_fresh_draws(detection_fresh):
    m = detection_fresh.metric("fidelity.detection_auc")
    assert _interval_contains(m, 0.5)
    ref = m.details["holdout_reference"]
    assert ref["ci"]["low"] <= 0.5 <= ref["ci"]["high"]
    roc = detection_fresh.figures[0]
    assert roc.kind == "roc" and len(roc.data["curves"]) == 2
    _json_safe(detection_fresh)


def test_detection_finds_shifted_bmi(known, schema, bmi_shifted):
    sec = DetectionAudit(n_boot=50, max_rows_per_side=600).run(_inputs(known, schema, bmi_shifted))
    m = sec.metric("fidelity.detection_auc")
    assert m.value > 0.7 and m.ci.low > 0.6


# -- coverage ------------------------------------------------------------------------------


def test_ball_membership_matches_brute_force():
    rng = np.random.default_rng(5)
    pts, cen = rng.random((70, 3)), rng.random((50, 3))
    pts[0] = cen[0]  # an exact duplicate on a zero-radius ball
    r_c, r_p = rng.random(50) * 0.4, rng.random(70) * 0.4
    r_c[0] = 0.0
    m = ball_membership(pts, cen, r_c, r_p, block_points=16, block_centres=32)
    d = cdist(pts, cen)
    np.testing.assert_array_equal(m.point_in_centre_balls, (d <= r_c[None, :]).sum(1))
    np.testing.assert_array_equal(m.centre_ball_has_point, (d <= r_c[None, :]).sum(0))
    np.testing.assert_array_equal(m.centre_in_point_balls, (d <= r_p[:, None]).sum(0))


def test_coverage_fresh_high_collapsed_low(known, schema, collapsed):
    fresh = CoverageAudit(n_boot=50).run(_inputs(known, schema, known["fresh"]))
    for key in ("precision", "recall", "coverage"):
        assert fresh.metric(f"fidelity.{key}").value > 0.9, key
    assert 0.85 < fresh.metric("fidelity.density").value < 1.15
    assert fresh.metric("fidelity.coverage").details["holdout_reference"] > 0.9
    bad = CoverageAudit(n_boot=50).run(_inputs(known, schema, collapsed))
    assert bad.metric("fidelity.recall").value < 0.05
    assert bad.metric("fidelity.coverage").ci.high < 0.05
    _json_safe(bad)


# -- subgroup_fidelity ---------------------------------------------------------------------


def test_subgroup_finds_the_damaged_group(known, schema):
    syn = known["fresh"].copy()
    asian = syn["race"] == "asian"
    syn.loc[asian, "bmi"] += 8.0
    syn.loc[asian, "sbp"] += 25.0
    sec = SubgroupFidelityAudit(n_boot=20).run(_inputs(known, schema, syn))
    m = sec.metric("fidelity.subgroup_worst_marginal_score")
    assert (m.details["attribute"], m.details["level"]) == ("race", "asian")
    assert m.value < m.details["noise_floor_holdout"]
    assert sec.tables[0].rows[0][:2] == ("race", "asian")
    _json_safe(sec)


def test_subgroup_absent_from_synthetic_scores_zero(known, schema):
    syn = known["fresh"][known["fresh"]["race"] != "other"]
    sec = SubgroupFidelityAudit(n_boot=20).run(_inputs(known, schema, syn))
    m = sec.metric("fidelity.subgroup_worst_marginal_score")
    assert m.value == 0.0 and m.details["level"] == "other" and m.details["n_synthetic"] == 0
    assert any("race=other" in n for n in sec.notes)


def test_subgroup_skips_without_sensitive_attributes(known, schema):
    plain = schema
    for name in schema.sensitive:
        plain = plain.with_roles(name, frozenset())
    sec = SubgroupFidelityAudit().run(_inputs(known, plain, known["fresh"]))
    assert sec.skipped and "sensitive" in sec.skipped and not sec.metrics


# -- contract ------------------------------------------------------------------------------

_AUDITS = [
    (ColumnFidelityAudit, {"n_boot": 10}),
    (PairFidelityAudit, {"n_boot": 10}),
    (DetectionAudit, {"n_boot": 10, "max_rows_per_side": 200}),
    (CoverageAudit, {"n_boot": 10, "max_rows": 300}),
    (SubgroupFidelityAudit, {"n_boot": 10}),
]


@pytest.mark.parametrize(("cls", "params"), _AUDITS, ids=[c.name for c, _ in _AUDITS])
def test_audit_contract_and_inputs_not_mutated(known, schema, bmi_shifted, cls, params):
    train, holdout, syn = known["train"].copy(), known["holdout"].copy(), bmi_shifted.copy()
    inputs = AuditInputs(train=train, holdout=holdout, synthetic=syn, schema=schema, seed=1, n_jobs=1)
    sec = cls(**params).run(inputs)
    pd.testing.assert_frame_equal(train, known["train"])
    pd.testing.assert_frame_equal(holdout, known["holdout"])
    pd.testing.assert_frame_equal(syn, bmi_shifted)
    assert audit_class(cls.name) is cls and cls.family == "fidelity"
    assert sec.skipped is None and {m.name for m in sec.metrics} == set(cls.provides)
    for m in sec.metrics:
        assert m.ci is not None and m.ci.low <= m.ci.high, m.name
    _json_safe(sec)


@pytest.mark.parametrize(
    ("cls", "key", "value"),
    [
        (ColumnFidelityAudit, "n_boot", 0),
        (PairFidelityAudit, "max_rows", "many"),
        (DetectionAudit, "n_folds", 1),
        (CoverageAudit, "k", True),
        (SubgroupFidelityAudit, "min_rows", 1),
    ],
)
def test_bad_parameters_name_the_config_key(cls, key, value):
    with pytest.raises(ConfigError, match=rf"audit\.params\.{cls.name}\.{key}"):
        cls(**{key: value})


def test_columns_absent_from_synthetic_are_noted(known, schema):
    syn = known["fresh"].drop(columns=["creatinine"])
    sec = ColumnFidelityAudit(n_boot=10).run(_inputs(known, schema, syn))
    assert any("creatinine" in n for n in sec.notes)
    assert "creatinine" not in {row[0] for row in sec.tables[0].rows}


@pytest.mark.parametrize(("cls", "params"), _AUDITS, ids=[c.name for c, _ in _AUDITS])
def test_audits_run_without_a_holdout(known, schema, cls, params):
    inputs = AuditInputs(
        train=known["train"], holdout=known["holdout"].iloc[:0], synthetic=known["fresh"], schema=schema, n_jobs=1
    )
    sec = cls(**params).run(inputs)
    assert sec.skipped is None and {m.name for m in sec.metrics} == set(cls.provides)
    assert any("holdout" in n.lower() for n in sec.notes)
    _json_safe(sec)


def test_columns_datetime_only_table():
    # evenly spaced admissions over ten years (seconds resolution) against the same a year later (ns
    # resolution): KS = the share of points in one year = 0.1
    days = np.arange(0, 3650, 5).astype("timedelta64[D]")
    real = pd.DataFrame({"admit": pd.Series(np.datetime64("2015-01-01") + days).astype("datetime64[s]")})
    late = pd.DataFrame({"admit": (real["admit"] + pd.Timedelta(days=365)).astype("datetime64[ns]")})
    dt_schema = Schema((ColumnSpec("admit", ColumnKind.DATETIME),))
    inputs = AuditInputs(train=real, holdout=real.iloc[:0], synthetic=late, schema=dt_schema)
    sec = ColumnFidelityAudit(n_boot=10).run(inputs)
    assert sec.metric("fidelity.ks_mean").value == pytest.approx(0.1, abs=1e-9)
    assert "fidelity.tvd_mean" not in {m.name for m in sec.metrics}
    assert any("tvd_mean not computed" in n for n in sec.notes)
    edges = sec.figures[0].data["series"][0]["edges"]
    assert 2014.9 < edges[0] < edges[-1] < 2026.1  # shown in decimal years


def test_coverage_compares_datetimes_across_resolutions():
    days = np.arange(0, 3650, 5).astype("timedelta64[D]")
    real = pd.DataFrame({"admit": pd.Series(np.datetime64("2015-01-01") + days).astype("datetime64[s]")})
    same = pd.DataFrame({"admit": real["admit"].astype("datetime64[ns]")})
    dt_schema = Schema((ColumnSpec("admit", ColumnKind.DATETIME),))
    sec = CoverageAudit(n_boot=10).run(AuditInputs(train=real, holdout=real.iloc[:0], synthetic=same, schema=dt_schema))
    assert sec.metric("fidelity.coverage").value == 1.0 and sec.metric("fidelity.precision").value == 1.0
