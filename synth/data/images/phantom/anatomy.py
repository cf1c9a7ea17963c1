"""The phantom's anatomy: a patient's body plan and the density map of a normal frontal chest film.

Coordinates are fractions of the image: ``u`` left to right, ``v`` top to bottom. As on a
real frontal radiograph the patient's right is on the image's left. The renderer builds a
*density* map (soft tissue 1, air-filled lung about 0.25, bone and metal above 1) that
:mod:`synth.data.images.phantom.render` turns into film brightness; dense is bright.

Lung outlines follow the median lung-mask outline of :mod:`.atlas` (derived from real lung
segmentations), scaled into each patient's lung box and varied per patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from synth.data.images.phantom import atlas

N_ROWS = len(atlas.RIGHT_LUNG_LATERAL)
_ROW_T = (np.arange(N_ROWS) + 0.5) / N_ROWS  # heights of the atlas rows within a lung (0 apex, 1 base)


@dataclass(frozen=True)
class Patient:
    """One person's body plan; every study of the patient shares it."""

    box: tuple[float, float, float, float]  # lung box: top, bottom, left, right (image fractions)
    lateral_shift: tuple[float, float]  # per lung, in units of the atlas sd of the lateral edge
    cardiothoracic_ratio: float  # heart width / chest width, about 0.45 when normal
    heart_offset: float  # heart centre right of the midline, fraction of the heart's half width
    dome_height: float  # diaphragm dome height, fraction of the lung box height
    sex: str  # "F" or "M"
    age: int
    rib_phase: float  # shifts the rib pattern, fraction of a rib interval


def sample_patient(rng: np.random.Generator) -> Patient:
    """A patient drawn around the atlas means (about half the real spread, for consistent framing)."""
    mean, sd = np.array(atlas.LUNG_BOX_MEAN), np.array(atlas.LUNG_BOX_SD)
    top, bottom, left, right = mean + 0.4 * sd * rng.standard_normal(4)
    top, bottom = float(np.clip(top, 0.05, 0.18)), float(np.clip(bottom, 0.76, 0.90))
    # keep the box roughly centred: a real technologist centres the chest
    half = float(np.clip((right - left) / 2, 0.36, 0.45))
    centre = 0.5 + 0.01 * rng.standard_normal()
    return Patient(
        box=(top, bottom, centre - half, centre + half),
        lateral_shift=(float(rng.normal(0, 0.7)), float(rng.normal(0, 0.7))),
        cardiothoracic_ratio=float(np.clip(rng.normal(0.44, 0.03), 0.36, 0.50)),
        heart_offset=float(rng.normal(0.28, 0.05)),
        dome_height=float(np.clip(rng.normal(0.07, 0.012), 0.04, 0.10)),
        sex="F" if rng.random() < 0.45 else "M",
        age=int(np.clip(rng.normal(62, 16), 19, 91)),
        rib_phase=float(rng.uniform(-0.15, 0.15)),
    )


@dataclass(frozen=True)
class Geometry:
    """A study's lungs and heart on the pixel grid (boolean / float masks, shape (S, S))."""

    u: np.ndarray
    v: np.ndarray
    right_lung: np.ndarray  # image-left lung
    left_lung: np.ndarray
    lung_top: tuple[float, float]  # v of each apex (right, left)
    lung_base: tuple[float, float]  # v of each costophrenic angle
    lateral_edge: tuple[np.ndarray, np.ndarray]  # u of the lateral edge per pixel row
    medial_edge: tuple[np.ndarray, np.ndarray]
    dome: tuple[np.ndarray, np.ndarray]  # v of the diaphragm per pixel column
    heart: np.ndarray  # float mask in [0, 1]
    heart_box: tuple[float, float, float, float]  # u left, u right, v top, v bottom

    def lung(self, side: str) -> np.ndarray:
        return self.right_lung if side == "right" else self.left_lung


