"""Radiology reports for phantom studies, in the words and layout of MIMIC-CXR reports.

Each report has EXAMINATION, INDICATION, TECHNIQUE, COMPARISON, FINDINGS and IMPRESSION
sections. Findings and impression state exactly what the labels say: a positive finding
is described with its side and grade as drawn, an uncertain one hedged, a negative one
denied; not-mentioned findings are not mentioned. Phrasings vary (several per finding,
drawn at random) so a model cannot key on one fixed sentence.

De-identification markers (``___`` as in MIMIC-CXR, or ``XXXX`` as in Open-i) appear in
the findings and impression at the rates measured on the Open-i reports (see
:mod:`.atlas`), in the places real reports have them: comparison dates, the name of the
clinician who was called and the time of the call.
"""

from __future__ import annotations

import numpy as np

from synth.data.images.phantom.atlas import DEID_SHARE_FINDINGS, DEID_SHARE_IMPRESSION
from synth.data.images.phantom.render import Study

_HEART = {
    1.0: ("The heart is {grade} enlarged.", "{Grade} cardiomegaly.", "Cardiac silhouette is {grade} enlarged."),
    -1.0: ("Heart size is top normal to mildly enlarged.", "Borderline enlargement of the cardiac silhouette."),
    0.0: ("Heart size is normal.", "The cardiac silhouette is within normal limits.", "Normal heart size."),
}
_EFFUSION = {
    1.0: ("{Grade} {side} pleural effusion{s}.", "There {is} a {grade} {side} pleural effusion{s}.",
          "{Grade} {side} pleural effusion{s} with adjacent atelectasis."),
    -1.0: ("Blunting of the {side} costophrenic angle may reflect a trace pleural effusion.",
           "Possible small {side} pleural effusion."),
    0.0: ("No pleural effusion.", "There is no pleural effusion.", "No effusion."),
}
_PTX = {
    1.0: ("{Grade} {side} pneumothorax.", "There is a {grade} {side} apical pneumothorax.",
          "{Grade} {side} pneumothorax without evidence of tension."),
    -1.0: ("Possible tiny {side} apical pneumothorax.", "A {side} apical pneumothorax cannot be excluded."),
    0.0: ("No pneumothorax.", "There is no pneumothorax.", "No evidence of pneumothorax."),
}
_CONSOLIDATION = {
    1.0: ("Focal consolidation in the {lobe}, concerning for pneumonia.", "Consolidation in the {lobe}.",
          "Airspace consolidation within the {lobe}."),
    -1.0: ("Patchy opacity in the {lobe} may reflect atelectasis, though consolidation cannot be excluded.",
           "Hazy opacity in the {lobe}, possibly early consolidation."),
    0.0: ("No focal consolidation.", "The lungs are without focal consolidation.", "No consolidation."),
}
_DEVICE = {
    "endotracheal tube": ("Endotracheal tube terminates approximately {cm} cm above the carina.",
                          "ET tube in standard position."),
    "central venous catheter": ("Central venous catheter terminates in the mid SVC.",
                                "Right internal jugular line tip in the SVC."),
    "enteric tube": ("Enteric tube courses below the diaphragm with the tip in the stomach.",
                     "Nasogastric tube tip is in the stomach."),
    "pacemaker": ("Left chest wall pacemaker with leads in the right atrium and right ventricle.",
                  "Cardiac pacemaker device with intact leads."),
    "monitoring leads": ("Monitoring leads overlie the chest.", "External monitoring leads are noted."),
}
_NORMAL = ("The lungs are clear.", "Lungs are well expanded and clear.", "No focal airspace disease.")
_NORMAL_IMPRESSION = ("No acute cardiopulmonary process.", "No acute intrathoracic abnormality.",
                      "Normal chest radiograph.")


def write_report(study: Study, rng: np.random.Generator, *, marker: str = "___", age: int = 60, sex: str = "M") -> str:
    """The report text of ``study`` (MIMIC-CXR layout)."""
    findings, impression = [], []
    drawn, labels = study.drawn, study.labels
    devices = drawn.get("Support Devices", {}).get("devices", [])
    if labels.get("Support Devices") == 1.0:
        for device in devices:
            findings.append(_pick(rng, _DEVICE[device]).format(cm=int(rng.integers(3, 6))))
        impression.append("Lines and tubes as described." if len(devices) > 1 else findings[-1])
    for finding, table, fill in (
        ("Cardiomegaly", _HEART, lambda d: {"grade": _heart_grade(d)}),
        ("Pleural Effusion", _EFFUSION, lambda d: _side_grade(d, plural=d.get("side") == "bilateral")),
        ("Pneumothorax", _PTX, lambda d: _side_grade(d)),
        ("Consolidation", _CONSOLIDATION, lambda d: {"lobe": d.get("lobe", "right lower lobe")}),
    ):
        label = labels.get(finding)
        if label is None or label != label:  # not mentioned
            continue
        values = fill(drawn.get(finding, _default_drawn(finding, rng)))
        sentence = _format(_pick(rng, table[label]), values)
        findings.append(sentence)
        if label != 0.0:
            impression.append(sentence)
    if labels.get("No Finding") == 1.0:
        findings.append(_pick(rng, _NORMAL))
        impression.append(_pick(rng, _NORMAL_IMPRESSION))
    if not impression:
        impression.append(_pick(rng, _NORMAL_IMPRESSION))
    if rng.random() < DEID_SHARE_FINDINGS:
        findings.insert(0, _pick(rng, (f"Comparison is made to the prior study from {marker}.",
                                       f"Compared to the radiograph of {marker}, there is little change.")))
    if rng.random() < DEID_SHARE_IMPRESSION:
        impression.append(_pick(rng, (f"Findings were discussed with Dr. {marker} by telephone at {marker}.",
                                      f"These findings were communicated to {marker} at {marker} on {marker}.")))
    view = "PA AND LAT" if study.view == "PA" else "PORTABLE AP"
    who = "woman" if sex == "F" else "man"
    return (
        "                                 FINAL REPORT\n"
        f" EXAMINATION:  CHEST ({view})\n \n"
        f" INDICATION:  {marker}-year-old {who} with {_pick(rng, ('shortness of breath', 'cough', 'fever', 'chest pain'))}.\n \n"
        f" TECHNIQUE:  Chest {'PA and lateral' if study.view == 'PA' else 'portable AP'}\n \n"
        f" COMPARISON:  {marker}\n \n"
        f" FINDINGS: \n \n {' '.join(findings)}\n \n"
        f" IMPRESSION: \n \n {' '.join(impression)}\n"
    )


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _format(template: str, values: dict[str, str]) -> str:
    full = dict(values)
    full.update({k.capitalize(): str(v).capitalize() for k, v in values.items()})
    return template.format(**full)


def _heart_grade(drawn: dict) -> str:
    ctr = drawn.get("ctr", 0.6)
    return "mildly" if ctr < 0.6 else "moderately" if ctr < 0.65 else "severely"


def _side_grade(drawn: dict, plural: bool = False) -> dict[str, str]:
    return {"side": drawn.get("side", "right"), "grade": drawn.get("grade", "small"),
            "s": "s" if plural else "", "is": "are" if plural else "is"}


def _default_drawn(finding: str, rng: np.random.Generator) -> dict:
    """Words for an uncertain finding that was not drawn (the report still hedges about a side / lobe)."""
    from synth.data.images.phantom.findings import LOBES

    return {"side": str(rng.choice(["right", "left"])), "grade": "small", "lobe": str(rng.choice(list(LOBES))),
            "ctr": 0.56}
