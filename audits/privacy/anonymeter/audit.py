"""anonymeter's three privacy risks: singling out, linkability and inference.

The attacks are anonymeter's (Giomi et al., "A Unified Framework for Quantifying Privacy
Risk in Synthetic Data", PoPETs 2023), run through the ``anonymeter`` package with
``ori`` = training rows, ``syn`` = synthetic rows, ``control`` = holdout rows. Each risk is
anonymeter's residual risk ``(attack rate - control rate) / (1 - control rate)`` with
anonymeter's own interval (``PrivacyRisk.ci``: Wilson rates, propagated error), so an
attack counts only what it achieves on training rows beyond what it achieves on real rows
the generator never saw.

- ``privacy.singling_out_risk``: the larger of the univariate and multivariate attacks.
- ``privacy.linkability_risk``: the quasi-identifier columns (schema role) are split in
  two halves, first half and second half in schema order (without two quasi-identifiers,
  all modelled columns are split); the attacker links the two halves of a target through
  their nearest synthetic rows.
- ``privacy.inference_risk``: the largest over the secret columns (default: the target and
  each sensitive attribute); per-secret numbers are in the details. The attacker knows the
  quasi-identifiers (minus the secret), or every other column when there are none.
  Numeric, integer and datetime secrets count a guess within anonymeter's 5 % relative
  tolerance as correct, categorical ones only an exact match. With ``engine="synth"``
  (default) the attack runs on :mod:`synth.audits.privacy.anonymeter.inference`, an exact and much faster
  re-implementation: same targets, same guesses, same counts as ``engine="anonymeter"``.

The frames are first made safe for anonymeter (:mod:`synth.audits.privacy.anonymeter.frames`:
safe column names, plain dtypes, coded categories). What anonymeter warns about (the
attack no better than its random baseline, fewer singling-out queries than asked for, a
control attack at 100 %) is reported in the notes, not swallowed. Runs are seeded from
``inputs.seed``; the two draws anonymeter does not let us seed (the order of univariate
singling-out queries, the linkability baseline) are pinned to it by
:mod:`synth.audits.privacy.anonymeter.determinism`, so a seed gives the same result in every run.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator
from anonymeter.stats.confidence import EvaluationResults, PrivacyRisk

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Interval, Metric, TableBlock, ThreatModel
from synth.audits.param_checks import check_int
from synth.audits.privacy.anonymeter.determinism import anonymeter_deterministic
from synth.audits.privacy.anonymeter.frames import AnonymeterFrames, prepare_frames
from synth.audits.privacy.anonymeter.inference import inference_risk
from synth.errors import ConfigError, did_you_mean
from synth.execution.active import active_engine
from synth.execution.engine import Shard

_ENGINES = ("synth", "anonymeter")
_CI_METHOD = "anonymeter (Wilson success rates, propagated residual error)"
_PASSING = (
    "The interval reaches 0 (lower_ci = 0) or the risk stays below 0.1: the attack does about as "
    "well against holdout rows the generator never saw as against its training rows."
)

SINGLING_OUT_THREAT = ThreatModel(
    attack="singling out (anonymeter)",
    attacker_has=("the synthetic data",),
    description=(
        "The attacker holds only the synthetic data and writes predicates (e.g. 'age >= 89 and "
        "sex = F') that match exactly one synthetic row, claiming each isolates one real person. "
        "A predicate succeeds when it matches exactly one training row; the same predicates on "
        "holdout rows (size-corrected) give what holds for any sample of the population, and only "
        "the excess counts as risk."
    ),
)

LINKABILITY_THREAT = ThreatModel(
    attack="linkability (anonymeter)",
    attacker_has=(
        "the synthetic data",
        "two disjoint sets of auxiliary attributes of a target (e.g. from two other databases)",
    ),
    description=(
        "The attacker holds two records of the same person in two sources with disjoint columns and "
        "links them when both point to the same nearest synthetic row. Success on training rows "
        "beyond success on holdout rows (real people the generator never saw) is the risk."
    ),
)

INFERENCE_THREAT = ThreatModel(
    attack="attribute inference (anonymeter)",
    attacker_has=("the synthetic data", "the target's auxiliary attributes"),
    description=(
        "The attacker knows some attributes of a target (the auxiliary columns) and wants the "
        "secret one: they guess the secret of the synthetic row nearest to what they know. "
        "Guessing right more often for training rows than for holdout rows (people the generator "
        "never saw) is the risk; guessing right for both is what the population's statistics allow."
    ),
)


@dataclass
class _Outcome:
    """One attack's anonymeter results, and what it warned about."""

    label: str
    results: EvaluationResults
    risk: PrivacyRisk
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def attack_beats_baseline(self) -> bool:
        return bool(self.results.attack_rate.value > self.results.baseline_rate.value)

    def details(self) -> dict[str, Any]:
        r = self.results
        control = r.control_rate
        return {
            "risk": float(self.risk.value),
            "ci": [float(self.risk.ci[0]), float(self.risk.ci[1])],
            "attack_rate": _rate(r.attack_rate),
            "baseline_rate": _rate(r.baseline_rate),
            "control_rate": None if control is None else _rate(control),
            "n_attacks": int(r.n_attacks_ori),
            "n_attacks_baseline": int(r.n_attacks_baseline),
            "n_attacks_control": int(r.n_attacks_control),
            "n_success": int(r.n_success),
            "n_baseline": int(r.n_baseline),
            "n_control": None if r.n_control is None else float(r.n_control),
            "attack_beats_baseline": self.attack_beats_baseline,
            **self.extra,
        }


