"""Distance attack calibrated against the population (Chen et al. 2020, GAN-Leaks "CAL").

A generator that memorises puts synthetic rows close to its training records. The raw
distance to the closest synthetic row is confounded by how typical a record is (records
in dense regions are close to everything), so GAN-Leaks calibrates it against a reference
model of the population; here the attacker's reference sample plays that model:

    score(x) = log(d(x, reference) + EPS) - log(d(x, synthetic) + EPS)

with ``d`` the distance to the closest row under the documented mixed-type encoding
(:mod:`synth.neighbors.encoding`, exact search by :func:`synth.neighbors.search.nearest`).
Higher score = closer to the synthetic data than the population explains = "member".
Each record is scored against the reference of its cross-fitting fold
(:mod:`synth.audits.membership.design`), which never holds the record's own person.

Why the log ratio: the synthetic data and the reference sample differ in size, so their
closest-record distances live on different scales; the log ratio is the same calibration
made invariant to a constant factor between the two scales.

Natural twins. Records common in the population (coarse values, standard records) have
exact twins in any sample of it, so an exact synthetic match of such a record singles it
out no more than its twins. The attacker sees commonness in two samples: a record
identical to a reference record (``d(x, reference) = 0``) scores at most 0
(``log EPS - log(d_syn + EPS)``), and so does a record the synthetic data holds verbatim
more than once (an exact match with a second synthetic twin, score 0). A record with no
twin in either but an exact synthetic match scores highest (``log(d_ref / EPS)``); a
near-copy of a record whose closest reference row is 50 times farther away scores
``log 50``. Without this calibration natural duplicates fill the low-FPR end of the ROC
curve ahead of near-copies of unique records. The price: a generator that emits the same
training record verbatim twice or more is not scored by this attack for that record (the
exact-copy and exposure metrics of the memorisation audit, which see the training data,
count it). ``EPS`` (1e-6 encoded units, far below any real difference: a full-range numeric
difference is 1) makes an exact copy score highest instead of infinite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.audits.base import ThreatModel
from synth.neighbors.duplicates import duplicate_counts
from synth.neighbors.search import nearest, nearest_distance

EPS = 1e-6

THREAT_MODEL = ThreatModel(
    attack="distance to closest synthetic record, calibrated by a reference sample (GAN-Leaks CAL)",
    attacker_has=(
        "the released synthetic data",
        "a reference sample of the population, disjoint from the training data (the holdout, cross-fitted)",
        "the candidate record whose membership is guessed",
    ),
    description=(
        "A black-box attacker who sees only the released synthetic rows scores each candidate by how much "
        "closer it lies to the synthetic data than to the reference sample; no access to the generator."
    ),
)


@dataclass(frozen=True)
class DistanceScores:
    """``scores`` (n,) float64 log-distance ratios; ``closest_reference`` (n,) int64, the
    row (within its fold's reference sample) closest to each query."""

    scores: np.ndarray
    closest_reference: np.ndarray


def distance_scores(
    queries: np.ndarray, folds: np.ndarray, synthetic: np.ndarray, references: list[np.ndarray]
) -> DistanceScores:
    """Membership scores of ``queries`` (n, d) against ``synthetic`` (n_s, d).

    ``folds`` (n,) gives each query's fold and ``references[f]`` (n_f, d) that fold's
    reference sample; all arrays use one encoder. Returns :class:`DistanceScores`: (n,)
    float64 log-distance ratios (higher = more likely a member; 0 = as close to the
    synthetic data as to the reference) and which reference row set each one's calibration.
    """
    d_syn = nearest_distance(queries, synthetic)
    d_ref = np.empty(queries.shape[0])
    closest = np.full(queries.shape[0], -1, dtype=np.int64)
    for f, reference in enumerate(references):
        at = np.flatnonzero(folds == f)
        if at.size:
            d, i = nearest(queries[at], reference, 1)
            d_ref[at], closest[at] = d[:, 0], i[:, 0]
    scores = np.log(d_ref + EPS) - np.log(d_syn + EPS)
    exact = np.flatnonzero(d_syn == 0)
    if exact.size:
        repeated = duplicate_counts(queries[exact], synthetic) > 1
        scores[exact[repeated]] = np.minimum(scores[exact[repeated]], 0.0)
    return DistanceScores(scores, closest)
