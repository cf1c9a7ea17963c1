"""One phantom study: sample what it shows (view, exposure, findings), then render it.

A study's labels follow the CheXpert scheme (1 positive, 0 negative, -1 uncertain, blank
not mentioned) for cardiomegaly, pleural effusion, pneumothorax, consolidation, support
devices and No Finding. A positive finding is always drawn; an uncertain one is drawn
half the time and then mildly (the radiologist was unsure for a reason); negative and
not-mentioned findings are not drawn. "No Finding" is positive exactly when no
pathology (the first four) is positive or uncertain; devices do not count, as in CheXpert.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from synth.data.images.phantom import findings as draw
from synth.data.images.phantom.anatomy import Patient, lung_geometry, normal_density
from synth.data.images.phantom.atlas import CHEXPERT_FRONTAL_SHARES

PATHOLOGIES = ("Cardiomegaly", "Pleural Effusion", "Pneumothorax", "Consolidation")
PHANTOM_FINDINGS = (*PATHOLOGIES, "Support Devices", "No Finding")


@dataclass(frozen=True)
class Study:
    """What one phantom image shows and how it was exposed."""

    view: str  # "PA" or "AP"
    labels: dict[str, float]  # finding -> 1, 0, -1 or NaN (not mentioned)
    drawn: dict[str, dict] = field(default_factory=dict)  # finding -> how it was drawn (side, size, ...)
    inspiration: float = 1.0
    gamma: float = 1.0
    contrast: float = 1.0
    brightness: float = 0.0
    noise: float = 0.015
    rotation_deg: float = 0.0


def sample_study(rng: np.random.Generator, *, ap_share: float = 0.5,
                 shares: dict[str, tuple[float, float, float]] | None = None) -> Study:
    """Draw a study: view, exposure and labels with CheXpert's frontal shares (or ``shares``)."""
    shares = shares or CHEXPERT_FRONTAL_SHARES
    view = "AP" if rng.random() < ap_share else "PA"
    labels: dict[str, float] = {}
    drawn: dict[str, dict] = {}
    for finding in (*PATHOLOGIES, "Support Devices"):
        pos, unc, neg = shares[finding]
        r = rng.random()
        label = 1.0 if r < pos else -1.0 if r < pos + unc else 0.0 if r < pos + unc + neg else float("nan")
        labels[finding] = label
        if label == 1.0 or (label == -1.0 and rng.random() < 0.5):
            drawn[finding] = _severity(finding, rng, mild=label == -1.0)
    pathology = any(labels[f] in (1.0, -1.0) for f in PATHOLOGIES)
    labels["No Finding"] = float("nan") if pathology else 1.0
    return Study(
        view=view, labels=labels, drawn=drawn,
        inspiration=float(rng.normal(0.93 if view == "AP" else 1.0, 0.03)),
        gamma=float(np.exp(rng.normal(0, 0.12))), contrast=float(rng.normal(1.0, 0.06)),
        brightness=float(rng.normal(0, 0.03)), noise=float(rng.uniform(0.008, 0.025)),
        rotation_deg=float(rng.normal(0, 1.5)),
    )


def render_study(patient: Patient, study: Study, size: int, rng: np.random.Generator) -> np.ndarray:
    """The radiograph as ``uint8`` (size, size): dense structures bright, air dark."""
    heart_scale = 1.12 if study.view == "AP" else 1.0  # AP magnifies the heart
    if "Cardiomegaly" in study.drawn:
        heart_scale *= study.drawn["Cardiomegaly"]["ctr"] / patient.cardiothoracic_ratio
    geo = lung_geometry(patient, size, inspiration=study.inspiration, heart_scale=heart_scale)
    density, markings = normal_density(patient, geo, rng, ap=study.view == "AP")
    if "Pneumothorax" in study.drawn:
        d = study.drawn["Pneumothorax"]
        density, markings = draw.pneumothorax(density, markings, geo, d["side"], d["size"])
    density = density + 0.16 * markings
    if "Pleural Effusion" in study.drawn:
        d = study.drawn["Pleural Effusion"]
        for side in ("right", "left") if d["side"] == "bilateral" else (d["side"],):
            density = draw.effusion(density, geo, side, d["fraction"])
    if "Consolidation" in study.drawn:
        d = study.drawn["Consolidation"]
        density = draw.consolidation(density, geo, patient.box, d["lobe"], d["extent"], rng)
    if "Support Devices" in study.drawn:
        density = draw.devices(density, geo, patient.box, tuple(study.drawn["Support Devices"]["devices"]), rng)
    if study.rotation_deg:
        density = ndimage.rotate(density, study.rotation_deg, reshape=False, order=1, mode="nearest")
    density = ndimage.gaussian_filter(density, size * 0.002)
    film = (1 - np.exp(-0.9 * np.clip(density, 0, None))) / (1 - np.exp(-0.9 * 2.0))
    film = study.contrast * np.clip(film, 0, 1) ** study.gamma + study.brightness
    film = film + study.noise * rng.standard_normal(film.shape)
    return np.clip(np.rint(np.clip(film, 0, 1) * 255), 0, 255).astype(np.uint8)


def _severity(finding: str, rng: np.random.Generator, *, mild: bool) -> dict:
    scale = 0.6 if mild else 1.0
    if finding == "Cardiomegaly":
        return {"ctr": float(rng.uniform(0.53, 0.58) if mild else rng.uniform(0.57, 0.68))}
    if finding == "Pleural Effusion":
        side = rng.choice(["right", "left", "bilateral"], p=[0.4, 0.3, 0.3])
        fraction = float(rng.uniform(0.12, 0.42) * scale)
        return {"side": str(side), "fraction": fraction,
                "grade": "small" if fraction < 0.2 else "moderate" if fraction < 0.32 else "large"}
    if finding == "Pneumothorax":
        size = float(rng.uniform(0.2, 0.4) * scale)
        return {"side": str(rng.choice(["right", "left"])), "size": size,
                "grade": "small" if size < 0.26 else "moderate" if size < 0.34 else "large"}
    if finding == "Consolidation":
        return {"lobe": str(rng.choice(list(draw.LOBES))), "extent": float(rng.uniform(0.1, 0.17) * (0.8 if mild else 1))}
    # support devices: at least one
    present = [d for d, p in zip(draw.DEVICES, (0.45, 0.55, 0.4, 0.2, 0.5)) if rng.random() < p]
    return {"devices": present or [str(rng.choice(draw.DEVICES))]}