def _rate(rate: Any) -> dict[str, float]:
    return {"value": float(rate.value), "error": float(rate.error)}


class AnonymeterAudit(Audit):
    """Singling-out, linkability and inference risks from anonymeter, against the holdout.

    Args:
        n_attacks: attacks per evaluation (targets, or singling-out queries); capped at the
            holdout and training sizes.
        secrets: columns the inference attacker guesses (default: the target and each
            sensitive attribute).
        aux_cols: columns the inference attacker knows (default: the quasi-identifiers minus
            the secret; every other column when the schema names no quasi-identifier).
        linkability_aux_cols: the two disjoint column sets of the linkability attack
            (default: the quasi-identifiers split into a first and a second half).
        singling_out_n_cols: columns per multivariate singling-out predicate (capped at the
            number of columns).
        singling_out_max_attempts: predicates the multivariate attack may try before giving up.
        engine: ``"synth"`` (exact fast re-implementation) or ``"anonymeter"`` for inference.
        confidence_level: level of anonymeter's intervals.
    """

    name: ClassVar[str] = "anonymeter"
    family: ClassVar[str] = "privacy"
    title: ClassVar[str] = "Anonymeter: singling out, linkability and inference risks"
    provides: ClassVar[tuple[str, ...]] = (
        "privacy.singling_out_risk",
        "privacy.linkability_risk",
        "privacy.inference_risk",
    )

    def __init__(
        self,
        *,
        n_attacks: int = 500,
        secrets: list[str] | None = None,
        aux_cols: list[str] | None = None,
        linkability_aux_cols: list[list[str]] | None = None,
        singling_out_n_cols: int = 3,
        singling_out_max_attempts: int = 50_000,
        engine: str = "synth",
        confidence_level: float = 0.95,
    ) -> None:
        if engine not in _ENGINES:
            raise ConfigError(
                f"audit.params.anonymeter.engine: unknown engine {engine!r}." + did_you_mean(str(engine), _ENGINES)
                + " Choose 'synth' (fast, identical counts) or 'anonymeter' (the package itself)."
            )
        if isinstance(confidence_level, bool) or not isinstance(confidence_level, (int, float)) or not (
            0 < confidence_level < 1
        ):
            raise ConfigError(
                f"audit.params.anonymeter.confidence_level: expected a number between 0 and 1, got "
                f"{confidence_level!r}. Set e.g. `confidence_level: 0.95`."
            )
        super().__init__(
            n_attacks=check_int(self.name, "n_attacks", n_attacks, 1, 500),
            secrets=_check_names("secrets", secrets),
            aux_cols=_check_names("aux_cols", aux_cols),
            linkability_aux_cols=_check_split(linkability_aux_cols),
            singling_out_n_cols=check_int(self.name, "singling_out_n_cols", singling_out_n_cols, 1, 3),
            singling_out_max_attempts=check_int(
                self.name, "singling_out_max_attempts", singling_out_max_attempts, 1, 50_000
            ),
            engine=engine,
            confidence_level=float(confidence_level),
        )

    # -- the audit ----------------------------------------------------------------
    def run(self, inputs: AuditInputs) -> AuditSection:
        start = time.perf_counter()
        p = self.params
        frames = prepare_frames(inputs.train, inputs.synthetic, inputs.holdout, inputs.schema)
        sizes = {"training": len(frames.ori), "synthetic": len(frames.syn), "holdout": len(frames.control)}
        if not frames.columns:
            return self.skip("The schema models no columns, so there is nothing to attack.")
        if min(sizes.values()) < 2:
            return self.skip(
                "anonymeter needs at least 2 rows in each of the training, synthetic and holdout tables "
                f"(got {sizes}); its risks are measured against a holdout of real rows."
            )
        n_attacks = min(p["n_attacks"], sizes["training"], sizes["holdout"])
        notes = [
            f"Each attack makes {n_attacks} attempts"
            + (f" (n_attacks={p['n_attacks']} capped at the training/holdout size)." if n_attacks < p["n_attacks"] else ".")
            + " Risk = (attack rate on training rows - rate on holdout rows) / (1 - holdout rate), "
            "with anonymeter's interval."
        ]
        seed = int(inputs.seed)
        n_jobs = int(inputs.n_jobs) if inputs.n_jobs else -1
        level = p["confidence_level"]

        metrics: list[Metric] = []
        outcomes: list[_Outcome] = []

        link_cols, link_note = _linkability_columns(frames, inputs, p)
        plans, plan_notes = _inference_plans(frames, inputs, p)
        # The attacks are independent: the engine may run them side by side (Ray: one task each,
        # the frames shared once); each is seeded on its own, so where it runs changes nothing.
        engine = active_engine()
        task_jobs = 1 if engine.distributed else n_jobs
        jobs = [Shard(("singling_out", n_attacks, p, seed, level), rows=2 * n_attacks)]
        if link_cols is not None:
            jobs.append(Shard(("linkability", link_cols, n_attacks, seed, task_jobs, level), rows=n_attacks))
        jobs += [Shard(("inference", secret, aux, n_attacks, _secret_seed(seed, k), p["engine"], task_jobs, level),
                       rows=n_attacks) for k, (secret, aux) in enumerate(plans)]
        done = engine.map(_attack, jobs, shared={"frames": frames}, label="anonymeter attacks")

        singling = done[0]
        outcomes += singling
        n_rows = singling[0].extra["n_rows_compared"]
        notes.append(
            f"Singling out: predicates written from the synthetic rows are checked on {n_rows} distinct training "
            f"rows and {n_rows} distinct holdout rows (the larger set subsampled to the smaller's size, so no "
            "size correction is needed)."
        )
        worst = max(singling, key=lambda o: o.risk.value)
        metrics.append(_metric(
            "privacy.singling_out_risk", worst, SINGLING_OUT_THREAT, level,
            {"mode": worst.extra["mode"], "univariate": singling[0].details(), "multivariate": singling[1].details()},
        ))

        if link_note:
            notes.append(link_note)
        if link_cols is not None:
            link = done[1]
            outcomes.append(link)
            metrics.append(_metric("privacy.linkability_risk", link, LINKABILITY_THREAT, level, link.details()))

        notes += plan_notes
        inference = done[1 + (link_cols is not None):]
        outcomes += inference
        if inference:
            worst_inf = max(inference, key=lambda o: o.risk.value)
            metrics.append(_metric(
                "privacy.inference_risk", worst_inf, INFERENCE_THREAT, level,
                {
                    "secret": worst_inf.extra["secret"],
                    "engine": p["engine"],
                    "per_secret": {o.extra["secret"]: o.details() for o in inference},
                },
            ))
            notes.append(
                "Inference attack computed by "
                + ("synth's exact re-implementation of anonymeter's attack (synth.audits.privacy.anonymeter.inference): the "
                   "same targets and guesses as anonymeter's InferenceEvaluator, so the same counts."
                   if p["engine"] == "synth" else "anonymeter's InferenceEvaluator.")
            )

        notes += _warning_notes(outcomes)
        section = AuditSection(
            audit=self.name,
            family=self.family,
            title=self.title,
            summary=_summary(metrics),
            metrics=metrics,
            figures=[_rates_figure(outcomes)],
            tables=[_rates_table(outcomes)],
            notes=notes,
        )
        section.seconds = time.perf_counter() - start
        return section


