"""Load a MIMIC-CXR-JPG folder (or a phantom or synthetic set in its layout) as an image table.

The table has one row per image (sorted by subject, study and image id):

===================  ===========  ==========================================================
column               kind         meaning
===================  ===========  ==========================================================
image                image        the image file: a path relative to the root, or the
                                  absolute path of its resized copy in the cache
subject_id           id (group)   the patient: the split keeps a patient's images on one side
study_id             id           the imaging study (one report)
dicom_id             id           the image
view_position        categorical  PA, AP, LATERAL, ... (metadata ViewPosition)
prompt               text         the report's impression then findings
                                  (:func:`~synth.data.images.reports.prompt_from_report`),
                                  or, for a study without a report, a prompt written from
                                  its labels (:func:`~synth.data.images.reports.prompt_from_labels`)
<finding>            categorical  one per CheXpert label, snake case (``pleural_effusion``):
                                  1 positive, 0 negative, -1 uncertain, missing not mentioned
===================  ===========  ==========================================================

See :mod:`synth.data.images.layout` for the folder layout. Reports (``s<study>.txt``,
from the separate MIMIC-CXR reports download) are read when present.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from synth.atomic import atomic_path
from synth.data.datasets import DatasetInfo
from synth.data.images import layout
from synth.data.images.io import read_image, write_png
from synth.data.images.labels import CHEXPERT_FINDINGS, column_name
from synth.data.images.reports import prompt_from_labels, prompt_from_report
from synth.errors import DataError
from synth.schema import ColumnKind

LABELERS = ("chexpert", "negbio")
SPLITS = ("train", "validate", "test")
IMAGE_SUFFIXES = (".jpg", ".png")
LABEL_COLUMNS = tuple(column_name(f) for f in CHEXPERT_FINDINGS)
TABLE_COLUMNS = ("image", "subject_id", "study_id", "dicom_id", "view_position", "prompt", *LABEL_COLUMNS)

MIMIC_CXR_INFO = DatasetInfo(
    name="mimic-cxr-jpg",
    title="MIMIC-CXR-JPG chest radiographs with CheXpert labels and report prompts (needs data.root)",
    description=(
        "One row per image of a local MIMIC-CXR-JPG folder (or a phantom / synthetic set in its layout): the "
        "image path, patient, study, view, a prompt from the report (impression then findings) and the 14 "
        "CheXpert labels. Split by patient (subject_id)."
    ),
    rows=None,
    columns=len(TABLE_COLUMNS),
    source="MIMIC-CXR-JPG 2.x (PhysioNet, https://physionet.org/content/mimic-cxr-jpg/), credentialed access",
    licence="PhysioNet Credentialed Health Data License 1.5.0 (synthetic releases need the DUA's approval)",
    target=None,
    identifiers=("study_id", "dicom_id"),
    group="subject_id",
    prompt="prompt",
    column_meanings={"image": "image file", "subject_id": "patient", "study_id": "study", "dicom_id": "image id",
                     "view_position": "ViewPosition", "prompt": "impression then findings of the report",
                     **{column_name(f): f"CheXpert label '{f}' (1, 0, -1 or missing)" for f in CHEXPERT_FINDINGS}},
)

# the kinds the table's columns are given (inference would call an all-blank label numeric)
COLUMN_KINDS: dict[str, ColumnKind] = {
    "image": ColumnKind.IMAGE, "subject_id": ColumnKind.ID, "study_id": ColumnKind.ID, "dicom_id": ColumnKind.ID,
    "view_position": ColumnKind.CATEGORICAL, "prompt": ColumnKind.TEXT,
    **{c: ColumnKind.CATEGORICAL for c in LABEL_COLUMNS},
}


def load_mimic_cxr(
    root: str | Path,
    *,
    views: Sequence[str] | None = ("PA", "AP"),
    splits: Sequence[str] | None = None,
    labeler: str = "chexpert",
    max_images: int | None = None,
    size: int | None = None,
    cache_dir: str | Path | None = None,
) -> pd.DataFrame:
    """The image table of the MIMIC-CXR-JPG folder ``root`` (see the module docstring).

    ``views`` keeps images whose ViewPosition is listed (None: all); ``splits`` keeps the
    official split's ``train`` / ``validate`` / ``test`` images (None: all; needs the split
    table). ``max_images`` keeps whole patients, in id order, up to that many images.
    With ``cache_dir`` each image is resized to ``size`` x ``size`` once and kept there as
    PNG (same layout, under ``<size>px/``); the table then names the cached copies by
    absolute path. Raises :class:`DataError` naming the file for a missing table, column
    or image file, or when no image passes the filters.
    """
    root = Path(root).expanduser()
    _check_options(root, labeler, splits, max_images, size, cache_dir)
    meta = _read_table(root, "metadata", ("dicom_id", "subject_id", "study_id", "ViewPosition"))
    labels = _read_table(root, labeler, ("subject_id", "study_id"))
    found_views = meta["ViewPosition"].fillna("").astype(str).str.upper()
    if views is not None:
        wanted = {str(v).upper() for v in views}
        keep = found_views.isin(wanted)
        if not keep.any():
            counts = ", ".join(f"{v or '(blank)'}: {c}" for v, c in found_views.value_counts().head(8).items())
            raise DataError(
                f"No image in '{root}' has a view in {', '.join(sorted(wanted))} (data.images.views); the metadata "
                f"table has {counts}. Pick views that occur."
            )
        meta = meta[keep]
    if splits is not None:
        split = _read_table(root, "split", ("dicom_id", "split"))
        chosen = set(split.loc[split["split"].isin(list(splits)), "dicom_id"])
        meta = meta[meta["dicom_id"].isin(chosen)]
        if meta.empty:
            raise DataError(f"No image of the chosen views in '{root}' is in the split(s) {', '.join(splits)}.")
    meta = meta.sort_values(["subject_id", "study_id", "dicom_id"], kind="stable")
    if max_images is not None:
        counts = meta.groupby("subject_id", sort=True).size()
        keep_subjects = counts.index[(counts.cumsum() <= max_images).to_numpy()]
        if len(keep_subjects) == 0:  # the first patient alone has more images: keep that one patient's first images
            meta = meta.head(max_images)
        else:
            meta = meta[meta["subject_id"].isin(keep_subjects)]
    table = _join_labels(meta, labels)
    table["image"] = _image_paths(root, table)
    table["prompt"] = _prompts(root, table)
    if cache_dir is not None:
        table["image"] = _cache(root, table["image"].tolist(), size, Path(cache_dir).expanduser())
    return table[list(TABLE_COLUMNS)].reset_index(drop=True)


def _check_options(root: Path, labeler: str, splits: Sequence[str] | None, max_images: int | None,
                   size: int | None, cache_dir: str | Path | None) -> None:
    if not root.is_dir():
        raise DataError(
            f"MIMIC-CXR-JPG folder '{root}' does not exist or is not a folder (data.root): give the folder that "
            f"holds files/ and the {layout.PREFIX}*.csv.gz tables."
        )
    if labeler not in LABELERS:
        raise DataError(f"Unknown labeler '{labeler}' (data.images.labeler): use one of {', '.join(LABELERS)}.")
    bad = [s for s in splits or () if s not in SPLITS]
    if bad:
        raise DataError(f"Unknown split(s) {', '.join(map(repr, bad))} (data.images.splits): use {', '.join(SPLITS)}.")
    if max_images is not None and max_images < 1:
        raise DataError(f"data.images.max_images must be at least 1, got {max_images}.")
    if cache_dir is not None and size is None:
        raise DataError("data.images.cache_dir needs data.images.size: the cache holds images resized to that size.")


def _read_table(root: Path, which: str, required: tuple[str, ...]) -> pd.DataFrame:
    name = layout.TABLES[which]
    path = root / name
    if not path.is_file() and (root / name.removesuffix(".gz")).is_file():
        path = root / name.removesuffix(".gz")
    if not path.is_file():
        present = sorted(p.name for p in root.glob(f"{layout.PREFIX}*"))
        raise DataError(
            f"MIMIC-CXR-JPG folder '{root}' lacks the table {name}"
            + (f" (it has: {', '.join(present)})" if present else " (it has no mimic-cxr-2.0.0-*.csv.gz tables)")
            + ". Download the complete MIMIC-CXR-JPG release into that folder, or point data.root at it."
        )
    try:
        frame = pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"Table '{path}' cannot be read ({exc}); re-download it.") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"Table '{path}' lacks the column(s) {', '.join(missing)} (it has {', '.join(map(str, frame.columns[:12]))}). "
            "Is it the MIMIC-CXR-JPG 2.x file of that name?"
        )
    return frame


def _join_labels(meta: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    findings = {f: column_name(f) for f in CHEXPERT_FINDINGS}
    labels = labels[["subject_id", "study_id", *[f for f in findings if f in labels.columns]]]
    labels = labels.drop_duplicates(["subject_id", "study_id"]).rename(columns=findings)
    table = meta[["dicom_id", "subject_id", "study_id", "ViewPosition"]].merge(
        labels, on=["subject_id", "study_id"], how="left", validate="many_to_one")
    table = table.rename(columns={"ViewPosition": "view_position"})
    for column in LABEL_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
        table[column] = pd.to_numeric(table[column], errors="coerce")
    return table


def _image_paths(root: Path, table: pd.DataFrame) -> list[str]:
    stems = [layout.image_path(s, t, d, suffix="") for s, t, d in
             zip(table["subject_id"], table["study_id"], table["dicom_id"])]
    suffix = next((sfx for sfx in IMAGE_SUFFIXES if stems and (root / (stems[0] + sfx)).is_file()), IMAGE_SUFFIXES[0])
    paths = [stem + suffix for stem in stems]
    missing = [p for p in paths if not (root / p).is_file()]
    if missing:
        raise DataError(
            f"{len(missing)} of {len(paths)} image files listed in {layout.TABLES['metadata']} are missing under "
            f"'{root}', e.g. {', '.join(missing[:3])}. Complete the download, or filter them out with "
            "data.images.views / splits / max_images."
        )
    return paths


def _prompts(root: Path, table: pd.DataFrame) -> list[str]:
    prompts = []
    label_rows = table[list(LABEL_COLUMNS)].to_dict("records")
    for subject, study, labels in zip(table["subject_id"], table["study_id"], label_rows):
        report = root / layout.report_path(subject, study)
        prompt = None
        if report.is_file():
            try:
                prompt = prompt_from_report(report.read_text(encoding="utf-8", errors="replace"))
            except OSError as exc:
                raise DataError(f"Report '{report}' cannot be read ({exc}).") from None
        prompts.append(prompt or prompt_from_labels(labels))
    return prompts


def _cache(root: Path, paths: list[str], size: int | None, cache_dir: Path) -> list[str]:
    """Resize each image to ``size`` once into ``cache_dir/<size>px/<path>.png``; the cached paths, absolute."""
    assert size is not None
    base = (cache_dir / f"{size}px").resolve()

    def one(rel: str) -> str:
        source = root / rel
        target = base / (str(Path(rel).with_suffix("")) + ".png")
        if not target.is_file() or target.stat().st_mtime_ns < source.stat().st_mtime_ns:
            target.parent.mkdir(parents=True, exist_ok=True)
            image = read_image(source, size)
            with atomic_path(target) as tmp:
                write_png(image, tmp)
        return str(target)

    workers = max(1, len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, paths))
