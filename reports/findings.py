"""Findings: metrics that are far from what real data scores, ranked, in plain words.

Gates decide the verdict; findings inform the signature. A metric's *reference* is the
same measurement between two real samples (the holdout against the training rows) or
what real data scores by construction: what a generator drawing fresh records from the
population would reach. A metric is a finding when its value is worse than its reference
and its interval excludes the reference (so sampling noise does not explain the
difference); a metric without an interval needs a severity of at least
:data:`MIN_SEVERITY_WITHOUT_INTERVAL`.

Severity ranks the findings: how far the value moved from the reference, as a share of
the way from the reference to the worst end of the metric's range (its glossary
``bounds``). A detection AUC of 0.98 against a reference of 0.50 has moved 96 % of the way
to 1.0; a mean KS distance of 0.11 against 0.03 has moved 8 % of the way to 1.0. For
metrics without known bounds (ratios) it is the relative change, ``|v - r| / max(|v|, |r|)``.

Result files written before metrics carried ``reference`` still work: the reference is
then read from the details the audits always wrote (``holdout_reference``,
``noise_floor_holdout``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synth.reports.glossary import entry
from synth.reports.numbers import format_number

MIN_SEVERITY_WITHOUT_INTERVAL = 0.1


@dataclass(frozen=True)
class Finding:
    """One metric far from its reference. ``severity`` is in [0, 1]."""

    name: str
    label: str
    sentence: str
    severity: float
    value: str
    reference: str
    ci: str
    has_interval: bool


@dataclass(frozen=True)
class FindingsSummary:
    """The findings (most severe first) and how many metrics were checked."""

    findings: list[Finding]
    checked: int  # metrics with a reference
    without_reference: int  # metrics with a value but no reference


def find(sections: Sequence[Mapping[str, Any]]) -> FindingsSummary:
    """The findings of a result's ``sections`` (result.json dicts), most severe first."""
    found: list[Finding] = []
    checked = without = 0
    for s in sections:
        for m in s.get("metrics") or []:
            if not isinstance(m, Mapping) or "name" not in m:
                continue
            value = finite(m.get("value"))
            if value is None:
                continue
            ref = reference_of(m)
            if ref is None:
                without += 1
                continue
            checked += 1
            f = _finding(m, value, ref)
            if f is not None:
                found.append(f)
    found.sort(key=lambda f: (-f.severity, f.name))
    return FindingsSummary(found, checked, without)


def reference_of(m: Mapping[str, Any]) -> float | None:
    """The metric's real-vs-real reference: its ``reference`` field, else the one in its details."""
    ref = finite(m.get("reference"))
    if ref is not None:
        return ref
    details = m.get("details") if isinstance(m.get("details"), Mapping) else {}
    held = details.get("holdout_reference")
    if isinstance(held, Mapping):
        for key in ("value", "auc"):
            if finite(held.get(key)) is not None:
                return finite(held.get(key))
    elif finite(held) is not None:
        return finite(held)
    return finite(details.get("noise_floor_holdout"))


def severity(m: Mapping[str, Any], value: float, ref: float) -> float:
    """How far ``value`` is from ``ref`` towards the worst end of the metric's range, in [0, 1]; 0 if not worse."""
    better, ideal = m.get("better"), finite(m.get("ideal"))
    bounds = entry(str(m["name"]), m).bounds
    if better == "closer" and ideal is not None:
        moved = abs(value - ideal) - abs(ref - ideal)
        worst = None if bounds is None else (bounds[0] if value < ideal else bounds[1])
        room = None if worst is None else abs(worst - ideal) - abs(ref - ideal)
    elif better == "higher":
        moved, room = ref - value, None if bounds is None else ref - bounds[0]
    elif better == "lower":
        moved, room = value - ref, None if bounds is None else bounds[1] - ref
    else:
        return 0.0
    if moved <= 0:
        return 0.0
    if room is None:
        return _relative(value, ref)
    return 1.0 if room <= 0 else min(1.0, moved / room)


def excludes_reference(m: Mapping[str, Any], ref: float) -> bool | None:
    """Whether the metric's interval lies entirely on the worse side of ``ref``; None without an interval."""
    ci = m.get("ci") if isinstance(m.get("ci"), Mapping) else None
    low, high = (finite(ci.get("low")), finite(ci.get("high"))) if ci else (None, None)
    better, ideal = m.get("better"), finite(m.get("ideal"))
    if better == "higher":
        return None if high is None else high < ref
    if better == "lower":
        return None if low is None else low > ref
    if better == "closer" and ideal is not None:
        if low is None or high is None:
            return None
        nearest = min(max(ideal, low), high)  # the interval's point closest to the ideal
        return abs(nearest - ideal) > abs(ref - ideal)
    return None


def percent(x: float) -> str:
    """``0.984 -> "98 %"``, ``0.0032 -> "0.3 %"`` (a share as a person reads it; the space does not break)."""
    p = 100 * x
    digits = 0 if abs(p) >= 9.95 or p == 0 else 1
    return f"{p:.{digits}f}\u00a0%"  # no-break space: "98 %" never wraps between number and sign


def _finding(m: Mapping[str, Any], value: float, ref: float) -> Finding | None:
    sev = severity(m, value, ref)
    if sev <= 0:
        return None
    excludes = excludes_reference(m, ref)
    if excludes is False or (excludes is None and sev < MIN_SEVERITY_WITHOUT_INTERVAL):
        return None
    name = str(m["name"])
    e = entry(name, m)
    ci = m.get("ci") if isinstance(m.get("ci"), Mapping) else None
    ci_text = f"[{format_number(ci.get('low'))}, {format_number(ci.get('high'))}]" if ci else ""
    return Finding(name, e.label, _sentence(e.finding, e.label, m, value, ref), sev, format_number(value),
                   format_number(ref), ci_text, excludes is not None)


def _sentence(template: str | None, label: str, m: Mapping[str, Any], value: float, ref: float) -> str:
    fields: dict[str, str] = {}
    details = m.get("details") if isinstance(m.get("details"), Mapping) else {}
    for key, v in details.items():
        if isinstance(v, str):
            fields[str(key)] = v
        elif finite(v) is not None:
            fields[str(key)] = format_number(v)
            fields[f"{key}_pct"] = percent(float(v))
    fields.update(value=format_number(value), reference=format_number(ref), value_pct=percent(value),
                  reference_pct=percent(ref))
    if template:
        try:
            return template.format_map(fields)
        except (KeyError, ValueError, IndexError):
            pass  # a detail the sentence needs is missing: say it plainly instead
    return (f"{label[:1].upper()}{label[1:]}: {fields['value']} on the synthetic data; "
            f"{fields['reference']} between two real samples.")


def _relative(value: float, ref: float) -> float:
    scale = max(abs(value), abs(ref))
    return 0.0 if scale == 0 else min(1.0, abs(value - ref) / scale)


def finite(x: Any) -> float | None:
    """``x`` as a float when it is a finite real number (not a bool), else None."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return None
    v = float(x)
    return v if math.isfinite(v) else None
