"""The membership-inference audit: can an attacker tell who was in the training data?

Setting. Members are training records; non-members are holdout records, which come from
the same population but were never shown to the generator. The holdout is split at
random into two disjoint halves:

- the *reference* sample: the attacker's own sample of the population. It calibrates the
  distance attack, gives DOMIAS its population density, feeds the shadow generators, and
  fits the mixed-type encoder (:class:`~synth.neighbors.encoding.MixedEncoder`), since the
  scaling of columns is attacker-side knowledge; the training data is never used for it;
- the *non-members* evaluated against an equal number of members drawn at random from the
  training data (at most ``max_eval_rows`` per side).

Each attack gives every evaluation record a score (higher = "member"), and
:mod:`synth.stats.roc` turns scores into AUC, TPR at 1 % and 0.1 % FPR,
advantage and an empirical epsilon lower bound, each with an interval. The headline
``membership.auc`` is the strongest attack's AUC (by point value).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Interval, Metric, TableBlock, ThreatModel
from synth.audits.membership import distance_attack, domias, shadow_attack
from synth.audits.param_checks import check_int
from synth.errors import ConfigError, DataError, did_you_mean
from synth.neighbors.encoding import MixedEncoder
from synth.stats import roc

ATTACKS: tuple[str, ...] = ("distance", "domias", "shadow")
LEVEL = 0.95
MIN_HOLDOUT_ROWS = 20
DENSITY_FIT_ROWS = 5000  # rows each DOMIAS density is fitted on, at most
DENSITY_DIMS = 5  # principal components DOMIAS densities live in, at most
SHADOW_SAMPLE_ROWS = 5000  # rows each shadow generator samples, at most
_LOW_FPRS: tuple[tuple[float, str, str], ...] = ((0.01, "tpr_at_1pct_fpr", "1 %"), (0.001, "tpr_at_0.1pct_fpr", "0.1 %"))


@dataclass
class _AttackRun:
    """One attack's scores on the evaluation records, with what the report says about it."""

    name: str
    scores: np.ndarray
    threat_model: ThreatModel
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _EvaluationSplit:
    reference: pd.DataFrame
    members: pd.DataFrame
    nonmembers: pd.DataFrame

    @property
    def labels(self) -> np.ndarray:
        return np.r_[np.ones(len(self.members), dtype=int), np.zeros(len(self.nonmembers), dtype=int)]


def _key(name: str) -> str:
    return f"audit.params.membership.{name}"



