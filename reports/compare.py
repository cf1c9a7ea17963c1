"""Two audit results side by side: which run is better on each metric, and is it noise?

A steward choosing between generators (CTGAN or a Gaussian copula on the same split)
reads one table per family: each metric's value and interval in run A and run B, which
is better by the metric's own direction (``better``: lower, higher or closer to
``ideal``), and whether the two 95 % intervals overlap. Non-overlapping intervals are a
conservative sign of a real difference; overlapping ones do not prove there is none.

The comparison is only fair on the same real data and split: the page warns when the
data source, the row counts or the columns differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth.atomic import write_text
from synth.audits.base import FAMILIES
from synth.reports.findings import find
from synth.reports.findings import finite as _num
from synth.reports.glossary import entry
from synth.reports.numbers import MISSING, format_number, interval_text
from synth.reports.view import FAMILY_TITLES, check_result


@dataclass(frozen=True)
class RunColumn:
    """One run's header: what produced it and its verdict."""

    key: str  # "A" or "B"
    source: str  # the result.json path as given
    generator: str
    created_utc: str
    passed: bool
    gates_passed: int
    gates_total: int
    findings: int
    counts: str


@dataclass(frozen=True)
class CompareRow:
    name: str
    label: str
    a_value: str
    a_ci: str
    b_value: str
    b_ci: str
    better: str  # "A", "B", "tie" or "" (not comparable)
    overlap: str  # "yes", "no" or "" (an interval is missing)
    direction: str


@dataclass(frozen=True)
class CompareFamily:
    family: str
    title: str
    rows: list[CompareRow]


@dataclass(frozen=True)
class GateCompare:
    expression: str
    a: str
    b: str


@dataclass(frozen=True)
class CompareView:
    runs: list[RunColumn]
    warnings: list[str]
    families: list[CompareFamily]
    gates: list[GateCompare]
    a_clearly_better: int
    b_clearly_better: int
    unclear: int


def build_compare(a: Mapping[str, Any], b: Mapping[str, Any], *, labels: tuple[str, str] = ("A", "B")) -> CompareView:
    """The comparison of two result.json dicts; ``labels`` name them (their paths, say).

    Raises :class:`synth.errors.DataError` when either is not a renderable result.
    """
    check_result(a)
    check_result(b)
    ma, mb = _metrics(a), _metrics(b)
    families: list[CompareFamily] = []
    counts = {"A": 0, "B": 0, "unclear": 0}
    fam_of = {**{n: f for n, (_, f) in mb.items()}, **{n: f for n, (_, f) in ma.items()}}
    order = list(FAMILIES) + sorted(set(fam_of.values()) - set(FAMILIES))
    for family in order:
        names = [n for n in ma if fam_of[n] == family] + [n for n in mb if fam_of[n] == family and n not in ma]
        rows = []
        for name in names:
            m_a, m_b = (ma.get(name) or (None, ""))[0], (mb.get(name) or (None, ""))[0]
            row = _row(name, m_a, m_b)
            rows.append(row)
            if row.better in ("A", "B") and row.overlap == "no":
                counts[row.better] += 1
            elif row.better:
                counts["unclear"] += 1
        if rows:
            families.append(CompareFamily(family, FAMILY_TITLES.get(family, family.title()), rows))
    return CompareView(
        runs=[_run("A", labels[0], a), _run("B", labels[1], b)],
        warnings=_warnings(a, b),
        families=families,
        gates=_gates(a, b),
        a_clearly_better=counts["A"],
        b_clearly_better=counts["B"],
        unclear=counts["unclear"],
    )


def render_compare(a: Mapping[str, Any], b: Mapping[str, Any], *, labels: tuple[str, str] = ("A", "B")) -> str:
    """The comparison page (self-contained HTML, no script), as text."""
    from synth.reports.html import _template

    return _template("compare.html.j2").render(v=build_compare(a, b, labels=labels))


def write_compare(a: Mapping[str, Any], b: Mapping[str, Any], path: Path, *,
                  labels: tuple[str, str] = ("A", "B")) -> None:
    """Render the comparison of ``a`` and ``b`` and write it to ``path`` atomically."""
    write_text(Path(path), render_compare(a, b, labels=labels))


def better_of(m_a: Mapping[str, Any], m_b: Mapping[str, Any]) -> str:
    """``"A"``, ``"B"`` or ``"tie"`` by the metric's direction; ``""`` when a value is missing."""
    va, vb = _num(m_a.get("value")), _num(m_b.get("value"))
    if va is None or vb is None:
        return ""
    better, ideal = m_a.get("better"), _num(m_a.get("ideal"))
    if better == "closer" and ideal is not None:
        va, vb = -abs(va - ideal), -abs(vb - ideal)
    elif better == "lower":
        va, vb = -va, -vb
    elif better != "higher":
        return ""
    if va == vb:
        return "tie"
    return "A" if va > vb else "B"


