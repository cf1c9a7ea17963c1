"""The anonymeter audit: known answers, sharp edges of anonymeter's inputs, user errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
from anonymeter.evaluators.singling_out_evaluator import _evaluate_queries, _query_from_record

from synth.audits.base import AuditInputs
from synth.audits.privacy.anonymeter.audit import AnonymeterAudit
from synth.audits.privacy.anonymeter.frames import MISSING_LEVEL, prepare_frames
from synth.audits.runner import build_audits
from synth.errors import ConfigError, DataError
from synth.registry import audit_class
from synth.schema import ColumnKind, ColumnSpec, Role, Schema

RISKS = ("privacy.singling_out_risk", "privacy.linkability_risk", "privacy.inference_risk")


def _run(known, schema, synthetic, **params):
    inputs = AuditInputs(train=known["train"], holdout=known["holdout"], synthetic=synthetic, schema=schema, seed=0,
                         n_jobs=1)
    return AnonymeterAudit(n_attacks=200, singling_out_max_attempts=20_000, **params).run(inputs)


@pytest.fixture(scope="module")
def copy_section(known, schema):
    return _run(known, schema, known["copy"])


@pytest.fixture(scope="module")
def fresh_section(known, schema):
    return _run(known, schema, known["fresh"])


def test_registered_under_its_entry_point():
    assert audit_class("anonymeter") is AnonymeterAudit


def test_copy_generator_risks_are_clearly_above_zero(copy_section):
    assert copy_section.skipped is None
    assert [m.name for m in copy_section.metrics] == list(RISKS)
    assert copy_section.metric("privacy.singling_out_risk").ci.low > 0
    inference = copy_section.metric("privacy.inference_risk")
    assert inference.ci.low > 0
    # The training rows *are* the synthetic rows: guessing from them beats guessing for holdout rows.
    worst = inference.details["per_secret"][inference.details["secret"]]
    assert worst["attack_rate"]["value"] > worst["control_rate"]["value"] + 0.05


def test_fresh_draws_carry_little_or_no_risk(fresh_section):
    for name in RISKS:
        m = fresh_section.metric(name)
        assert m.ci.low == 0.0 or m.value < 0.1, (name, m.value, m.ci)


def test_every_risk_has_interval_threat_model_and_rates(copy_section):
    for m in copy_section.metrics:
        assert m.ci is not None and m.ci.low <= m.value <= m.ci.high
        assert m.threat_model is not None and "the synthetic data" in m.threat_model.attacker_has
        for rate in ("attack_rate", "baseline_rate", "control_rate"):
            assert 0.0 <= m.details[rate]["value"] <= 1.0
        assert m.better == "lower" and m.passing
    link = copy_section.metric("privacy.linkability_risk").threat_model
    assert any("two disjoint sets" in a for a in link.attacker_has)
    singling = copy_section.metric("privacy.singling_out_risk")
    assert singling.threat_model.attacker_has == ("the synthetic data",)
    assert set(singling.details) >= {"univariate", "multivariate", "mode"}
    json.dumps(copy_section.to_dict())  # JSON-safe


def test_default_columns_follow_the_schema_roles(copy_section):
    link = copy_section.metric("privacy.linkability_risk")
    assert link.details["aux_cols"] == [["age", "sex"], ["race"]]  # QIs split in two halves
    per_secret = copy_section.metric("privacy.inference_risk").details["per_secret"]
    assert set(per_secret) == {"outcome", "sex", "race"}  # target + sensitive attributes
    assert per_secret["sex"]["aux_cols"] == ["age", "race"]  # QIs minus the secret
    assert per_secret["outcome"]["regression"] is False


def test_attack_no_better_than_baseline_is_reported_not_swallowed(copy_section):
    """Two coarse QI halves tie everywhere: linkability finds nothing, and says so."""
    link = copy_section.metric("privacy.linkability_risk")
    assert link.details["attack_beats_baseline"] is False
    assert any("linkability" in n and "no better than anonymeter's random baseline" in n for n in copy_section.notes)
    assert any("anonymeter warned: Attack is as good or worse as baseline" in n for n in copy_section.notes)


def test_linkability_on_copies_with_informative_columns(known, schema):
    section = _run(known, schema, known["copy"], linkability_aux_cols=[["age", "bmi"], ["sbp", "creatinine"]],
                   secrets=["outcome"])
    assert section.metric("privacy.linkability_risk").ci.low > 0.5


def test_engines_give_identical_inference_counts(known, schema):
    a = _run(known, schema, known["noisy"], secrets=["race", "bmi"], engine="synth")
    b = _run(known, schema, known["noisy"], secrets=["race", "bmi"], engine="anonymeter")
    per_a = a.metric("privacy.inference_risk").details["per_secret"]
    per_b = b.metric("privacy.inference_risk").details["per_secret"]
    for secret in ("race", "bmi"):
        keys = ("n_success", "n_baseline", "n_control", "risk", "ci")
        assert {k: per_a[secret][k] for k in keys} == {k: per_b[secret][k] for k in keys}
    assert per_a["bmi"]["regression"] is True


def _awkward(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Odd column names, NaNs in every kind, quotes in a category, datetimes, nullable dtypes."""
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({
        "patient age (years)": frame["age"].to_numpy(),  # Int64
        "sex / gender #": frame["sex"].to_numpy(dtype=object),
        "race-ethnicity": frame["race"].replace({"other": "O'Neil \"other\""}).to_numpy(dtype=object),
        "class": frame["diabetes"].to_numpy(),  # a keyword as a name; pandas boolean
        "admitted at": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, len(frame)), unit="D"),
        "creatinine": frame["creatinine"].to_numpy(),
        "outcome": frame["outcome"].to_numpy(),
    })
    out["patient age (years)"] = pd.array(out["patient age (years)"], dtype="Int64")
    out["class"] = pd.array(out["class"], dtype="boolean")
    mask = rng.random(len(out)) < 0.05
    out.loc[mask, "sex / gender #"] = np.nan
    out.loc[rng.random(len(out)) < 0.05, "patient age (years)"] = pd.NA
    out.loc[rng.random(len(out)) < 0.05, "class"] = pd.NA
    out.loc[rng.random(len(out)) < 0.05, "admitted at"] = pd.NaT
    return out


