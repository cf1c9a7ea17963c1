"""Extract a one-row-per-ICU-stay cohort from a MIMIC-IV (v2.x / v3.x) folder with DuckDB.

DuckDB reads the ``.csv.gz`` files directly and streams them (chartevents is hundreds of
millions of rows); only the finished cohort reaches pandas. Expected layout::

    ROOT/hosp/patients.csv.gz     ROOT/icu/icustays.csv.gz
    ROOT/hosp/admissions.csv.gz   ROOT/icu/chartevents.csv.gz
    ROOT/hosp/labevents.csv.gz

(``.csv`` works as well as ``.csv.gz``). The dictionaries ``d_items`` / ``d_labitems``
are not needed: the item ids below are stable across v2.x and v3.x.

Measurement window: ``intime <= charttime < intime + 24 h`` for vitals (chartevents of
that stay) and labs (labevents of that patient, with or without a hadm_id, as in the
MIT-LCP mimic-code ``first_day_*`` concepts). Physiologically impossible values are
dropped with mimic-code's ranges: heart rate (0, 300), systolic (0, 400), diastolic and
mean BP (0, 300), respiratory rate (0, 70), temperature 10-50 degC / 70-120 degF (F is
converted to C), SpO2 (0, 100]; labs must be positive.

Cohort columns (:data:`COHORT_COLUMNS`):

============================  ===========  ================================================
name                          kind         meaning
============================  ===========  ================================================
stay_id                       id           ICU stay (icustays.stay_id)
subject_id                    id           patient
hadm_id                       id           hospital admission
age                           integer      anchor_age + year(admittime) - anchor_year, years
gender                        categorical  patients.gender (F / M)
race                          categorical  admissions.race
insurance                     categorical  admissions.insurance
language                      categorical  admissions.language
marital_status                categorical  admissions.marital_status
admission_type                categorical  admissions.admission_type
first_careunit                categorical  icustays.first_careunit
heart_rate_{min,mean,max}     numeric      beats/min, itemid 220045, first 24 h
sbp_{min,mean,max}            numeric      systolic BP mmHg, 220179 (cuff) and 220050 (arterial)
dbp_{min,mean,max}            numeric      diastolic BP mmHg, 220180 and 220051
mbp_{min,mean,max}            numeric      mean BP mmHg, 220181 and 220052
resp_rate_{min,mean,max}      numeric      breaths/min, 220210
temperature_{min,mean,max}    numeric      degC, 223762 (degC) and 223761 (degF, converted)
spo2_{min,mean,max}           numeric      %, 220277
creatinine_{min,max}          numeric      mg/dL, labevents 50912, first 24 h
sodium_{min,max}              numeric      mEq/L, 50983
potassium_{min,max}           numeric      mEq/L, 50971
hemoglobin_{min,max}          numeric      g/dL, 51222
wbc_{min,max}                 numeric      K/uL, 51301
glucose_{min,max}             numeric      mg/dL, 50931
lactate_{min,max}             numeric      mmol/L, 50813 (blood gas)
icu_los_days                  numeric      icustays.los, days
hospital_los_days             numeric      dischtime - admittime, days
in_hospital_mortality         categorical  admissions.hospital_expire_flag (0 / 1)
============================  ===========  ================================================

A stay without a measurement in the window has a missing aggregate. Suggested roles are
in :data:`MIMIC_IV_COHORT_INFO`; :func:`cohort_schema` infers the schema with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from synth.atomic import write_with
from synth.data.datasets import DatasetInfo
from synth.errors import DataError
from synth.schema import ColumnKind, Schema


@dataclass(frozen=True)
class CohortColumn:
    """One documented cohort column: its name, the kind it is given, and what it means."""

    name: str
    kind: ColumnKind
    meaning: str


# table -> (folder, columns this extraction reads)
REQUIRED_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "patients": ("hosp", ("subject_id", "gender", "anchor_age", "anchor_year")),
    "admissions": (
        "hosp",
        ("subject_id", "hadm_id", "admittime", "dischtime", "admission_type", "insurance", "language",
         "marital_status", "race", "hospital_expire_flag"),
    ),
    "icustays": ("icu", ("subject_id", "hadm_id", "stay_id", "first_careunit", "intime", "los")),
    "chartevents": ("icu", ("stay_id", "charttime", "itemid", "valuenum")),
    "labevents": ("hosp", ("subject_id", "charttime", "itemid", "valuenum")),
}

# vital -> (item ids, SQL expression of the plausible value in the unit of the column, or NULL)
_VITALS: dict[str, tuple[tuple[int, ...], str, str]] = {
    "heart_rate": ((220045,), "CASE WHEN v > 0 AND v < 300 THEN v END", "beats/min, itemid 220045"),
    "sbp": ((220179, 220050), "CASE WHEN v > 0 AND v < 400 THEN v END", "systolic BP mmHg, 220179/220050"),
    "dbp": ((220180, 220051), "CASE WHEN v > 0 AND v < 300 THEN v END", "diastolic BP mmHg, 220180/220051"),
    "mbp": ((220181, 220052), "CASE WHEN v > 0 AND v < 300 THEN v END", "mean BP mmHg, 220181/220052"),
    "resp_rate": ((220210,), "CASE WHEN v > 0 AND v < 70 THEN v END", "breaths/min, 220210"),
    "temperature": (
        (223762, 223761),
        "CASE WHEN itemid = 223762 AND v > 10 AND v < 50 THEN v "
        "WHEN itemid = 223761 AND v > 70 AND v < 120 THEN (v - 32) / 1.8 END",
        "degC, 223762 (degC) / 223761 (degF converted)",
    ),
    "spo2": ((220277,), "CASE WHEN v > 0 AND v <= 100 THEN v END", "SpO2 %, 220277"),
}
_LABS: dict[str, tuple[int, str]] = {
    "creatinine": (50912, "creatinine mg/dL"),
    "sodium": (50983, "sodium mEq/L"),
    "potassium": (50971, "potassium mEq/L"),
    "hemoglobin": (51222, "hemoglobin g/dL"),
    "wbc": (51301, "white blood cells K/uL"),
    "glucose": (50931, "glucose mg/dL"),
    "lactate": (50813, "lactate mmol/L (blood gas)"),
}
WINDOW_HOURS = 24

_N = ColumnKind.NUMERIC
_C = ColumnKind.CATEGORICAL
COHORT_COLUMNS: tuple[CohortColumn, ...] = (
    CohortColumn("stay_id", ColumnKind.ID, "ICU stay (icustays.stay_id)"),
    CohortColumn("subject_id", ColumnKind.ID, "patient"),
    CohortColumn("hadm_id", ColumnKind.ID, "hospital admission"),
    CohortColumn("age", ColumnKind.INTEGER, "anchor_age + year(admittime) - anchor_year, years"),
    CohortColumn("gender", _C, "patients.gender"),
    CohortColumn("race", _C, "admissions.race"),
    CohortColumn("insurance", _C, "admissions.insurance"),
    CohortColumn("language", _C, "admissions.language"),
    CohortColumn("marital_status", _C, "admissions.marital_status"),
    CohortColumn("admission_type", _C, "admissions.admission_type"),
    CohortColumn("first_careunit", _C, "icustays.first_careunit"),
    *(
        CohortColumn(f"{vital}_{stat}", _N, f"{stat} of {meaning}, first {WINDOW_HOURS} h")
        for vital, (_, _, meaning) in _VITALS.items()
        for stat in ("min", "mean", "max")
    ),
    *(
        CohortColumn(f"{lab}_{stat}", _N, f"{stat} of {meaning} (labevents {itemid}), first {WINDOW_HOURS} h")
        for lab, (itemid, meaning) in _LABS.items()
        for stat in ("min", "max")
    ),
    CohortColumn("icu_los_days", _N, "icustays.los, days"),
    CohortColumn("hospital_los_days", _N, "dischtime - admittime, days"),
    CohortColumn("in_hospital_mortality", _C, "admissions.hospital_expire_flag (0 / 1)"),
)

MIMIC_IV_COHORT_INFO = DatasetInfo(
    name="mimic_iv_icu_cohort",
    title="MIMIC-IV ICU stays: demographics, first-24-hour vitals and labs, in-hospital mortality",
    description=(
        "One row per ICU stay extracted by synth.data.mimic_iv.extract_mimic_iv_cohort from a local "
        "MIMIC-IV v2.x/v3.x copy. Target: in-hospital mortality; sensitive: gender, race, insurance."
    ),
    rows=None,
    columns=len(COHORT_COLUMNS),
    source="MIMIC-IV (PhysioNet, https://physionet.org/content/mimiciv/), credentialed access",
    licence="PhysioNet Credentialed Health Data License 1.5.0 (synthetic releases need the DUA's approval)",
    target="in_hospital_mortality",
    sensitive=("gender", "race", "insurance"),
    quasi_identifiers=("age", "gender", "race", "marital_status", "language"),
    identifiers=("stay_id", "subject_id", "hadm_id"),
    group="subject_id",  # one row per ICU stay: a patient with several stays is one person
    column_meanings={c.name: c.meaning for c in COHORT_COLUMNS},
)


def extract_mimic_iv_cohort(root: Path, out: Path | None = None) -> pd.DataFrame:
    """Build the ICU-stay cohort from the MIMIC-IV folder ``root``.

    Returns one row per ICU stay (sorted by ``stay_id``, RangeIndex) with the
    :data:`COHORT_COLUMNS`: ids, age and outcome as ``Int64``, labels as ``object``,
    aggregates as ``float64``. When ``out`` is given the cohort is also written there as
    Parquet, atomically. Raises :class:`DataError` for a missing table or column.
    """
    import duckdb

    root = Path(root).expanduser()
    files = _locate_tables(root)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET preserve_insertion_order = false")  # lets DuckDB stream large scans
        for table, path in files.items():
            try:
                _check_columns(con, table, path)
                empty = con.execute(f"SELECT 1 FROM {_reader(path)} LIMIT 1").fetchone() is None
            except duckdb.Error as exc:
                raise DataError(
                    f"DuckDB could not read the MIMIC-IV file '{path}': {_duckdb_summary(exc)}. Check that it is a "
                    "complete MIMIC-IV CSV export (re-download it if it was truncated)."
                ) from None
            if empty:
                raise DataError(
                    f"MIMIC-IV file '{path}' has a header but no rows: the cohort would be empty or miss its "
                    f"{table}. Check that the file is complete (re-download it if it was truncated)."
                )
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM {_reader(path)}")
        frame = con.execute(_cohort_sql()).df()
    except duckdb.Error as exc:
        raise DataError(
            f"DuckDB could not read the MIMIC-IV tables under '{root}': {_duckdb_summary(exc)}. Check that the "
            "files are complete MIMIC-IV CSV exports (re-download any truncated file)."
        ) from None
    finally:
        con.close()
    if frame.empty:
        raise DataError(
            f"The MIMIC-IV tables under '{root}' give no ICU stay: no stay in icu/icustays matches an admission "
            "and a patient. Check that hosp/ and icu/ come from the same MIMIC-IV release."
        )
    frame = _canonical_dtypes(frame)
    if out is not None:
        write_with(Path(out), lambda tmp: frame.to_parquet(tmp, index=False))
    return frame


def cohort_schema(frame: pd.DataFrame, *, source: str = "MIMIC-IV cohort") -> Schema:
    """Infer the schema of an extracted cohort with the documented kinds and suggested roles."""
    from synth.data.infer import infer_schema

    overrides = {c.name: {"kind": c.kind.value} for c in COHORT_COLUMNS if c.name in frame.columns}
    return infer_schema(frame, overrides, source=source, **MIMIC_IV_COHORT_INFO.role_arguments())


def _locate_tables(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        raise DataError(
            f"MIMIC-IV folder '{root}' does not exist or is not a folder: give the folder that holds "
            "hosp/ and icu/ (e.g. .../mimiciv/3.1)."
        )
    found: dict[str, Path] = {}
    for table, (folder, _) in REQUIRED_TABLES.items():
        candidates = [root / folder / f"{table}.csv.gz", root / folder / f"{table}.csv"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            required = ", ".join(f"{f}/{t}.csv.gz" for t, (f, _) in REQUIRED_TABLES.items())
            raise DataError(
                f"MIMIC-IV table '{table}' is missing: expected {candidates[0]} (or .csv). The cohort "
                f"extraction needs, under ROOT = '{root}': {required}; the layout is ROOT/hosp/... and "
                "ROOT/icu/... as downloaded from PhysioNet."
            )
        found[table] = path
    return found


def _duckdb_summary(exc: Exception) -> str:
    """DuckDB's message cut to its first line (and the CSV line it names): its full text is a page of hints."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    summary = lines[0][:300].rstrip(".")
    where = next((line for line in lines[1:] if line.startswith(("CSV Error on Line", "Original Line"))), None)
    return summary + (f" ({where[:200]})" if where else "")


