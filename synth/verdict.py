"""Gates: thresholds on audit metrics, and the overall verdict.

A gate is one line ``METRIC[.FIELD] OP NUMBER``, e.g. ``privacy.dcr_share.upper_ci <= 0.55``.
FIELD is ``value`` (default), ``lower_ci`` or ``upper_ci``; OP is one of
``<= < >= > ==``. A gate whose metric was not computed (audit skipped or failed, value
NaN) fails, with the reason: a release is never passed on missing evidence.

When the config sets no gates, :data:`DEFAULT_GATES` apply: privacy gates that fail on
copied, near-copied and rare records and on a privacy filter's hole, and pass fresh draws
of the population. Each carries, as data, one sentence on what leak it rules out and at
what leak size it has been shown to fail (the known-answer tests and
``bench/bench_leaks.py`` on the simulated population of ``tests/population.py`` and on
ACTG 175); result.json and the report carry both with the gate's outcome.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from synth.audits.base import Metric
from synth.errors import GateError, did_you_mean
from synth.result import GateOutcome
from synth.schema import DataKind


@dataclass(frozen=True)
class DefaultGate:
    """A default gate: its expression, the leak it rules out, and the smallest leak it has
    been shown to fail on (with where that was shown)."""

    expression: str
    rules_out: str
    shown_to_fail: str


_SIM = "simulated population with 4 % natural twins, 3,000 training and 1,000 holdout rows, 3,000 synthetic rows"

DEFAULT_GATE_SPECS: tuple[DefaultGate, ...] = (
    DefaultGate(
        "privacy.exact_copy_excess.lower_ci <= 0",
        "Rules out synthetic rows that reproduce training records verbatim more often than holdout records of the "
        "same population (exact permutation test over the split, 2.5 % one-sided; a record with natural twins weighs "
        "less than one unique in the pool).",
        f"Shown to fail in 10 of 10 draws when 1 % of the synthetic rows are verbatim copies of random training "
        f"records or of the rarest ones ({_SIM}; and on ACTG 175, 1 % of 1,604 rows).",
    ),
    DefaultGate(
        "privacy.exposure_excess.lower_ci <= 0",
        "Rules out synthetic rows that point at individual training persons (a synthetic row ten times closer to a "
        "person's record than any other real person's record) more often than at holdout persons.",
        f"Shown to fail in 10 of 10 draws at 1 % verbatim copies, 2 % near-copies (numeric values times 1.001) and "
        f"1 % copies of the rarest training records ({_SIM}; and on ACTG 175).",
    ),
    DefaultGate(
        "privacy.dcr_share.upper_ci <= 0.6",
        "Rules out synthetic data whose rows sit closer to a training record than to a holdout record (weighed to "
        "equal size) in 60 % of cases or more: wholesale memorisation.",
        f"Shown to fail in 3 of 3 draws when 30 % of the synthetic rows copy or near-copy training records, 2 of 3 at "
        f"20 % ({_SIM}); smaller leaks are the copy and exposure gates' job.",
    ),
    DefaultGate(
        "membership.auc.upper_ci <= 0.6",
        "Rules out a black-box membership attack (calibrated distance, DOMIAS, or per-target shadow models; the "
        "strongest, with a Bonferroni-corrected interval) that ranks a training person above an unseen person in 60 % "
        "of pairs or more.",
        f"Shown to fail in 3 of 3 draws when 30 % of the synthetic rows copy or near-copy training records, 2 of 3 at "
        f"20 % ({_SIM}); smaller leaks are the copy and exposure gates' job.",
    ),
    DefaultGate(
        "membership.auc.lower_ci >= 0.4",
        "Rules out an attack that does significantly worse than chance, which reveals membership as well: e.g. a "
        "privacy filter that removes synthetic rows near training records leaves a hole around every member.",
        f"Shown to fail in 10 of 10 draws on a privacy filter's hole (synthetic rows closer to a training record than "
        f"to any holdout record removed; {_SIM}; and on ACTG 175).",
    ),
)

DEFAULT_GATES: tuple[str, ...] = tuple(g.expression for g in DEFAULT_GATE_SPECS)
_SPECS = {g.expression: g for g in DEFAULT_GATE_SPECS}

# Image data (the image audits in audits/images/): privacy gates with the same logic.
IMAGE_DEFAULT_GATES: tuple[str, ...] = (
    # Generated images that reproduce a training image (Carlini et al.'s calibrated nearest-image distance)
    # significantly more often than unseen holdout images resemble one by chance.
    "privacy.image_copy_excess.lower_ci <= 0",
    # Training prompts whose first denoising step departs from the unconditional one (Wen et al. 2024)
    # significantly more often than prompts the model never saw: memorized prompts.
    "privacy.prompt_memorization_excess.lower_ci <= 0",
    # The stronger white-box membership attack on the diffusion model (loss, PIA) close to a coin flip.
    "membership.diffusion.auc.upper_ci <= 0.6",
)

# The defaults by kind of data.
DEFAULT_GATES_BY_KIND: dict[DataKind, tuple[str, ...]] = {DataKind.TABLE: DEFAULT_GATES,
                                                          DataKind.IMAGE: IMAGE_DEFAULT_GATES}

FIELDS = ("value", "lower_ci", "upper_ci")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
_GATE = re.compile(r"^\s*(?P<left>[A-Za-z_][\w.%\-]*?)\s*(?P<op><=|>=|==|<|>)\s*(?P<num>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Gate:
    expression: str
    metric: str
    field: str
    op: str
    threshold: float
    default: bool = False

    def evaluate(self, metrics: dict[str, Metric]) -> GateOutcome:
        """Compare the metric's field with the threshold; a missing or NaN metric fails."""
        spec = _SPECS.get(self.expression) if self.default else None
        base = dict(expression=self.expression, metric=self.metric, field=self.field, op=self.op,
                    threshold=self.threshold, default=self.default,
                    rules_out=spec.rules_out if spec else None, shown_to_fail=spec.shown_to_fail if spec else None)
        metric = metrics.get(self.metric)
        if metric is None:
            return GateOutcome(**base, observed=None, passed=False,
                               error=f"metric '{self.metric}' was not computed (its audit was skipped, failed or not selected)")
        observed = metric.field_value(self.field)
        if observed is None or not math.isfinite(observed):
            return GateOutcome(**base, observed=None, passed=False, error=f"metric '{self.metric}' has no finite {self.field}")
        return GateOutcome(**base, observed=float(observed), passed=bool(_OPS[self.op](observed, self.threshold)))


