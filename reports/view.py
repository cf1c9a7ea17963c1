"""Turn a ``result.json`` dict into what the HTML template shows (the view model).

All decisions live here (order of families, which numbers make the summary, which threat
models are distinct, how values are written); the template only lays them out. Strings
from the result stay plain ``str``: the template escapes them. The only markup is the
figures' SVG, which :mod:`synth.reports.figures` draws with matplotlib (see
:func:`trusted_svg`). Nothing is added that is not in the result: the report shows the
result's aggregates and nothing else.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from synth.audits.base import FAMILIES
from synth.errors import DataError
from synth.reports.figures import figure_svg
from synth.reports.numbers import MISSING, format_exact, format_number, is_number
from synth.result import RESULT_SCHEMA_VERSION

REQUIRED_KEYS = ("schema_version", "passed", "gates", "data", "generator", "sections", "manifest")
FAMILY_TITLES = {
    "fidelity": "Fidelity",
    "utility": "Utility",
    "fairness": "Fairness",
    "privacy": "Privacy",
    "membership": "Membership inference",
}
FAMILY_QUESTIONS = {
    "fidelity": "Does the synthetic data look like the real data, column by column and jointly?",
    "utility": "Do models trained on synthetic data work on real data?",
    "fairness": "Are downstream models equally good for every group?",
    "privacy": "Does the synthetic data reveal the real records it was made from?",
    "membership": "Can an attacker tell whether a person's record was used for training?",
}
THREAT_FAMILIES = frozenset({"privacy", "membership"})
MAX_DETAILS_CHARS = 4000  # a metric's details beyond this are cut; result.json has them in full
MAX_CATEGORIES_SHOWN = 12
DATA_COUNTS = (
    ("n_train", "training rows (real)"),
    ("n_holdout", "holdout rows (real, never shown to the generator)"),
    ("n_synthetic", "synthetic rows"),
)


# -- view model -----------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool = False


@dataclass(frozen=True)
class GateRow:
    expression: str
    observed: str
    op: str
    threshold: str
    passed: bool
    default: bool
    error: str | None


@dataclass(frozen=True)
class MetricRow:
    name: str
    value: str
    ci: str
    ci_method: str
    ci_level: str
    passing: str
    direction: str
    gate: str | None  # "pass" / "fail" when a gate uses this metric
    missing_threat_model: bool
    details: str | None
    anchor: str


@dataclass(frozen=True)
class ThreatCard:
    attack: str
    attacker_has: list[str]
    description: str
    metrics: list[str]


@dataclass(frozen=True)
class FigureView:
    anchor: str
    title: str
    caption: str
    svg: Markup


@dataclass(frozen=True)
class TableView:
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    caption: str


@dataclass(frozen=True)
class SectionView:
    anchor: str
    audit: str
    title: str
    summary: str
    skipped: str | None
    seconds: str
    metrics: list[MetricRow]
    threats: list[ThreatCard]
    figures: list[FigureView]
    tables: list[TableView]
    notes: list[str]


@dataclass(frozen=True)
class FamilyView:
    anchor: str
    family: str
    title: str
    question: str
    sections: list[SectionView]


@dataclass(frozen=True)
class KeyNumber:
    name: str
    value: str
    ci: str
    ci_method: str
    gate: str | None
    anchor: str


@dataclass(frozen=True)
class ColumnRow:
    name: str
    kind: str
    roles: list[str]
    nullable: str
    categories: str


@dataclass(frozen=True)
class KeyValues:
    title: str
    rows: list[tuple[str, str]]


@dataclass(frozen=True)
class RecordTable:
    title: str
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class ReportView:
    passed: bool
    created_utc: str
    synth_version: str
    schema_version: str
    subtitle: list[str]
    gates: list[GateRow]
    gates_passed: int
    any_default_gate: bool
    any_gate_error: bool
    key_numbers: list[KeyNumber]
    families: list[FamilyView]
    data_counts: list[tuple[str, str]]
    columns: list[ColumnRow]
    column_names: list[str]
    dropped: list[tuple[str, str]]
    generator_name: str | None  # None: audited without a generator
    generator_params: list[tuple[str, str]]
    generator_privacy: list[tuple[str, str]]
    has_formal_guarantee: bool
    manifest_overview: list[KeyValues]
    manifest_records: list[RecordTable]
    manifest_json: str | None  # None: no manifest in the result


# -- building -------------------------------------------------------------------------


def build_view(result: Mapping[str, Any]) -> ReportView:
    """Check ``result`` (a result.json dict, schema version 1) and build the report's view model.

    Raises :class:`synth.errors.DataError` naming the problem when ``result`` is not a
    result.json dict of a supported schema version.
    """
    check_result(result)
    sections = [s for s in result["sections"] if isinstance(s, Mapping)]
    metrics = {m["name"]: m for s in sections for m in _metrics_of(s)}
    gate_status = _gate_status(result["gates"])
    anchors = _Anchors()
    families = _families(sections, gate_status, anchors)
    metric_anchor = {row.name: row.anchor for f in families for s in f.sections for row in s.metrics}
    gates = [_gate_row(g) for g in result["gates"] if isinstance(g, Mapping)]
    data = result["data"] if isinstance(result["data"], Mapping) else {}
    generator = result["generator"] if isinstance(result["generator"], Mapping) else None
    privacy = generator.get("privacy") if generator else None
    manifest = result["manifest"] if isinstance(result["manifest"], Mapping) else None
    overview, records = _manifest_overview(manifest) if manifest else ([], [])
    return ReportView(
        passed=bool(result["passed"]),
        created_utc=_utc_text(result.get("created_utc")),
        synth_version=str(result.get("synth_version") or MISSING),
        schema_version=str(result["schema_version"]),
        subtitle=_subtitle(data, generator),
        gates=gates,
        gates_passed=sum(g.passed for g in gates),
        any_default_gate=any(g.default for g in gates),
        any_gate_error=any(g.error for g in gates),
        key_numbers=_key_numbers(result["gates"], families, metrics, gate_status, metric_anchor),
        families=families,
        data_counts=[(label, format_number(data[key])) for key, label in DATA_COUNTS if key in data],
        columns=_columns(data),
        column_names=[str(c) for c in data.get("columns") or [] if not isinstance(c, Mapping)],
        dropped=[(str(d.get("name", MISSING)), str(d.get("reason", MISSING)))
                 for d in data.get("dropped_columns") or [] if isinstance(d, Mapping)],
        generator_name=str(generator.get("name", MISSING)) if generator else None,
        generator_params=[(str(k), _json_compact(v)) for k, v in (generator.get("params") or {}).items()]
        if generator else [],
        generator_privacy=[(str(k), _scalar_text(v)) for k, v in privacy.items()]
        if isinstance(privacy, Mapping) else [],
        has_formal_guarantee=isinstance(privacy, Mapping) and str(privacy.get("mechanism", "none")) != "none",
        manifest_overview=overview,
        manifest_records=records,
        manifest_json=json.dumps(manifest, indent=2, ensure_ascii=False, default=str) if manifest else None,
    )


def check_result(result: Any) -> None:
    """Raise :class:`DataError` unless ``result`` looks like a result.json dict we can render."""
    if not isinstance(result, Mapping):
        raise DataError(
            f"The report needs a result.json dict (AuditResult.to_dict()), got {type(result).__name__}. "
            "Pass result.to_dict() or json.load() of result.json."
        )
    missing = [k for k in REQUIRED_KEYS if k not in result]
    if missing:
        raise DataError(
            f"The result dict lacks the key(s) {', '.join(repr(k) for k in missing)}; a result.json of schema "
            f"version {RESULT_SCHEMA_VERSION} always has {', '.join(REQUIRED_KEYS)}. "
            "Re-create it with this version of synth (synth audit) or pass AuditResult.to_dict()."
        )
    if result["schema_version"] != RESULT_SCHEMA_VERSION:
        raise DataError(
            f"The result has schema_version {result['schema_version']!r} but this synth renders version "
            f"{RESULT_SCHEMA_VERSION}. Render it with the synth version that wrote it, or re-run the audit."
        )
    for key in ("gates", "sections"):
        if not isinstance(result[key], Sequence) or isinstance(result[key], str):
            raise DataError(f"The result's '{key}' must be a list, got {type(result[key]).__name__}.")


def trusted_svg(svg: str) -> Markup:
    """Mark an SVG string from :func:`figure_svg` as safe HTML, after checking it is one.

    matplotlib writes the SVG and escapes every text it draws; the checks guard against a
    future change that lets a script, an event handler or an external reference through.
    """
    if not svg.startswith("<svg") or not svg.rstrip().endswith("</svg>"):
        raise RuntimeError("figure SVG does not start with <svg and end with </svg>")
    # text content has its < and > escaped, so every tag here is one matplotlib wrote
    for tag in re.findall(r"<[^>]*>", svg):
        if re.match(r"<\s*(script|foreignObject|iframe|image|a)\b", tag, re.I) or re.search(
            r"\son\w+\s*=|href\s*=\s*[\"'](?!#)", tag, re.I
        ):
            raise RuntimeError(f"figure SVG contains a script, event handler or external reference: {tag[:80]}")
    return Markup(svg)


class _Anchors:
    """Unique, URL-safe element ids derived from names."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, *parts: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-") or "item"
        anchor, n = base, 2
        while anchor in self.used:
            anchor, n = f"{base}-{n}", n + 1
        self.used.add(anchor)
        return anchor