# -- the three attacks ------------------------------------------------------------------


def _attack(shared: dict[str, Any], kind: str, *args: Any) -> Any:
    """One attack on ``shared["frames"]`` (an engine's shard): ``kind`` names it, ``args`` are its own."""
    run = {"singling_out": _singling_out, "linkability": _linkability, "inference": _inference}[kind]
    return run(shared["frames"], *args)


def _singling_out(frames: AnonymeterFrames, n_attacks: int, p: dict[str, Any], seed: int, level: float) -> list[_Outcome]:
    """Univariate and multivariate singling out (in that order)."""
    n_cols = min(p["singling_out_n_cols"], len(frames.columns))
    ori, control = _equal_size(frames.ori, frames.control, seed)
    outcomes = []
    for mode in ("univariate", "multivariate"):
        with _anonymeter_messages() as messages, anonymeter_deterministic(seed):
            evaluator = SinglingOutEvaluator(
                ori=ori, syn=frames.syn, control=control, n_attacks=n_attacks,
                n_cols=n_cols, max_attempts=p["singling_out_max_attempts"], seed=seed,
            ).evaluate(mode=mode)
            results = evaluator.results(confidence_level=level)
            risk = results.risk()
        extra: dict[str, Any] = {
            "mode": mode,
            "n_queries_found": len(evaluator.queries()),
            "n_rows_compared": len(ori),
        }
        if mode == "multivariate":
            extra["n_cols"] = n_cols
        outcomes.append(_Outcome(f"singling out ({mode})", results, risk, messages, extra))
    return outcomes


