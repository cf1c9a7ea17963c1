"""Shadow-model membership attack (Stadler et al., USENIX Security 2022; TAPAS, Houssiau et al. 2022).

Threat model: the attacker knows the training algorithm and its hyper-parameters (can
retrain the generator: ``generator_factory``), holds a reference sample of the population
and the released synthetic data, and asks for a candidate record "was it in the training
set?".

What is computed, step by step:

1. The reference sample is split in two disjoint halves: a *shadow pool* the shadow
   training sets are drawn from, and a *calibration* half used only inside the features
   (a candidate's distance to the population). Keeping them apart means the calibration
   rows are disjoint from every shadow training set, just as they are disjoint from the
   real training set, so features mean the same on shadow and on released data.
2. ``targets`` (records outside the reference, chosen by the caller) are the probes.
   ``n_shadows`` generators are fitted, each on ``shadow_train_rows`` random pool rows plus
   a subset of the targets: every target is inserted in half of the shadows (a balanced
   random design, independent across targets), so one set of ``n_shadows`` fits serves all
   targets at once (``n_shadows`` fits instead of ``n_targets x n_shadows``), as in the
   many-target shadow design of Carlini et al. (LiRA, 2022). Each shadow generator then
   samples ``sample_rows`` rows.
3. For each (target, shadow output) pair, target-relative summary features are computed
   (:data:`FEATURES`): the distance to the closest synthetic row and the mean distance to
   the ``k`` closest, the distance to the closest calibration row, their log ratio, how
   many of the ``k`` closest synthetic rows are nearer than the closest calibration row,
   how many are exact copies (distance < 1e-6), and a marginal statistic: the mean over
   encoded features of log(share of synthetic rows matching the target on that feature /
   same share in the calibration half), matching meaning within 0.05 encoded units (5 % of
   a numeric range, or the same category).
4. A random forest (scikit-learn) learns "inserted or not" from those labelled pairs. Its
   held-out performance on shadow data is estimated by leave-one-target-out: each target's
   pairs are scored by a forest fitted on the other targets' pairs. (Leaving one *shadow*
   out instead would be biased below 0.5: the forest would recognise the target from its
   other pairs and predict their majority label, which is the opposite of the held-out
   one in a balanced design.) Holding out whole targets also matches step 5, where the
   forest scores records it has never seen.
5. The forest fitted on all shadows then scores every evaluation record against the
   *released* synthetic data (a random subsample of ``sample_rows`` rows, the size the
   shadows sampled, so the features have the same scale), which gives the membership
   scores evaluated against the true member / non-member labels.

Limits: shadow training sets have ``shadow_train_rows`` rows, usually fewer than the real
training set, and a generator overfits small data more; the shadow-trained forest may
then miscalibrate on the released data. The AUC uses only the ranking of its scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from synth.audits.base import ThreatModel
from synth.neighbors.encoding import MixedEncoder
from synth.neighbors.search import nearest, nearest_distance
from synth.schema import Schema

if TYPE_CHECKING:
    from synth.generators.base import Generator

FEATURES: tuple[str, ...] = (
    "distance_to_closest_synthetic",
    "mean_distance_to_k_closest_synthetic",
    "distance_to_closest_calibration",
    "log_distance_ratio",
    "synthetic_closer_than_calibration",
    "exact_synthetic_copies",
    "marginal_match_log_ratio",
)

THREAT_MODEL = ThreatModel(
    attack="shadow-model attack: a classifier trained on generators retrained with and without target records",
    attacker_has=(
        "the released synthetic data",
        "the generator's training algorithm and hyper-parameters (it can retrain the generator)",
        "a reference sample of the population, disjoint from the training data (half the holdout)",
        "the candidate record whose membership is guessed",
    ),
    description=(
        "The attacker retrains the generator on reference data with and without probe records, learns how a "
        "record's presence shows in the output, and applies that classifier to the released synthetic data."
    ),
)

_EXACT = 1e-6
_MATCH_TOL = 0.05
_EPS = 1e-6


@dataclass(frozen=True)
class ShadowOutcome:
    """What the shadow attack produced.

    ``scores`` (n_candidates,) P(member) on the released data; ``cv_scores`` / ``cv_labels``
    (n_shadows * n_targets,) leave-one-target-out scores and inserted/not labels on shadow data.
    """

    scores: np.ndarray
    cv_scores: np.ndarray
    cv_labels: np.ndarray
    n_shadows: int
    n_targets: int
    shadow_train_rows: int
    sample_rows: int
    calibration_rows: int
    feature_importance: dict[str, float]


def target_features(queries: np.ndarray, synthetic: np.ndarray, calibration: np.ndarray, *, k: int = 10) -> np.ndarray:
    """Summary features (n_q, len(FEATURES)) of each query row against one synthetic sample.

    ``queries`` (n_q, d), ``synthetic`` (n_s, d) and ``calibration`` (n_c, d) share one encoder.
    Distances are in encoded units; counts are out of ``min(k, n_s)``.
    """
    k = min(k, synthetic.shape[0])
    d_syn, _ = nearest(queries, synthetic, k)
    d_cal = nearest_distance(queries, calibration)
    closer = (d_syn < d_cal[:, None]).sum(axis=1)
    exact = (d_syn < _EXACT).sum(axis=1)
    log_ratio = np.log(d_cal + _EPS) - np.log(d_syn[:, 0] + _EPS)
    marginal = np.zeros(queries.shape[0])
    for f in range(queries.shape[1]):
        marginal += np.log(
            (_match_share(synthetic[:, f], queries[:, f]) + 1.0 / synthetic.shape[0])
            / (_match_share(calibration[:, f], queries[:, f]) + 1.0 / calibration.shape[0])
        )
    marginal /= max(queries.shape[1], 1)
    return np.column_stack([d_syn[:, 0], d_syn.mean(axis=1), d_cal, log_ratio, closer, exact, marginal]).astype(np.float64)


def _match_share(column: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of ``column`` entries within ``_MATCH_TOL`` of each value, by binary search."""
    s = np.sort(column)
    hits = np.searchsorted(s, values + _MATCH_TOL, side="right") - np.searchsorted(s, values - _MATCH_TOL, side="left")
    return hits / s.size


