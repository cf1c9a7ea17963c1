"""The CheXpert finding labels that MIMIC-CXR-JPG, CheXpert and the phantom set share.

A label is 1 (positive), 0 (negative: mentioned as absent), -1 (uncertain) or blank (not
mentioned), as in ``mimic-cxr-2.0.0-chexpert.csv.gz``. In a loaded table each finding is a
categorical column named in snake case (``Pleural Effusion`` -> ``pleural_effusion``)
holding 1, 0, -1 or missing.
"""

from __future__ import annotations

import re

# The 14 CheXpert observations, in the column order of mimic-cxr-2.0.0-chexpert.csv.gz.
CHEXPERT_FINDINGS: tuple[str, ...] = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
    "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
    "Pneumothorax", "Support Devices",
)
POSITIVE, NEGATIVE, UNCERTAIN = 1, 0, -1
NO_FINDING = "No Finding"


def column_name(finding: str) -> str:
    """``"Pleural Effusion"`` -> ``"pleural_effusion"`` (the table's column for a finding)."""
    return re.sub(r"[^a-z0-9]+", "_", finding.lower()).strip("_")


LABEL_COLUMNS: dict[str, str] = {column_name(f): f for f in CHEXPERT_FINDINGS}  # column -> finding
