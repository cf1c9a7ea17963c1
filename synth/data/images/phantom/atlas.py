"""Statistics the phantom chest X-rays are shaped by, derived once from public real data.

Nothing here is a real record: each number is an average or a share over hundreds or
thousands of records, rounded. They were computed from the files in ``../shared/data/cxr``
(see its README) and are embedded so the phantom generator runs offline on a machine
without them.

- Lung outlines: 435 of the ~500 V7 Labs lung masks (those with two lungs of comparable
  size), each resized to 256 px. For each lung, at 12 evenly spaced heights from its apex
  (row 0) to its base (row 11), the median lateral and medial edge as a fraction of the
  bounding box of both lungs, and the spread (sd) of the lateral edge; the box's position
  in the image (mean and sd).
- Finding shares: the CheXpert training labels of frontal images (191,027 images):
  the share of positive, uncertain and negative (mentioned as absent) labels; the rest
  are not mentioned.
- De-identification markers: the 3,955 Open-i reports, share whose FINDINGS / IMPRESSION
  carry an ``XXXX`` marker; median length 34 words (10th-90th percentile 18-64).
"""

from __future__ import annotations

# image-left lung (the patient's right): lateral and medial edge, fraction of the lung box width
RIGHT_LUNG_LATERAL = (0.251, 0.176, 0.126, 0.095, 0.076, 0.060, 0.050, 0.038, 0.029, 0.020, 0.010, 0.004)
RIGHT_LUNG_MEDIAL = (0.416, 0.432, 0.433, 0.429, 0.422, 0.420, 0.417, 0.413, 0.410, 0.405, 0.385, 0.330)
RIGHT_LUNG_LATERAL_SD = (0.045, 0.040, 0.038, 0.035, 0.033, 0.030, 0.027, 0.023, 0.019, 0.017, 0.033, 0.050)
# image-right lung (the patient's left)
LEFT_LUNG_MEDIAL = (0.590, 0.571, 0.569, 0.570, 0.571, 0.573, 0.575, 0.578, 0.579, 0.581, 0.590, 0.620)
LEFT_LUNG_LATERAL = (0.766, 0.840, 0.883, 0.911, 0.930, 0.944, 0.955, 0.965, 0.974, 0.983, 0.991, 0.996)
# the lung bases as a fraction of the box height: the right hemidiaphragm sits higher
RIGHT_LUNG_BASE = 0.946
LEFT_LUNG_BASE = 0.984
# the box of both lungs in the image: (top, bottom, left, right) mean and sd, fractions of the image
LUNG_BOX_MEAN = (0.104, 0.842, 0.083, 0.911)
LUNG_BOX_SD = (0.060, 0.098, 0.057, 0.056)

# CheXpert frontal images: finding -> (positive, uncertain, negative) shares
CHEXPERT_FRONTAL_SHARES: dict[str, tuple[float, float, float]] = {
    "Cardiomegaly": (0.122, 0.035, 0.041),
    "Pleural Effusion": (0.403, 0.050, 0.132),
    "Pneumothorax": (0.093, 0.014, 0.250),
    "Consolidation": (0.068, 0.128, 0.103),
    "Support Devices": (0.561, 0.005, 0.028),
}

# Open-i: share of reports whose findings / impression carry a de-identification marker
DEID_SHARE_FINDINGS = 0.376
DEID_SHARE_IMPRESSION = 0.170