class MembershipAudit(Audit):
    """Membership-inference attacks (distance, DOMIAS, shadow models) against the synthetic data.

    Args:
        attacks: which attacks to run, any of ``"distance"``, ``"domias"``, ``"shadow"``.
        max_eval_rows: evaluation records per side (members and non-members), at most.
        n_boot: bootstrap resamples for the AUC and advantage intervals.
        density: DOMIAS density estimator, ``"kde"`` (Gaussian kernel) or ``"gaussian"``.
        n_shadows: shadow generators the shadow attack fits (each target in half of them).
        shadow_train_rows: reference rows in each shadow training set.
        n_targets: probe records per side (members and non-members) for the shadow attack.
    """

    name = "membership"
    family = "membership"
    title = "Membership inference"
    provides = ("membership.auc",) + tuple(
        f"membership.{attack}.{stat}"
        for attack in ("distance", "domias", "shadow")
        for stat in ("auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr", "advantage", "epsilon_lower_bound")
    )

    def __init__(
        self,
        attacks: Sequence[str] = ATTACKS,
        max_eval_rows: int = 2000,
        n_boot: int = 200,
        density: str = "kde",
        n_shadows: int = 6,
        shadow_train_rows: int = 200,
        n_targets: int = 5,
    ) -> None:
        if isinstance(attacks, str) or not isinstance(attacks, Sequence) or not attacks:
            raise ConfigError(
                f"{_key('attacks')} must be a non-empty list of attack names from {list(ATTACKS)}, got {attacks!r}; "
                "e.g. attacks: [distance, domias]."
            )
        for a in attacks:
            if a not in ATTACKS:
                raise ConfigError(
                    f"{_key('attacks')}: unknown attack {a!r}." + did_you_mean(str(a), ATTACKS)
                    + f" Valid attacks: {', '.join(ATTACKS)}."
                )
        if len(set(attacks)) != len(attacks):
            raise ConfigError(f"{_key('attacks')} lists an attack twice ({list(attacks)!r}); name each attack once.")
        if density not in domias.DENSITIES:
            raise ConfigError(
                f"{_key('density')}: unknown density estimator {density!r}." + did_you_mean(str(density), domias.DENSITIES)
                + f" Valid: {', '.join(domias.DENSITIES)}."
            )
        self.attacks = tuple(attacks)
        self.max_eval_rows = check_int(self.name, "max_eval_rows", max_eval_rows, 10)
        self.n_boot = check_int(self.name, "n_boot", n_boot, 20)
        self.density = density
        self.n_shadows = check_int(self.name, "n_shadows", n_shadows, 2)
        self.shadow_train_rows = check_int(self.name, "shadow_train_rows", shadow_train_rows, 10)
        self.n_targets = check_int(self.name, "n_targets", n_targets, 1)
        super().__init__(
            attacks=list(self.attacks), max_eval_rows=self.max_eval_rows, n_boot=self.n_boot, density=density,
            n_shadows=self.n_shadows, shadow_train_rows=self.shadow_train_rows, n_targets=self.n_targets,
        )

    # -- orchestration ------------------------------------------------------
    def run(self, inputs: AuditInputs) -> AuditSection:
        started = time.perf_counter()
        columns = inputs.schema.modelled().names
        for label, frame in (("training data", inputs.train), ("holdout data", inputs.holdout), ("synthetic data", inputs.synthetic)):
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise DataError(
                    f"Membership audit: the {label} lacks column(s) {', '.join(repr(c) for c in missing)} of the schema "
                    f"(it has: {', '.join(map(str, frame.columns))}). Give all three tables the schema's modelled columns."
                )
        if len(inputs.holdout) < MIN_HOLDOUT_ROWS:
            return self.skip(
                f"the holdout has {len(inputs.holdout)} rows; membership inference needs at least {MIN_HOLDOUT_ROWS} "
                "(half as the attacker's reference sample, half as non-members). Hold out more rows in the split."
            )
        if len(inputs.train) == 0 or len(inputs.synthetic) == 0:
            return self.skip("the training or the synthetic data is empty.")
        if "shadow" in self.attacks and inputs.generator_factory is None and len(self.attacks) == 1:
            return self.skip(_SHADOW_NO_FACTORY)

        split = _split(inputs.train[columns], inputs.holdout[columns], self.max_eval_rows, inputs.seed)
        encoder = MixedEncoder(inputs.schema, columns).fit(split.reference)
        reference = encoder.transform(split.reference)
        candidates = np.vstack([encoder.transform(split.members), encoder.transform(split.nonmembers)])
        synthetic = encoder.transform(inputs.synthetic[columns])
        labels = split.labels

        notes = [
            f"Evaluation: {len(split.members)} members drawn at random from the {len(inputs.train)} training rows and "
            f"{len(split.nonmembers)} non-members from one random half of the {len(inputs.holdout)} holdout rows; the "
            f"other half ({len(split.reference)} rows) is the attacker's reference sample, which also fits the "
            "mixed-type encoding (the training data never does). Distances are exact (blocked nearest-neighbour search "
            f"over all {len(inputs.synthetic)} synthetic rows).",
            "TPR at low FPR: the threshold is the loosest one whose false-positive rate stays at or below the target on "
            f"these {len(split.nonmembers)} non-members; at 0.1 % that allows "
            f"{int(0.001 * len(split.nonmembers))} false positive(s), so the 0.1 % figure is coarse unless there are "
            "well over 10,000 non-members. Intervals are Clopper-Pearson on the true-positive count.",
            "Epsilon lower bound: the largest log(TPR_lo / FPR_hi) or log((1 - FPR_hi) / (1 - TPR_lo)) over at most 100 "
            "score thresholds, with one-sided Clopper-Pearson bounds Bonferroni-corrected so the bound holds for all "
            f"thresholds at once with {LEVEL:.0%} confidence (delta = 0). It bounds what any (epsilon, 0)-DP generator "
            "could allow; 0 means no evidence of leakage, not a proof of privacy.",
        ]
        runs: list[_AttackRun] = []
        for attack in self.attacks:
            if attack == "distance":
                runs.append(_AttackRun("distance", distance_attack.distance_scores(candidates, synthetic, reference),
                                       distance_attack.THREAT_MODEL,
                                       {"synthetic_rows": int(synthetic.shape[0]), "reference_rows": int(reference.shape[0])}))
            elif attack == "domias":
                runs.append(self._domias(candidates, synthetic, reference, inputs.seed, notes))
            elif inputs.generator_factory is None:
                notes.append(_SHADOW_NO_FACTORY)
            else:
                runs.append(self._shadow(inputs, split, encoder, candidates, synthetic, notes))

        section = AuditSection(audit=self.name, family=self.family, title=self.title, notes=notes)
        table_rows = []
        curves = []
        for i, attack_run in enumerate(runs):
            metrics, row, curve = _attack_metrics(attack_run, labels, self.n_boot, inputs.seed + 7919 * (i + 1))
            section.metrics.extend(metrics)
            table_rows.append(row)
            curves.append(curve)
        best = max(runs, key=lambda r: section.metric(f"membership.{r.name}.auc").value)
        best_auc = section.metric(f"membership.{best.name}.auc")
        section.metrics.insert(0, Metric(
            name="membership.auc",
            value=best_auc.value,
            ci=best_auc.ci,
            better="lower",
            ideal=0.5,
            passing="AUC near 0.5: even the strongest attack cannot tell training records from unseen records of the same population.",
            threat_model=best.threat_model,
            details={
                "attack": best.name,
                "per_attack_auc": {r.name: section.metric(f"membership.{r.name}.auc").value for r in runs},
                "n_members": int(labels.sum()),
                "n_nonmembers": int(labels.size - labels.sum()),
            },
        ))
        section.figures.append(Figure(
            id="membership_roc",
            title="Membership-inference ROC curves",
            kind="roc",
            data={"curves": curves},
            caption=(f"True-positive rate (members flagged) against false-positive rate (non-members flagged) on "
                     f"{int(labels.sum())} members and {int(labels.size - labels.sum())} non-members; the diagonal is chance."),
        ))
        section.tables.append(TableBlock(
            title="Membership-inference attacks",
            columns=("attack", "AUC [95% CI]", "TPR at 1% FPR [95% CI]", "advantage [95% CI]", "epsilon lower bound (95%)"),
            rows=tuple(table_rows),
            caption="AUC 0.5, TPR equal to the FPR, advantage 0 and epsilon bound 0 are what an attacker without any leak achieves.",
        ))
        section.summary = (
            f"Strongest attack: {best.name}, AUC {best_auc.value:.3f} [{best_auc.ci.low:.3f}, {best_auc.ci.high:.3f}] "
            f"(0.5 = chance) on {int(labels.sum())} members vs {int(labels.size - labels.sum())} non-members."
        )
        section.seconds = time.perf_counter() - started
        return section

    # -- attacks needing more setup -----------------------------------------
    def _domias(self, candidates: np.ndarray, synthetic: np.ndarray, reference: np.ndarray, seed: int, notes: list[str]) -> _AttackRun:
        result = domias.domias_scores(candidates, synthetic, reference, density=self.density, max_dims=DENSITY_DIMS,
                                      max_fit_rows=DENSITY_FIT_ROWS, seed=seed)
        estimator = ("Gaussian kernel density (Scott bandwidth)" if result.density == "kde" else "multivariate normal")
        notes.append(
            f"DOMIAS: log p_synthetic(x) - log p_reference(x), each a {estimator} fitted on at most {DENSITY_FIT_ROWS} rows "
            f"({result.synthetic_fit_rows} synthetic, {result.reference_fit_rows} reference) in the reference sample's first "
            f"{result.dims} principal components (whitened), which keep {result.explained_variance:.0%} of its encoded variance."
        )
        return _AttackRun("domias", result.scores, domias.THREAT_MODEL, {
            "density": result.density, "dims": result.dims, "explained_variance": result.explained_variance,
            "synthetic_fit_rows": result.synthetic_fit_rows, "reference_fit_rows": result.reference_fit_rows,
        })

    def _shadow(self, inputs: AuditInputs, split: _EvaluationSplit, encoder: MixedEncoder,
                candidates: np.ndarray, synthetic: np.ndarray, notes: list[str]) -> _AttackRun:
        rng = np.random.default_rng(inputs.seed + 1)
        per_side = min(self.n_targets, len(split.members), len(split.nonmembers))
        targets = pd.concat([
            split.members.iloc[np.sort(rng.choice(len(split.members), per_side, replace=False))],
            split.nonmembers.iloc[np.sort(rng.choice(len(split.nonmembers), per_side, replace=False))],
        ])
        outcome = shadow_attack.run_shadow_attack(
            generator_factory=inputs.generator_factory, schema=inputs.schema, encoder=encoder,
            reference=split.reference, targets=targets, candidates=candidates, synthetic=synthetic,
            n_shadows=self.n_shadows, shadow_train_rows=self.shadow_train_rows,
            sample_rows=min(len(inputs.synthetic), SHADOW_SAMPLE_ROWS), seed=inputs.seed,
        )
        cv_auc = roc.auc(outcome.cv_scores, outcome.cv_labels)
        cv_ci = roc.auc_interval(outcome.cv_scores, outcome.cv_labels, n_boot=self.n_boot, seed=inputs.seed)
        notes.append(
            f"Shadow models: {outcome.n_shadows} generators retrained with the run's parameters, each on "
            f"{outcome.shadow_train_rows} reference rows plus half of {outcome.n_targets} probe records "
            f"({per_side} members, {per_side} non-members), sampling {outcome.sample_rows} rows; a random forest learns "
            "from target-relative features (closest-record distances against the synthetic output and a "
            f"{outcome.calibration_rows}-row calibration half of the reference, near copies, marginal matches) and scores "
            "every evaluation record against the released synthetic data. On shadow data, for held-out targets "
            "(leave-one-target-out), "
            f"its AUC is {cv_auc:.3f} [{cv_ci.low:.3f}, {cv_ci.high:.3f}]."
        )
        return _AttackRun("shadow", outcome.scores, shadow_attack.THREAT_MODEL, {
            "n_shadows": outcome.n_shadows,
            "n_targets": outcome.n_targets,
            "shadow_train_rows": outcome.shadow_train_rows,
            "shadow_sample_rows": outcome.sample_rows,
            "calibration_rows": outcome.calibration_rows,
            "shadow_cv_auc": cv_auc,
            "shadow_cv_auc_ci": cv_ci.to_dict(),
            "feature_importance": outcome.feature_importance,
        })


