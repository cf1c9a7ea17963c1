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