def _gate_status(gates: Sequence[Any]) -> dict[str, str]:
    status: dict[str, str] = {}
    for g in gates:
        if isinstance(g, Mapping) and g.get("metric") and not g.get("error"):
            failed = status.get(g["metric"]) == "fail" or not g.get("passed")
            status[g["metric"]] = "fail" if failed else "pass"
    return status


def _gate_row(g: Mapping[str, Any]) -> GateRow:
    return GateRow(
        expression=str(g.get("expression", MISSING)),
        observed=format_number(g.get("observed")),
        op=str(g.get("op", "")),
        threshold=format_exact(g.get("threshold")),
        passed=bool(g.get("passed")),
        default=bool(g.get("default")),
        error=str(g["error"]) if g.get("error") else None,
    )


def _families(sections: list[Mapping[str, Any]], gate_status: dict[str, str], anchors: _Anchors) -> list[FamilyView]:
    order = list(FAMILIES) + sorted({str(s.get("family")) for s in sections} - set(FAMILIES))
    families = []
    figure_counter = itertools.count(1)  # fig1, fig2, ...: SVG id prefixes unique on the page
    for family in order:
        members = [s for s in sections if str(s.get("family")) == family]
        if not members:
            continue
        anchor = anchors("family", family)
        views = [_section(s, family, gate_status, anchors, figure_counter) for s in members]
        families.append(FamilyView(anchor, family, FAMILY_TITLES.get(family, family.title()),
                                   FAMILY_QUESTIONS.get(family, ""), views))
    return families