def _awkward_schema() -> Schema:
    qi = frozenset({Role.QUASI_IDENTIFIER})
    return Schema((
        ColumnSpec("patient age (years)", ColumnKind.INTEGER, nullable=True, roles=qi),
        ColumnSpec("sex / gender #", ColumnKind.CATEGORICAL, nullable=True, roles=frozenset({Role.SENSITIVE, *qi})),
        ColumnSpec("race-ethnicity", ColumnKind.CATEGORICAL, roles=qi),
        ColumnSpec("class", ColumnKind.BOOLEAN, nullable=True),
        ColumnSpec("admitted at", ColumnKind.DATETIME, nullable=True, roles=qi),
        ColumnSpec("creatinine", ColumnKind.NUMERIC, nullable=True),
        ColumnSpec("outcome", ColumnKind.CATEGORICAL, roles=frozenset({Role.TARGET})),
    ))


def test_awkward_names_nans_quotes_datetimes_and_nullable_dtypes(known):
    train, holdout, synthetic = (_awkward(known[k], i) for i, k in enumerate(("train", "holdout", "fresh")))
    originals = [f.copy(deep=True) for f in (train, holdout, synthetic)]
    inputs = AuditInputs(train=train, holdout=holdout, synthetic=synthetic, schema=_awkward_schema(), seed=3, n_jobs=1)
    section = AnonymeterAudit(n_attacks=150, singling_out_max_attempts=20_000).run(inputs)
    assert [m.name for m in section.metrics] == list(RISKS)
    for m in section.metrics:
        assert np.isfinite(m.value) and np.isfinite(m.ci.low) and np.isfinite(m.ci.high)
    per_secret = section.metric("privacy.inference_risk").details["per_secret"]
    assert set(per_secret) == {"outcome", "sex / gender #"}  # names mapped back
    assert section.metric("privacy.linkability_risk").details["aux_cols"] == [
        ["patient age (years)", "sex / gender #"], ["race-ethnicity", "admitted at"]
    ]
    text = json.dumps(section.to_dict())
    assert "O'Neil" not in text  # no raw category value leaks into the report
    for before, after in zip(originals, (train, holdout, synthetic)):  # inputs untouched
        pd.testing.assert_frame_equal(before, after)