def lung_geometry(patient: Patient, size: int, *, inspiration: float, heart_scale: float) -> Geometry:
    """Lung and heart masks of one study. ``inspiration`` scales lung height; ``heart_scale`` heart size."""
    grid = (np.arange(size) + 0.5) / size
    v, u = np.meshgrid(grid, grid, indexing="ij")
    top, bottom, left, right = patient.box
    height = (bottom - top) * inspiration
    width = right - left
    masks, tops, bases, lats, meds, domes = [], [], [], [], [], []
    for side, lateral, medial, base, shift in (
        ("right", atlas.RIGHT_LUNG_LATERAL, atlas.RIGHT_LUNG_MEDIAL, atlas.RIGHT_LUNG_BASE, patient.lateral_shift[0]),
        ("left", atlas.LEFT_LUNG_LATERAL, atlas.LEFT_LUNG_MEDIAL, atlas.LEFT_LUNG_BASE, patient.lateral_shift[1]),
    ):
        sign = -1.0 if side == "right" else 1.0  # outward direction of the lateral edge
        lat = np.array(lateral) + sign * shift * np.array(atlas.RIGHT_LUNG_LATERAL_SD)
        med = np.array(medial)
        apex = (lat[0] + med[0]) / 2
        t_rows = np.concatenate([[0.0], _ROW_T, [1.0]])
        lat_rows = np.concatenate([[apex], lat, [lat[-1]]])
        med_rows = np.concatenate([[apex], med, [med[-1]]])
        v_top, v_base = top + 0.012 * height, top + base * height
        t = (grid - v_top) / (v_base - v_top)
        lat_u = left + np.interp(t, t_rows, lat_rows) * width
        med_u = left + np.interp(t, t_rows, med_rows) * width
        # the diaphragm: a dome peaking under the lung's middle, deepest at the costophrenic angle
        u_lat_base, u_med_base = left + lat_rows[-1] * width, left + med_rows[-1] * width
        centre, half = (u_lat_base + u_med_base) / 2 + 0.15 * sign * abs(u_med_base - u_lat_base), abs(u_med_base - u_lat_base) * 0.65
        dome_h = patient.dome_height * (bottom - top)
        dome = v_base - dome_h * np.clip(1 - ((grid - centre) / half) ** 2, 0, 1) + dome_h * 0.15
        lo, hi = np.minimum(lat_u, med_u), np.maximum(lat_u, med_u)
        mask = (v >= v_top) & (v <= dome[None, :]) & (u >= lo[:, None]) & (u <= hi[:, None]) & (t[:, None] <= 1)
        masks.append(mask)
        tops.append(v_top)
        bases.append(v_base)
        lats.append(lat_u)
        meds.append(med_u)
        domes.append(dome)
    # the heart: an ellipse sitting on the left hemidiaphragm, mostly right of the midline in the image
    chest_width = width * 0.95
    a = patient.cardiothoracic_ratio * chest_width / 2 * heart_scale
    b = a * 0.78
    u_c = 0.5 + patient.heart_offset * a
    v_c = float(domes[1].min()) - 0.62 * b
    angle = np.deg2rad(-18.0)
    du, dv = u - u_c, v - v_c
    x = du * np.cos(angle) + dv * np.sin(angle)
    y = -du * np.sin(angle) + dv * np.cos(angle)
    r = np.sqrt((x / a) ** 2 + (y / b) ** 2)
    heart = np.clip((1.04 - r) / 0.08, 0, 1)
    heart[v > max(float(domes[1].max()), float(domes[0].max())) + 0.02] = 0  # below the diaphragm is abdomen
    rows = np.flatnonzero(heart.max(axis=1) > 0.5)
    cols = np.flatnonzero(heart.max(axis=0) > 0.5)
    heart_box = (float(grid[cols[0]]), float(grid[cols[-1]]), float(grid[rows[0]]), float(grid[rows[-1]]))
    return Geometry(u, v, masks[0], masks[1], (tops[0], tops[1]), (bases[0], bases[1]), (lats[0], lats[1]),
                    (meds[0], meds[1]), (domes[0], domes[1]), heart, heart_box)


