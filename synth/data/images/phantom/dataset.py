"""Write an in-silico phantom chest X-ray set in the MIMIC-CXR-JPG layout.

``make_cxr_phantom(out, n=600)`` draws patients (1-4 studies each, one frontal image per
study), renders each study (:mod:`.render`), writes its report (:mod:`.report_text`) and
the metadata, label and split tables, so :func:`synth.data.images.mimic_cxr.load_mimic_cxr`
reads the set like a real MIMIC-CXR-JPG folder. Every image is a deterministic function
of ``seed`` and its patient's index, so the same arguments give the same bytes.

The set is written into a hidden folder beside ``out`` and renamed into place when
complete: an interrupted run leaves nothing half-written. ``phantom.json`` in the folder
records the arguments, so a later call with the same arguments reuses the set.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from synth.data.images import layout
from synth.data.images.phantom.anatomy import sample_patient
from synth.data.images.phantom.render import render_study, sample_study
from synth.data.images.phantom.report_text import write_report
from synth.errors import DataError

PHANTOM_VERSION = 1
FIRST_SUBJECT_ID = 20_000_000  # real MIMIC-CXR subject ids are 10000000-19999999: no clash
FIRST_STUDY_ID = 60_000_000  # real study ids are 50000000-59999999
MARKERS = ("___", "XXXX")


def phantom_spec(n: int, seed: int, size: int, marker: str, ap_share: float) -> dict:
    """What ``phantom.json`` records: the arguments that determine the set's bytes."""
    return {"generator": "synth cxr-phantom", "version": PHANTOM_VERSION, "n": n, "seed": seed, "size": size,
            "marker": marker, "ap_share": ap_share}


def make_cxr_phantom(
    out: str | Path,
    n: int,
    *,
    seed: int = 0,
    size: int = 256,
    marker: str = "___",
    ap_share: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``n`` phantom frontal radiographs (``size`` px JPEG) with reports and tables into ``out``.

    Returns ``out``. When ``out`` already holds a phantom set made with the same arguments
    it is reused as is; any other non-empty ``out`` is a :class:`DataError`.
    ``progress(done, n)`` is called after each image.
    """
    _check_arguments(n, size, marker, ap_share)
    out = Path(out).expanduser()
    spec = phantom_spec(n, seed, size, marker, ap_share)
    if out.exists():
        if _same_phantom(out, spec):
            return out
        if not out.is_dir() or any(out.iterdir()):
            raise DataError(
                f"'{out}' exists and is not a phantom set made with these arguments ({_describe(spec)}): choose "
                "another folder, or delete it to make the set again."
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".synth-tmp-{out.name}-", dir=out.parent))
    try:
        _write(staging, spec, progress)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _write(root: Path, spec: dict, progress: Callable[[int, int], None] | None) -> None:
    n, size, marker = spec["n"], spec["size"], spec["marker"]
    meta, labels, split = [], [], []
    done, subject = 0, 0
    while done < n:
        rng = np.random.default_rng([spec["seed"], subject])
        patient = sample_patient(rng)
        subject_id = FIRST_SUBJECT_ID + subject
        which = rng.choice(["train", "validate", "test"], p=[0.9, 0.05, 0.05])
        for k in range(min(int(1 + rng.poisson(0.8)), 4, n - done)):
            study_id = FIRST_STUDY_ID + done
            study = sample_study(rng, ap_share=spec["ap_share"])
            image = render_study(patient, study, size, rng)
            dicom_id = "-".join(f"{x:08x}" for x in rng.integers(0, 2**32, size=5, dtype=np.uint64))
            path = root / layout.image_path(subject_id, study_id, dicom_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path, format="JPEG", quality=95)
            text = write_report(study, rng, marker=marker, age=patient.age, sex=patient.sex)
            (root / layout.report_path(subject_id, study_id)).write_text(text, encoding="utf-8")
            date = 21500101 + 10000 * (subject % 30) + 100 * (k % 12)  # shifted dates, as MIMIC's
            meta.append({"dicom_id": dicom_id, "subject_id": subject_id, "study_id": study_id,
                         "PerformedProcedureStepDescription": "CHEST (PA AND LAT)" if study.view == "PA"
                         else "CHEST (PORTABLE AP)", "ViewPosition": study.view, "Rows": size, "Columns": size,
                         "StudyDate": date, "StudyTime": 120000.0, "ProcedureCodeSequence_CodeMeaning": "CHEST",
                         "ViewCodeSequence_CodeMeaning": "postero-anterior" if study.view == "PA" else "antero-posterior",
                         "PatientOrientationCodeSequence_CodeMeaning": "Erect" if study.view == "PA" else "Recumbent"})
            labels.append({"subject_id": subject_id, "study_id": study_id, **study.labels})
            split.append({"dicom_id": dicom_id, "study_id": study_id, "subject_id": subject_id, "split": str(which)})
            done += 1
            if progress:
                progress(done, n)
        subject += 1
    layout.write_tables(root, pd.DataFrame(meta), pd.DataFrame(labels), pd.DataFrame(split))
    (root / "phantom.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _same_phantom(out: Path, spec: dict) -> bool:
    marker = out / "phantom.json"
    try:
        return out.is_dir() and json.loads(marker.read_text(encoding="utf-8")) == spec
    except (OSError, ValueError):
        return False


def _describe(spec: dict) -> str:
    return ", ".join(f"{k}={spec[k]!r}" for k in ("n", "seed", "size", "marker", "ap_share"))


def _check_arguments(n: int, size: int, marker: str, ap_share: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DataError(f"The phantom set needs a positive number of images, got n={n!r}.")
    if isinstance(size, bool) or not isinstance(size, int) or not 32 <= size <= 1024:
        raise DataError(f"Phantom image size must be a whole number of pixels in 32-1024, got {size!r}.")
    if marker not in MARKERS:
        raise DataError(f"De-identification marker must be one of {', '.join(MARKERS)}, got {marker!r}.")
    if not 0.0 <= ap_share <= 1.0:
        raise DataError(f"ap_share (the share of AP films) must be in [0, 1], got {ap_share!r}.")
