"""How each finding changes the phantom's density map.

Each function takes the normal density and the study's :class:`~.anatomy.Geometry` and
returns the changed density; severity parameters come from the study. What each one draws,
in radiographic terms:

- cardiomegaly: the heart drawn wider (cardiothoracic ratio 0.56-0.68), see
  :func:`~.render.sample_study`;
- pleural effusion: fluid filling the lung base up to a meniscus that climbs laterally,
  blunting the costophrenic angle and hiding the hemidiaphragm;
- pneumothorax: the lung edge pulled away from the chest wall (a thin visceral pleural
  line), with a hyperlucent rim without lung markings between the two;
- consolidation: a patchy airspace opacity in one lobe with air bronchograms;
- support devices: radio-opaque lines and hardware (endotracheal tube, central venous
  catheter, enteric tube, pacemaker with leads, monitoring leads).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from synth.data.images.phantom.anatomy import Geometry, polyline_mask

# lobe centres as (u, v) fractions of the lung box
LOBES: dict[str, tuple[float, float]] = {
    "right upper lobe": (0.25, 0.28), "right middle lobe": (0.3, 0.62), "right lower lobe": (0.2, 0.8),
    "left upper lobe": (0.74, 0.3), "left lower lobe": (0.8, 0.78),
}
DEVICES = ("endotracheal tube", "central venous catheter", "enteric tube", "pacemaker", "monitoring leads")


def effusion(density: np.ndarray, geo: Geometry, side: str, fraction: float) -> np.ndarray:
    """Fluid up to ``fraction`` (0-1) of the lung height, meniscus higher laterally."""
    i = 0 if side == "right" else 1
    lung = geo.lung(side)
    height = geo.lung_base[i] - geo.lung_top[i]
    lat, med = geo.lateral_edge[i], geo.medial_edge[i]
    lateralness = np.clip((geo.u - med[:, None]) / (lat - med + 1e-9)[:, None], 0, 1)
    level = geo.dome[i][None, :] - fraction * height * (0.6 + 0.5 * lateralness)
    fluid = lung & (geo.v >= level)
    soft = ndimage.gaussian_filter(fluid.astype(float), density.shape[0] * 0.008)
    # fluid also fills the angle below the dome laterally, hiding the diaphragm outline
    return density + 0.75 * soft * (1 - 0.9 * geo.heart)  # behind the heart the air was already displaced


def pneumothorax(density: np.ndarray, markings: np.ndarray, geo: Geometry, side: str, size: float,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Collapse the lung away from the lateral chest wall and apex by ``size`` (0-1) of its width."""
    i = 0 if side == "right" else 1
    lung = geo.lung(side)
    lat, med = geo.lateral_edge[i], geo.medial_edge[i]
    top, base = geo.lung_top[i], geo.lung_base[i]
    t = np.clip((geo.v[:, 0] - top) / (base - top), 0, 1)
    new_lat = lat + size * (med - lat) * (1.15 - 0.5 * t)  # wider at the apex, where air collects upright
    lo, hi = np.minimum(new_lat, med), np.maximum(new_lat, med)
    collapsed = lung & (geo.u >= lo[:, None]) & (geo.u <= hi[:, None]) & (geo.v >= top + size * 0.3 * (base - top))
    rim = lung & ~collapsed
    pixels = density.shape[0]
    edge = collapsed & ~ndimage.binary_erosion(collapsed, iterations=max(1, pixels // 128))
    edge &= ndimage.binary_dilation(rim, iterations=max(1, pixels // 128))
    density = density - 0.1 * ndimage.gaussian_filter(rim.astype(float), pixels * 0.003)
    density = density + 0.3 * ndimage.gaussian_filter(edge.astype(float), pixels * 0.002)
    return density, markings * (1 - ndimage.gaussian_filter(rim.astype(float), pixels * 0.004))


def consolidation(density: np.ndarray, geo: Geometry, box: tuple[float, float, float, float], lobe: str,
                  extent: float, rng: np.random.Generator) -> np.ndarray:
    """A patchy opacity of radius ``extent`` (fraction of the lung box width) in ``lobe``."""
    top, bottom, left, right = box
    cu, cv = LOBES[lobe]
    centre = (left + cu * (right - left), top + cv * (bottom - top))
    radius = extent * (right - left)
    pixels = density.shape[0]
    dist = np.hypot(geo.u - centre[0], (geo.v - centre[1]) * 1.2) / radius
    patchy = ndimage.gaussian_filter(rng.standard_normal(density.shape), pixels * 0.012)
    patchy /= patchy.std() + 1e-9
    blob = np.clip(1.6 - dist + 0.35 * patchy, 0, 1) * (geo.right_lung | geo.left_lung)
    blob = ndimage.gaussian_filter(blob, pixels * 0.006)
    bronchi = np.zeros_like(density)
    for _ in range(3):  # air bronchograms: dark branching tubes inside the opacity
        angle = rng.uniform(0, 2 * np.pi)
        end = (centre[0] + np.cos(angle) * radius * 0.8, centre[1] + np.sin(angle) * radius * 0.8)
        bronchi += polyline_mask(geo.u, geo.v, [centre, end], 0.006)
    return density + 0.55 * blob - 0.25 * bronchi * blob


def devices(density: np.ndarray, geo: Geometry, box: tuple[float, float, float, float], present: tuple[str, ...],
            rng: np.random.Generator) -> np.ndarray:
    """Radio-opaque lines and hardware (denser than bone)."""
    top, bottom, left, right = box
    u, v = geo.u, geo.v
    carina = top + 0.27 * (bottom - top)
    metal = np.zeros_like(density)
    if "endotracheal tube" in present:
        tip = carina - rng.uniform(0.03, 0.07)
        for du in (-0.009, 0.009):  # the tube's two walls
            metal += polyline_mask(u, v, [(0.5 + du, 0.0), (0.5 + du + 0.004, tip)], 0.005)
    if "central venous catheter" in present:
        sign = -1.0 if rng.random() < 0.7 else 1.0  # right-sided lines are commoner
        metal += polyline_mask(u, v, [(0.5 + sign * 0.16, 0.0), (0.5 + sign * 0.1, top + 0.06),
                                      (0.5 - 0.035, carina + 0.02), (0.5 - 0.03, carina + rng.uniform(0.05, 0.1))], 0.006)
    if "enteric tube" in present:
        metal += polyline_mask(u, v, [(0.49, 0.0), (0.505, carina), (0.52, geo.heart_box[3]),
                                      (0.62, float(geo.dome[1].max()) + 0.06), (0.66, 0.99)], 0.007)
    if "pacemaker" in present:
        cu, cv = 0.5 + 0.27, top + 0.06
        can = (np.abs(u - cu) < 0.045) & (np.abs(v - cv) < 0.03)
        metal += 2.0 * ndimage.gaussian_filter(can.astype(float), density.shape[0] * 0.003)
        heart_mid = ((geo.heart_box[0] + geo.heart_box[1]) / 2, (geo.heart_box[2] + geo.heart_box[3]) / 2)
        metal += polyline_mask(u, v, [(cu - 0.03, cv), (0.5 + 0.02, top + 0.1), (0.5 - 0.02, carina + 0.06), heart_mid], 0.005)
    if "monitoring leads" in present:
        for _ in range(3):
            cu, cv = rng.uniform(left + 0.05, right - 0.05), rng.uniform(top, bottom - 0.1)
            ring = np.abs(np.hypot(u - cu, v - cv) - 0.014) < 0.004
            metal += ring
    return density + 1.1 * np.clip(metal, 0, 2.5)
