"""Known-answer tests of the memorisation audit (exact copies, DCR share, NNDR, NNAA, exposure)."""

from __future__ import annotations

import json
from math import comb

import numpy as np
import pandas as pd
import pytest

from synth.audits.base import AuditInputs
from synth.audits.privacy.dcr import count_within, dcr_share, dcr_share_from_distances, nndr
from synth.audits.privacy.exact_copies import copy_excess, match_counts, row_hashes
from synth.audits.privacy.exposure import exposure_excess
from synth.audits.privacy.exposure import exposure_ranking, exposure_ratios
from synth.audits.privacy.memorization import MemorizationAudit
from synth.audits.runner import build_audits, run_audits
from synth.errors import ConfigError, DataError
from synth.neighbors.encoding import MixedEncoder
from synth.schema import ColumnKind, ColumnSpec, Schema


@pytest.fixture(scope="module")
def known(known_twins):
    """The population with natural duplicates: about 4 % of rows have an exact twin."""
    return known_twins


def _run(known, schema, generated: str, **params):
    inputs = AuditInputs(train=known["train"], holdout=known["holdout"], synthetic=known[generated], schema=schema, seed=3)
    return MemorizationAudit(**params).run(inputs)


@pytest.fixture(scope="module")
def sections(known, schema):
    return {g: _run(known, schema, g) for g in ("copy", "fresh", "noisy")}


# -- known answers on the population -------------------------------------------------


def test_copy_generator_is_caught(sections):
    s = sections["copy"]
    assert s.metric("privacy.exact_copy_rate").value == pytest.approx(1.0)
    # natural twins: a few training rows are standard records the holdout holds too
    assert s.metric("privacy.exact_copy_rate_holdout").value < 0.05
    assert s.metric("privacy.exact_copy_excess").ci.low > 0.5
    assert s.metric("privacy.exposure_excess").ci.low > 0.5
    assert s.metric("privacy.dcr_share").value > 0.97
    assert s.metric("privacy.dcr_share").ci.low > 0.9
    assert s.metric("privacy.dcr_share").details["p_value_one_sided"] < 1e-6
    assert s.metric("privacy.dcr_baseline_ratio").ci.high < 0.1
    assert s.metric("privacy.nnaa").value < 0.05
    assert s.metric("privacy.nnaa_privacy_loss").ci.low > 0.3


def test_fresh_draws_pass(sections):
    s = sections["fresh"]
    share = s.metric("privacy.dcr_share")
    assert share.ci.low <= 0.5 <= share.ci.high
    assert share.ci.high <= 0.6  # the default gate passes
    # fresh rows match the standard records the training data holds (natural twins) ...
    assert 0 < s.metric("privacy.exact_copy_rate").value < 0.06
    # ... and match the holdout's just as often: no excess
    excess = s.metric("privacy.exact_copy_excess")
    assert excess.ci.low <= 0 <= excess.ci.high
    exposure = s.metric("privacy.exposure_excess")
    assert exposure.ci.low <= 0 <= exposure.ci.high
    assert 0.85 < s.metric("privacy.dcr_baseline_ratio").value < 1.15
    assert 0.85 < s.metric("privacy.nndr_ratio").value < 1.15
    assert abs(s.metric("privacy.nnaa").value - 0.5) < 0.05
    loss = s.metric("privacy.nnaa_privacy_loss")
    assert loss.ci.low < 0.05 and loss.ci.high > -0.05


def test_noisy_copies_escape_exact_matching_but_not_dcr(sections):
    s = sections["noisy"]
    assert s.metric("privacy.exact_copy_rate").value == 0.0
    assert s.metric("privacy.exact_copy_excess").ci.low <= 0
    assert s.metric("privacy.exposure_excess").ci.low > 0.5  # ... but the records are still pointed at
    assert s.metric("privacy.dcr_share").ci.low > 0.9
    assert s.metric("privacy.dcr_baseline_ratio").ci.high < 0.2
    assert s.metric("privacy.nndr_ratio").ci.high < 0.2
    assert s.metric("privacy.nnaa_privacy_loss").ci.low > 0.3


