"""Gates: thresholds on audit metrics, and the overall verdict.

A gate is one line ``METRIC[.FIELD] OP NUMBER``, e.g. ``privacy.dcr_share.upper_ci <= 0.55``.
FIELD is ``value`` (default), ``lower_ci`` or ``upper_ci``; OP is one of
``<= < >= > ==``. A gate whose metric was not computed (audit skipped or failed, value
NaN) fails, with the reason: a release is never passed on missing evidence.

When the config sets no gates, :data:`DEFAULT_GATES` apply: conservative privacy gates
that fail on copied or near-copied records and pass fresh ones.
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

DEFAULT_GATES: tuple[str, ...] = (
    # Copies significantly more frequent than an independent sample of the population gives.
    "privacy.exact_copy_excess.lower_ci <= 0",
    # Synthetic rows should not sit closer to training rows than to fresh real rows.
    "privacy.dcr_share.upper_ci <= 0.6",
    # The strongest membership-inference attack should be close to a coin flip.
    "membership.auc.upper_ci <= 0.6",
)

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
        base = dict(expression=self.expression, metric=self.metric, field=self.field, op=self.op,
                    threshold=self.threshold, default=self.default)
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
    expressions: Sequence[str] | None, known_metrics: Iterable[str] | None = None, *, source: str = "gates"
) -> list[Gate]:
    """Parse the config's gates (or the defaults when ``expressions`` is None).

    With ``known_metrics`` (the ``provides`` of the selected audits) a user gate naming an
    unknown metric is an error with the closest name, caught before any work is done.
    """
    if expressions is None:
        return [parse_gate(e, default=True, source="default gates") for e in DEFAULT_GATES]
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
