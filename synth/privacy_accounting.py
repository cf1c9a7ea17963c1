"""Cross-check a generator's differential-privacy claim against the membership audit.

A generator trained with DP states ``(epsilon, delta)``; the membership audit measures an
empirical lower bound on epsilon from its attacks (``membership.<attack>.epsilon_lower_bound``,
one-sided Clopper-Pearson bounds, simultaneous over thresholds). An (epsilon, delta)-DP
mechanism satisfies ``TPR <= e^epsilon * FPR + delta`` for every attack, so a valid lower
bound *above* the claimed epsilon means the claim is wrong: an accounting bug, or a step
that read the records outside the accounting. That is not a release criterion one tunes;
it is a contradiction, and it fails the run.

The audit's bound is stated for delta = 0. To compare like with like, the bound is
recomputed with the claimed delta from the audit's own numbers at the threshold that gave
it (``tpr_lower``, ``fpr_upper``): ``log((TPR_lo - delta) / FPR_hi)``, or
``log((1 - FPR_hi - delta) / (1 - TPR_lo))`` for the other inequality. That is still a valid
lower bound (the intervals hold for every threshold at once); without those details the
delta = 0 value is used, which can only err towards flagging.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from synth.audits.base import Metric
from synth.generators.base import PrivacyGuarantee
from synth.result import GateOutcome

#: The metric name the consistency check's gate outcome carries (not an audit metric).
DP_CHECK_METRIC = "privacy.dp_claim_consistency"
_PREFIX, _SUFFIX = "membership.", ".epsilon_lower_bound"


def delta_adjusted_bound(metric: Metric, delta: float) -> float:
    """The lower bound of ``metric`` (an ``*.epsilon_lower_bound`` metric) for (epsilon, ``delta``)-DP."""
    d = metric.details or {}
    tpr_lo, fpr_hi, direction = d.get("tpr_lower"), d.get("fpr_upper"), d.get("inequality")
    if not delta or tpr_lo is None or fpr_hi is None or direction not in ("tpr/fpr", "tnr/fnr"):
        return float(metric.value)
    if direction == "tpr/fpr":
        top, bottom = tpr_lo - delta, fpr_hi
    else:
        top, bottom = 1.0 - fpr_hi - delta, 1.0 - tpr_lo
    if top <= 0 or bottom <= 0:
        return 0.0
    return max(0.0, math.log(top / bottom))


def dp_claim_check(privacy: PrivacyGuarantee | Mapping[str, Any] | None,
                   metrics: Mapping[str, Metric]) -> GateOutcome | None:
    """A failed/passed gate outcome: is every membership attack's epsilon bound within the DP claim?

    Returns ``None`` when there is nothing to check: no DP claim (no finite epsilon), or no
    ``membership.*.epsilon_lower_bound`` metric (the membership audit did not run).
    """
    claim = privacy.to_dict() if isinstance(privacy, PrivacyGuarantee) else dict(privacy or {})
    epsilon = claim.get("epsilon")
    if claim.get("mechanism", "none") == "none" or epsilon is None or not math.isfinite(float(epsilon)):
        return None
    delta = float(claim.get("delta") or 0.0)
    bounds = {name: m for name, m in metrics.items()
              if name.startswith(_PREFIX) and name.endswith(_SUFFIX) and m.value is not None and math.isfinite(m.value)}
    if not bounds:
        return None
    adjusted = {name: delta_adjusted_bound(m, delta) for name, m in bounds.items()}
    worst = max(adjusted, key=adjusted.get)
    observed = adjusted[worst]
    passed = observed <= float(epsilon)
    return GateOutcome(
        expression=f"largest membership epsilon lower bound ({worst}, at delta {delta:.2g}) <= DP epsilon spent",
        metric=DP_CHECK_METRIC, field="value", op="<=", threshold=float(epsilon), observed=float(observed),
        passed=passed,
    )
