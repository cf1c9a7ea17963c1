"""MIMIC-IV cohort extraction on a tiny fake MIMIC-IV folder (tests/mimic_fixture.py)."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pandas as pd
import pytest
from mimic_fixture import FIRST_SUBJECT_ID, MARKER_EXPECTED, MARKER_STAY_ID, write_mimic_iv_fixture

from synth.data.mimic_iv import COHORT_COLUMNS, MIMIC_IV_COHORT_INFO, cohort_schema, extract_mimic_iv_cohort
from synth.errors import DataError
from synth.schema import ColumnKind, Role


@pytest.fixture(scope="module")
def mimic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mimiciv")
    write_mimic_iv_fixture(root, n_patients=30, seed=0)
    return root


@pytest.fixture(scope="module")
def cohort(mimic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "cohort.parquet"
    frame = extract_mimic_iv_cohort(mimic_root, out)
    return frame, out


def _read(root, rel):
    return pd.read_csv(root / rel)


def test_documented_columns_and_dtypes(cohort):
    frame, _ = cohort
    assert list(frame.columns) == [c.name for c in COHORT_COLUMNS]
    assert len(COHORT_COLUMNS) == 49 == MIMIC_IV_COHORT_INFO.columns
    for col in COHORT_COLUMNS:
        dtype = str(frame[col.name].dtype)
        if col.kind == ColumnKind.NUMERIC:
            assert dtype == "float64", col.name
        elif col.kind == ColumnKind.CATEGORICAL and col.name != "in_hospital_mortality":
            assert dtype == "object", col.name
        else:
            assert dtype == "Int64", col.name
    assert frame.index.equals(pd.RangeIndex(len(frame)))


def test_one_row_per_stay_and_the_two_stay_patient(cohort, mimic_root):
    frame, _ = cohort
    stays = _read(mimic_root, "icu/icustays.csv.gz")
    assert len(frame) == len(stays) == 31
    assert frame["stay_id"].is_unique
    assert frame["stay_id"].tolist() == sorted(stays["stay_id"])
    twice = frame[frame["subject_id"] == FIRST_SUBJECT_ID]
    assert len(twice) == 2 and twice["hadm_id"].nunique() == 2
    # admissions two years apart: the age moves with year(admittime)
    assert twice["age"].diff().iloc[1] == 2


def test_hand_set_first_day_values(cohort):
    frame, _ = cohort
    row = frame.set_index("stay_id").loc[MARKER_STAY_ID]
    for name, value in MARKER_EXPECTED.items():
        assert row[name] == pytest.approx(value), name


def test_window_matches_an_independent_pandas_computation(cohort, mimic_root):
    frame, _ = cohort
    stays = _read(mimic_root, "icu/icustays.csv.gz")
    stays["intime"] = pd.to_datetime(stays["intime"])
    chart = _read(mimic_root, "icu/chartevents.csv.gz")
    chart["charttime"] = pd.to_datetime(chart["charttime"])
    sbp = chart[chart["itemid"].isin([220179, 220050]) & chart["valuenum"].between(0, 400, inclusive="neither")]
    sbp = sbp.merge(stays[["stay_id", "intime"]], on="stay_id")
    sbp = sbp[(sbp["charttime"] >= sbp["intime"]) & (sbp["charttime"] < sbp["intime"] + pd.Timedelta(hours=24))]
    expected = sbp.groupby("stay_id")["valuenum"].agg(["min", "mean", "max"])
    got = frame.set_index("stay_id")[["sbp_min", "sbp_mean", "sbp_max"]]
    np.testing.assert_allclose(got.loc[expected.index].to_numpy(), expected.to_numpy())
    # the decoys after 24 h were larger than anything inside the window
    all_sbp = chart[chart["itemid"].isin([220179, 220050])].groupby("stay_id")["valuenum"].max()
    assert (all_sbp.loc[expected.index].to_numpy() > got.loc[expected.index, "sbp_max"].to_numpy()).all()

    labs = _read(mimic_root, "hosp/labevents.csv.gz")
    labs["charttime"] = pd.to_datetime(labs["charttime"])
    creat = labs[labs["itemid"] == 50912].merge(stays[["stay_id", "subject_id", "intime"]], on="subject_id")
    creat = creat[(creat["charttime"] >= creat["intime"]) & (creat["charttime"] < creat["intime"] + pd.Timedelta(hours=24))]
    expected_creat = creat.groupby("stay_id")["valuenum"].max()
    np.testing.assert_allclose(frame.set_index("stay_id").loc[expected_creat.index, "creatinine_max"], expected_creat)
    # the last stay has no labs at all: its lab aggregates are missing, its vitals are not
    last = frame.iloc[-1]
    assert pd.isna(last["creatinine_max"]) and pd.isna(last["lactate_min"]) and not pd.isna(last["heart_rate_mean"])


def test_age_los_and_mortality(cohort, mimic_root):
    frame, _ = cohort
    patients = _read(mimic_root, "hosp/patients.csv.gz")
    admissions = _read(mimic_root, "hosp/admissions.csv.gz")
    merged = frame[["stay_id", "hadm_id", "subject_id", "age", "hospital_los_days", "in_hospital_mortality"]].merge(
        admissions, on=["hadm_id", "subject_id"]
    ).merge(patients, on="subject_id")
    admit = pd.to_datetime(merged["admittime"])
    expected_age = merged["anchor_age"] + admit.dt.year - merged["anchor_year"]
    assert merged["age"].astype(int).tolist() == expected_age.tolist()
    los = (pd.to_datetime(merged["dischtime"]) - admit).dt.total_seconds() / 86400
    np.testing.assert_allclose(merged["hospital_los_days"], los)
    assert merged["in_hospital_mortality"].astype(int).tolist() == merged["hospital_expire_flag"].tolist()
    assert 0 < frame["in_hospital_mortality"].sum() < len(frame)


def test_parquet_written_and_schema_roles(cohort):
    frame, out = cohort
    written = pd.read_parquet(out)
    for name in written.columns[written.dtypes == object]:  # Parquet gives None for a missing string
        written[name] = written[name].astype(object).where(written[name].notna(), np.nan)
    pd.testing.assert_frame_equal(written, frame)
    assert not list(out.parent.glob(".synth-tmp-*"))
    schema = cohort_schema(frame)
    assert schema.target == "in_hospital_mortality"
    assert schema.column("in_hospital_mortality").categories == (0, 1)
    assert set(schema.sensitive) == {"gender", "race", "insurance"}
    assert set(schema.identifiers) == {"stay_id", "subject_id", "hadm_id"}
    assert schema.column("age").kind == ColumnKind.INTEGER
    assert Role.IDENTIFIER in schema.column("subject_id").roles
    assert schema.group == "subject_id"  # a patient with two stays is one person for the split and audits
    assert "stay_id" not in schema.modelled().names


def test_uncompressed_csv_is_accepted(mimic_root, tmp_path, cohort):
    root = tmp_path / "plain"
    shutil.copytree(mimic_root, root)
    packed = root / "hosp" / "patients.csv.gz"
    with gzip.open(packed, "rb") as src, open(root / "hosp" / "patients.csv", "wb") as dst:
        shutil.copyfileobj(src, dst)
    packed.unlink()
    pd.testing.assert_frame_equal(extract_mimic_iv_cohort(root), cohort[0])


def test_missing_table_names_the_path_and_layout(mimic_root, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(mimic_root, root)
    (root / "icu" / "icustays.csv.gz").unlink()
    with pytest.raises(DataError) as err:
        extract_mimic_iv_cohort(root)
    msg = str(err.value)
    assert str(root / "icu" / "icustays.csv.gz") in msg
    assert "hosp/patients.csv.gz" in msg and "icu/chartevents.csv.gz" in msg and "ROOT/icu/" in msg


def test_missing_column_and_missing_folder(mimic_root, tmp_path):
    root = tmp_path / "oldnames"
    shutil.copytree(mimic_root, root)
    admissions = pd.read_csv(root / "hosp" / "admissions.csv.gz").rename(columns={"race": "ethnicity"})
    admissions.to_csv(root / "hosp" / "admissions.csv.gz", index=False, compression="gzip")
    with pytest.raises(DataError, match="admissions.csv.gz' lacks the column.*race.*v2.x/v3.x"):
        extract_mimic_iv_cohort(root)
    with pytest.raises(DataError, match="does not exist or is not a folder"):
        extract_mimic_iv_cohort(tmp_path / "nothing")