def normal_density(patient: Patient, geo: Geometry, rng: np.random.Generator, *, ap: bool) -> tuple[np.ndarray, np.ndarray]:
    """The density map of a normal chest and the lung-marking texture (both (S, S) float64).

    Markings are returned apart so a finding (pneumothorax) can remove them where the lung
    has collapsed.
    """
    u, v = geo.u, geo.v
    size = u.shape[0]
    top, bottom, left, right = patient.box
    # body: a rounded trunk with shoulders, soft tissue everywhere inside
    body = (((u - 0.5) / ((right - left) / 2 + 0.06)) ** 2 + ((v - 0.62) / 0.62) ** 2) <= 1.0
    body |= (v > top + 0.05) & (np.abs(u - 0.5) < (right - left) / 2 + 0.035)
    density = ndimage.gaussian_filter(body.astype(float), size * 0.01)
    lungs = geo.right_lung | geo.left_lung
    lung_soft = ndimage.gaussian_filter(lungs.astype(float), size * 0.004)
    # the heart displaces lung air where it overlaps the lungs, and adds a little over the mediastinum
    density -= 0.72 * lung_soft * (1 - 0.9 * geo.heart)
    density += 0.12 * geo.heart
    # bones: spine, posterior ribs, clavicles (and scapulae on AP films)
    bone_loss = np.interp(patient.age, [20, 90], [1.0, 0.65])  # older bone is less dense
    spine = np.exp(-(((u - 0.5) / 0.035) ** 2)) * (v > top - 0.05)
    density += 0.18 * spine * bone_loss
    density += 0.16 * bone_loss * _ribs(u, v, patient, geo)
    for sign in (-1.0, 1.0):
        clav = _polyline_mask(u, v, [(0.5 + sign * 0.05, top + 0.045), (0.5 + sign * 0.2, top + 0.01),
                                     (0.5 + sign * 0.36, top - 0.025)], 0.016)
        density += 0.38 * bone_loss * clav
        if ap:  # scapulae project over the lateral lungs on AP films
            scap = np.exp(-(((u - (0.5 + sign * 0.36)) / 0.05) ** 2) - (((v - (top + 0.22)) / 0.14) ** 2))
            density += 0.13 * scap
    if patient.sex == "F":
        for sign in (-1.0, 1.0):
            breast = (((u - (0.5 + sign * 0.27)) / 0.16) ** 2 + ((v - (bottom - 0.06)) / 0.12) ** 2) <= 1
            density += 0.12 * ndimage.gaussian_filter(breast.astype(float), size * 0.02)
    # mediastinum and trachea: the dense middle above the heart, with its column of air
    hl, hr, ht, _ = geo.heart_box
    medi = (np.abs(u - 0.5) < 0.075) & (v > top - 0.05) & (v < ht + 0.05)
    density += 0.12 * ndimage.gaussian_filter(medi.astype(float), size * 0.01)
    carina = top + 0.27 * (bottom - top)
    trachea = (np.abs(u - 0.5 - 0.01 * (v - top)) < 0.014) & (v < carina)
    density -= 0.22 * ndimage.gaussian_filter(trachea.astype(float), size * 0.003)
    markings = _markings(geo, rng, size) * lung_soft
    return density, markings


def _ribs(u: np.ndarray, v: np.ndarray, patient: Patient, geo: Geometry) -> np.ndarray:
    """Posterior ribs (about ten a side, arcs that rise from the spine and fall laterally) and faint anterior ribs.

    Ribs are periodic in ``v`` once each column is shifted by the rib curve, so the distance
    to the nearest rib is the distance of the shifted phase to its nearest integer.
    """
    top, bottom, left, right = patient.box
    step = (bottom - top) / 10.5
    lateral = np.abs(u - 0.5)
    thorax = (lateral > 0.03) & (lateral < (right - left) / 2 + 0.02)
    above_diaphragm = v < np.maximum(geo.dome[0], geo.dome[1])[None, :] + 0.03
    curve = -0.35 * lateral + 2.2 * lateral**2
    phase = (v - curve - top + 0.02) / step - patient.rib_phase
    dist = np.abs(phase - np.rint(phase)) * step
    band = np.clip(1 - dist / (0.35 * step), 0, 1)
    cortex = np.exp(-(((dist - 0.32 * step) / (0.05 * step)) ** 2))  # brighter rib edges
    posterior = (0.7 * band + 0.5 * cortex) * (phase > -0.5) * (phase < 11)
    anterior_phase = (v - 0.6 * (0.45 - lateral) - top) / (step * 1.4)
    anterior = np.clip(1 - np.abs(anterior_phase - np.rint(anterior_phase)) * 1.4 * step / (0.3 * step), 0, 1)
    return thorax * above_diaphragm * (posterior + 0.25 * anterior * (lateral > 0.12))


