"""A tiny fake MIMIC-IV folder with the real v2.x/v3.x table layout and column names.

Values are plausible but invented. Every stay gets vitals and labs inside its first 24 h
plus decoys that the extraction must ignore: measurements before ``intime``, after 24 h,
out of the physiological range and without a numeric value. The first patient has two
ICU stays (in two admissions two years apart). The first stay (:data:`MARKER_STAY_ID`)
carries hand-set heart rates and temperatures whose first-day aggregates are known
(:data:`MARKER_EXPECTED`); the last stay has no lab results at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIRST_SUBJECT_ID = 10_000_001
FIRST_HADM_ID = 20_000_001
FIRST_STAY_ID = 30_000_001
MARKER_STAY_ID = FIRST_STAY_ID

# heart rate: 80 and 100 inside the window; 150 before intime, 200 after 24 h, 400 implausible
# temperature: 98.6 F (= 37.0 C) and 38.0 C inside; 104 F after 24 h
MARKER_EXPECTED = {
    "heart_rate_min": 80.0,
    "heart_rate_mean": 90.0,
    "heart_rate_max": 100.0,
    "temperature_min": 37.0,
    "temperature_mean": 37.5,
    "temperature_max": 38.0,
}

# itemid -> (low, high, unit, label, category)
VITAL_ITEMS = {
    220045: (60, 120, "bpm", "Heart Rate", "Routine Vital Signs"),
    220179: (90, 160, "mmHg", "Non Invasive Blood Pressure systolic", "Routine Vital Signs"),
    220180: (40, 90, "mmHg", "Non Invasive Blood Pressure diastolic", "Routine Vital Signs"),
    220181: (55, 110, "mmHg", "Non Invasive Blood Pressure mean", "Routine Vital Signs"),
    220050: (90, 170, "mmHg", "Arterial Blood Pressure systolic", "Routine Vital Signs"),
    220051: (40, 90, "mmHg", "Arterial Blood Pressure diastolic", "Routine Vital Signs"),
    220052: (55, 110, "mmHg", "Arterial Blood Pressure mean", "Routine Vital Signs"),
    220210: (12, 30, "insp/min", "Respiratory Rate", "Respiratory"),
    223762: (36.0, 39.0, "°C", "Temperature Celsius", "Routine Vital Signs"),
    223761: (97.0, 102.0, "°F", "Temperature Fahrenheit", "Routine Vital Signs"),
    220277: (88, 100, "%", "O2 saturation pulseoxymetry", "Respiratory"),
}
OTHER_CHART_ITEM = (220739, 1, 4, "", "GCS - Eye Opening", "Neurological")

# itemid -> (low, high, unit, label, fluid, category)
LAB_ITEMS = {
    50912: (0.5, 3.0, "mg/dL", "Creatinine", "Blood", "Chemistry"),
    50983: (128, 150, "mEq/L", "Sodium", "Blood", "Chemistry"),
    50971: (3.0, 6.0, "mEq/L", "Potassium", "Blood", "Chemistry"),
    51222: (7.0, 15.0, "g/dL", "Hemoglobin", "Blood", "Hematology"),
    51301: (3.0, 20.0, "K/uL", "White Blood Cells", "Blood", "Hematology"),
    50931: (70, 250, "mg/dL", "Glucose", "Blood", "Chemistry"),
    50813: (0.6, 6.0, "mmol/L", "Lactate", "Blood", "Blood Gas"),
}
OTHER_LAB_ITEM = (50882, 18, 30, "mEq/L", "Bicarbonate", "Blood", "Chemistry")

_FMT = "%Y-%m-%d %H:%M:%S"


def write_mimic_iv_fixture(root: Path, n_patients: int = 30, seed: int = 0) -> None:
    """Write ``root/hosp/*.csv.gz`` and ``root/icu/*.csv.gz`` for ``n_patients`` patients."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "hosp").mkdir(parents=True, exist_ok=True)
    (root / "icu").mkdir(parents=True, exist_ok=True)

    patients, admissions, stays = [], [], []
    hadm_id, stay_id = FIRST_HADM_ID, FIRST_STAY_ID
    for p in range(n_patients):
        subject_id = FIRST_SUBJECT_ID + p
        anchor_year = int(rng.integers(2110, 2190))
        anchor_age = int(rng.integers(18, 89))
        patients.append(
            {
                "subject_id": subject_id,
                "gender": str(rng.choice(["F", "M"])),
                "anchor_age": anchor_age,
                "anchor_year": anchor_year,
                "anchor_year_group": str(rng.choice(["2008 - 2010", "2011 - 2013", "2014 - 2016", "2017 - 2019"])),
                "dod": "",
            }
        )
        n_adm = 2 if p == 0 else 1
        for a in range(n_adm):
            admit = pd.Timestamp(year=anchor_year + 2 * a, month=int(rng.integers(1, 13)), day=int(rng.integers(1, 28)),
                                 hour=int(rng.integers(0, 24)), minute=int(rng.integers(0, 60)))
            disch = admit + pd.Timedelta(hours=float(rng.uniform(48, 400)))
            died = int(rng.random() < 0.25)
            admissions.append(
                {
                    "subject_id": subject_id,
                    "hadm_id": hadm_id,
                    "admittime": admit.strftime(_FMT),
                    "dischtime": disch.strftime(_FMT),
                    "deathtime": disch.strftime(_FMT) if died else "",
                    "admission_type": str(rng.choice(["EW EMER.", "URGENT", "ELECTIVE", "DIRECT EMER.", "OBSERVATION ADMIT"])),
                    "admit_provider_id": f"P{rng.integers(10000, 99999)}",
                    "admission_location": str(rng.choice(["EMERGENCY ROOM", "PHYSICIAN REFERRAL", "TRANSFER FROM HOSPITAL"])),
                    "discharge_location": "DIED" if died else str(rng.choice(["HOME", "SKILLED NURSING FACILITY", "REHAB"])),
                    "insurance": str(rng.choice(["Medicare", "Medicaid", "Private", "Other"])),
                    "language": str(rng.choice(["English", "Spanish", "Chinese"], p=[0.8, 0.15, 0.05])),
                    "marital_status": str(rng.choice(["MARRIED", "SINGLE", "WIDOWED", "DIVORCED", ""])),
                    "race": str(rng.choice(["WHITE", "BLACK/AFRICAN AMERICAN", "HISPANIC/LATINO - PUERTO RICAN", "ASIAN", "UNKNOWN"])),
                    "edregtime": (admit - pd.Timedelta(hours=3)).strftime(_FMT),
                    "edouttime": admit.strftime(_FMT),
                    "hospital_expire_flag": died,
                }
            )
            intime = admit + pd.Timedelta(hours=float(rng.uniform(1, 12)))
            los = float(rng.uniform(1.1, 8.0))
            unit = str(rng.choice(["Medical Intensive Care Unit (MICU)", "Surgical Intensive Care Unit (SICU)",
                                   "Cardiac Vascular Intensive Care Unit (CVICU)"]))
            stays.append(
                {
                    "subject_id": subject_id,
                    "hadm_id": hadm_id,
                    "stay_id": stay_id,
                    "first_careunit": unit,
                    "last_careunit": unit,
                    "intime": intime.strftime(_FMT),
                    "outtime": (intime + pd.Timedelta(days=los)).strftime(_FMT),
                    "los": round(los, 4),
                }
            )
            hadm_id += 1
            stay_id += 1

    chart = []
    labs = []
    for i, stay in enumerate(stays):
        intime = pd.Timestamp(stay["intime"])
        sid, subj, hadm = stay["stay_id"], stay["subject_id"], stay["hadm_id"]

        def chart_row(itemid: int, hours: float, value: float | None, unit: str) -> None:
            t = intime + pd.Timedelta(hours=hours)
            chart.append(
                {
                    "subject_id": subj, "hadm_id": hadm, "stay_id": sid, "caregiver_id": int(rng.integers(1000, 9999)),
                    "charttime": t.strftime(_FMT), "storetime": (t + pd.Timedelta(minutes=5)).strftime(_FMT),
                    "itemid": itemid, "value": "Not done" if value is None else f"{value:g}",
                    "valuenum": "" if value is None else f"{value:g}", "valueuom": unit, "warning": 0,
                }
            )

        marker = sid == MARKER_STAY_ID
        for itemid, (lo, hi, unit, _, _) in VITAL_ITEMS.items():
            if marker and itemid in (220045, 223761, 223762):
                continue
            decimals = 1 if itemid in (223761, 223762) else 0
            for _ in range(int(rng.integers(2, 6))):
                chart_row(itemid, float(rng.uniform(0, 23.9)), round(float(rng.uniform(lo, hi)), decimals), unit)
            # decoys: before intime, after the first day, and a row without a number
            chart_row(itemid, float(rng.uniform(-6, -0.1)), round(float(hi * 1.3), decimals), unit)
            chart_row(itemid, float(rng.uniform(24.1, 40)), round(float(hi * 1.4), decimals), unit)
            chart_row(itemid, float(rng.uniform(0, 23.9)), None, unit)
        if marker:
            for hours, value in ((1.0, 80), (2.5, 100), (-1.0, 150), (25.0, 200), (3.0, 400)):
                chart_row(220045, hours, value, "bpm")
            chart_row(223761, 2.0, 98.6, "°F")
            chart_row(223762, 4.0, 38.0, "°C")
            chart_row(223761, 30.0, 104.0, "°F")
        itemid, lo, hi, unit, _, _ = OTHER_CHART_ITEM
        chart_row(itemid, 1.0, float(rng.integers(lo, hi + 1)), unit)

        if i == len(stays) - 1:
            continue  # the last stay has no labs
        for itemid, (lo, hi, unit, _, _, _) in LAB_ITEMS.items():
            times = [float(rng.uniform(0, 23.9)) for _ in range(int(rng.integers(1, 4)))]
            values = [round(float(rng.uniform(lo, hi)), 1) for _ in times]
            # an outpatient draw (no hadm_id) ten hours before and a result on day two: both ignored
            times += [-10.0, 30.0]
            values += [round(hi * 1.5, 1), round(hi * 1.6, 1)]
            for k, (hours, value) in enumerate(zip(times, values)):
                t = intime + pd.Timedelta(hours=hours)
                labs.append(
                    {
                        "labevent_id": len(labs) + 1, "subject_id": subj, "hadm_id": "" if hours < 0 else hadm,
                        "specimen_id": int(rng.integers(1_000_000, 9_999_999)), "itemid": itemid,
                        "order_provider_id": "", "charttime": t.strftime(_FMT),
                        "storetime": (t + pd.Timedelta(hours=1)).strftime(_FMT), "value": f"{value:g}",
                        "valuenum": value, "valueuom": unit, "ref_range_lower": lo, "ref_range_upper": hi,
                        "flag": "abnormal" if value > hi else "", "priority": "STAT", "comments": "",
                    }
                )
        itemid, lo, hi, unit, _, _, _ = OTHER_LAB_ITEM
        labs.append(
            {
                "labevent_id": len(labs) + 1, "subject_id": subj, "hadm_id": hadm, "specimen_id": 1,
                "itemid": itemid, "order_provider_id": "", "charttime": (intime + pd.Timedelta(hours=2)).strftime(_FMT),
                "storetime": "", "value": "24", "valuenum": 24, "valueuom": unit, "ref_range_lower": lo,
                "ref_range_upper": hi, "flag": "", "priority": "ROUTINE", "comments": "",
            }
        )

    d_items = [
        {"itemid": k, "label": v[3], "abbreviation": v[3], "linksto": "chartevents", "category": v[4],
         "unitname": v[2], "param_type": "Numeric", "lownormalvalue": "", "highnormalvalue": ""}
        for k, v in {**VITAL_ITEMS, OTHER_CHART_ITEM[0]: (0, 0, "", OTHER_CHART_ITEM[4], OTHER_CHART_ITEM[5])}.items()
    ]
    d_labitems = [
        {"itemid": k, "label": v[3], "fluid": v[4], "category": v[5]}
        for k, v in {**LAB_ITEMS, OTHER_LAB_ITEM[0]: OTHER_LAB_ITEM[1:]}.items()
    ]

    def write(rows: list[dict], rel: str) -> None:
        pd.DataFrame(rows).to_csv(root / rel, index=False, compression="gzip")

    write(patients, "hosp/patients.csv.gz")
    write(admissions, "hosp/admissions.csv.gz")
    write(labs, "hosp/labevents.csv.gz")
    write(d_labitems, "hosp/d_labitems.csv.gz")
    write(stays, "icu/icustays.csv.gz")
    write(chart, "icu/chartevents.csv.gz")
    write(d_items, "icu/d_items.csv.gz")