def test_every_metric_has_interval_threat_model_and_json(sections):
    for s in sections.values():
        assert {m.name for m in s.metrics} == set(MemorizationAudit.provides)
        for m in s.metrics:
            assert m.ci is not None and m.ci.low - 1e-12 <= m.value <= m.ci.high + 1e-12, m.name
            assert m.threat_model is not None and "the synthetic data" in m.threat_model.attacker_has
            assert m.passing
        json.dumps(s.to_dict())


def test_figure_is_histograms_on_shared_edges(sections):
    fig = sections["fresh"].figures[0]
    assert fig.kind == "histograms"
    series = fig.data["series"]
    assert len(series) == 3
    assert all(s["edges"] == series[0]["edges"] for s in series)
    for s in series:
        assert len(s["counts"]) == len(s["edges"]) - 1
        assert sum(s["counts"]) == pytest.approx(1.0)


def test_exposure_ranking_names_rows_by_index_only(known, schema):
    train = known["train"].copy()
    train.index = pd.Index([f"patient-{i:05d}" for i in range(len(train))])
    synthetic = known["copy"].iloc[:50]  # copies of the first 50 training rows
    s = MemorizationAudit(top_n=10).run(
        AuditInputs(train=train, holdout=known["holdout"], synthetic=synthetic, schema=schema)
    )
    table = s.tables[0]
    assert table.columns[1] == "training row"
    labels = [row[1] for row in table.rows]
    assert len(labels) == 10
    assert set(labels) <= set(train.index[:50])  # the copied records are the exposed ones
    assert all(row[2] == 0.0 for row in table.rows)
    # no record values anywhere in the section: only labels, ratios and distances
    text = json.dumps(s.to_dict())
    for level in ("white", "black", "asian", '"F"', '"M"'):
        assert level not in text
    for row in table.rows:
        assert all(isinstance(v, (int, float)) for v in (row[0], row[2], row[3], row[4]))


def test_inputs_are_not_mutated(known, schema):
    frames = {k: known[k].copy(deep=True) for k in ("train", "holdout", "noisy")}
    MemorizationAudit(n_boot=20).run(
        AuditInputs(train=known["train"], holdout=known["holdout"], synthetic=known["noisy"], schema=schema)
    )
    for k, before in frames.items():
        pd.testing.assert_frame_equal(known[k], before)
        assert known[k].index.equals(before.index)


def test_metric_parameter_changes_distances(known, schema):
    a = _run(known, schema, "noisy", n_boot=20, metric="mean_abs")
    assert a.metric("privacy.dcr_share").details["metric"] == "mean_abs"
    assert a.metric("privacy.dcr_share").ci.low > 0.9


# -- exact copies -------------------------------------------------------------------


def _mini_schema() -> Schema:
    return Schema((
        ColumnSpec("x", ColumnKind.NUMERIC, nullable=True),
        ColumnSpec("n", ColumnKind.INTEGER),
        ColumnSpec("c", ColumnKind.CATEGORICAL),
    ))


def test_row_hashes_canonicalise_missing_and_number_types():
    sch = _mini_schema()
    a = pd.DataFrame({"x": [1.5, np.nan, 0.0, 2.0], "n": pd.array([3, 4, 5, 6], dtype="Int64"), "c": ["a", "b", "a", None]})
    b = pd.DataFrame({"x": [1.5, np.nan, -0.0, 2.0000001], "n": [3.0, 4.0, 5.0, 6.0], "c": ["a", "b", "a", np.nan]})
    ha, hb = row_hashes(a, sch, ["x", "n", "c"]), row_hashes(b, sch, ["x", "n", "c"])
    assert list(ha[:3] == hb[:3]) == [True, True, True]  # NaN == NaN, Int64 3 == 3.0, -0.0 == 0.0
    assert ha[3] != hb[3]  # floats are compared as they are: no rounding
    # a missing category is not the string "None" or ""
    c = pd.DataFrame({"x": [2.0, 2.0], "n": [6, 6], "c": ["None", ""]})
    assert not np.isin(row_hashes(c, sch, ["x", "n", "c"]), ha[3:]).any()