def intervals_overlap(m_a: Mapping[str, Any], m_b: Mapping[str, Any]) -> bool | None:
    """Whether the two metrics' intervals overlap; None when either lacks a finite interval."""
    ends = []
    for m in (m_a, m_b):
        ci = m.get("ci") if isinstance(m.get("ci"), Mapping) else None
        low, high = (_num(ci.get("low")), _num(ci.get("high"))) if ci else (None, None)
        if low is None or high is None:
            return None
        ends.append((low, high))
    (a_lo, a_hi), (b_lo, b_hi) = ends
    return a_lo <= b_hi and b_lo <= a_hi


def _row(name: str, m_a: Mapping[str, Any] | None, m_b: Mapping[str, Any] | None) -> CompareRow:
    some = m_a or m_b or {}
    a_ci = interval_text(m_a.get("ci") if m_a and isinstance(m_a.get("ci"), Mapping) else None)[0] if m_a else ""
    b_ci = interval_text(m_b.get("ci") if m_b and isinstance(m_b.get("ci"), Mapping) else None)[0] if m_b else ""
    better = better_of(m_a, m_b) if m_a and m_b else ""
    overlap = intervals_overlap(m_a, m_b) if m_a and m_b else None
    return CompareRow(
        name=name,
        label=entry(name, some).label,
        a_value=format_number(m_a.get("value")) if m_a else "not computed",
        a_ci=a_ci,
        b_value=format_number(m_b.get("value")) if m_b else "not computed",
        b_ci=b_ci,
        better=better,
        overlap="" if overlap is None else ("yes" if overlap else "no"),
        direction=_direction(some),
    )


def _direction(m: Mapping[str, Any]) -> str:
    better = m.get("better")
    if better == "closer":
        ideal = m.get("ideal")
        return f"closer to {format_number(ideal)}" if ideal is not None else "closer to the ideal"
    return {"higher": "higher", "lower": "lower"}.get(str(better), "")


def _metrics(result: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], str]]:
    out: dict[str, tuple[Mapping[str, Any], str]] = {}
    for s in result["sections"]:
        if not isinstance(s, Mapping):
            continue
        for m in s.get("metrics") or []:
            if isinstance(m, Mapping) and "name" in m:
                out[str(m["name"])] = (m, str(s.get("family") or str(m["name"]).split(".", 1)[0]))
    return out


def _run(key: str, label: str, r: Mapping[str, Any]) -> RunColumn:
    gates = [g for g in r["gates"] if isinstance(g, Mapping)]
    gen = r["generator"] if isinstance(r["generator"], Mapping) else None
    data = r["data"] if isinstance(r["data"], Mapping) else {}
    counts = ", ".join(f"{format_number(data[k])} {what}" for k, what in
                       (("n_train", "training"), ("n_holdout", "holdout"), ("n_synthetic", "synthetic")) if k in data)
    sections = [s for s in r["sections"] if isinstance(s, Mapping)]
    return RunColumn(key, label, str(gen.get("name", MISSING)) if gen else "audited without its generator",
                     str(r.get("created_utc") or MISSING), bool(r["passed"]), sum(bool(g.get("passed")) for g in gates),
                     len(gates), len(find(sections).findings), counts)


def _warnings(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    da = a["data"] if isinstance(a["data"], Mapping) else {}
    db = b["data"] if isinstance(b["data"], Mapping) else {}
    out = []
    for key, what in (("source", "real data source"), ("n_train", "number of training rows"),
                      ("n_holdout", "number of holdout rows")):
        if da.get(key) != db.get(key):
            out.append(f"The {what} differs ({da.get(key, MISSING)} vs {db.get(key, MISSING)}): the runs did not "
                       "audit the same real data, so their metrics are not directly comparable.")
    if list(da.get("columns") or []) != list(db.get("columns") or []):
        out.append("The modelled columns differ between the runs: metrics over columns are not directly comparable.")
    return out


def _gates(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[GateCompare]:
    def text(g: Mapping[str, Any] | None) -> str:
        if g is None:
            return "not set"
        verdict = "pass" if g.get("passed") else ("not evaluated" if g.get("error") else "FAIL")
        return f"{format_number(g.get('observed'))} · {verdict}"

    ga = {str(g.get("expression")): g for g in a["gates"] if isinstance(g, Mapping)}
    gb = {str(g.get("expression")): g for g in b["gates"] if isinstance(g, Mapping)}
    return [GateCompare(e, text(ga.get(e)), text(gb.get(e))) for e in list(ga) + [e for e in gb if e not in ga]]
