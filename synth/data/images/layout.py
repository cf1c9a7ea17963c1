"""The MIMIC-CXR-JPG folder layout, for reading and for writing image sets in it.

::

    ROOT/files/pXX/p<subject_id>/s<study_id>/<dicom_id>.jpg   one image (XX: first two digits of subject_id)
    ROOT/files/pXX/p<subject_id>/s<study_id>.txt              the study's report (MIMIC-CXR, optional)
    ROOT/mimic-cxr-2.0.0-metadata.csv.gz    dicom_id, subject_id, study_id, ViewPosition, Rows, Columns, ...
    ROOT/mimic-cxr-2.0.0-chexpert.csv.gz    subject_id, study_id and the 14 CheXpert labels
    ROOT/mimic-cxr-2.0.0-negbio.csv.gz      the same labels from the NegBio labeler
    ROOT/mimic-cxr-2.0.0-split.csv.gz       dicom_id, study_id, subject_id, split (train/validate/test)

The phantom set and synth's synthetic image outputs are written in this layout (PNG or
JPEG files), so the same loader reads real, phantom and synthetic sets. Tables are
gzip-compressed with a zero timestamp so the same content gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from synth.data.images.labels import CHEXPERT_FINDINGS

PREFIX = "mimic-cxr-2.0.0-"
TABLES = {"metadata": f"{PREFIX}metadata.csv.gz", "chexpert": f"{PREFIX}chexpert.csv.gz",
          "negbio": f"{PREFIX}negbio.csv.gz", "split": f"{PREFIX}split.csv.gz"}
METADATA_COLUMNS = ("dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition",
                    "Rows", "Columns", "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning",
                    "ViewCodeSequence_CodeMeaning", "PatientOrientationCodeSequence_CodeMeaning")
LABEL_TABLE_COLUMNS = ("subject_id", "study_id", *CHEXPERT_FINDINGS)
SPLIT_COLUMNS = ("dicom_id", "study_id", "subject_id", "split")


def study_folder(subject_id: int | str, study_id: int | str) -> str:
    """``files/pXX/p<subject>/s<study>`` (relative to the root)."""
    subject = str(subject_id)
    return f"files/p{subject[:2]}/p{subject}/s{study_id}"


def image_path(subject_id: int | str, study_id: int | str, dicom_id: str, suffix: str = ".jpg") -> str:
    """The image's path relative to the root."""
    return f"{study_folder(subject_id, study_id)}/{dicom_id}{suffix}"


def report_path(subject_id: int | str, study_id: int | str) -> str:
    """The study report's path relative to the root."""
    return f"{study_folder(subject_id, study_id)}.txt"


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """A ``.csv.gz`` table with a zero gzip timestamp (same frame, same bytes)."""
    frame.to_csv(path, index=False, lineterminator="\n", compression={"method": "gzip", "mtime": 0})


def write_tables(root: Path, metadata: pd.DataFrame, labels: pd.DataFrame, split: pd.DataFrame) -> None:
    """Write the metadata, CheXpert and NegBio label, and split tables into ``root``.

    ``labels`` has subject_id, study_id and any of the 14 finding names; the others are
    written blank (not mentioned).
    """
    labels = labels.copy()
    for finding in CHEXPERT_FINDINGS:
        if finding not in labels.columns:
            labels[finding] = float("nan")
    meta = metadata.copy()
    for column in METADATA_COLUMNS:
        if column not in meta.columns:
            meta[column] = ""
    write_table(meta[list(METADATA_COLUMNS)], root / TABLES["metadata"])
    write_table(labels[list(LABEL_TABLE_COLUMNS)], root / TABLES["chexpert"])
    write_table(labels[list(LABEL_TABLE_COLUMNS)], root / TABLES["negbio"])
    write_table(split[list(SPLIT_COLUMNS)], root / TABLES["split"])