def test_match_counts_counts_duplicates():
    ref = np.array([5, 7, 7, 9, 7], dtype=np.uint64)
    q = np.array([7, 1, 9, 5, 11], dtype=np.uint64)
    assert match_counts(q, ref).tolist() == [3, 0, 1, 1, 0]
    assert match_counts(q, np.zeros(0, dtype=np.uint64)).tolist() == [0] * 5


def test_copy_excess_exact_test_by_closed_form():
    # 10 persons, 5 in training; the synthetic rows reproduce 3 records that are unique in
    # the pool, all training records. Without memorisation the number of training records
    # among the 3 reproduced is hypergeometric: P(all 3) = C(5,3) / C(10,3) = 1/12.
    pool = np.arange(10, dtype=np.uint64) + 100  # ten distinct record values
    persons = np.arange(10)
    synthetic = np.array([100, 101, 102, 102], dtype=np.uint64)  # the third one copied twice: counts once
    value, ci, p, counts = copy_excess(synthetic, pool, persons, 5, 10, n_draws=20_000, seed=0)
    assert value == pytest.approx(3 / 4)  # 3 records beyond chance (each (1 - 1/2) / (1 - 1/2)) per 4 rows
    assert p == pytest.approx(comb(5, 3) / comb(10, 3), abs=0.006)
    assert counts == {"values_reproduced": 3, "unique_copies_train": 3, "unique_copies_holdout": 0}
    assert ci.low <= 0 < value <= ci.high  # p > 0.025: not significant
    # a record held by a training and a holdout person (natural twins) weighs nothing
    twins = np.r_[pool, np.uint64(100)]
    value, _, _, counts = copy_excess(np.array([100], dtype=np.uint64), twins, np.r_[persons, 7], 5, 10, seed=0)
    assert value == pytest.approx(0.0) and counts["unique_copies_train"] == 0
    # no reproduced record: not [0, 0], the Clopper-Pearson bound on 0 copies in 3 rows
    value, ci, p, _ = copy_excess(np.array([1, 2, 3], dtype=np.uint64), pool, persons, 5, 10)
    assert value == 0 and p == 1.0 and ci.high == pytest.approx(1 - 0.025 ** (1 / 3)) and ci.low < 0


def _grouped_copy_case(seed: int = 11):
    # A grouped table: 3,000 persons with 8 rows each, record values shared by varying
    # numbers of persons, so the persons' weights take thousands of distinct values and
    # the exact-copy test uses the normal shape with the exact split variance.
    rng = np.random.default_rng(seed)
    persons = np.repeat(np.arange(3000), 8)
    pool = (rng.random(persons.size) ** 2 * 3000).astype(np.uint64)
    return rng, persons, pool, rng.choice(np.unique(pool), 2000, replace=False)


def _split(rng, persons, pool):
    relabel = rng.permutation(3000)[persons]  # a fresh random split of the persons
    order = np.argsort(relabel, kind="stable")
    return pool[order], relabel[order]


def test_copy_excess_normal_shape_sees_a_wholesale_copy():
    rng, persons, pool, synthetic = _grouped_copy_case()
    pool_s, who = _split(rng, persons, pool)
    _, ci, p, _ = copy_excess(synthetic, pool_s, who, 2000, 3000)
    assert ci.method.startswith("permutation test over splits, normal") and ci.low <= 0 <= ci.high and p > 0.01
    # the generator replays 300 training persons' records: their values are reproduced
    copied = np.unique(pool_s[who < 300])
    _, ci, p, _ = copy_excess(np.r_[synthetic, copied], pool_s, who, 2000, 3000)
    assert ci.low > 0 and p < 0.01


