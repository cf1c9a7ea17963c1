"""Built-in datasets: shapes, documented columns and values, roles that infer cleanly."""

from __future__ import annotations

import pandas as pd
import pytest

from synth.data.datasets import dataset_info, list_datasets, load_dataset
from synth.data.infer import infer_schema
from synth.errors import DataError
from synth.schema import ColumnKind, Role


def test_list_names_the_three_datasets():
    assert [d.name for d in list_datasets()] == ["actg175", "breast_cancer", "gbsg2"]
    for info in list_datasets():
        assert info.title and info.description and info.source and info.licence


@pytest.mark.parametrize("name", ["actg175", "breast_cancer", "gbsg2"])
def test_each_dataset_loads_with_its_stated_shape_and_roles(name):
    frame, info = load_dataset(name)
    assert frame.shape == (info.rows, info.columns)
    assert frame.index.equals(pd.RangeIndex(info.rows))
    assert len(set(frame.columns)) == frame.shape[1]
    schema = infer_schema(frame, source=f"builtin:{name}", **info.role_arguments())
    assert schema.target == info.target
    target = schema.column(info.target)
    assert target.kind == ColumnKind.CATEGORICAL and len(target.categories) == 2
    assert schema.sensitive == list(info.sensitive)
    assert set(info.identifiers) <= set(schema.identifiers)
    for column in info.column_meanings:
        assert column in frame.columns


def test_actg175_values():
    frame, info = load_dataset("actg175")
    assert list(frame.columns[:3]) == ["pidnum", "age", "wtkg"]
    assert frame["pidnum"].is_unique
    assert int(frame["cens"].sum()) == 521  # primary events in the trial table
    assert sorted(frame["race"].unique()) == [0, 1] and sorted(frame["gender"].unique()) == [0, 1]
    assert sorted(frame["arms"].unique()) == [0, 1, 2, 3]
    assert int(frame["cd496"].isna().sum()) == 797 and str(frame["cd496"].dtype) == "Int64"
    schema = infer_schema(frame, **info.role_arguments())
    assert schema.column("pidnum").kind == ColumnKind.ID
    assert schema.column("race").categories == (0, 1)
    assert schema.column("cd496").kind == ColumnKind.INTEGER and schema.column("cd496").nullable
    assert schema.column("wtkg").kind == ColumnKind.NUMERIC
    assert Role.QUASI_IDENTIFIER in schema.column("wtkg").roles
    assert "pidnum" not in schema.modelled().names


def test_breast_cancer_values():
    frame, info = load_dataset("breast_cancer")
    counts = frame["diagnosis"].value_counts().to_dict()
    assert counts == {"benign": 357, "malignant": 212}
    assert "mean_radius" in frame.columns and "worst_fractal_dimension" in frame.columns
    assert frame.drop(columns="diagnosis").dtypes.eq("float64").all()
    assert info.sensitive == ()


def test_gbsg2_values():
    frame, _ = load_dataset("gbsg2")
    assert sorted(frame["tgrade"].unique()) == ["I", "II", "III"]
    assert sorted(frame["horTh"].unique()) == ["no", "yes"]
    assert int(frame["cens"].sum()) == 299


def test_unknown_dataset():
    with pytest.raises(DataError, match="Unknown built-in dataset 'breast'.*actg175, breast_cancer, gbsg2"):
        load_dataset("breast")
    with pytest.raises(DataError, match="Did you mean 'gbsg2'"):
        dataset_info("gbsg")


@pytest.mark.parametrize("name", ["actg175", "breast_cancer", "gbsg2"])
def test_inference_is_stable_after_coercion(name):
    # the canonical dtypes must not change what inference sees
    from synth.data.coerce import coerce_to_schema

    frame, info = load_dataset(name)
    schema = infer_schema(frame, **info.role_arguments())
    assert infer_schema(coerce_to_schema(frame, schema), **info.role_arguments()) == schema
