"""A person, not a row, is what the privacy audits protect (data.group).

The known answer: patients with several near-identical ICU stays, and a generator that
near-copies 2 % of the training stays. Per person, a near-copy of one stay sits far closer
to that patient than any *other* patient's record: a leak. Row by row, the patient's own
other stays sit right beside the copy and hide it, so the same data would read "no leak".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synth
from population import make_grouped_population, population_schema
from synth.audits.base import AuditInputs
from synth.audits.membership import MembershipAudit
from synth.neighbors.persons import persons
from synth.audits.privacy.memorization import MemorizationAudit
from synth.errors import DataError

COLUMNS = population_schema().names


@pytest.fixture(scope="module")
def stays():
    real = make_grouped_population(1200, seed=5)  # about 3,000 stays
    people = real["subject_id"].unique()
    held = np.random.default_rng(0).permutation(people)[: len(people) // 4]
    holdout = real[real["subject_id"].isin(held)].reset_index(drop=True)
    train = real[~real["subject_id"].isin(held)].reset_index(drop=True)
    fresh = make_grouped_population(1200, seed=6)[COLUMNS]
    rng = np.random.default_rng(1)
    leaked = fresh.copy()
    picks = rng.choice(len(train), int(0.02 * len(fresh)), replace=False)
    rows = rng.choice(len(fresh), picks.size, replace=False)
    copies = train.iloc[picks][COLUMNS].reset_index(drop=True)
    for col in ("bmi", "sbp", "creatinine"):
        copies[col] = copies[col] * 1.001
    for col in COLUMNS:
        leaked[col] = leaked[col].astype(object)
        leaked.loc[rows, col] = copies[col].to_numpy()
        leaked[col] = leaked[col].astype(fresh[col].dtype)
    return {"train": train, "holdout": holdout, "fresh": fresh, "leaked": leaked}


def _inputs(stays, synthetic, grouped=True):
    return AuditInputs(
        stays["train"][COLUMNS], stays["holdout"][COLUMNS], stays[synthetic], population_schema(), seed=0,
        train_groups=stays["train"]["subject_id"].to_numpy() if grouped else None,
        holdout_groups=stays["holdout"]["subject_id"].to_numpy() if grouped else None,
    )


def test_near_copied_stays_are_a_leak_per_person_and_hidden_row_by_row(stays):
    per_person = MemorizationAudit(n_boot=20).run(_inputs(stays, "leaked")).metric("privacy.exposure_excess")
    assert per_person.ci.low > 0  # the default gate privacy.exposure_excess.lower_ci <= 0 fails
    assert per_person.details["n_train_persons"] == stays["train"]["subject_id"].nunique()
    by_row = MemorizationAudit(n_boot=20).run(_inputs(stays, "leaked", grouped=False)).metric("privacy.exposure_excess")
    assert by_row.ci.low <= 0  # the patient's own other stays hide the copies: "no leak"
    assert by_row.details["exposed_train_persons"] < per_person.details["exposed_train_persons"] / 3


def test_fresh_patients_pass_per_person(stays):
    inputs = _inputs(stays, "fresh")
    memo = MemorizationAudit(n_boot=20).run(inputs)
    for name in ("privacy.exposure_excess", "privacy.exact_copy_excess"):
        ci = memo.metric(name).ci
        assert ci.low <= 0 <= ci.high, name
    share = memo.metric("privacy.dcr_share")
    assert share.ci.low <= 0.5 <= share.ci.high
    head = MembershipAudit(attacks=["distance"], n_boot=50).run(inputs).metric("membership.auc")
    assert head.ci.low <= 0.5 <= head.ci.high
    assert head.details["n_nonmembers"] == stays["holdout"]["subject_id"].nunique()  # persons, not stays


def test_a_person_on_both_sides_is_a_data_error():
    with pytest.raises(DataError, match="both the training and the holdout"):
        persons(np.array(["a", "b"]), np.array(["b", "c"]), 2, 2)
    with pytest.raises(DataError, match="one label per row"):
        persons(np.array(["a"]), np.array(["b", "c"]), 2, 2)


def test_synth_audit_takes_the_group_column_from_the_config(stays, tmp_path):
    config = {"data": {"source": "<real>", "group": "subject_id", "target": "outcome"}}
    result = synth.audit(real=stays["train"], holdout=stays["holdout"], synthetic=stays["leaked"],
                         config=config, audits=["memorization"], seed=0)
    exposure = result.metrics()["privacy.exposure_excess"]
    assert exposure.details["n_holdout_persons"] == stays["holdout"]["subject_id"].nunique()
    assert exposure.ci.low > 0 and not result.passed
    with pytest.raises(DataError, match="group column 'subject_id'"):
        synth.audit(real=stays["train"], holdout=stays["holdout"].drop(columns=["subject_id"]),
                    synthetic=stays["leaked"], config=config, audits=["memorization"])
    both = pd.concat([stays["holdout"], stays["train"].head(3)], ignore_index=True)
    with pytest.raises(DataError, match="occur in both the training data and the holdout"):
        synth.audit(real=stays["train"], holdout=both, synthetic=stays["leaked"], config=config,
                    audits=["memorization"])
