"""Schema inference: the known population, edge cases, overrides and their errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth.data.coerce import coerce_to_schema, validate_for_run
from synth.data.infer import infer_kind, infer_schema, looks_like_id
from synth.data.load import load_table
from synth.errors import ConfigError, DataError
from synth.schema import ColumnKind, Role

POP_ROLES = {"target": "outcome", "sensitive": ["sex", "race"], "quasi_identifiers": ["age", "sex", "race"]}


def _same_but_bounds(inferred, expected):
    for got, want in zip(inferred.columns, expected.columns, strict=True):
        assert (got.name, got.kind, got.nullable, got.categories, got.roles) == (
            want.name, want.kind, want.nullable, want.categories, want.roles,
        ), got.name


def test_population_matches_the_hand_written_schema(population, schema):
    inferred = infer_schema(population, **POP_ROLES)
    _same_but_bounds(inferred, schema)
    age = inferred.column("age")
    assert (age.minimum, age.maximum) == (18.0, 90.0)
    bmi = inferred.column("bmi")
    assert bmi.minimum == float(population["bmi"].min()) and bmi.maximum == float(population["bmi"].max())
    creat = inferred.column("creatinine")
    assert creat.maximum == float(np.nanmax(population["creatinine"].astype(float)))
    # categories are plain Python scalars: int stays int, bool stays bool
    assert all(type(c) is int for c in inferred.column("outcome").categories)
    assert all(type(c) is bool for c in inferred.column("diabetes").categories)


def test_population_after_a_csv_round_trip(population, schema, tmp_path):
    # CSV turns Int64 into int64, boolean into bool: the kinds must not change
    population.to_csv(tmp_path / "pop.csv", index=False)
    inferred = infer_schema(load_table(tmp_path / "pop.csv"), **POP_ROLES)
    _same_but_bounds(inferred, schema)


def test_inference_does_not_mutate_the_input(population):
    frame = population.head(200).copy()
    before = frame.copy()
    infer_schema(frame, {"age": {"kind": "categorical"}}, **POP_ROLES)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("id", True), ("ID", True), ("subject_id", True), ("hadm_id", True), ("stay_id", True),
        ("patient id", True), ("PatientID", True), ("patientid", True), ("mrn", True), ("pidnum", True),
        ("id_number", True), ("uuid", True),
        ("lipid", False), ("fluid_balance", False), ("thyroid", False), ("acid", False), ("idx", False),
        ("age", False), ("covid", False),
    ],
)
def test_id_names(name, expected):
    assert looks_like_id(name) is expected


def test_id_columns_need_a_name_and_near_unique_values():
    n = 200
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "patient_id": np.arange(1000, 1000 + n),
            "subject_id": np.repeat(np.arange(n // 2 + 20), 2)[:n],  # repeats: ~60 % distinct
            "site_id": rng.integers(0, 5, n),
            "lipid": rng.integers(100, 400, n),  # id-like suffix, but not an id name
            "PatientID": [f"P{i:05d}" for i in range(n)],
            "code": [f"C{i:05d}" for i in range(n)],  # unique, short, not id-named
            "ward": [f"W{i % 8}" for i in range(n)],  # 8 levels: an ordinary label column
        }
    )
    schema = infer_schema(frame)
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "patient_id": ColumnKind.ID,
        "subject_id": ColumnKind.ID,
        "site_id": ColumnKind.CATEGORICAL,
        "lipid": ColumnKind.INTEGER,
        "PatientID": ColumnKind.ID,
        "code": ColumnKind.ID,  # near-unique labels are identifiers whatever the name (rule 7)
        "ward": ColumnKind.CATEGORICAL,
    }
    assert Role.IDENTIFIER in schema.column("patient_id").roles
    assert set(schema.identifiers) == {"patient_id", "subject_id", "PatientID", "code"}
    assert "patient_id" not in schema.modelled().names


def test_datetime_strings_and_dtypes():
    dates = pd.date_range("2020-01-01", periods=60, freq="D")
    iso = pd.Series(dates.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)
    iso[[3, 7]] = None
    us = pd.Series(dates.strftime("%m/%d/%Y"), dtype=object)
    nearly = us.copy()
    nearly[0] = "unknown"  # 1 in 60 (< 5 %) does not parse
    mostly_not = us.copy()
    mostly_not[:10] = "unknown"  # 1 in 6 does not parse
    frame = pd.DataFrame({"admit": iso, "us": us, "nearly": nearly, "mostly_not": mostly_not, "dt": dates,
                          "year": [str(2000 + i % 20) for i in range(60)]})
    schema = infer_schema(frame)
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds["admit"] == kinds["us"] == kinds["nearly"] == kinds["dt"] == ColumnKind.DATETIME
    assert kinds["mostly_not"] == ColumnKind.ID  # not dates, and 51 distinct labels in 60: near-unique
    assert kinds["year"] == ColumnKind.CATEGORICAL  # a bare year is not a date
    admit = schema.column("admit")
    assert admit.nullable
    assert admit.minimum == float(pd.Timestamp("2020-01-01").value)
    assert admit.maximum == float(pd.Timestamp("2020-02-29").value)
    assert schema.column("dt").maximum == float(dates[-1].value)
    nearly_spec = schema.column("nearly")
    assert nearly_spec.nullable and nearly_spec.minimum == float(dates[1].value)
    # the one unparsable entry is reported when the table is brought to the schema
    with pytest.raises(DataError, match="'nearly'.*'unknown'"):
        coerce_to_schema(frame, schema)


def test_free_text_versus_labels():
    rng = np.random.default_rng(1)
    words = ["patient", "reports", "mild", "chest", "pain", "since", "yesterday", "no", "fever", "denies"]
    notes = [" ".join(rng.choice(words, 8)) + f" (visit {i})" for i in range(100)]
    labels = rng.choice(["Emergency department admission", "Elective surgical admission"], 100)
    schema = infer_schema(pd.DataFrame({"note": notes, "admission": labels}))
    assert schema.column("note").kind == ColumnKind.TEXT
    assert schema.column("admission").kind == ColumnKind.CATEGORICAL
    assert schema.column("admission").categories == ("Elective surgical admission", "Emergency department admission")
    assert schema.modelled().names == ["admission"]


def test_all_missing_columns_keep_their_dtype_kind():
    frame = pd.DataFrame(
        {
            "lab": [np.nan] * 5,
            "label": pd.Series([None] * 5, dtype=object),
            "when": pd.Series([pd.NaT] * 5, dtype="datetime64[ns]"),
        }
    )
    schema = infer_schema(frame)
    lab, label, when = schema.columns
    assert (lab.kind, lab.nullable, lab.minimum, lab.maximum) == (ColumnKind.NUMERIC, True, None, None)
    assert (label.kind, label.nullable, label.categories) == (ColumnKind.CATEGORICAL, True, ())
    assert (when.kind, when.nullable, when.minimum) == (ColumnKind.DATETIME, True, None)


def test_codes_booleans_and_mixed_values():
    frame = pd.DataFrame(
        {
            "flag01_missing": [0.0, 1.0, np.nan, 1.0, 0.0],  # an int column read from CSV with a gap
            "bool_missing": pd.Series([True, False, None, True, True], dtype=object),
            "yes_no": ["yes", "no", "yes", "yes", "no"],
            "mixed": [1, "a", 2, "b", 1],
            "score": pd.array([1, 2, 3, 2, 1], dtype="Int64"),
        }
    )
    schema = infer_schema(frame)
    flag = schema.column("flag01_missing")
    assert (flag.kind, flag.nullable, flag.categories) == (ColumnKind.CATEGORICAL, True, (0, 1))
    assert all(type(c) is int for c in flag.categories)
    boolean = schema.column("bool_missing")
    assert (boolean.kind, boolean.nullable, boolean.categories) == (ColumnKind.BOOLEAN, True, (False, True))
    assert schema.column("yes_no").kind == ColumnKind.CATEGORICAL  # keeps the user's labels
    assert schema.column("mixed").categories == (1, 2, "a", "b")  # sorted by string form
    assert schema.column("score").categories == (1, 2, 3)


def test_integer_threshold_between_codes_and_counts():
    assert infer_kind(pd.Series(np.arange(20)), "x") == ColumnKind.CATEGORICAL
    assert infer_kind(pd.Series(np.arange(21)), "x") == ColumnKind.INTEGER
    assert infer_kind(pd.Series(np.arange(21, dtype=float)), "x") == ColumnKind.NUMERIC
    assert infer_kind(pd.Series(np.linspace(0, 1, 5)), "x") == ColumnKind.NUMERIC


def test_overrides_change_kind_bounds_categories_and_roles(population):
    frame = population.head(300)
    overrides = {
        "age": {"kind": "categorical"},
        "bmi": {"min": 10, "max": 60, "nullable": True},
        "race": {"categories": ["asian", "black", "other", "white", "unknown"]},
        "sbp": {"roles": ["quasi_identifier"]},
        "outcome": {"kind": "boolean"},
    }
    schema = infer_schema(frame, overrides, target="outcome", sensitive=["sex"])
    age = schema.column("age")
    assert age.kind == ColumnKind.CATEGORICAL
    assert age.categories == tuple(sorted(int(a) for a in frame["age"].unique()))
    assert age.minimum is None
    bmi = schema.column("bmi")
    assert (bmi.minimum, bmi.maximum, bmi.nullable) == (10.0, 60.0, True)
    assert schema.column("race").categories[-1] == "unknown"
    assert schema.quasi_identifiers == ["sbp"]
    outcome = schema.column("outcome")
    assert (outcome.kind, outcome.categories, outcome.roles) == (ColumnKind.BOOLEAN, (False, True), frozenset({Role.TARGET}))


def test_datetime_override_bounds_accept_dates():
    frame = pd.DataFrame({"when": pd.date_range("2021-01-01", periods=5)})
    schema = infer_schema(frame, {"when": {"min": "2020-01-01", "max": "2022-12-31"}})
    assert schema.column("when").minimum == float(pd.Timestamp("2020-01-01").value)


def test_explicit_identifier_role_takes_the_column_out_of_modelling(population):
    frame = population.head(50).assign(mrn_text=[f"X{i}" for i in range(50)], visit=range(50))
    schema = infer_schema(frame, identifiers=["visit"])
    assert Role.IDENTIFIER in schema.column("visit").roles
    assert "visit" not in schema.modelled().names
    assert not looks_like_id("mrn_text")  # "mrn_text" ends in "text", not an id word ...
    assert schema.column("mrn_text").kind == ColumnKind.ID  # ... but its 50 distinct labels make it near-unique


def test_unknown_override_key_suggests():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ConfigError) as err:
        infer_schema(frame, {"a": {"knd": "numeric"}}, source="release.yaml")
    msg = str(err.value)
    assert "'knd'" in msg and "'a'" in msg and "release.yaml" in msg and "Did you mean 'kind'" in msg


def test_unknown_kind_and_role_list_the_valid_values():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ConfigError) as err:
        infer_schema(frame, {"a": {"kind": "float"}})
    assert "numeric" in str(err.value) and "categorical" in str(err.value)
    with pytest.raises(ConfigError) as err:
        infer_schema(frame, {"a": {"roles": ["sensitiv"]}})
    assert "Did you mean 'sensitive'" in str(err.value) and "quasi_identifier" in str(err.value)


def test_bad_override_values():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="'nullable' of column 'a'"):
        infer_schema(frame, {"a": {"nullable": "yes"}})
    with pytest.raises(ConfigError, match="'min' of column 'a'"):
        infer_schema(frame, {"a": {"min": "low"}})
    with pytest.raises(ConfigError, match="must be a mapping"):
        infer_schema(frame, {"a": "numeric"})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "kwargs, where",
    [
        ({"overrides": {"agee": {"kind": "integer"}}}, "schema overrides"),
        ({"target": "outcom"}, "target"),
        ({"sensitive": ["sexx"]}, "sensitive"),
        ({"quasi_identifiers": ["race", "agee"]}, "quasi_identifiers"),
        ({"identifiers": ["patient"]}, "identifiers"),
    ],
)
def test_unknown_column_names_the_source_and_suggests(population, kwargs, where):
    with pytest.raises(DataError) as err:
        infer_schema(population.head(30), source="configs/run.yaml", **kwargs)
    msg = str(err.value)
    assert "configs/run.yaml" in msg and where in msg and "is not in the data" in msg
    if where != "identifiers":
        assert "Did you mean" in msg


def test_kind_override_that_does_not_fit_the_values():
    frame = pd.DataFrame({"grade": ["I", "II", "III", "II"]})
    with pytest.raises(DataError) as err:
        infer_schema(frame, {"grade": {"kind": "numeric"}}, source="run.yaml")
    msg = str(err.value)
    assert "'grade'" in msg and "'I'" in msg and "run.yaml" in msg


def test_role_conflicts_are_config_errors(population):
    frame = population.head(50).assign(patient_id=range(50))
    with pytest.raises(ConfigError, match="'patient_id'.*never modelled"):
        infer_schema(frame, target="patient_id")
    with pytest.raises(ConfigError, match="both the target and a sensitive"):
        infer_schema(frame, target="sex", sensitive=["sex"])
    with pytest.raises(ConfigError, match="More than one target"):
        infer_schema(frame, {"sex": {"roles": ["target"]}}, target="outcome")


# -- coerce_to_schema / validate_for_run: bringing tables to the inferred schema ----------


def test_coerce_gives_canonical_dtypes(population, schema):
    frame = population.head(100)
    before = frame.copy()
    out = coerce_to_schema(frame, schema)
    pd.testing.assert_frame_equal(frame, before)  # input untouched
    assert out.index.equals(frame.index)
    assert {c: str(t) for c, t in out.dtypes.items()} == {
        "age": "Int64", "sex": "object", "race": "object", "bmi": "float64", "sbp": "float64",
        "creatinine": "float64", "diabetes": "boolean", "outcome": "object",
    }
    assert all(type(v) is int for v in out["outcome"])
    pd.testing.assert_frame_equal(coerce_to_schema(out, schema), out)  # idempotent


def test_coerce_repairs_what_generators_return(schema):
    # SDV-style output: floats for integers and codes, strings for booleans
    synthetic = pd.DataFrame(
        {
            "age": [33.6, 18.2, np.nan],
            "sex": ["F", "M", None],
            "race": ["white", "asian", "black"],
            "bmi": ["27.5", 30, None],
            "sbp": [120, 130, 140],
            "creatinine": [0.9, np.nan, 1.2],
            "diabetes": ["yes", 0, np.nan],
            "outcome": [1.0, 0.0, np.nan],
        }
    )
    out = coerce_to_schema(synthetic, schema)
    assert out["age"].tolist()[:2] == [34, 18] and out["age"].isna().tolist() == [False, False, True]
    assert out["bmi"].tolist()[:2] == [27.5, 30.0]
    assert out["diabetes"].tolist()[:2] == [True, False] and out["diabetes"].isna().iloc[2]
    assert out["outcome"].tolist()[:2] == [1, 0] and type(out["outcome"].iloc[0]) is int
    assert np.isnan(out["outcome"].iloc[2])


def test_coerce_datetimes_from_strings_aware_times_and_nanoseconds():
    schema = infer_schema(pd.DataFrame({"when": pd.date_range("2021-01-01", periods=3)}))
    stamp = pd.Timestamp("2021-03-04 12:30:00")
    for values in (
        ["2021-03-04 12:30:00", None],
        pd.Series([stamp.tz_localize("Europe/Paris").tz_convert("UTC").tz_convert("Europe/Paris"), pd.NaT]),
        [float(stamp.value), np.nan],
    ):
        out = coerce_to_schema(pd.DataFrame({"when": values}), schema)["when"]
        assert str(out.dtype) == "datetime64[ns]"
        assert out.isna().tolist() == [False, True]
    aware = pd.Series(pd.to_datetime(["2021-03-04 13:30:00+01:00"]))
    assert coerce_to_schema(pd.DataFrame({"when": aware}), schema)["when"].iloc[0] == stamp


@pytest.mark.parametrize(
    "column, bad",
    [("bmi", "abc"), ("diabetes", "maybe"), ("age", np.inf)],
)
def test_coerce_names_the_column_and_a_bad_value(population, schema, column, bad):
    frame = population.head(5).copy()
    frame[column] = frame[column].astype(object)
    frame.loc[2, column] = bad
    with pytest.raises(DataError) as err:
        coerce_to_schema(frame, schema)
    assert f"'{column}'" in str(err.value) and repr(bad) in str(err.value)


def test_coerce_column_set_rules(population, schema):
    with pytest.raises(DataError, match="not in the schema: extra"):
        coerce_to_schema(population.head(5).assign(extra=1), schema)
    with pytest.raises(DataError, match="lacks the schema column.*bmi"):
        coerce_to_schema(population.head(5).drop(columns="bmi"), schema)
    # identifiers are never in synthetic data: their absence is fine
    with_id = population.head(30).assign(patient_id=range(30))
    id_schema = infer_schema(with_id)
    out = coerce_to_schema(population.head(5), id_schema)
    assert "patient_id" not in out.columns
    assert str(coerce_to_schema(with_id, id_schema)["patient_id"].dtype) == "Int64"


def test_validate_for_run_accepts_the_population(population, schema):
    validate_for_run(population, schema, source="pop.csv")


def test_validate_for_run_errors(population, schema):
    with pytest.raises(DataError, match="only 19 rows.*at least 20"):
        validate_for_run(population.head(19), schema, source="pop.csv")
    with pytest.raises(DataError, match="empty"):
        validate_for_run(population.head(0), schema, source="pop.csv")
    single = population.head(100).assign(outcome=0)
    with pytest.raises(DataError) as err:
        validate_for_run(single, schema, source="pop.csv")
    assert str(err.value) == (
        "Target column 'outcome' in pop.csv has a single value '0': a model needs at least two classes; "
        "pick another target or fix the data."
    )
    with pytest.raises(DataError, match="Sensitive column 'sex' in pop.csv has a single value 'F'"):
        validate_for_run(population.head(100).assign(sex="F"), schema, source="pop.csv")
    with pytest.raises(DataError, match="all missing"):
        validate_for_run(population.head(100).assign(outcome=np.nan), schema, source="pop.csv")


def test_non_string_and_duplicate_column_names():
    schema = infer_schema(pd.DataFrame({0: [1.5, 2.5], 1: ["a", "b"]}))
    assert schema.names == ["0", "1"]
    with pytest.raises(DataError, match="duplicate column names: x"):
        infer_schema(pd.DataFrame([[1, 2]], columns=["x", "x"]), source="t.csv")
