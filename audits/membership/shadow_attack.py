"""Shadow-model attack per target record (Stadler et al., USENIX Security 2022; LiRA, Carlini et al. 2022).

Threat model: the attacker knows the training algorithm and its hyper-parameters (can
retrain the generator: ``generator_factory``), holds the candidate records, and sees the
released synthetic data. For each *target* the question is "was it in the training set?".

Stadler et al. train one attack per target on synthetic data sets made by shadow
generators trained with and without that target. Fitting ``2 x n_shadows`` generators per
target is out of reach in an audit, so the shadows are shared as in LiRA's many-target
design: each of ``n_shadows`` shadow generators is trained on a random half of the target
persons (a balanced design: every target is in exactly half of the shadows), so every
target has ``n_shadows / 2`` "in" and ``n_shadows / 2`` "out" shadow data sets from one set
of ``n_shadows`` fits. Each shadow samples as many rows as the released data has (at most
``sample_rows``).

Per target and shadow data set, two target-relative features are measured on the encoded
rows (:mod:`synth.neighbors.encoding`): ``log`` of the distance to the closest synthetic
row and ``log`` of the mean distance to the ``k`` = 5 closest (over the target's rows, the
closest). The per-target attack is LiRA's parametric likelihood ratio: the target's "in"
and "out" feature means, with the variance of each feature pooled over targets per class
(the fixed-variance variant LiRA recommends when shadows are few), give

    score(target) = log N(f_released; mu_in, sigma_in) - log N(f_released; mu_out, sigma_out)

summed over the two features, where ``f_released`` are the target's features on the
released synthetic data. Every target thus has its own attack, calibrated on what its
presence does to *this* generator's output; the audit's AUC, TPR and advantage are over
targets, with intervals over targets.

Check on shadow data: each shadow in turn is held out, the target's means are refitted on
the other shadows and the held-out shadow's features scored against the target's known
in/out label there; the AUC of these leave-one-shadow-out scores (interval by resampling
targets) says whether the attack works at all on shadow generators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synth.audits.base import ThreatModel
from synth.execution.active import active_engine
from synth.execution.engine import Shard
from synth.neighbors.encoding import MixedEncoder
from synth.neighbors.search import nearest
from synth.schema import Schema

if TYPE_CHECKING:
    from synth.generators.base import Generator

FEATURES: tuple[str, ...] = ("log_distance_to_closest_synthetic", "log_mean_distance_to_5_closest_synthetic")

THREAT_MODEL = ThreatModel(
    attack="shadow-model attack per target (Stadler et al. 2022) with LiRA's per-target likelihood ratio",
    attacker_has=(
        "the released synthetic data",
        "the generator's training algorithm and hyper-parameters (it can retrain the generator)",
        "the candidate records whose membership is guessed (and shadow training data made of them)",
    ),
    description=(
        "The attacker retrains the generator on random halves of the candidate records, learns per candidate how "
        "its presence shows in the output, and applies that per-candidate test to the released synthetic data."
    ),
)

_EPS = 1e-6
_K = 5


@dataclass(frozen=True)
class ShadowOutcome:
    """What the shadow attack produced.

    ``scores`` (n_targets,) log likelihood ratios on the released data (higher = member);
    ``cv_scores`` / ``cv_labels`` / ``cv_target`` (n_shadows * n_targets,) leave-one-shadow-out
    scores, in/out labels and target index on shadow data.
    """

    scores: np.ndarray
    cv_scores: np.ndarray
    cv_labels: np.ndarray
    cv_target: np.ndarray
    n_shadows: int
    n_targets: int
    shadow_train_rows: float
    sample_rows: int


def target_features(rows: np.ndarray, owner: np.ndarray, n_targets: int, synthetic: np.ndarray) -> np.ndarray:
    """Features (n_targets, 2) of each target against one synthetic sample.

    ``rows`` (n_rows, d) are the targets' encoded rows and ``owner`` (n_rows,) the target
    each row belongs to; a target's feature is the smallest over its rows.
    """
    k = min(_K, synthetic.shape[0])
    d, _ = nearest(rows, synthetic, k)
    per_row = np.column_stack([np.log(d[:, 0] + _EPS), np.log(d.mean(axis=1) + _EPS)])
    out = np.full((n_targets, per_row.shape[1]), np.inf)
    for j in range(per_row.shape[1]):
        np.minimum.at(out[:, j], owner, per_row[:, j])
    return out


def balanced_design(n_shadows: int, n_targets: int, rng: np.random.Generator) -> np.ndarray:
    """(n_shadows, n_targets) bool: each target "in" exactly half the shadows (odd counts
    alternate the extra one between targets)."""
    out = np.zeros((n_shadows, n_targets), dtype=bool)
    for j in range(n_targets):
        n_in = n_shadows // 2 + (j % 2 if n_shadows % 2 else 0)
        out[rng.permutation(n_shadows)[:n_in], j] = True
    return out


def likelihood_ratio(features: np.ndarray, design: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """LiRA scores (n_targets,) of ``observed`` (n_targets, f) given shadow ``features``
    (n_shadows, n_targets, f) and the in/out ``design`` (n_shadows, n_targets)."""
    inside = design[:, :, None]
    n_in = np.maximum(design.sum(axis=0), 1)[:, None]
    n_out = np.maximum((~design).sum(axis=0), 1)[:, None]
    mu_in = np.where(inside, features, 0.0).sum(axis=0) / n_in
    mu_out = np.where(~inside, features, 0.0).sum(axis=0) / n_out
    # Variances pooled over targets (per class and feature): few shadows per target.
    res_in = np.where(inside, features - mu_in[None], 0.0)
    res_out = np.where(~inside, features - mu_out[None], 0.0)
    var_in = (res_in**2).sum(axis=(0, 1)) / max(int(design.sum()) - design.shape[1], 1) + 1e-6
    var_out = (res_out**2).sum(axis=(0, 1)) / max(int((~design).sum()) - design.shape[1], 1) + 1e-6
    log_in = -0.5 * ((observed - mu_in) ** 2 / var_in + np.log(var_in))
    log_out = -0.5 * ((observed - mu_out) ** 2 / var_out + np.log(var_out))
    return (log_in - log_out).sum(axis=1)


def shadow_features(
    generator_factory: Callable[[], Generator],
    schema: Schema,
    encoder: MixedEncoder,
    target_frame: pd.DataFrame,
    target_rows: np.ndarray,
    owner: np.ndarray,
    n_targets: int,
    inside: np.ndarray,
    sample_rows: int,
    seed: int,
) -> np.ndarray:
    """Fit one shadow generator on the targets marked ``inside`` (n_targets,) bool, sample
    ``sample_rows`` rows with ``seed``, and return every target's features (n_targets, 2)."""
    train = target_frame.iloc[np.flatnonzero(inside[owner])].reset_index(drop=True)
    generator = generator_factory()
    generator.fit(train, schema)
    output = generator.sample(sample_rows, seed=seed)
    return target_features(target_rows, owner, n_targets, encoder.transform(output[encoder.columns]))