def _inclusion(n_shadows: int, n_targets: int, rng: np.random.Generator) -> np.ndarray:
    """Balanced design (n_shadows, n_targets) bool: each target in half the shadows."""
    out = np.zeros((n_shadows, n_targets), dtype=bool)
    for j in range(n_targets):
        n_in = n_shadows // 2 + (j % 2 if n_shadows % 2 else 0)
        out[rng.permutation(n_shadows)[:n_in], j] = True
    return out


def _forest(features: np.ndarray, labels: np.ndarray, seed: int) -> RandomForestClassifier | None:
    if np.unique(labels).size < 2:
        return None
    return RandomForestClassifier(n_estimators=100, min_samples_leaf=2, random_state=seed, n_jobs=1).fit(features, labels)


def _member_probability(model: RandomForestClassifier | None, features: np.ndarray) -> np.ndarray:
    if model is None:
        return np.full(features.shape[0], 0.5)
    return model.predict_proba(features)[:, list(model.classes_).index(1)]


def run_shadow_attack(
    *,
    generator_factory: Callable[[], Generator],
    schema: Schema,
    encoder: MixedEncoder,
    reference: pd.DataFrame,
    targets: pd.DataFrame,
    candidates: np.ndarray,
    synthetic: np.ndarray,
    n_shadows: int,
    shadow_train_rows: int,
    sample_rows: int,
    seed: int = 0,
) -> ShadowOutcome:
    """Run the attack (see the module docstring) and score ``candidates``.

    Args:
        generator_factory: returns a fresh unfitted generator with the run's parameters.
        schema: the modelled columns' schema, passed to each shadow ``fit``.
        encoder: the mixed-type encoder (fitted on the reference sample).
        reference: the attacker's reference sample (rows never used in training).
        targets: probe records, not in ``reference``.
        candidates: (n, d) encoded evaluation records to score against the released data.
        synthetic: (n_s, d) encoded released synthetic data.
        n_shadows: shadow generators to fit (>= 2).
        shadow_train_rows: pool rows in each shadow training set (capped by the pool size).
        sample_rows: rows each shadow samples; the released data is subsampled to the same.
        seed: seeds the splits, the design, the shadow samples and the forests.
    """
    rng = np.random.default_rng(seed)
    columns = encoder.columns
    order = rng.permutation(len(reference))
    n_cal = len(reference) // 2
    calibration = encoder.transform(reference.iloc[order[:n_cal]])
    pool = reference.iloc[order[n_cal:]]
    n_base = min(shadow_train_rows, len(pool))
    target_enc = encoder.transform(targets)
    design = _inclusion(n_shadows, len(targets), rng)

    per_shadow: list[np.ndarray] = []
    for s in range(n_shadows):
        base = pool.iloc[np.sort(rng.choice(len(pool), n_base, replace=False))]
        train = pd.concat([base, targets.iloc[np.nonzero(design[s])[0]]], ignore_index=True)
        generator = generator_factory()
        generator.fit(train, schema)
        output = generator.sample(sample_rows, seed=seed + 1000 + s)
        per_shadow.append(target_features(target_enc, encoder.transform(output[columns]), calibration))

    features = np.vstack(per_shadow)
    labels = design.reshape(-1).astype(int)
    target_id = np.tile(np.arange(len(targets)), n_shadows)
    cv_scores = np.empty(labels.size)
    for j in range(len(targets)):
        held = target_id == j
        cv_scores[held] = _member_probability(_forest(features[~held], labels[~held], seed + j), features[held])

    model = _forest(features, labels, seed)
    released = synthetic
    if synthetic.shape[0] > sample_rows:
        released = synthetic[np.sort(rng.choice(synthetic.shape[0], sample_rows, replace=False))]
    scores = _member_probability(model, target_features(candidates, released, calibration))
    importance = dict(zip(FEATURES, (model.feature_importances_ if model is not None else np.zeros(len(FEATURES))).tolist()))
    return ShadowOutcome(
        scores=scores,
        cv_scores=cv_scores,
        cv_labels=labels,
        n_shadows=n_shadows,
        n_targets=len(targets),
        shadow_train_rows=n_base,
        sample_rows=sample_rows,
        calibration_rows=n_cal,
        feature_importance={k: float(v) for k, v in importance.items()},
    )
