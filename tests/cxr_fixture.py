"""A small MIMIC-CXR-JPG folder written by the tests: the real layout, tables, reports and JPEGs.

Three patients, five studies, eight images (frontal and lateral, non-square JPEGs), one
study without a report, one without labels, official splits train/validate/test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from synth.data.images import layout

# (subject, study, dicom, view, split)
IMAGES = [
    (10000032, 50414267, "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014", "PA", "train"),
    (10000032, 50414267, "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962", "LATERAL", "train"),
    (10000032, 53189527, "2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab", "AP", "train"),
    (10000764, 57375967, "096052b7-d256dc40-453a102b-fa7d01c6-1b22c6b4", "AP", "validate"),
    (10000764, 57375967, "b79e55c3-735ce5ac-64412506-cdc9ea79-f1af521f", "LATERAL", "validate"),
    (10000898, 50771383, "4bff3d4c-4a2f5f2e-2b1d1e8c-5d1d3c7e-0a1b2c3d", "PA", "test"),
    (10000898, 50771383, "5cff3d4c-4a2f5f2e-2b1d1e8c-5d1d3c7e-0a1b2c3d", "LATERAL", "test"),
    (10000898, 54205396, "6dff3d4c-4a2f5f2e-2b1d1e8c-5d1d3c7e-0a1b2c3d", "PA", "test"),
]
REPORTS = {
    50414267: (" FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n \n INDICATION:  ___F with cough\n \n"
               " FINDINGS: \n \n There is a small left pleural effusion. Heart size is normal.\n \n"
               " IMPRESSION: \n \n Small left pleural effusion.\n"),
    53189527: " FINDINGS:  Moderate cardiomegaly. Lungs are clear.\n IMPRESSION:  Cardiomegaly, stable since ___.\n",
    57375967: " IMPRESSION:  No acute cardiopulmonary process.\n",
    50771383: " FINDINGS:  Right apical pneumothorax.\n IMPRESSION:  Right pneumothorax. Dr. ___ notified.\n",
    # 54205396 has no report: its prompt is written from its labels
}
LABELS = {  # study -> {finding: value}; 54205396 has labels, 57375967 none
    50414267: {"Pleural Effusion": 1.0, "Cardiomegaly": 0.0},
    53189527: {"Cardiomegaly": 1.0},
    50771383: {"Pneumothorax": 1.0, "Support Devices": -1.0},
    54205396: {"Consolidation": 1.0, "Pleural Effusion": 1.0},
}


def write_mimic_fixture(root: Path, *, with_reports: bool = True, size: tuple[int, int] = (96, 80)) -> Path:
    """Write the fixture under ``root`` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    meta = []
    for subject, study, dicom, view, _ in IMAGES:
        path = root / layout.image_path(subject, study, dicom)
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = (rng.random((size[1], size[0])) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(path, format="JPEG", quality=90)
        meta.append({"dicom_id": dicom, "subject_id": subject, "study_id": study, "ViewPosition": view,
                     "Rows": size[1], "Columns": size[0]})
    if with_reports:
        for subject, study, *_ in IMAGES:
            if study in REPORTS:
                (root / layout.report_path(subject, study)).write_text(REPORTS[study], encoding="utf-8")
    labels = pd.DataFrame([{"subject_id": s, "study_id": t, **LABELS[t]}
                           for s, t in dict.fromkeys((s, t) for s, t, *_ in IMAGES) if t in LABELS])
    split = pd.DataFrame([{"dicom_id": d, "study_id": t, "subject_id": s, "split": sp} for s, t, d, _, sp in IMAGES])
    layout.write_tables(root, pd.DataFrame(meta), labels, split)
    return root
