"""Train / holdout split: sizes, determinism, stratification, original index kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth.data.infer import infer_schema
from synth.data.split import split_train_holdout
from synth.errors import DataError


def test_sizes_disjoint_and_index_labels_kept(population, schema):
    frame = population.set_axis(np.arange(len(population)) * 10 + 7)  # labels that are not positions
    train, holdout = split_train_holdout(frame, schema, holdout_fraction=0.25, seed=3)
    assert (len(train), len(holdout)) == (2250, 750)
    assert set(train.index).isdisjoint(holdout.index)
    assert set(train.index) | set(holdout.index) == set(frame.index)
    assert train.index.is_monotonic_increasing and holdout.index.is_monotonic_increasing  # input order kept
    pd.testing.assert_frame_equal(holdout, frame.loc[holdout.index])


def test_same_seed_same_split_other_seed_other_split(population, schema):
    a = split_train_holdout(population, schema, holdout_fraction=0.2, seed=1)[1].index
    b = split_train_holdout(population, schema, holdout_fraction=0.2, seed=1)[1].index
    c = split_train_holdout(population, schema, holdout_fraction=0.2, seed=2)[1].index
    assert a.equals(b)
    assert not a.equals(c)


def test_stratified_split_keeps_the_rare_class_share(schema):
    # 10 positives in 200: a stratified 20 % holdout holds exactly 2 of them
    frame = pd.DataFrame(
        {"outcome": [1] * 10 + [0] * 190, "sex": ["F", "M"] * 100, "race": ["a", "b"] * 100}
    )
    small = infer_schema(frame, target="outcome")
    for seed in range(5):
        train, holdout = split_train_holdout(frame, small, holdout_fraction=0.2, seed=seed)
        assert holdout["outcome"].sum() == 2 and train["outcome"].sum() == 8
    counts = [
        split_train_holdout(frame, small, holdout_fraction=0.2, seed=s, stratify=False)[1]["outcome"].sum()
        for s in range(20)
    ]
    assert len(set(counts)) > 1  # unstratified: the count varies with the seed


def test_falls_back_to_random_when_a_class_has_one_row(schema):
    frame = pd.DataFrame({"outcome": [1] + [0] * 49, "x": np.arange(50.0)})
    small = infer_schema(frame, target="outcome")
    train, holdout = split_train_holdout(frame, small, holdout_fraction=0.2, seed=0)
    assert (len(train), len(holdout)) == (40, 10)


def test_numeric_target_is_not_stratified(population):
    schema = infer_schema(population, target="bmi")
    train, holdout = split_train_holdout(population, schema, holdout_fraction=0.1, seed=0)
    assert len(holdout) == 300


@pytest.mark.parametrize("fraction", [0, -0.1, 0.95, 1.0, "0.2", True])
def test_bad_fraction(population, schema, fraction):
    with pytest.raises(DataError, match="holdout_fraction"):
        split_train_holdout(population, schema, holdout_fraction=fraction, seed=0)


def test_a_side_would_be_empty(population, schema):
    with pytest.raises(DataError, match="Cannot split 1 rows"):
        split_train_holdout(population.head(1), schema, holdout_fraction=0.5, seed=0)


# -- data.group: one person, several rows -------------------------------------------


def _stays(n_people: int = 300, seed: int = 0) -> pd.DataFrame:
    """ICU-stay-like rows: 1 to 4 stays per person, a person's stays alike."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 5, n_people)
    person = np.repeat(np.arange(n_people), per)
    age = np.repeat(rng.integers(20, 90, n_people), per)
    return pd.DataFrame({"subject_id": [f"p{p:04d}" for p in person], "age": age,
                         "died": rng.integers(0, 2, person.size)})


def test_group_split_keeps_each_person_on_one_side():
    frame = _stays()
    schema = infer_schema(frame, target="died", group="subject_id")
    assert schema.group == "subject_id" and "subject_id" not in schema.modelled().names
    n_people = frame["subject_id"].nunique()
    for seed in range(5):
        train, holdout = split_train_holdout(frame, schema, holdout_fraction=0.25, seed=seed)
        assert set(train["subject_id"]).isdisjoint(holdout["subject_id"])
        assert len(train) + len(holdout) == len(frame)
        assert holdout["subject_id"].nunique() == int(np.ceil(0.25 * n_people))
    # a row-level split of the same table puts some person on both sides (what the group split prevents)
    plain = infer_schema(frame, target="died", identifiers=["subject_id"])
    train, holdout = split_train_holdout(frame, plain, holdout_fraction=0.25, seed=0)
    assert not set(train["subject_id"]).isdisjoint(holdout["subject_id"])


def test_group_split_is_seeded_and_rejects_missing_labels():
    frame = _stays()
    schema = infer_schema(frame, group="subject_id")
    a = split_train_holdout(frame, schema, holdout_fraction=0.3, seed=4)[1].index
    assert a.equals(split_train_holdout(frame, schema, holdout_fraction=0.3, seed=4)[1].index)
    assert not a.equals(split_train_holdout(frame, schema, holdout_fraction=0.3, seed=5)[1].index)
    broken = frame.astype({"subject_id": object})
    broken.loc[3, "subject_id"] = None
    with pytest.raises(DataError, match="group column 'subject_id'.*missing in 1 of"):
        split_train_holdout(broken, infer_schema(broken, group="subject_id"), holdout_fraction=0.3, seed=0)
    with pytest.raises(DataError, match="Cannot split 1 groups"):
        one = frame.assign(subject_id="same")
        split_train_holdout(one, infer_schema(one, group="subject_id"), holdout_fraction=0.3, seed=0)


def test_group_reaches_the_audit_inputs_through_generate(tmp_path):
    import synth

    frame = _stays(200)
    run = synth.generate(
        {"seed": 1, "data": {"source": "unused", "target": "died", "group": "subject_id"},
         "audit": {"audits": ["fidelity_columns"]}, "output": {"dir": str(tmp_path / "out")}},
        data=frame,
    )
    dropped = {d["name"]: d["reason"] for d in run.result.data["dropped_columns"]}
    assert dropped["subject_id"].startswith("group")
    assert "subject_id" not in run.synthetic.columns


def test_prepare_hands_each_rows_group_label_aligned():
    from synth.config.model import DataConfig
    from synth.prepare import prepare

    frame = _stays(120)
    prep = prepare(DataConfig(source="unused", target="died", group="subject_id"), seed=2, frame=frame)
    assert prep.train_groups.index.equals(prep.train.index) and prep.holdout_groups.index.equals(prep.holdout.index)
    assert (prep.train_groups == frame.loc[prep.train.index, "subject_id"]).all()
    assert set(prep.train_groups).isdisjoint(prep.holdout_groups)
    plain = prepare(DataConfig(source="unused", target="died", identifiers=["subject_id"]), seed=2, frame=frame)
    assert plain.train_groups is None and plain.holdout_groups is None