@pytest.mark.slow
def test_copy_excess_normal_shape_keeps_its_level_by_simulation():
    # Known answer by simulation: over random splits (no memorisation) the p-value falls
    # below 0.05 in about 5 % of splits and the interval covers 0 in about 95 %.
    rng, persons, pool, synthetic = _grouped_copy_case()
    rejected, covered = [], []
    for _ in range(200):
        value, ci, p, _ = copy_excess(synthetic, *_split(rng, persons, pool), 2000, 3000)
        rejected.append(p <= 0.05)
        covered.append(ci.low <= 0 <= ci.high)
    assert ci.method.startswith("permutation test over splits, normal")
    assert 0.02 <= np.mean(rejected) <= 0.09
    assert np.mean(covered) >= 0.92


def test_exposure_excess_by_closed_form():
    # 5 training and 5 holdout persons; 3 exposed, all training: P = C(5,3) / C(10,3).
    r = exposure_excess(np.array([0.0, 0.05, 0.0, 2.0, 3.0]), np.array([1.0, 2.0, 0.5, 4.0, 1.0]))
    assert (r.exposed_train, r.exposed_holdout) == (3, 0)
    assert r.value == pytest.approx(0.6)
    assert r.p_value == pytest.approx(comb(5, 3) / comb(10, 3))
    assert r.ci.method == "newcombe"


def test_excess_compares_equal_sizes_on_coarse_data():
    """Coarse data duplicate naturally; training (2x the holdout) matches more often by size
    alone. The excess must not call that leakage; the naive rate difference would."""
    sch = Schema((ColumnSpec("a", ColumnKind.INTEGER), ColumnSpec("g", ColumnKind.CATEGORICAL)))

    def draw(n, seed):
        rng = np.random.default_rng(seed)
        return pd.DataFrame({"a": rng.integers(0, 150, n), "g": rng.choice(list("abcd"), n)})

    train, holdout, fresh = draw(1200, 1), draw(600, 2), draw(1500, 3)
    s = MemorizationAudit(n_boot=20).run(AuditInputs(train=train, holdout=holdout, synthetic=fresh, schema=sch))
    rate_t = s.metric("privacy.exact_copy_rate").value
    rate_h = s.metric("privacy.exact_copy_rate_holdout").value
    assert rate_t - rate_h > 0.15  # the naive difference looks like leakage
    excess = s.metric("privacy.exact_copy_excess")
    assert excess.ci.low <= 0 <= excess.ci.high
    # most rows tie here (distance 0 to both sets): the tie rule keeps the share honest
    share = s.metric("privacy.dcr_share")
    assert share.details["ties"] > 0.5 * len(fresh)
    assert share.ci.low <= 0.5 <= share.ci.high
    # ... and a generator replaying training rows is caught on the same coarse data
    replay = train.sample(1500, replace=True, random_state=0).reset_index(drop=True)
    s2 = MemorizationAudit(n_boot=20).run(AuditInputs(train=train, holdout=holdout, synthetic=replay, schema=sch))
    assert s2.metric("privacy.exact_copy_excess").ci.low > 0
    # copies that a holdout row duplicates anyway tie, so the share rises less than on
    # continuous data, but clearly
    assert s2.metric("privacy.dcr_share").ci.low > 0.55
    assert s2.metric("privacy.dcr_share").details["p_value_one_sided"] < 1e-6


# -- DCR functions ------------------------------------------------------------------


def test_dcr_share_weights_sizes_and_ties():
    # equal sizes: plain share, ties 1/2
    r = dcr_share_from_distances(np.array([0.1, 0.3, 0.2, 0.2]), np.array([0.2, 0.1, 0.2, 0.5]), 10, 10)
    assert (r.closer_to_train, r.closer_to_holdout, r.ties) == (2, 1, 1)
    assert r.value == pytest.approx(2.5 / 4)
    # training twice the holdout: the no-memorisation share 2/3 maps to 0.5
    d_t = np.r_[np.zeros(200), np.ones(100)]
    d_h = np.r_[np.ones(200), np.zeros(100)]
    r = dcr_share_from_distances(d_t, d_h, 1000, 500)
    assert r.raw_share == pytest.approx(2 / 3) and r.null_share == pytest.approx(2 / 3)
    assert r.value == pytest.approx(0.5)
    assert r.ci.low < 0.5 < r.ci.high
    assert r.p_value > 0.4
    assert dcr_share_from_distances(np.zeros(5), np.ones(5), 1000, 500).value == pytest.approx(1.0)


