"""The in-silico phantom CXR set: deterministic, in the MIMIC-CXR-JPG layout, labels and reports agree, findings learnable."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from synth.data.images.io import load_images
from synth.data.images.labels import column_name
from synth.data.images.mimic_cxr import load_mimic_cxr
from synth.data.images.phantom import PHANTOM_FINDINGS, make_cxr_phantom
from synth.data.images.phantom.anatomy import sample_patient
from synth.data.images.phantom.render import PATHOLOGIES, render_study, sample_study
from synth.data.images.reports import has_deid_marker
from synth.errors import DataError
from synth.vision import FindingsClassifier, per_finding_auroc

FINDINGS = [column_name(f) for f in PHANTOM_FINDINGS if f != "No Finding"]


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_same_arguments_same_bytes_and_the_loader_reads_it(tmp_path):
    a = make_cxr_phantom(tmp_path / "a", 12, seed=3, size=64)
    b = make_cxr_phantom(tmp_path / "b", 12, seed=3, size=64)
    c = make_cxr_phantom(tmp_path / "c", 12, seed=4, size=64)
    assert _digest(a) == _digest(b) != _digest(c)
    table = load_mimic_cxr(a, views=None)
    assert len(table) == 12 and set(table["view_position"]) <= {"PA", "AP"}
    assert table["subject_id"].min() >= 20_000_000  # never a real MIMIC-CXR subject id
    assert load_images(table["image"].tolist(), root=a).shape == (12, 1, 64, 64)
    assert not list(tmp_path.glob(".synth-tmp-*"))  # no staging folder left behind


def test_existing_folder_is_reused_only_for_the_same_arguments(tmp_path):
    out = make_cxr_phantom(tmp_path / "p", 4, size=64)
    stamp = (out / "phantom.json").stat().st_mtime_ns
    make_cxr_phantom(tmp_path / "p", 4, size=64)
    assert (out / "phantom.json").stat().st_mtime_ns == stamp
    with pytest.raises(DataError, match="not a phantom set made with these arguments.*n=5"):
        make_cxr_phantom(tmp_path / "p", 5, size=64)
    with pytest.raises(DataError, match="marker must be one of"):
        make_cxr_phantom(tmp_path / "q", 4, marker="[**]")


def test_labels_and_reports_agree():
    rng = np.random.default_rng(0)
    from synth.data.images.phantom.report_text import write_report
    from synth.data.images.reports import prompt_from_report

    markers = 0
    for _ in range(300):
        study = sample_study(rng)
        sick = any(study.labels[f] in (1.0, -1.0) for f in PATHOLOGIES)
        assert (study.labels["No Finding"] == 1.0) == (not sick)
        for finding in PATHOLOGIES:
            if study.labels[finding] == 1.0:
                assert finding in study.drawn  # a positive finding is always drawn
        prompt = prompt_from_report(write_report(study, rng))
        impression = prompt.lower()
        if study.labels["Pleural Effusion"] == 1.0:
            assert "effusion" in impression
        if study.labels["Pneumothorax"] == 1.0:
            assert "pneumothorax" in impression
        markers += has_deid_marker(prompt)
    # markers in findings (37.6 %) or impression (17 %) of Open-i reports: about 48 % of prompts
    assert 0.38 < markers / 300 < 0.6


def _pair(finding: str, drawn: dict, k: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The same patient and film without and with one finding (float images in [0, 1])."""
    rng = np.random.default_rng(k)
    patient = sample_patient(rng)
    normal = sample_study(rng, shares={f: (0.0, 0.0, 1.0) for f in (*PATHOLOGIES, "Support Devices")})
    sick = replace(normal, drawn={finding: drawn}, labels={**normal.labels, finding: 1.0})
    return tuple(render_study(patient, st, size, np.random.default_rng(100 + k)).astype(float) / 255 for st in (normal, sick))


REGIONS = {  # (finding, how it is drawn, rows, cols of the 64 px image, expected change of the region's mean)
    "Cardiomegaly": ({"ctr": 0.64}, slice(32, 54), slice(16, 50), +1),
    "Pleural Effusion": ({"side": "right", "fraction": 0.3, "grade": "moderate"}, slice(36, 54), slice(6, 26), +1),
    "Pneumothorax": ({"side": "right", "size": 0.3, "grade": "moderate"}, slice(10, 32), slice(6, 16), -1),
    "Consolidation": ({"lobe": "left lower lobe", "extent": 0.14}, slice(36, 52), slice(40, 58), +1),
}


@pytest.mark.parametrize("finding", list(REGIONS))
def test_each_finding_changes_the_film_where_radiology_says(finding):
    """Fast known answer: with and without the finding, same patient and noise, the right region changes.

    The slow test below shows the findings are learnable by a classifier from the set itself.
    """
    drawn, rows, cols, sign = REGIONS[finding]
    changes, elsewhere = [], []
    for k in range(12):
        normal, sick = _pair(finding, drawn, k)
        diff = sick - normal
        changes.append(diff[rows, cols].mean())
        mask = np.ones_like(diff, dtype=bool)
        mask[rows, cols] = False
        elsewhere.append(np.abs(diff[mask]).mean())
    changes = sign * np.array(changes)
    assert (changes > 0.02).all(), changes  # every film changes by more than 5 grey levels there
    assert changes.mean() > 2 * np.mean(elsewhere)  # and the change sits in that region


def test_support_devices_add_radio_opaque_lines():
    for k in range(6):
        normal, sick = _pair("Support Devices", {"devices": ["endotracheal tube", "central venous catheter"]}, k)
        added = (sick - normal) > 0.1  # more than 25 grey levels brighter
        assert 30 <= added.sum() <= 400, added.sum()  # thin tracks, not a haze over the film
        assert added[:24].sum() > 5 * added[40:].sum()  # the tube and the line run in the upper chest


@pytest.mark.slow
def test_findings_of_the_phantom_set_are_learnable(tmp_path):
    """The acceptance test: a small CNN on 64 px phantom images, AUROC > 0.9 per finding on held-out patients."""
    root = make_cxr_phantom(tmp_path / "phantom", 2400, seed=0, size=128)
    table = load_mimic_cxr(root)
    images = load_images(table["image"].tolist(), root=root, size=64)
    labels = table[FINDINGS].to_numpy(dtype=float)
    test = (table["subject_id"] % 4 == 0).to_numpy()  # whole patients held out
    clf = FindingsClassifier(FINDINGS, epochs=15, seed=0).fit(images[~test], labels[~test])
    aurocs = per_finding_auroc(clf.predict_proba(images[test]), labels[test], FINDINGS)
    print(f"held-out phantom AUROC ({int(test.sum())} images of {int(table['subject_id'][test].nunique())} patients):", aurocs)
    assert min(aurocs.values()) > 0.9, aurocs
