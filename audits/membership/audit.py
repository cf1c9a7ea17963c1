"""The membership-inference audit: can an attacker tell who was in the training data?

Setting. Members are training persons; non-members are holdout persons, who come from the
same population but were never shown to the generator (a person is a row unless a group
column says otherwise, :mod:`synth.neighbors.persons`; a person's score is the largest over
their rows). Every holdout person is evaluated, against an equal number of training
persons, and each is scored against a reference sample made of the *other* folds of the
holdout (cross-fitting, :mod:`synth.audits.membership.design`), so the low-FPR numbers
rest on as many non-members as the holdout has. The mixed-type encoding
(:class:`~synth.neighbors.encoding.MixedEncoder`) is fitted on the synthetic data, which the
attacker holds; the training data never shapes it.

Attacks: the calibrated distance attack (:mod:`.distance_attack`), DOMIAS in the full
encoded space (:mod:`.domias`; as published, its reference sample is disjoint from its
candidates: half the evaluated non-members form it, the other half are scored against as
many members) and, when the generator can be retrained, the per-target
shadow-model attack (:mod:`.shadow_attack`). Each attack's scores give AUC, TPR at 1 % and
0.1 % FPR, advantage and an empirical epsilon lower bound from all four DP inequalities,
each with an interval (:mod:`synth.stats.roc`; the AUC's is DeLong's, clustered so that
natural twins, which every attack scores alike, count as one unit, and, for the distance
attack, so do persons whose closest reference record is the same holdout person, since
that one record calibrates all their scores).

Headline. ``membership.auc`` is the AUC of the attack with the *strongest evidence* of a
leak in either direction: the largest ``|AUC - 0.5|`` in units of its (DeLong) standard
error (an attack significantly *worse* than chance reveals membership too, e.g. a privacy
filter that leaves a hole around every member). Its interval is corrected for having
picked the best of ``k`` attacks: it is that attack's interval at level ``1 - 0.05 / k``
(Bonferroni), so "some attack's interval excludes a value" holds at 95 % overall.
``membership.epsilon_lower_bound`` is the largest of the attacks' epsilon bounds, each
computed at ``1 - 0.05 / k``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Interval, Metric, TableBlock, ThreatModel
from synth.audits.membership import distance_attack, domias, shadow_attack
from synth.audits.membership.design import Evaluation, cross_fitted, reference_rows, rows_of
from synth.audits.param_checks import check_int
from synth.neighbors.persons import Persons, per_person_max, persons
from synth.errors import ConfigError, DataError, did_you_mean
from synth.neighbors.duplicates import row_keys
from synth.neighbors.encoding import MixedEncoder
from synth.stats import roc
from synth.stats.intervals import percentile_interval

ATTACKS: tuple[str, ...] = ("distance", "domias", "shadow")
LEVEL = 0.95
MIN_HOLDOUT_PERSONS = 20
DENSITY_FIT_ROWS = 5000  # rows each DOMIAS density is fitted on, at most
SHADOW_SAMPLE_ROWS = 5000  # rows each shadow generator samples, at most
_LOW_FPRS: tuple[tuple[float, str, str], ...] = ((0.01, "tpr_at_1pct_fpr", "1 %"), (0.001, "tpr_at_0.1pct_fpr", "0.1 %"))


@dataclass
class _AttackRun:
    """One attack's scores on its evaluated persons, with what the report says about it."""

    name: str
    scores: np.ndarray
    labels: np.ndarray
    threat_model: ThreatModel
    details: dict[str, Any] = field(default_factory=dict)
    clusters: np.ndarray | None = None  # persons identical on every column share a cluster


def _key(name: str) -> str:
    return f"audit.params.membership.{name}"