def _markings(geo: Geometry, rng: np.random.Generator, size: int) -> np.ndarray:
    """Vessel markings: branching lines from each hilum plus fine texture, fading to the periphery."""
    u, v = geo.u, geo.v
    out = np.zeros_like(u)
    for side in ("right", "left"):
        i = 0 if side == "right" else 1
        sign = -1.0 if side == "right" else 1.0
        hilum = (0.5 + sign * 0.09, geo.lung_top[i] + 0.42 * (geo.lung_base[i] - geo.lung_top[i]))
        for _ in range(7):
            angle = rng.uniform(-1.25, 1.35) if side == "left" else rng.uniform(np.pi - 1.35, np.pi + 1.25)
            length = rng.uniform(0.1, 0.22)
            start = (hilum[0] + np.cos(angle) * 0.02, hilum[1] + np.sin(angle) * 0.02)
            end = (start[0] + np.cos(angle) * length, start[1] + np.sin(angle) * length * 0.9)
            out += _polyline_mask(u, v, [start, end], 0.006) * 0.5
            for frac in (0.45, 0.75):  # side branches, thinner
                fork = (start[0] + (end[0] - start[0]) * frac, start[1] + (end[1] - start[1]) * frac)
                a = angle + rng.choice([-1, 1]) * rng.uniform(0.3, 0.7)
                tip = (fork[0] + np.cos(a) * length * 0.4, fork[1] + np.sin(a) * length * 0.4)
                out += _polyline_mask(u, v, [fork, tip], 0.004) * 0.35
        dist = np.sqrt((u - hilum[0]) ** 2 + (v - hilum[1]) ** 2)
        out += np.exp(-dist / 0.07) * 0.7 * (sign * (u - 0.5) > 0)
    texture = ndimage.gaussian_filter(rng.standard_normal(u.shape), size * 0.006)
    texture = np.clip(texture / (texture.std() + 1e-9), 0, None) * 0.45
    return out + texture


def _polyline_mask(u: np.ndarray, v: np.ndarray, points: list[tuple[float, float]], width: float) -> np.ndarray:
    """A soft line of ``width`` (image fraction) through ``points``: 1 on the line, fading to 0 beyond width/2.

    ``u``/``v`` are the image's meshgrid (``u`` varies along columns, ``v`` along rows);
    each segment is evaluated only in the window of pixels it can touch.
    """
    rows, cols = u.shape
    out = np.zeros(u.shape)
    reach = width
    for (u0, v0), (u1, v1) in zip(points[:-1], points[1:]):
        c0, c1 = (int(np.floor((min(u0, u1) - reach) * cols)), int(np.ceil((max(u0, u1) + reach) * cols)) + 1)
        r0, r1 = (int(np.floor((min(v0, v1) - reach) * rows)), int(np.ceil((max(v0, v1) + reach) * rows)) + 1)
        c0, c1, r0, r1 = max(c0, 0), min(c1, cols), max(r0, 0), min(r1, rows)
        if c0 >= c1 or r0 >= r1:
            continue
        uu, vv = u[r0:r1, c0:c1], v[r0:r1, c0:c1]
        du, dv = u1 - u0, v1 - v0
        t = np.clip(((uu - u0) * du + (vv - v0) * dv) / max(du * du + dv * dv, 1e-12), 0, 1)
        dist = np.hypot(uu - (u0 + t * du), vv - (v0 + t * dv))
        line = np.clip(1.0 - (dist - width / 2) / (width / 2 + 1e-9), 0, 1)
        np.maximum(out[r0:r1, c0:c1], line, out=out[r0:r1, c0:c1])
    return out


polyline_mask = _polyline_mask
