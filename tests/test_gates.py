"""Gate parsing and evaluation."""

from __future__ import annotations

import math

import pytest

from synth.audits.base import Interval, Metric
from synth.errors import GateError
from synth.verdict import DEFAULT_GATES, parse_gate, parse_gates


def _metric(name, value, low=None, high=None):
    ci = Interval(low, high, "test") if low is not None else None
    return Metric(name=name, value=value, passing="", ci=ci)


def test_parse_fields_and_ops():
    g = parse_gate("privacy.dcr_share.upper_ci <= 0.55")
    assert (g.metric, g.field, g.op, g.threshold) == ("privacy.dcr_share", "upper_ci", "<=", 0.55)
    g = parse_gate("utility.auroc_gap<0.05")
    assert (g.metric, g.field, g.op) == ("utility.auroc_gap", "value", "<")
    g = parse_gate("membership.distance.tpr_at_0.1pct_fpr.lower_ci >= -1e-3")
    assert (g.metric, g.field, g.threshold) == ("membership.distance.tpr_at_0.1pct_fpr", "lower_ci", -0.001)


@pytest.mark.parametrize("bad", ["privacy.dcr_share", "privacy.dcr_share <= high", "<= 0.5", "a.b => 1"])
def test_unreadable_gate(bad):
    with pytest.raises(GateError, match="METRIC"):
        parse_gate(bad)


def test_unknown_metric_suggests():
    with pytest.raises(GateError, match="Did you mean 'privacy.dcr_share'"):
        parse_gates(["privacy.dcr_shar.upper_ci <= 0.6"], ["privacy.dcr_share", "membership.auc"])


def test_defaults_when_none():
    gates = parse_gates(None)
    assert [g.expression for g in gates] == list(DEFAULT_GATES)
    assert all(g.default for g in gates)


def test_evaluate_uses_the_named_field():
    m = {"privacy.dcr_share": _metric("privacy.dcr_share", 0.52, 0.49, 0.56)}
    assert parse_gate("privacy.dcr_share.upper_ci <= 0.55").evaluate(m).passed is False
    assert parse_gate("privacy.dcr_share.upper_ci <= 0.6").evaluate(m).passed is True
    assert parse_gate("privacy.dcr_share <= 0.55").evaluate(m).observed == pytest.approx(0.52)


def test_missing_or_nan_metric_fails_with_reason():
    out = parse_gate("membership.auc.upper_ci <= 0.6").evaluate({})
    assert not out.passed and "not computed" in out.error
    out = parse_gate("membership.auc <= 0.6").evaluate({"membership.auc": _metric("membership.auc", math.nan)})
    assert not out.passed and "no finite" in out.error