def test_inputs_are_not_mutated(known, schema):
    frames = {k: known[k].copy(deep=True) for k in ("train", "holdout", "noisy")}
    _run(known, schema, known["noisy"], secrets=["outcome"])
    for k, before in frames.items():
        pd.testing.assert_frame_equal(before, known[k])


def test_prepared_frames_defuse_anonymeters_sharp_edges(known):
    train = _awkward(known["train"], 0)
    prepared = prepare_frames(train, train, train, _awkward_schema())
    ori = prepared.ori
    assert list(ori.columns) == [f"c{i}" for i in range(7)]
    assert prepared.original("c1") == "sex / gender #"
    assert ori[prepared.safe("patient age (years)")].dtype == np.float64
    assert ori[prepared.safe("admitted at")].dtype == np.float64  # days since 1970
    assert ori[prepared.safe("admitted at")].min() >= 18262  # 2020-01-01
    sex = ori[prepared.safe("sex / gender #")]
    assert sex.dtype == object and (sex == MISSING_LEVEL).sum() == train["sex / gender #"].isna().sum()
    assert not ori[prepared.safe("class")].isna().any()
    # The quoted category, which anonymeter's query builder escapes into a value that never
    # matches, is a plain code now, so a record holding it can be singled out.
    race = prepared.safe("race-ethnicity")
    quoted = train["race-ethnicity"].str.contains("O'Neil").to_numpy()
    df = pl.DataFrame(ori[[race]])
    record = df.row(int(np.flatnonzero(quoted)[0]), named=True)
    query = _query_from_record(record, {race: pl.String}, [race], None, np.random.default_rng(0))
    assert _evaluate_queries(df, [query])[0] == quoted.sum()
    raw = pl.DataFrame({race: train["race-ethnicity"].to_numpy()})
    raw_query = _query_from_record({race: "O'Neil \"other\""}, {race: pl.String}, [race], None, np.random.default_rng(0))
    assert _evaluate_queries(raw, [raw_query])[0] == 0  # anonymeter's own bug, defused above


def test_time_zones_count_days_in_utc():
    schema = Schema((ColumnSpec("t", ColumnKind.DATETIME),))
    aware = pd.DataFrame({"t": pd.to_datetime(["1970-01-02 01:00"]).tz_localize("Europe/Berlin")})
    naive = pd.DataFrame({"t": pd.to_datetime(["1970-01-03"])})
    prepared = prepare_frames(aware, naive, naive, schema)
    assert prepared.ori["c0"].iloc[0] == pytest.approx(1.0)  # 00:00 UTC on 2 January
    assert prepared.syn["c0"].iloc[0] == 2.0


def test_numeric_column_with_text_is_a_data_error(known, schema):
    bad = known["fresh"].copy()
    bad["bmi"] = bad["bmi"].astype(object)
    bad.loc[3, "bmi"] = "n/a"
    with pytest.raises(DataError, match="'bmi'.*synthetic.*'n/a'"):
        _run(known, schema, bad)


def test_missing_column_is_a_data_error(known, schema):
    with pytest.raises(DataError, match="'sbp'.*synthetic"):
        _run(known, schema, known["fresh"].drop(columns=["sbp"]))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"engine": "anonymeterr"}, "engine.*Did you mean 'anonymeter'"),
        ({"n_attacks": 0}, "n_attacks"),
        ({"secrets": "outcome"}, "secrets: expected a list"),
        ({"linkability_aux_cols": [["age"], ["age", "sex"]]}, "disjoint"),
        ({"confidence_level": 1.5}, "confidence_level"),
    ],
)
def test_bad_parameters_name_the_key(params, match):
    with pytest.raises(ConfigError, match=match):
        AnonymeterAudit(**params)


def test_unknown_secret_names_the_key(known, schema):
    with pytest.raises(ConfigError, match="secrets: 'outcom'.*Did you mean 'outcome'"):
        _run(known, schema, known["fresh"], secrets=["outcom"])
    with pytest.raises(ConfigError, match="n_atacks.*Did you mean 'n_attacks'"):
        build_audits(["anonymeter"], {"anonymeter": {"n_atacks": 10}})


def test_too_few_rows_is_skipped_with_a_reason(known, schema):
    inputs = AuditInputs(train=known["train"], holdout=known["holdout"].iloc[:1], synthetic=known["fresh"],
                         schema=schema)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        section = AnonymeterAudit().run(inputs)
    assert section.skipped and "holdout" in section.skipped