def _shadow_shard(shared: dict[str, Any], inside: np.ndarray, seed: int) -> np.ndarray:
    """:func:`shadow_features` of one shadow as an engine shard (the inputs all shadows
    share come in ``shared``, sent once)."""
    return shadow_features(shared["generator_factory"], shared["schema"], shared["encoder"], shared["target_frame"],
                           shared["target_rows"], shared["owner"], shared["n_targets"], inside,
                           shared["sample_rows"], seed)


def run_shadow_attack(
    *,
    generator_factory: Callable[[], Generator],
    schema: Schema,
    encoder: MixedEncoder,
    target_frame: pd.DataFrame,
    target_owner: np.ndarray,
    n_targets: int,
    synthetic: np.ndarray,
    n_shadows: int,
    sample_rows: int,
    seed: int = 0,
) -> ShadowOutcome:
    """Run the attack (see the module docstring) and score the targets on the released data.

    Args:
        generator_factory: returns a fresh unfitted generator with the run's parameters.
        schema: the modelled columns' schema, passed to each shadow ``fit``.
        encoder: the mixed-type encoder the features are measured in.
        target_frame: the targets' rows (modelled columns); ``target_owner`` (n_rows,) the
            target (0..n_targets-1) each row belongs to.
        synthetic: (n_s, d) encoded released synthetic data.
        n_shadows: shadow generators to fit (>= 2).
        sample_rows: rows each shadow samples; the released data is subsampled to the same.
        seed: seeds the design, the shadow samples and the subsample.
    """
    rng = np.random.default_rng([seed, 0x5AD0])
    target_rows = encoder.transform(target_frame)
    owner = np.asarray(target_owner)
    design = balanced_design(n_shadows, n_targets, rng)
    sizes = [int(design[s][owner].sum()) for s in range(n_shadows)]
    # One shadow per shard, each with its own seed (Ray: one task each, the shared inputs
    # sent once); the engine returns the shards' results in order.
    shards = [Shard((design[s], seed + 1000 + s), rows=sizes[s]) for s in range(n_shadows)]
    shared = {"generator_factory": generator_factory, "schema": schema, "encoder": encoder,
              "target_frame": target_frame, "target_rows": target_rows, "owner": owner, "n_targets": n_targets,
              "sample_rows": sample_rows}
    features = np.stack(active_engine().map(_shadow_shard, shards, shared=shared, label="shadow models"))

    released = synthetic
    if synthetic.shape[0] > sample_rows:
        released = synthetic[np.sort(rng.choice(synthetic.shape[0], sample_rows, replace=False))]
    scores = likelihood_ratio(features, design, target_features(target_rows, owner, n_targets, released))

    cv_scores = np.empty((n_shadows, n_targets))
    for s in range(n_shadows):
        keep = np.arange(n_shadows) != s
        cv_scores[s] = likelihood_ratio(features[keep], design[keep], features[s])
    return ShadowOutcome(
        scores=scores,
        cv_scores=cv_scores.reshape(-1),
        cv_labels=design.reshape(-1).astype(int),
        cv_target=np.tile(np.arange(n_targets), n_shadows),
        n_shadows=n_shadows,
        n_targets=n_targets,
        shadow_train_rows=float(np.mean(sizes)),
        sample_rows=sample_rows,
    )
