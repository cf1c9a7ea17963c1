"""Write a generator's synthetic images as PNG files, in the layout of the real set.

A generator's ``sample`` returns the image column holding one ``uint8`` array (H, W) per
row. :func:`write_synthetic_images` writes them under a folder and returns the table with
the image column replaced by each file's path relative to the folder's parent (the run's
output folder), which is what ``synthetic.csv`` lists:

- ``layout="mimic-cxr-jpg"`` (the real set was a MIMIC-CXR-JPG or phantom folder): one
  synthetic patient and study per image, ids from 90000000 on (real MIMIC-CXR ids are
  below 60000000, phantom ones from 20000000 and 60000000), ``files/pXX/p<id>/s<id>/syn-<n>.png``,
  the metadata, label and split tables (labels from the table's finding columns, split
  ``train``) and each prompt as the study's report, so the MIMIC-CXR loader reads the set.
- ``layout="flat"`` (any other image table): ``<n>.png`` numbered in row order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from synth.data.images import layout as mimic
from synth.data.images.io import write_png
from synth.data.images.labels import LABEL_COLUMNS
from synth.schema import Schema

FIRST_SYNTHETIC_ID = 90_000_000
Layout = Literal["mimic-cxr-jpg", "flat"]


def write_synthetic_images(frame: pd.DataFrame, schema: Schema, folder: Path, *, layout: Layout = "flat") -> pd.DataFrame:
    """Write every image column of ``frame`` as PNG files under ``folder``; return the table with paths.

    Raises ``ValueError`` (a generator bug) when a cell is not a ``uint8`` (H, W) array.
    """
    out = frame.copy()
    folder.mkdir(parents=True, exist_ok=True)
    columns = schema.images
    for column in columns:
        for i, image in enumerate(frame[column]):
            if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2:
                raise ValueError(
                    f"generator output column '{column}' row {i} is not a uint8 (H, W) image array "
                    f"({type(image).__name__} {getattr(image, 'dtype', '')} {getattr(image, 'shape', '')})"
                )
    if layout == "mimic-cxr-jpg" and len(columns) == 1:
        rel = _write_mimic(out, schema, columns[0], folder)
        out[columns[0]] = [f"{folder.name}/{p}" for p in rel]
        return out
    for column in columns:
        sub = f"{column}/" if len(columns) > 1 else ""
        paths = []
        for i, image in enumerate(frame[column]):
            name = f"{sub}{i:06d}.png"
            write_png(image, folder / name)
            paths.append(f"{folder.name}/{name}")
        out[column] = paths
    return out


def _write_mimic(frame: pd.DataFrame, schema: Schema, column: str, folder: Path) -> list[str]:
    n = len(frame)
    ids = np.arange(n) + FIRST_SYNTHETIC_ID
    dicom = [f"syn-{i:08d}" for i in range(n)]
    rel = [mimic.image_path(s, s, d, suffix=".png") for s, d in zip(ids, dicom)]
    for path, image in zip(rel, frame[column]):
        write_png(image, folder / path)
    prompt = schema.prompt
    if prompt is not None and prompt in frame.columns:
        for s, text in zip(ids, frame[prompt]):
            if isinstance(text, str) and text:
                (folder / mimic.report_path(s, s)).write_text(f" IMPRESSION: \n \n {text}\n", encoding="utf-8")
    views = frame["view_position"].astype(str).tolist() if "view_position" in frame.columns else [""] * n
    heights = [img.shape[0] for img in frame[column]]
    widths = [img.shape[1] for img in frame[column]]
    meta = pd.DataFrame({"dicom_id": dicom, "subject_id": ids, "study_id": ids, "ViewPosition": views,
                         "Rows": heights, "Columns": widths})
    labels = pd.DataFrame({"subject_id": ids, "study_id": ids})
    for col, finding in LABEL_COLUMNS.items():
        if col in frame.columns:
            labels[finding] = pd.to_numeric(frame[col], errors="coerce").to_numpy()
    split = pd.DataFrame({"dicom_id": dicom, "study_id": ids, "subject_id": ids, "split": "train"})
    mimic.write_tables(folder, meta, labels, split)
    return rel