def _reader(path: Path) -> str:
    # every column as text: the sniffer samples only the start of a file, and a late odd value
    # (e.g. a text result in a numeric-looking column) would otherwise abort the scan
    quoted = str(path).replace("'", "''")
    return f"read_csv('{quoted}', header = true, delim = ',', quote = '\"', all_varchar = true)"


def _check_columns(con, table: str, path: Path) -> None:
    names = [d[0] for d in con.execute(f"SELECT * FROM {_reader(path)} LIMIT 0").description]
    needed = REQUIRED_TABLES[table][1]
    missing = [c for c in needed if c not in names]
    if missing:
        raise DataError(
            f"MIMIC-IV file '{path}' lacks the column(s) {', '.join(missing)} (it has: {', '.join(names)}). "
            "This extraction expects the MIMIC-IV v2.x/v3.x column names; check the file is the right table "
            "and version."
        )


def _in_list(ids: tuple[int, ...] | list[int]) -> str:
    return ", ".join(f"'{i}'" for i in ids)


def _cohort_sql() -> str:
    vital_ids = [i for ids, _, _ in _VITALS.values() for i in ids]
    lab_ids = [itemid for itemid, _ in _LABS.values()]
    vital_cases = ",\n".join(
        f"CASE WHEN itemid IN ({', '.join(map(str, ids))}) THEN {expr} END AS {name}"
        for name, (ids, expr, _) in _VITALS.items()
    )
    vital_aggs = ",\n".join(
        f"{fn}({name}) AS {name}_{stat}"
        for name in _VITALS
        for stat, fn in (("min", "min"), ("mean", "avg"), ("max", "max"))
    )
    lab_aggs = ",\n".join(
        f"{fn}(v) FILTER (WHERE itemid = {itemid}) AS {name}_{fn}"
        for name, (itemid, _) in _LABS.items()
        for fn in ("min", "max")
    )
    window = f"INTERVAL {WINDOW_HOURS} HOUR"
    measured = [c.name for c in COHORT_COLUMNS if c.name.rsplit("_", 1)[0] in {*_VITALS, *_LABS}]
    return f"""
WITH stays AS (
    SELECT TRY_CAST(stay_id AS BIGINT) AS stay_id, TRY_CAST(subject_id AS BIGINT) AS subject_id,
           TRY_CAST(hadm_id AS BIGINT) AS hadm_id, first_careunit,
           TRY_CAST(intime AS TIMESTAMP) AS intime, TRY_CAST(los AS DOUBLE) AS los
    FROM icustays
),
chart AS (
    SELECT TRY_CAST(stay_id AS BIGINT) AS stay_id, TRY_CAST(charttime AS TIMESTAMP) AS charttime,
           CAST(itemid AS INTEGER) AS itemid, TRY_CAST(valuenum AS DOUBLE) AS v
    FROM chartevents
    WHERE itemid IN ({_in_list(vital_ids)}) AND valuenum IS NOT NULL
),
vital_values AS (
    SELECT chart.stay_id, {vital_cases}
    FROM chart JOIN stays ON chart.stay_id = stays.stay_id
    WHERE chart.charttime >= stays.intime AND chart.charttime < stays.intime + {window}
),
vitals AS (
    SELECT stay_id, {vital_aggs}
    FROM vital_values GROUP BY stay_id
),
lab AS (
    SELECT TRY_CAST(subject_id AS BIGINT) AS subject_id, TRY_CAST(charttime AS TIMESTAMP) AS charttime,
           CAST(itemid AS INTEGER) AS itemid, TRY_CAST(valuenum AS DOUBLE) AS v
    FROM labevents
    WHERE itemid IN ({_in_list(lab_ids)}) AND valuenum IS NOT NULL
),
labs AS (
    SELECT stays.stay_id, {lab_aggs}
    FROM lab JOIN stays ON lab.subject_id = stays.subject_id
    WHERE lab.v > 0 AND lab.charttime >= stays.intime AND lab.charttime < stays.intime + {window}
    GROUP BY stays.stay_id
),
adm AS (
    SELECT TRY_CAST(hadm_id AS BIGINT) AS hadm_id, TRY_CAST(admittime AS TIMESTAMP) AS admittime,
           TRY_CAST(dischtime AS TIMESTAMP) AS dischtime, admission_type, insurance, language,
           marital_status, race, TRY_CAST(hospital_expire_flag AS INTEGER) AS hospital_expire_flag
    FROM admissions
),
pat AS (
    SELECT TRY_CAST(subject_id AS BIGINT) AS subject_id, gender,
           TRY_CAST(anchor_age AS INTEGER) AS anchor_age, TRY_CAST(anchor_year AS INTEGER) AS anchor_year
    FROM patients
)
SELECT stays.stay_id, stays.subject_id, stays.hadm_id,
       pat.anchor_age + year(adm.admittime) - pat.anchor_year AS age,
       pat.gender, adm.race, adm.insurance, adm.language, adm.marital_status, adm.admission_type,
       stays.first_careunit,
       {", ".join(measured)},
       stays.los AS icu_los_days,
       date_diff('second', adm.admittime, adm.dischtime) / 86400.0 AS hospital_los_days,
       adm.hospital_expire_flag AS in_hospital_mortality
FROM stays
LEFT JOIN adm ON adm.hadm_id = stays.hadm_id
LEFT JOIN pat ON pat.subject_id = stays.subject_id
LEFT JOIN vitals ON vitals.stay_id = stays.stay_id
LEFT JOIN labs ON labs.stay_id = stays.stay_id
ORDER BY stays.stay_id
"""


def _canonical_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for col in COHORT_COLUMNS:
        values = frame[col.name]
        if col.kind == ColumnKind.ID or col.name in ("age", "in_hospital_mortality"):
            out[col.name] = values.astype("Int64")
        elif col.kind == ColumnKind.NUMERIC:
            out[col.name] = values.astype("float64")
        else:
            out[col.name] = values.astype(object).where(values.notna(), np.nan)
    return pd.DataFrame(out)