_SHADOW_NO_FACTORY = (
    "Shadow-model attack not run: it retrains the generator, and no generator factory was available "
    "(e.g. auditing files with `synth audit`). Run the audit as part of `synth generate` to include it."
)


def _split(train: pd.DataFrame, holdout: pd.DataFrame, max_eval_rows: int, seed: int) -> _EvaluationSplit:
    """Reference / non-member halves of the holdout and an equal-sized member sample of train."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(holdout))
    n_ref = (len(holdout) + 1) // 2
    reference = holdout.iloc[np.sort(order[:n_ref])]
    pool = order[n_ref:]
    n_eval = min(max_eval_rows, len(pool), len(train))
    nonmembers = holdout.iloc[np.sort(rng.choice(pool, n_eval, replace=False))]
    members = train.iloc[np.sort(rng.choice(len(train), n_eval, replace=False))]
    return _EvaluationSplit(reference, members, nonmembers)


def _fmt(value: float, ci: Interval | None = None) -> str:
    if ci is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def _attack_metrics(run: _AttackRun, labels: np.ndarray, n_boot: int, seed: int) -> tuple[list[Metric], tuple[Any, ...], dict[str, Any]]:
    """The five metrics of one attack, its table row and its ROC curve."""
    s, y = run.scores, labels
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    counts = {"n_members": n_pos, "n_nonmembers": n_neg}
    prefix = f"membership.{run.name}"
    auc_value = roc.auc(s, y)
    auc_ci = roc.auc_interval(s, y, n_boot=n_boot, seed=seed, level=LEVEL)
    metrics = [Metric(
        name=f"{prefix}.auc", value=auc_value, ci=auc_ci, better="lower", ideal=0.5,
        passing="AUC near 0.5: the attack cannot tell training records from unseen records of the same population.",
        threat_model=run.threat_model, details={**counts, **run.details},
    )]
    low_fpr = {}
    for target, suffix, label in _LOW_FPRS:
        r = roc.tpr_at_fpr(s, y, target, level=LEVEL)
        low_fpr[suffix] = r
        details: dict[str, Any] = {
            **counts, "target_fpr": target, "achieved_fpr": r.achieved_fpr, "true_positives": r.true_positives,
            "allowed_false_positives": r.allowed_false_positives,
            "threshold_selection": "chosen on the same records; the interval covers the TPR count only",
        }
        if not r.reliable:
            details["caution"] = (
                f"unreliable: with {n_neg} non-members an FPR of {label} allows only {r.allowed_false_positives} false "
                f"positive(s); at least {int(np.ceil(10 / target))} non-members are needed to resolve it"
            )
        metrics.append(Metric(
            name=f"{prefix}.{suffix}", value=r.tpr, ci=r.interval, better="lower", ideal=target,
            passing=f"TPR near {label}: at a {label} false-alarm rate the attack flags no more members than chance.",
            threat_model=run.threat_model, details=details,
        ))
    adv = roc.advantage(s, y)
    adv_ci = roc.advantage_interval(s, y, n_boot=n_boot, seed=seed + 1, level=LEVEL)
    metrics.append(Metric(
        name=f"{prefix}.advantage", value=adv, ci=adv_ci, better="lower", ideal=0.0,
        passing="Advantage (max TPR - FPR) near 0: no threshold separates members from non-members better than chance.",
        threat_model=run.threat_model, details=dict(counts),
    ))
    eps = roc.epsilon_lower_bound(s, y, level=LEVEL)
    metrics.append(Metric(
        name=f"{prefix}.epsilon_lower_bound", value=eps.epsilon,
        # One-sided: the data bound epsilon from below only, so the interval is [bound, inf).
        ci=Interval(eps.epsilon, float("inf"),
                    f"clopper-pearson, one-sided, Bonferroni over {eps.n_thresholds} thresholds", LEVEL),
        better="lower", ideal=0.0,
        passing="0 = no evidence of leakage: the attack shows no measurable privacy loss at 95 % confidence (never a proof of privacy).",
        threat_model=run.threat_model,
        details={
            **counts, "confidence": LEVEL, "delta": eps.delta, "thresholds_tried": eps.n_thresholds,
            "inequality": eps.direction,
            "tpr_at_bound": None if np.isnan(eps.tpr) else eps.tpr,
            "fpr_at_bound": None if np.isnan(eps.fpr) else eps.fpr,
            "tpr_lower": None if np.isnan(eps.tpr_low) else eps.tpr_low,
            "fpr_upper": None if np.isnan(eps.fpr_high) else eps.fpr_high,
            "meaning": ("any epsilon for which the generator is (epsilon, 0)-DP is at least this value "
                        "(95 % confidence, simultaneously over the thresholds tried)"),
        },
    ))
    tpr1 = low_fpr["tpr_at_1pct_fpr"]
    row = (run.name, _fmt(auc_value, auc_ci), _fmt(tpr1.tpr, tpr1.interval), _fmt(adv, adv_ci), _fmt(eps.epsilon))
    fpr, tpr = roc.roc_curve(s, y, max_points=200)
    curve = {"label": run.name, "fpr": fpr, "tpr": tpr, "auc": auc_value}
    return metrics, row, curve