def _section(s: Mapping[str, Any], family: str, gate_status: dict[str, str], anchors: _Anchors,
             figure_counter: Iterator[int]) -> SectionView:
    audit = str(s.get("audit", family))
    metrics = _metrics_of(s)
    rows = [_metric_row(m, family, gate_status, anchors) for m in metrics]
    figures = []
    for f in s.get("figures") or []:
        if isinstance(f, Mapping):
            n = next(figure_counter)
            figures.append(FigureView(anchors("figure", str(f.get("id", n))), str(f.get("title", "")),
                                      str(f.get("caption", "")), trusted_svg(figure_svg(f, id_prefix=f"fig{n}"))))
    seconds = s.get("seconds")
    return SectionView(
        anchor=anchors("audit", audit),
        audit=audit,
        title=str(s.get("title") or audit),
        summary=str(s.get("summary") or ""),
        skipped=str(s["skipped"]) if s.get("skipped") else None,
        seconds=f"{format_number(seconds)} s" if is_number(seconds) and seconds else "",
        metrics=rows,
        threats=_threat_cards(metrics) if family in THREAT_FAMILIES else [],
        figures=figures,
        tables=[_table(t) for t in s.get("tables") or [] if isinstance(t, Mapping)],
        notes=[str(n) for n in s.get("notes") or []],
    )


