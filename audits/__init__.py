"""Audit plugins (entry-point group ``synth.audits``)."""

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Interval, Metric, TableBlock, ThreatModel

__all__ = [
    "Audit",
    "AuditInputs",
    "AuditSection",
    "Figure",
    "Interval",
    "Metric",
    "TableBlock",
    "ThreatModel",
]
