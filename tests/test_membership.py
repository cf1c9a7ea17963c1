"""Known-answer tests of the membership-inference audit (distance, DOMIAS, shadow models)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth.audits import AuditInputs
from synth.audits.membership import MembershipAudit
from synth.errors import ConfigError, DataError
from synth.generators.base import Generator
from synth.neighbors.encoding import MixedEncoder


@pytest.fixture(scope="module")
def known(known_twins):
    """The population with natural duplicates: about 4 % of rows have an exact twin."""
    return known_twins


PER_ATTACK = ("auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr", "advantage", "epsilon_lower_bound")


# -- fake generators (fast stand-ins for the shadow attack; test-only) ----------------
class CopyingGenerator(Generator):
    """Total memorisation: sample() returns its training rows, each as often as n allows."""

    name = "test_copying"

    def fit(self, data: pd.DataFrame, schema) -> CopyingGenerator:
        self.schema = schema
        self._rows = data.reset_index(drop=True).copy()
        return self

    def sample(self, n, conditions=None, seed=None) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed if seed is None else seed)
        idx = np.resize(rng.permutation(len(self._rows)), n)
        return self._rows.iloc[idx].reset_index(drop=True)

    def save(self, path: Path) -> None:
        raise NotImplementedError("test fake")

    @classmethod
    def load(cls, path: Path, *, trusted: bool = False) -> Generator:
        raise NotImplementedError("test fake")


class MarginalsGenerator(CopyingGenerator):
    """No record survives: every column is drawn independently from its training marginal."""

    name = "test_marginals"

    def sample(self, n, conditions=None, seed=None) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed if seed is None else seed)
        return pd.DataFrame({
            c: self._rows[c].iloc[rng.integers(0, len(self._rows), n)].reset_index(drop=True) for c in self._rows.columns
        })


def _run(known, schema, synthetic, *, factory=None, seed=0, train=None, **params):
    inputs = AuditInputs(
        train=known["train"] if train is None else train, holdout=known["holdout"], synthetic=synthetic,
        schema=schema, seed=seed, generator_factory=factory,
    )
    return MembershipAudit(**params).run(inputs)


def _contains_half(metric) -> bool:
    return metric.ci.low <= 0.5 <= metric.ci.high


@pytest.fixture(scope="module")
def copy_section(known, schema):
    return _run(known, schema, known["copy"], attacks=["distance", "domias"])


@pytest.fixture(scope="module")
def fresh_section(known, schema):
    return _run(known, schema, known["fresh"], attacks=["distance", "domias"])


# -- known answers ----------------------------------------------------------------------
def test_copies_are_detected(copy_section):
    # ~4 % of the records are standard records with natural twins in the reference: their
    # copies single nobody out, so the calibrated attack does not count them.
    auc = copy_section.metric("membership.distance.auc")
    assert auc.value > 0.95 and auc.ci.low > 0.9
    head = copy_section.metric("membership.auc")
    assert head.value > 0.95 and head.ci.low > 0.9
    assert head.threat_model == copy_section.metric(f"membership.{head.details['attack']}.auc").threat_model
    assert head.ci.level == pytest.approx(1 - 0.05 / 2)  # Bonferroni over the two attacks
    assert copy_section.metric("membership.epsilon_lower_bound").value > 2.0
    assert copy_section.metric("membership.distance.tpr_at_1pct_fpr").value > 0.8
    assert copy_section.metric("membership.distance.advantage").value > 0.9
    assert copy_section.metric("membership.distance.epsilon_lower_bound").value > 2.0


def test_fresh_population_draws_are_chance(fresh_section):
    for attack in ("distance", "domias"):
        auc = fresh_section.metric(f"membership.{attack}.auc")
        assert _contains_half(auc), (attack, auc.value, auc.ci)
        assert fresh_section.metric(f"membership.{attack}.epsilon_lower_bound").value < 0.5
    assert _contains_half(fresh_section.metric("membership.auc"))


def test_noisy_copies_are_detected(known, schema):
    section = _run(known, schema, known["noisy"], attacks=["distance"])
    assert section.metric("membership.distance.auc").value > 0.8


def test_domias_detects_a_generator_that_piles_mass_on_its_training_records(known, schema):
    # 200 training rows, each re-emitted 20 times with small jitter: the synthetic density
    # peaks at the members, which the density ratio in the full encoded space sees.
    train = known["train"].iloc[:200]
    rng = np.random.default_rng(0)
    synthetic = pd.concat([train] * 20, ignore_index=True)
    for col in ("bmi", "sbp"):
        synthetic[col] = synthetic[col] + rng.normal(0, 0.05 * train[col].std(), len(synthetic))
    section = _run(known, schema, synthetic, train=train, attacks=["domias"])
    auc = section.metric("membership.domias.auc")
    assert auc.ci.low > 0.6, (auc.value, auc.ci)
    assert auc.details["dims"] == MixedEncoder(schema).fit(train).transform(train).shape[1]  # the full encoding


def test_shadow_attack_catches_a_copying_generator(known, schema):
    section = _run(known, schema, known["copy"], factory=lambda: CopyingGenerator(seed=1), attacks=["shadow"])
    auc = section.metric("membership.shadow.auc")
    assert auc.value > 0.95 and auc.ci.low > 0.9
    assert auc.details["shadow_cv_auc"] > 0.9  # also on held-out shadow generators
    assert auc.details["n_shadows"] == 8 and auc.details["n_targets"] == 500  # 250 members, 250 non-members
    assert auc.details["n_members"] == auc.details["n_nonmembers"] == 250  # the numbers are over targets
    assert "generator's training algorithm" in " ".join(auc.threat_model.attacker_has)


def test_shadow_attack_is_chance_against_independent_marginals(known, schema):
    fitted = MarginalsGenerator(seed=2).fit(known["train"], schema)
    synthetic = fitted.sample(len(known["train"]), seed=2)
    section = _run(known, schema, synthetic, factory=lambda: MarginalsGenerator(seed=1), attacks=["shadow"])
    auc = section.metric("membership.shadow.auc")
    assert _contains_half(auc) and abs(auc.value - 0.5) < 0.1, (auc.value, auc.ci)


def test_shadow_attack_skipped_without_a_factory(known, schema):
    section = _run(known, schema, known["fresh"], attacks=["distance", "shadow"])
    assert section.skipped is None
    names = {m.name for m in section.metrics}
    assert "membership.distance.auc" in names
    assert not any(n.startswith("membership.shadow.") for n in names)
    assert any("Shadow-model attack not run" in n for n in section.notes)
    only_shadow = _run(known, schema, known["fresh"], attacks=["shadow"])
    assert only_shadow.skipped and "generator factory" in only_shadow.skipped and not only_shadow.metrics


# -- contract: structure, intervals, threat models, no raw records ------------------------
def test_every_metric_has_interval_and_threat_model(copy_section):
    names = {m.name for m in copy_section.metrics}
    expected = {"membership.auc", "membership.epsilon_lower_bound"} | {
        f"membership.{a}.{s}" for a in ("distance", "domias") for s in PER_ATTACK}
    assert names == expected
    for m in copy_section.metrics:
        assert m.ci is not None and m.threat_model is not None, m.name
        assert m.family == "membership"
        assert m.ci.low <= m.value <= m.ci.high + 1e-12, m.name
    json.dumps(copy_section.to_dict(), allow_nan=False)  # strict JSON: no NaN/inf leaks


def test_figure_and_table(copy_section):
    (figure,) = copy_section.figures
    assert figure.kind == "roc"
    assert [c["label"] for c in figure.data["curves"]] == ["distance", "domias"]
    for curve in figure.data["curves"]:
        assert len(curve["fpr"]) == len(curve["tpr"]) <= 200
    (table,) = copy_section.tables
    assert [r[0] for r in table.rows] == ["distance", "domias"]
    assert len(table.columns) == len(table.rows[0]) == 5


def test_low_fpr_caution_with_few_nonmembers(copy_section):
    m = copy_section.metric("membership.distance.tpr_at_0.1pct_fpr")
    assert m.details["allowed_false_positives"] == 0 and "unreliable" in m.details["caution"]
    assert m.details["lowest_reliable_fpr"] == pytest.approx(10 / 500)  # every holdout record is a non-member
    assert m.ci.method.startswith("clopper-pearson")
    assert any("lowest false-positive rate" in n and "2.00%" in n for n in copy_section.notes)


def _numbers(node) -> list[float]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _numbers(v)]
    if isinstance(node, list):
        return [x for v in node for x in _numbers(v)]
    return [float(node)] if isinstance(node, (int, float)) and not isinstance(node, bool) else []


def test_output_carries_no_raw_records(known, copy_section):
    # Aggregates only: no training record's bmi or sbp (values around 15-45 and 90-200,
    # far from rates, AUCs, epsilons and row counts) shows up anywhere in the output.
    numbers = set(_numbers(copy_section.to_dict()))
    # bmi values with a decimal part (whole numbers could be counts such as true positives)
    raw = {v for v in known["train"]["bmi"].astype(float) if v != int(v)}
    assert not numbers & raw


def test_evaluation_sizes_and_reproducibility(known, schema):
    a = _run(known, schema, known["noisy"], attacks=["distance"], max_eval_rows=100, n_boot=50)
    b = _run(known, schema, known["noisy"], attacks=["distance"], max_eval_rows=100, n_boot=50)
    details = a.metric("membership.auc").details
    assert details["n_members"] == details["n_nonmembers"] == 100
    assert [m.to_dict() for m in a.metrics] == [m.to_dict() for m in b.metrics]


def test_every_holdout_record_is_a_non_member_scored_against_the_other_folds(known, schema, monkeypatch):
    seen: list[pd.Index] = []
    original = MixedEncoder.fit

    def spy(self, frame):
        seen.append(frame.index)
        return original(self, frame)

    monkeypatch.setattr(MixedEncoder, "fit", spy)
    section = _run(known, schema, known["fresh"], attacks=["distance"], n_boot=20)
    (index,) = seen  # the attacker's encoding is fitted on the synthetic data, never on training data
    assert index.equals(known["fresh"].index)
    details = section.metric("membership.auc").details
    assert details["n_nonmembers"] == len(known["holdout"]) == details["n_members"]


def test_reference_folds_never_hold_the_scored_person():
    from synth.audits.membership.design import cross_fitted, reference_rows
    from synth.neighbors.persons import persons

    who = persons(None, None, 300, 100)
    ev = cross_fitted(who, max_eval=1000, n_folds=5, seed=3)
    assert ev.nonmembers.size == ev.members.size == 100
    for f in range(5):
        ref = set(reference_rows(who, ev, f) + 300)  # holdout rows carry codes from 300 on
        assert not ref & set(ev.nonmembers[ev.nonmember_fold == f])
        assert len(ref) == 80


def test_inputs_are_not_mutated(known, schema):
    frames = {k: known[k].copy(deep=True) for k in ("train", "holdout", "copy")}
    _run(known, schema, known["copy"], factory=lambda: CopyingGenerator(seed=1), n_boot=20, n_shadows=4)
    for k, before in frames.items():
        pd.testing.assert_frame_equal(known[k], before)


# -- user errors -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"attacks": ["distanse"]}, "Did you mean 'distance'"),
        ({"attacks": "distance"}, "list of attack names"),
        ({"attacks": ["distance", "distance"]}, "twice"),
        ({"n_folds": 1}, "n_folds: expected a whole number from 2 to 20"),
        ({"n_shadows": 3}, "n_shadows: expected a whole number >= 4"),
        ({"max_eval_rows": 2.5}, "max_eval_rows"),
        ({"n_boot": True}, "n_boot"),
    ],
)
def test_bad_parameters_name_the_key(params, fragment):
    with pytest.raises(ConfigError, match="audit.params.membership") as err:
        MembershipAudit(**params)
    assert fragment in str(err.value)


def test_missing_synthetic_column_names_it(known, schema):
    with pytest.raises(DataError, match="synthetic data lacks column.*'bmi'"):
        _run(known, schema, known["copy"].drop(columns=["bmi"]), attacks=["distance"])


def test_tiny_holdout_is_skipped_with_the_fix(known, schema):
    inputs = AuditInputs(known["train"], known["holdout"].head(10), known["copy"], schema)
    section = MembershipAudit(attacks=["distance"]).run(inputs)
    assert section.skipped and "10 records" in section.skipped and not section.metrics


def test_scores_sharing_a_calibrating_record_form_one_cluster():
    # Persons 0..3 evaluated, holdout persons 4 and 5 calibrate them (closest reference
    # record): 0 and 1 share person 4, 2 is calibrated by 5, and 3 by person 2 itself. The
    # clusters are the connected components: {0, 1} and {2, 3}; natural twins (0 and 3
    # identical) join them into one.
    from synth.audits.membership.audit import _linked_clusters

    evaluated, owner, linked = np.arange(4), np.arange(4), np.array([4, 4, 5, 2])
    c = _linked_clusters(np.array([7, 8, 9, 10]), evaluated, owner, linked, 6)
    assert c[0] == c[1] and c[2] == c[3] and c[0] != c[2]
    c = _linked_clusters(np.array([7, 8, 9, 7]), evaluated, owner, linked, 6)
    assert len(set(c.tolist())) == 1
