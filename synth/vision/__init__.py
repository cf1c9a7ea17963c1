"""Small vision models shared by tests, benchmarks and image audits (never by generators' training)."""

from synth.vision.findings_classifier import FindingsClassifier, per_finding_auroc

__all__ = ["FindingsClassifier", "per_finding_auroc"]