def _metrics_of(section: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [m for m in section.get("metrics") or [] if isinstance(m, Mapping) and "name" in m]


def _metric_row(m: Mapping[str, Any], family: str, gate_status: dict[str, str], anchors: _Anchors) -> MetricRow:
    name = str(m["name"])
    ci = m.get("ci") if isinstance(m.get("ci"), Mapping) else None
    details = m.get("details")
    details_text = None
    if isinstance(details, Mapping) and details:
        details_text = json.dumps(details, indent=2, ensure_ascii=False, default=str)
        if len(details_text) > MAX_DETAILS_CHARS:
            details_text = details_text[:MAX_DETAILS_CHARS] + "\n… (cut here; result.json has the full details)"
    return MetricRow(
        name=name,
        value=format_number(m.get("value")),
        ci=_ci_text(ci),
        ci_method=str(ci.get("method", "")) if ci else "no interval",
        ci_level=_level_text(ci),
        passing=str(m.get("passing") or ""),
        direction=_direction(m),
        gate=gate_status.get(name),
        missing_threat_model=family in THREAT_FAMILIES and not isinstance(m.get("threat_model"), Mapping),
        details=details_text,
        anchor=anchors("metric", name),
    )


def _ci_text(ci: Mapping[str, Any] | None) -> str:
    if not ci:
        return MISSING
    return f"[{format_number(ci.get('low'))}, {format_number(ci.get('high'))}]"


def _level_text(ci: Mapping[str, Any] | None) -> str:
    level = ci.get("level") if ci else None
    return f"{float(level) * 100:g}%" if is_number(level) else ""


def _direction(m: Mapping[str, Any]) -> str:
    better = m.get("better")
    if better == "higher":
        return "higher is better"
    if better == "lower":
        return "lower is better"
    if better == "closer":
        ideal = m.get("ideal")
        return f"closer to {format_exact(ideal)} is better" if ideal is not None else "closer to the ideal is better"
    return ""


def _threat_cards(metrics: list[Mapping[str, Any]]) -> list[ThreatCard]:
    cards: dict[tuple[str, tuple[str, ...], str], list[str]] = {}
    for m in metrics:
        tm = m.get("threat_model")
        if isinstance(tm, Mapping):
            key = (str(tm.get("attack", "")), tuple(str(a) for a in tm.get("attacker_has") or []),
                   str(tm.get("description", "")))
            cards.setdefault(key, []).append(str(m["name"]))
    return [ThreatCard(attack, list(has), desc, names) for (attack, has, desc), names in cards.items()]


def _table(t: Mapping[str, Any]) -> TableView:
    return TableView(
        title=str(t.get("title", "")),
        columns=[str(c) for c in t.get("columns") or []],
        rows=[[Cell(format_number(v) if v is None or is_number(v) else str(v), is_number(v) or v is None)
               for v in r] for r in t.get("rows") or []],
        caption=str(t.get("caption", "")),
    )


def _key_numbers(gates: Sequence[Any], families: list[FamilyView], metrics: Mapping[str, Mapping[str, Any]],
                 gate_status: dict[str, str], metric_anchor: dict[str, str]) -> list[KeyNumber]:
    """Metrics named in gates (gate order), then each audit's first metric (report order)."""
    names: list[str] = []
    for g in gates:
        name = g.get("metric") if isinstance(g, Mapping) else None
        if name in metrics and name not in names:
            names.append(name)
    for f in families:
        for s in f.sections:
            if s.metrics and s.metrics[0].name not in names:
                names.append(s.metrics[0].name)
    out = []
    for name in names:
        m = metrics[name]
        ci = m.get("ci") if isinstance(m.get("ci"), Mapping) else None
        out.append(KeyNumber(name, format_number(m.get("value")), _ci_text(ci),
                             f"{_level_text(ci)} {ci.get('method', '')}".strip() if ci else "no interval",
                             gate_status.get(name), metric_anchor.get(name, "")))
    return out


def _utc_text(stamp: Any) -> str:
    """``2026-11-26T01:23:45Z`` -> ``2026-11-26 01:23:45 UTC``; anything unparseable as given."""
    if not stamp:
        return MISSING
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if when.utcoffset() is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def _subtitle(data: Mapping[str, Any], generator: Mapping[str, Any] | None) -> list[str]:
    parts = []
    if generator:
        parts.append(f"generator {generator.get('name', MISSING)}")
    else:
        parts.append("synthetic data audited without its generator")
    for key, label in (("n_train", "training rows"), ("n_holdout", "holdout rows"), ("n_synthetic", "synthetic rows")):
        if key in data:
            parts.append(f"{format_number(data[key])} {label}")
    schema = data.get("schema")
    if isinstance(schema, Mapping) and isinstance(schema.get("columns"), Sequence):
        parts.append(f"{len(schema['columns'])} columns")
    elif isinstance(data.get("columns"), Sequence):
        parts.append(f"{len(data['columns'])} columns")
    return parts


def _columns(data: Mapping[str, Any]) -> list[ColumnRow]:
    schema = data.get("schema")
    columns = schema.get("columns") if isinstance(schema, Mapping) else None
    rows = []
    for c in columns or []:
        if not isinstance(c, Mapping):
            continue
        cats = c.get("categories")
        if isinstance(cats, Sequence) and not isinstance(cats, str):
            shown = ", ".join(str(v) for v in cats[:MAX_CATEGORIES_SHOWN])
            more = len(cats) - MAX_CATEGORIES_SHOWN
            cats_text = shown + (f" (+{more} more)" if more > 0 else "")
        else:
            cats_text = ""
        rows.append(ColumnRow(str(c.get("name", MISSING)), str(c.get("kind", MISSING)),
                              [str(r).replace("_", " ") for r in c.get("roles") or []],
                              "yes" if c.get("nullable") else "no", cats_text))
    return rows


def _manifest_overview(manifest: Mapping[str, Any]) -> tuple[list[KeyValues], list[RecordTable]]:
    """Top-level scalars, flat sub-dicts (timings, versions, hashes) and lists of flat records (outputs)."""
    scalars = [(str(k), _scalar_text(v)) for k, v in manifest.items() if _is_scalar(v)]
    groups = [KeyValues("run", scalars)] if scalars else []
    records = []
    for k, v in manifest.items():
        if isinstance(v, Mapping) and v and all(_is_scalar(x) for x in v.values()):
            groups.append(KeyValues(str(k), [(str(a), _scalar_text(b)) for a, b in v.items()]))
        elif (isinstance(v, Sequence) and not isinstance(v, str) and v
              and all(isinstance(x, Mapping) and all(_is_scalar(y) for y in x.values()) for x in v)):
            cols: list[str] = []
            for x in v:
                cols.extend(str(c) for c in x if str(c) not in cols)
            records.append(RecordTable(str(k), cols, [[_scalar_text(x.get(c)) for c in cols] for x in v]))
    return groups, records


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _scalar_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is None:
        return MISSING
    if isinstance(v, float):
        return format_exact(v)
    if _is_scalar(v):
        return format_number(v)
    return _json_compact(v)


def _json_compact(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
