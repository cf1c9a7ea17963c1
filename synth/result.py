"""The audit result and its versioned JSON form (``result.json``).

result.json, schema version 1 (keys always present)::

    {
      "schema_version": 1,
      "synth_version": "0.1.0",
      "created_utc": "2026-11-26T01:23:45Z",
      "passed": true,                       # overall verdict: every gate passed
      "gates": [                            # one per gate, config order
        {"expression": "privacy.dcr_share.upper_ci <= 0.6",
         "metric": "privacy.dcr_share", "field": "upper_ci", "op": "<=",
         "threshold": 0.6, "observed": 0.53, "passed": true,
         "default": false,                  # true: a conservative default gate
         "error": null,                     # e.g. "metric not computed: ..." (then passed=false)
         "rules_out": "...",                # default gates only: the leak it rules out (one sentence)
         "shown_to_fail": "..."}            # default gates only: the leak size it was shown to fail on
      ],
      "data": {"n_train": 1604, "n_holdout": 535, "n_synthetic": 1604,
               "columns": [...], "schema": {...Schema.to_dict()},
               "dropped_columns": [{"name": "pid", "reason": "identifier"}]},
      "generator": {"name": "gaussian_copula", "params": {...}, "privacy": {...}} | null,
      "sections": [AuditSection.to_dict(), ...],
      "audits": {"applied": ["memorization", ...],          # the audits that ran on this kind of data
                 "not_applicable": [{"audit": "...", "reason": "applies to table data, not to image data"}]},
      "manifest": {...} | null              # the run manifest when run through the pipeline
    }
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from synth.audits.base import AuditSection, Metric

RESULT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class GateOutcome:
    """The outcome of one gate; ``error`` explains a gate that could not be evaluated."""

    expression: str
    metric: str
    field: str
    op: str
    threshold: float
    observed: float | None
    passed: bool
    default: bool = False
    error: str | None = None
    rules_out: str | None = None
    shown_to_fail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "metric": self.metric,
            "field": self.field,
            "op": self.op,
            "threshold": self.threshold,
            "observed": self.observed,
            "passed": self.passed,
            "default": self.default,
            "error": self.error,
            "rules_out": self.rules_out,
            "shown_to_fail": self.shown_to_fail,
        }


@dataclass
class AuditResult:
    """All audit sections of one run plus the verdict."""

    sections: list[AuditSection]
    gates: list[GateOutcome] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None
    applied: list[str] | None = None  # audits that ran (None: every section's audit)
    not_applicable: list[dict[str, str]] = field(default_factory=list)  # {"audit", "reason"} per audit not run
    created_utc: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def metrics(self) -> dict[str, Metric]:
        """All metrics by name."""
        return {m.name: m for s in self.sections for m in s.metrics}

    def to_dict(self) -> dict[str, Any]:
        from synth import __version__

        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "synth_version": __version__,
            "created_utc": self.created_utc,
            "passed": self.passed,
            "gates": [g.to_dict() for g in self.gates],
            "data": self.data,
            "generator": self.generator,
            "sections": [s.to_dict() for s in self.sections],
            "audits": {"applied": self.applied if self.applied is not None else [s.audit for s in self.sections],
                       "not_applicable": list(self.not_applicable)},
            "manifest": self.manifest,
        }