def test_dcr_share_on_arrays_counts_tied_rows():
    # training: 3 rows at the origin, holdout: 1 row there; a synthetic row at the origin
    # ties (distance 0) and scores 3 / (3 + 1)
    train = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    holdout = np.array([[0.0, 0.0], [9.0, 9.0]])
    r = dcr_share(np.array([[0.0, 0.0]]), train, holdout)
    assert r.ties == 1 and r.raw_share == pytest.approx(0.75)


def test_count_within_matches_brute_force():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 3, (300, 2)).astype(float)  # 9 distinct points, many duplicates
    q = rng.integers(0, 3, (40, 2)).astype(float)
    radius = rng.choice([0.0, 1.0, 1.5], 40)
    brute = (np.sqrt(((q[:, None, :] - ref[None]) ** 2).sum(-1)) <= radius[:, None] + 1e-9).sum(1)
    assert count_within(q, ref, radius).tolist() == brute.tolist()


def test_nndr_and_exposure_conventions():
    assert nndr(np.array([0.0, 1.0, 0.0]), np.array([0.0, 2.0, 3.0])).tolist() == [1.0, 0.5, 0.0]
    assert exposure_ratios(np.array([0.0, 0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0, 4.0])).tolist() == [1.0, 0.0, np.inf, 0.5]


def test_exposure_ranking_on_arrays(known, schema):
    train = known["train"]
    enc = MixedEncoder(schema).fit(train)
    t = enc.transform(train)
    s = enc.transform(known["noisy"].iloc[[7, 400]])
    r = exposure_ranking(t, s, train.index, top_n=2)
    assert sorted(r.labels) == sorted([train.index[7], train.index[400]])
    assert np.all(r.ratios < 0.1)
    assert r.to_frame().columns.tolist() == ["row", "ratio", "distance_to_closest_synthetic",
                                            "distance_to_closest_other_training"]


# -- parameters and input errors ----------------------------------------------------


def test_parameters_are_checked():
    with pytest.raises(ConfigError, match="metric.*cityblock"):
        MemorizationAudit(metric="manhattan")
    with pytest.raises(ConfigError, match="top_n"):
        MemorizationAudit(top_n=-1)
    with pytest.raises(ConfigError, match="n_boot"):
        MemorizationAudit(n_boot=2.5)


def test_config_params_reach_the_audit_and_unknown_key_is_an_error(known, schema):
    inputs = AuditInputs(train=known["train"].iloc[:200], holdout=known["holdout"].iloc[:100],
                         synthetic=known["fresh"].iloc[:200], schema=schema)
    (audit,) = build_audits(["memorization"], {"memorization": {"top_n": 3, "n_boot": 20}})
    assert len(run_audits([audit], inputs)[0].tables[0].rows) == 3
    with pytest.raises(ConfigError, match="Did you mean 'top_n'"):
        build_audits(["memorization"], {"memorization": {"topn": 3}})


def test_missing_column_is_a_data_error(known, schema):
    synthetic = known["fresh"].drop(columns=["bmi"])
    with pytest.raises(DataError, match="synthetic data has no column 'bmi'"):
        MemorizationAudit().run(AuditInputs(train=known["train"], holdout=known["holdout"], synthetic=synthetic, schema=schema))


def test_tiny_holdout_is_skipped_with_reason(known, schema):
    s = MemorizationAudit().run(
        AuditInputs(train=known["train"], holdout=known["holdout"].iloc[:1], synthetic=known["fresh"], schema=schema)
    )
    assert s.skipped and "holdout (1)" in s.skipped and not s.metrics