class MembershipAudit(Audit):
    """Membership-inference attacks (distance, DOMIAS, shadow models) against the synthetic data.

    Args:
        attacks: which attacks to run, any of ``"distance"``, ``"domias"``, ``"shadow"``.
        max_eval_rows: evaluated persons per side (members and non-members), at most.
        n_folds: cross-fitting folds of the holdout (each person's reference is the others).
        n_boot: bootstrap resamples (over targets) for the shadow attack's check on shadow data.
        n_shadows: shadow generators the shadow attack fits (each target in half of them).
        n_targets: target persons per side (members and non-members) for the shadow attack.
    """

    name = "membership"
    family = "membership"
    title = "Membership inference"
    provides = ("membership.auc", "membership.epsilon_lower_bound") + tuple(
        f"membership.{attack}.{stat}"
        for attack in ("distance", "domias", "shadow")
        for stat in ("auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr", "advantage", "epsilon_lower_bound")
    )

    def __init__(
        self,
        attacks: Sequence[str] = ATTACKS,
        max_eval_rows: int = 10_000,
        n_folds: int = 5,
        n_boot: int = 200,
        n_shadows: int = 8,
        n_targets: int = 250,
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
        self.attacks = tuple(attacks)
        self.max_eval_rows = check_int(self.name, "max_eval_rows", max_eval_rows, 10)
        self.n_folds = check_int(self.name, "n_folds", n_folds, 2, 5, maximum=20)
        self.n_boot = check_int(self.name, "n_boot", n_boot, 20)
        self.n_shadows = check_int(self.name, "n_shadows", n_shadows, 4, 8)
        self.n_targets = check_int(self.name, "n_targets", n_targets, 5, 250)
        super().__init__(
            attacks=list(self.attacks), max_eval_rows=self.max_eval_rows, n_folds=self.n_folds, n_boot=self.n_boot,
            n_shadows=self.n_shadows, n_targets=self.n_targets,
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
        who = persons(inputs.train_groups, inputs.holdout_groups, len(inputs.train), len(inputs.holdout))
        unit = "persons" if who.grouped else "records"
        if who.n_holdout < MIN_HOLDOUT_PERSONS:
            return self.skip(
                f"the holdout has {who.n_holdout} {unit}; membership inference needs at least {MIN_HOLDOUT_PERSONS} "
                "(non-members, and the reference sample the attacks calibrate against). Hold out more in the split."
            )
        if len(inputs.train) == 0 or len(inputs.synthetic) == 0:
            return self.skip("the training or the synthetic data is empty.")
        if "shadow" in self.attacks and inputs.generator_factory is None and len(self.attacks) == 1:
            return self.skip(_SHADOW_NO_FACTORY)

        ev = cross_fitted(who, max_eval=self.max_eval_rows, n_folds=self.n_folds, seed=inputs.seed)
        encoder = MixedEncoder(inputs.schema, columns).fit(inputs.synthetic[columns])
        pool_frame = pd.concat([inputs.train[columns], inputs.holdout[columns]], ignore_index=True)
        pool = encoder.transform(pool_frame)
        holdout = pool[len(inputs.train):]
        synthetic = encoder.transform(inputs.synthetic[columns])
        rows, owner = rows_of(who, ev.persons)
        queries, query_folds = pool[rows], ev.folds[owner]
        fold_rows = [reference_rows(who, ev, f) for f in range(ev.n_folds)]
        references = [holdout[r] for r in fold_rows]
        # (n_folds, longest reference) holdout row positions, padded: row j of fold f's reference
        ref_rows = np.zeros((ev.n_folds, max(len(r) for r in fold_rows)), dtype=np.int64)
        for f, r in enumerate(fold_rows):
            ref_rows[f, : len(r)] = r
        n_eval = ev.persons.size

        def per_person(row_scores: np.ndarray) -> np.ndarray:
            return per_person_max(row_scores, owner, n_eval)

        # Natural twins (identical records) get the same score from every attack and move
        # together: the AUC's standard error counts each set of twins as one cluster.
        clusters = _twin_clusters(queries, owner, n_eval)

        notes = _notes(who, ev, len(inputs.train), len(inputs.holdout), len(inputs.synthetic), unit)
        runs: list[_AttackRun] = []
        for attack in self.attacks:
            if attack == "distance":
                result = distance_attack.distance_scores(queries, query_folds, synthetic, references)
                # A holdout person sets the calibration of every query whose closest reference row
                # is theirs, their own score included when evaluated: those scores move together.
                calibrator = who.holdout[ref_rows[query_folds, result.closest_reference]]
                runs.append(_AttackRun("distance", per_person(result.scores), ev.labels, distance_attack.THREAT_MODEL,
                                       {"synthetic_rows": int(synthetic.shape[0]),
                                        "reference_rows_per_fold": int(np.mean([len(r) for r in references]))},
                                       _linked_clusters(clusters, ev.persons, owner, calibrator, who.n)))
            elif attack == "domias":
                runs.append(self._domias(who, ev, pool, holdout, synthetic, inputs.seed, notes))
            elif inputs.generator_factory is None:
                notes.append(_SHADOW_NO_FACTORY)
            else:
                runs.append(self._shadow(inputs, who, ev, pool_frame, encoder, synthetic, notes))

        section = AuditSection(audit=self.name, family=self.family, title=self.title, notes=notes)
        k = len(runs)
        table_rows, curves, evidence = [], [], []
        for attack_run in runs:
            metrics, row, curve, ev_i = _attack_metrics(attack_run, k)
            section.metrics.extend(metrics)
            table_rows.append(row)
            curves.append(curve)
            evidence.append(ev_i)
        section.metrics[0:0] = _headline(runs, evidence, section, k)
        head = section.metric("membership.auc")
        section.figures.append(Figure(
            id="membership_roc",
            title="Membership-inference ROC curves",
            kind="roc",
            data={"curves": curves},
            caption=("True-positive rate (members flagged) against false-positive rate (non-members flagged) for each "
                     f"attack ({ev.members.size} members and {ev.nonmembers.size} non-members; DOMIAS on half of them, the "
                     "shadow attack on its targets); the diagonal is chance."),
        ))
        section.tables.append(TableBlock(
            title="Membership-inference attacks",
            columns=("attack", "AUC [95% CI]", "TPR at 1% FPR [95% CI]", "advantage [95% CI]", "epsilon lower bound (95%)"),
            rows=tuple(table_rows),
            caption="AUC 0.5, TPR equal to the FPR, advantage 0 and epsilon bound 0 are what an attacker without any leak "
                    "achieves; an AUC well below 0.5 is a leak too (members avoided).",
        ))
        section.summary = (
            f"Strongest evidence: the {head.details['attack']} attack, AUC {head.value:.3f} "
            f"[{head.ci.low:.3f}, {head.ci.high:.3f}] ({head.ci.level:.1%} interval, corrected for {k} attack(s); 0.5 = "
            f"chance) on {ev.members.size} members vs {ev.nonmembers.size} non-member {unit}."
        )
        section.seconds = time.perf_counter() - started
        return section

    # -- attacks needing more setup -----------------------------------------
    def _domias(self, who: Persons, ev: Evaluation, pool: np.ndarray, holdout: np.ndarray, synthetic: np.ndarray,
                seed: int, notes: list[str]) -> _AttackRun:
        # As published (and as synthcity evaluates it): the reference sample is disjoint from
        # the candidates. Half the evaluated non-members become the reference (with every
        # holdout person not evaluated), the other half are the candidates, against as many
        # members. Cross-fitting would let each non-member's kernel raise the reference density
        # around the others, so their scores would not be independent and DeLong's standard
        # error would understate the AUC's spread (seen by simulation over null draws).
        rng = np.random.default_rng([seed, 0xD0A5])
        shuffled = rng.permutation(ev.nonmembers)
        candidates = np.sort(shuffled[shuffled.size // 2:])
        members = np.sort(rng.choice(ev.members, candidates.size, replace=False))
        reference = holdout[~np.isin(who.holdout, candidates)]
        evaluated = np.r_[members, candidates]
        rows, owner = rows_of(who, evaluated)
        queries = pool[rows]
        result = domias.domias_scores(queries, np.zeros(rows.size, dtype=int), synthetic, [reference],
                                      max_fit_rows=DENSITY_FIT_ROWS, seed=seed)
        notes.append(
            f"DOMIAS: log p_synthetic(x) - log p_reference(x), Gaussian kernel densities in the full {result.dims}-feature "
            f"encoding, bandwidths chosen by held-out likelihood ({result.synthetic_bandwidth:.3g} for the synthetic "
            f"data, fitted on {result.synthetic_fit_rows} rows; {result.reference_bandwidth:.3g} for the reference "
            f"sample of {result.reference_fit_rows} holdout rows). As published, the reference is disjoint from the "
            f"candidates: {members.size} members against {candidates.size} non-members (the other half of the "
            "evaluated holdout persons form the reference)."
        )
        scores = per_person_max(np.nan_to_num(result.scores, nan=0.0, posinf=1e6, neginf=-1e6), owner, evaluated.size)
        labels = np.r_[np.ones(members.size, dtype=int), np.zeros(candidates.size, dtype=int)]
        return _AttackRun("domias", scores, labels, domias.THREAT_MODEL, {
            "dims": result.dims, "synthetic_bandwidth": result.synthetic_bandwidth,
            "reference_bandwidth": result.reference_bandwidth,
            "synthetic_fit_rows": result.synthetic_fit_rows,
            "reference_fit_rows": result.reference_fit_rows,
        }, _twin_clusters(queries, owner, evaluated.size))

    def _shadow(self, inputs: AuditInputs, who: Persons, ev: Evaluation, pool_frame: pd.DataFrame,
                encoder: MixedEncoder, synthetic: np.ndarray, notes: list[str]) -> _AttackRun:
        rng = np.random.default_rng([inputs.seed, 0x5AD])
        per_side = min(self.n_targets, ev.members.size)
        targets = np.r_[np.sort(rng.choice(ev.members, per_side, replace=False)),
                        np.sort(rng.choice(ev.nonmembers, per_side, replace=False))]
        rows, owner = rows_of(who, targets)
        sample_rows = min(len(inputs.synthetic), SHADOW_SAMPLE_ROWS)
        outcome = shadow_attack.run_shadow_attack(
            generator_factory=inputs.generator_factory, schema=inputs.schema, encoder=encoder,
            target_frame=pool_frame.iloc[rows].reset_index(drop=True), target_owner=owner, n_targets=targets.size,
            synthetic=synthetic, n_shadows=self.n_shadows, sample_rows=sample_rows, seed=inputs.seed,
        )
        cv_auc = roc.auc(outcome.cv_scores, outcome.cv_labels)
        cv_ci = _cluster_auc_interval(outcome.cv_scores, outcome.cv_labels, outcome.cv_target, self.n_boot, inputs.seed)
        notes.append(
            f"Shadow models (per target): {outcome.n_shadows} generators retrained with the run's parameters, each on a "
            f"random half of {outcome.n_targets} target persons ({per_side} members, {per_side} non-members; about "
            f"{outcome.shadow_train_rows:.0f} rows), each sampling {outcome.sample_rows} rows; every target has its own "
            "likelihood-ratio test from its in and out shadows. Its numbers are over these targets. On shadow data "
            f"(leave-one-shadow-out) its AUC is {cv_auc:.3f} [{cv_ci.low:.3f}, {cv_ci.high:.3f}]."
        )
        labels = np.r_[np.ones(per_side, dtype=int), np.zeros(per_side, dtype=int)]
        clusters = _twin_clusters(encoder.transform(pool_frame.iloc[rows]), owner, targets.size)
        return _AttackRun("shadow", outcome.scores, labels, shadow_attack.THREAT_MODEL, clusters=clusters, details={
            "n_shadows": outcome.n_shadows,
            "n_targets": outcome.n_targets,
            "shadow_train_rows": outcome.shadow_train_rows,
            "shadow_sample_rows": outcome.sample_rows,
            "shadow_cv_auc": cv_auc,
            "shadow_cv_auc_ci": cv_ci.to_dict(),
            "features": list(shadow_attack.FEATURES),
        })


_SHADOW_NO_FACTORY = (
    "Shadow-model attack not run: it retrains the generator, and no generator factory was available "
    "(e.g. auditing files with `synth audit`). Run the audit as part of `synth generate` to include it."
)


def _notes(who: Persons, ev: Evaluation, n_train: int, n_holdout: int, n_syn: int, unit: str) -> list[str]:
    n_neg = ev.nonmembers.size
    return [
        f"Evaluation: {ev.members.size} member {unit} drawn at random from the {who.n_train} training {unit} and "
        f"{n_neg} non-member {unit} from the {who.n_holdout} holdout {unit} ({n_train} and {n_holdout} rows). The "
        f"holdout is cut into {ev.n_folds} folds; each evaluated person is scored against the other folds (the "
        "reference sample), never against itself. The encoding is fitted on the synthetic data (attacker-side); "
        f"distances are exact (nearest-neighbour search over all {n_syn} synthetic rows)."
        + (" A person's score is the largest over their rows." if who.grouped else ""),
        f"TPR at low FPR: with {n_neg} non-members the lowest false-positive rate that allows at least 10 false "
        f"positives is {ev.lowest_reliable_fpr:.2%}; rates below it are marked unreliable. Their intervals cover the "
        "threshold's own uncertainty (order-statistic bounds) as well as the member count (Clopper-Pearson).",
        "Epsilon lower bound: the largest epsilon that any of the four (epsilon, 0)-DP inequalities forces at one of "
        "at most 100 score thresholds (including the reversed test, for attacks worse than chance), with one-sided "
        "Clopper-Pearson bounds Bonferroni-corrected over thresholds and directions. 0 means no evidence of "
        "leakage, not a proof of privacy.",
    ]


def _twin_clusters(rows: np.ndarray, owner: np.ndarray, n_persons: int) -> np.ndarray:
    """A cluster label per person (n_persons,): persons whose first row is identical on every
    column share one (natural twins), everyone else is a cluster of one."""
    keys = row_keys(np.ascontiguousarray(rows, dtype=np.float32))[0]
    first = np.full(n_persons, np.iinfo(np.int64).max)
    np.minimum.at(first, owner, np.arange(owner.size))
    return keys[first]


def _linked_clusters(base: np.ndarray, evaluated: np.ndarray, owner: np.ndarray, linked: np.ndarray,
                     n_persons: int) -> np.ndarray:
    """Clusters (n_eval,) joining ``base`` clusters of the evaluated persons with the links
    person ``evaluated[owner[k]]`` -- person ``linked[k]`` (one per row k, person codes):
    connected components of that graph, so persons whose scores share a cause count as one
    unit in the AUC's standard error."""
    n_eval = evaluated.size
    _, base_id = np.unique(base, return_inverse=True)
    # nodes: every person code (0..n_persons-1), then one node per base cluster
    src = np.r_[evaluated[owner], evaluated]
    dst = np.r_[linked, n_persons + base_id]
    n_nodes = n_persons + int(base_id.max()) + 1 if n_eval else n_persons
    graph = coo_matrix((np.ones(src.size), (src, dst)), shape=(n_nodes, n_nodes))
    _, component = connected_components(graph, directed=False)
    return component[evaluated]


def _fmt(value: float, ci: Interval | None = None) -> str:
    if ci is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def _cluster_auc_interval(scores: np.ndarray, labels: np.ndarray, cluster: np.ndarray, n_boot: int, seed: int) -> Interval:
    """Percentile interval of the AUC resampling whole clusters (targets) with replacement."""
    ids = np.unique(cluster)
    members = [np.flatnonzero(cluster == c) for c in ids]
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([members[i] for i in rng.integers(0, ids.size, ids.size)])
        reps[b] = roc.auc(scores[idx], labels[idx])
    return percentile_interval(reps, f"bootstrap over targets (n={n_boot})", LEVEL)


@dataclass(frozen=True)
class _Evidence:
    """How far an attack's AUC is from chance, in DeLong standard errors, and its interval
    at the multiplicity-corrected level."""

    z: float
    corrected: Interval
    epsilon_corrected: roc.EpsilonBound


def _attack_metrics(run: _AttackRun, k: int) -> tuple[list[Metric], tuple[Any, ...], dict[str, Any], _Evidence]:
    """The five metrics of one attack, its table row, its ROC curve and its evidence."""
    s, y = run.scores, run.labels
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    counts = {"n_members": n_pos, "n_nonmembers": n_neg}
    prefix = f"membership.{run.name}"
    auc_value = roc.auc(s, y)
    auc_ci = roc.auc_interval(s, y, level=LEVEL, clusters=run.clusters)
    corrected_level = 1.0 - (1.0 - LEVEL) / k
    se = roc.auc_standard_error(s, y, run.clusters)
    z = abs(auc_value - 0.5) / se if se > 0 else (0.0 if auc_value == 0.5 else float("inf"))
    metrics = [Metric(
        name=f"{prefix}.auc", value=auc_value, ci=auc_ci, better="closer", ideal=0.5,
        passing="AUC near 0.5: the attack cannot tell training records from unseen records of the same population "
                "(well below 0.5 is a leak too: members are avoided).",
        threat_model=run.threat_model, details={**counts, **run.details, "z_from_chance": z},
    )]
    low_fpr = {}
    for target, suffix, label in _LOW_FPRS:
        r = roc.tpr_at_fpr(s, y, target, level=LEVEL)
        low_fpr[suffix] = r
        details: dict[str, Any] = {
            **counts, "target_fpr": target, "achieved_fpr": r.achieved_fpr, "true_positives": r.true_positives,
            "allowed_false_positives": r.allowed_false_positives,
            "lowest_reliable_fpr": 10.0 / n_neg if n_neg else None,
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
    adv_ci = roc.advantage_interval(s, y, level=LEVEL)
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
                    f"clopper-pearson, one-sided, Bonferroni over {eps.n_thresholds} thresholds x 4 inequalities", LEVEL),
        better="lower", ideal=0.0,
        passing="0 = no evidence of leakage: the attack shows no measurable privacy loss at 95 % confidence (never a proof of privacy).",
        threat_model=run.threat_model, details=_epsilon_details(eps, counts),
    ))
    tpr1 = low_fpr["tpr_at_1pct_fpr"]
    row = (run.name, _fmt(auc_value, auc_ci), _fmt(tpr1.tpr, tpr1.interval), _fmt(adv, adv_ci), _fmt(eps.epsilon))
    fpr, tpr = roc.roc_curve(s, y, max_points=200)
    curve = {"label": run.name, "fpr": fpr, "tpr": tpr, "auc": auc_value}
    evidence = _Evidence(z, roc.auc_interval(s, y, level=corrected_level, clusters=run.clusters),
                         roc.epsilon_lower_bound(s, y, level=corrected_level) if k > 1 else eps)
    return metrics, row, curve, evidence


def _epsilon_details(eps: roc.EpsilonBound, counts: dict[str, int]) -> dict[str, Any]:
    return {
        **counts, "confidence": eps.level, "delta": eps.delta, "thresholds_tried": eps.n_thresholds,
        "inequality": eps.direction,
        "tpr_at_bound": None if np.isnan(eps.tpr) else eps.tpr,
        "fpr_at_bound": None if np.isnan(eps.fpr) else eps.fpr,
        "tpr_bound_used": None if np.isnan(eps.tpr_low) else eps.tpr_low,
        "fpr_bound_used": None if np.isnan(eps.fpr_high) else eps.fpr_high,
        "meaning": ("any epsilon for which the generator is (epsilon, 0)-DP is at least this value "
                    f"({eps.level:.1%} confidence, simultaneously over the thresholds and inequalities tried)"),
    }


def _headline(runs: list[_AttackRun], evidence: list[_Evidence], section: AuditSection, k: int) -> list[Metric]:
    """membership.auc (strongest evidence, corrected) and membership.epsilon_lower_bound (largest, corrected)."""
    best = max(range(k), key=lambda i: evidence[i].z)
    run, ev = runs[best], evidence[best]
    auc_metric = section.metric(f"membership.{run.name}.auc")
    per_attack = {r.name: section.metric(f"membership.{r.name}.auc").value for r in runs}
    head_auc = Metric(
        name="membership.auc",
        value=auc_metric.value,
        ci=Interval(ev.corrected.low, ev.corrected.high, f"{ev.corrected.method}, Bonferroni over {k} attack(s)",
                    ev.corrected.level),
        better="closer",
        ideal=0.5,
        passing="AUC near 0.5 with a narrow interval: no attack tells training records from unseen records of the "
                "same population, in either direction (default gates: 0.4 <= interval <= 0.6).",
        threat_model=run.threat_model,
        details={
            "attack": run.name,
            "selection": "the attack whose AUC is farthest from 0.5 in standard errors (either direction)",
            "per_attack_auc": per_attack,
            "per_attack_z_from_chance": {r.name: evidence[i].z for i, r in enumerate(runs)},
            "attacks_compared": k,
            "n_members": auc_metric.details["n_members"],
            "n_nonmembers": auc_metric.details["n_nonmembers"],
        },
    )
    eps_best = max(range(k), key=lambda i: evidence[i].epsilon_corrected.epsilon)
    eps = evidence[eps_best].epsilon_corrected
    head_eps = Metric(
        name="membership.epsilon_lower_bound",
        value=eps.epsilon,
        ci=Interval(eps.epsilon, float("inf"), f"clopper-pearson, one-sided, Bonferroni over thresholds, 4 inequalities "
                    f"and {k} attack(s)", LEVEL),
        better="lower",
        ideal=0.0,
        passing="0 = no attack shows measurable privacy loss at 95 % confidence (never a proof of privacy).",
        threat_model=runs[eps_best].threat_model,
        details={"attack": runs[eps_best].name, **_epsilon_details(eps, {
            "n_members": int(runs[eps_best].labels.sum()),
            "n_nonmembers": int(runs[eps_best].labels.size - runs[eps_best].labels.sum())})},
    )
    return [head_auc, head_eps]