def parse_gate(expression: str, *, default: bool = False, source: str = "gates") -> Gate:
    """Parse one gate line; :class:`GateError` explains the expected form."""
    m = _GATE.match(expression)
    if not m:
        raise GateError(
            f"{source}: cannot read the gate '{expression}'. A gate is METRIC[.value|.lower_ci|.upper_ci] OP NUMBER "
            f"with OP one of <=, <, >=, >, ==, e.g. 'privacy.dcr_share.upper_ci <= 0.55'."
        )
    left = m.group("left")
    metric, field = left, "value"
    for f in FIELDS:
        if left.endswith("." + f):
            metric, field = left[: -len(f) - 1], f
    return Gate(expression.strip(), metric, field, m.group("op"), float(m.group("num")), default)


def parse_gates(
    expressions: Sequence[str] | None, known_metrics: Iterable[str] | None = None, *, source: str = "gates",
    kind: DataKind = DataKind.TABLE,
) -> list[Gate]:
    """Parse the config's gates (or the defaults for ``kind`` of data when ``expressions`` is None).

    With ``known_metrics`` (the ``provides`` of the selected audits that apply to the data)
    a user gate naming an unknown metric is an error with the closest name, caught before
    any work is done.
    """
    if expressions is None:
        return [parse_gate(e, default=True, source="default gates") for e in DEFAULT_GATES_BY_KIND[kind]]
    gates = [parse_gate(e, source=source) for e in expressions]
    if known_metrics is not None:
        known = set(known_metrics)
        for g in gates:
            if g.metric not in known:
                raise GateError(
                    f"{source}: the gate '{g.expression}' names the metric '{g.metric}', which none of the selected "
                    f"audits computes." + did_you_mean(g.metric, known)
                    + " Run `synth audits list` to see every metric, or add the audit that computes it."
                )
    return gates


def evaluate_gates(gates: Sequence[Gate], metrics: dict[str, Metric]) -> list[GateOutcome]:
    return [g.evaluate(metrics) for g in gates]