def _equal_size(ori: pd.DataFrame, control: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Distinct training and holdout rows, the larger set subsampled to the smaller's size.

    A predicate singles out one row more easily in a smaller table. anonymeter corrects a
    size difference by fitting a curve to subsamples of the control set, but its subsample
    sizes start at min(1000, n_control): with fewer than 1000 control rows every subsample has
    the full size, the fit is degenerate and the correction (an extrapolation) is noise. Equal
    sizes need no correction. Duplicates go first, as anonymeter drops them itself.
    """
    ori, control = ori.drop_duplicates(), control.drop_duplicates()
    n = min(len(ori), len(control))
    rng = np.random.default_rng(seed)

    def cut(frame: pd.DataFrame) -> pd.DataFrame:
        if len(frame) == n:
            return frame
        keep = np.sort(rng.choice(len(frame), size=n, replace=False))
        return frame.iloc[keep]

    return cut(ori), cut(control)


def _linkability(
    frames: AnonymeterFrames, cols: tuple[list[str], list[str]], n_attacks: int, seed: int, n_jobs: int, level: float
) -> _Outcome:
    safe = ([frames.safe(c) for c in cols[0]], [frames.safe(c) for c in cols[1]])
    with _anonymeter_messages() as messages, _numpy_global_seed(seed), anonymeter_deterministic(seed):
        evaluator = LinkabilityEvaluator(
            ori=frames.ori, syn=frames.syn, control=frames.control, aux_cols=safe, n_attacks=n_attacks, n_neighbors=1
        ).evaluate(n_jobs=n_jobs)
        results = evaluator.results(confidence_level=level)
        risk = results.risk()
    return _Outcome("linkability", results, risk, messages, {"aux_cols": [list(cols[0]), list(cols[1])], "n_neighbors": 1})


def _inference(
    frames: AnonymeterFrames, secret: str, aux: list[str], n_attacks: int, seed: int, engine: str, n_jobs: int,
    level: float,
) -> _Outcome:
    regression = secret in frames.numeric
    safe_aux, safe_secret = [frames.safe(c) for c in aux], frames.safe(secret)
    with _anonymeter_messages() as messages:
        if engine == "synth":
            ours = inference_risk(
                frames.ori, frames.syn, safe_aux, safe_secret, control=frames.control, regression=regression,
                n_attacks=n_attacks, random_state=seed, confidence_level=level, n_jobs=n_jobs,
            )
            results = ours.results()
        else:
            with _numpy_global_seed(seed):
                evaluator = InferenceEvaluator(
                    ori=frames.ori, syn=frames.syn, control=frames.control, aux_cols=safe_aux, secret=safe_secret,
                    regression=regression, n_attacks=n_attacks,
                ).evaluate(n_jobs=n_jobs)
            results = evaluator.results(confidence_level=level)
        risk = results.risk()
    extra = {"secret": secret, "aux_cols": list(aux), "regression": regression}
    return _Outcome(f"inference ({secret})", results, risk, messages, extra)


# -- choosing columns -------------------------------------------------------------------


def _linkability_columns(
    frames: AnonymeterFrames, inputs: AuditInputs, p: dict[str, Any]
) -> tuple[tuple[list[str], list[str]] | None, str | None]:
    """The two auxiliary column sets, and a note on how they were chosen (or why not)."""
    given = p["linkability_aux_cols"]
    if given is not None:
        for col in given[0] + given[1]:
            _require_column(frames, "linkability_aux_cols", col)
        return (list(given[0]), list(given[1])), None
    qis = [c for c in inputs.schema.quasi_identifiers if c in frames.columns]
    pool, source = (qis, "quasi-identifiers") if len(qis) >= 2 else (list(frames.columns), "modelled columns")
    if len(pool) < 2:
        return None, "Linkability not measured: it needs at least two columns to split between two data sources."
    half = (len(pool) + 1) // 2
    cols = (pool[:half], pool[half:])
    note = (
        f"Linkability: the attacker's two sources hold the {source} split in schema order, "
        f"{cols[0]} and {cols[1]}"
        + ("" if source == "quasi-identifiers" else " (the schema names fewer than two quasi-identifiers)")
        + "."
    )
    return cols, note


def _inference_plans(
    frames: AnonymeterFrames, inputs: AuditInputs, p: dict[str, Any]
) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """(secret, auxiliary columns) per inference attack, and notes on the choice."""
    schema = inputs.schema
    if p["secrets"] is not None:
        secrets = [_require_column(frames, "secrets", s) for s in p["secrets"]]
    else:
        secrets = [c for c in ([schema.target] if schema.target else []) + schema.sensitive if c in frames.columns]
        secrets = list(dict.fromkeys(secrets))
    if not secrets:
        return [], [
            "Inference not measured: no secret column. Mark a target or sensitive attribute in the schema, "
            "or set audit.params.anonymeter.secrets."
        ]
    given_aux = None if p["aux_cols"] is None else [_require_column(frames, "aux_cols", c) for c in p["aux_cols"]]
    qis = [c for c in schema.quasi_identifiers if c in frames.columns]
    plans, notes = [], []
    for secret in secrets:
        if given_aux is not None:
            aux = [c for c in given_aux if c != secret]
        elif qis:
            aux = [c for c in qis if c != secret]
        else:
            aux = []
        if not aux:  # no quasi-identifier left: the attacker knows everything else
            aux = [c for c in frames.columns if c != secret]
        if not aux:
            notes.append(f"Inference on '{secret}' not measured: there is no other column for the attacker to know.")
            continue
        plans.append((secret, aux))
    notes.append(
        "Inference: " + "; ".join(f"secret '{s}' guessed from {a}" for s, a in plans) + "."
        if plans else "Inference not measured."
    )
    return plans, notes


def _require_column(frames: AnonymeterFrames, key: str, col: str) -> str:
    if col not in frames.safe_names:
        raise ConfigError(
            f"audit.params.anonymeter.{key}: '{col}' is not a modelled column." + did_you_mean(col, frames.columns)
            + f" Modelled columns: {', '.join(frames.columns)}."
        )
    return col


def _check_names(key: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"audit.params.anonymeter.{key}: expected a list of column names, got {value!r}. "
            f"Write it as a list, e.g. `{key}: [age, sex]`."
        )
    if not value:
        raise ConfigError(f"audit.params.anonymeter.{key}: the list is empty; leave the key out for the default.")
    return list(value)


def _check_split(value: Any) -> list[list[str]] | None:
    if value is None:
        return None
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(part, (list, tuple)) and part and all(isinstance(c, str) for c in part) for part in value
    )
    if not ok or set(value[0]) & set(value[1]):
        raise ConfigError(
            "audit.params.anonymeter.linkability_aux_cols: expected two non-empty, disjoint lists of column "
            f"names, got {value!r}. Write e.g. `linkability_aux_cols: [[age, sex], [race, bmi]]`."
        )
    return [list(value[0]), list(value[1])]


def _secret_seed(seed: int, k: int) -> int:
    """A distinct, reproducible seed per secret (RandomState takes 32-bit seeds)."""
    return (seed * 1_000_003 + 7_919 * (k + 1)) % 2**32


# -- anonymeter's global state and messages ---------------------------------------------


@contextmanager
def _numpy_global_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global RandomState (anonymeter samples targets from it), then restore it."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


@contextmanager
def _anonymeter_messages() -> Iterator[list[str]]:
    """Collect what anonymeter warns (``warnings.warn`` and its loggers) while the block runs."""
    messages: list[str] = []
    logger = logging.getLogger("anonymeter")
    handler = _Collect(messages)
    old_level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
        messages.extend(str(w.message) for w in caught)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


# -- report parts ----------------------------------------------------------------------


def _metric(name: str, outcome: _Outcome, threat: ThreatModel, level: float, details: dict[str, Any]) -> Metric:
    return Metric(
        name=name,
        value=float(outcome.risk.value),
        ci=Interval(float(outcome.risk.ci[0]), float(outcome.risk.ci[1]), _CI_METHOD, level),
        passing=_PASSING,
        better="lower",
        ideal=0.0,
        threat_model=threat,
        details={"attack": outcome.label, **outcome.details(), **details},
    )


def _warning_notes(outcomes: list[_Outcome]) -> list[str]:
    notes = []
    for o in outcomes:
        if not o.attack_beats_baseline:
            r = o.results
            notes.append(
                f"{o.label}: the attack is no better than anonymeter's random baseline (attack rate "
                f"{r.attack_rate.value:.3f} <= baseline {r.baseline_rate.value:.3f}); anonymeter says such "
                "results cannot be trusted, so this risk is not evidence of safety."
            )
        for message in dict.fromkeys(o.warnings):
            notes.append(f"{o.label}: anonymeter warned: {message}")
    return notes


def _summary(metrics: list[Metric]) -> str:
    parts = [
        f"{m.name.split('.', 1)[1].replace('_', ' ')} {m.value:.3f} [{m.ci.low:.3f}, {m.ci.high:.3f}]"
        for m in metrics if m.ci is not None
    ]
    return "anonymeter risks (0 = no more success on training rows than on holdout rows): " + "; ".join(parts) + "."


def _rates_figure(outcomes: list[_Outcome]) -> Figure:
    def rate(o: _Outcome, which: str) -> float:
        r = getattr(o.results, which)
        return float("nan") if r is None else float(r.value)

    return Figure(
        id="anonymeter-rates",
        title="Attack success: training rows, holdout rows, random baseline",
        kind="bars",
        data={
            "y_label": "success rate",
            "categories": [o.label for o in outcomes],
            "series": [
                {"label": "attack on training rows", "values": [rate(o, "attack_rate") for o in outcomes]},
                {"label": "attack on holdout rows (control)", "values": [rate(o, "control_rate") for o in outcomes]},
                {"label": "random baseline", "values": [rate(o, "baseline_rate") for o in outcomes]},
            ],
        },
        caption=(
            "Success rates of each anonymeter attack. Risk comes from the gap between training and holdout "
            "bars; a baseline bar as high as the training bar means the attack found nothing to exploit."
        ),
    )


def _rates_table(outcomes: list[_Outcome]) -> TableBlock:
    rows = []
    for o in outcomes:
        r = o.results
        rows.append((
            o.label, float(o.risk.value), float(o.risk.ci[0]), float(o.risk.ci[1]),
            float(r.attack_rate.value), None if r.control_rate is None else float(r.control_rate.value),
            float(r.baseline_rate.value), int(r.n_attacks_ori),
        ))
    return TableBlock(
        title="anonymeter attacks",
        columns=("attack", "risk", "ci low", "ci high", "training rate", "holdout rate", "baseline rate", "attacks"),
        rows=tuple(rows),
        caption="Aggregates only; no record or query is shown (singling-out queries quote real values).",
    )
