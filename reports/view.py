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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from synth.audits.base import FAMILIES
from synth.errors import DataError
from synth.privacy_accounting import DP_CHECK_METRIC
from synth.reports.audience import AUDIENCES, Audience, is_per_record
from synth.reports.figures import figure_svg
from synth.reports.findings import find, reference_of
from synth.reports.glossary import entry
from synth.reports.numbers import MISSING, format_exact, format_number, interval_text, is_number
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
FIGURES_SHOWN = 2  # per audit; the rest are folded (open on demand, no script)
METRICS_SHOWN = 6  # per audit, besides gated metrics; the rest are folded
TABLE_ROWS_SHOWN = 10  # longer tables show their first rows and fold the rest
FINDINGS_SHOWN = 6  # on the first screen; the rest are folded
HEATMAP_LABELS_SHOWN = 8  # a larger heatmap's labels are unreadable: folded, its table of top pairs leads
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
    label: str  # the gated metric's plain name
    observed: str
    op: str
    threshold: str
    passed: bool
    default: bool
    error: str | None
    statement: str | None = None  # a default gate's "rules out ... shown to fail ..." sentences


@dataclass(frozen=True)
class MetricRow:
    name: str
    label: str
    value: str
    ci: str
    ci_note: str  # why an interval is degenerate or one-sided ("" when it is an ordinary interval)
    reference: str  # the real-vs-real reference, "" when the metric has none
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
    svg: Markup | None
    folded: bool  # drawn inside a closed <details>: opened on demand
    gallery: list[GalleryItem] = field(default_factory=list)  # a "gallery" figure: image pairs instead of SVG


@dataclass(frozen=True)
class FindingView:
    name: str
    label: str
    sentence: str
    severity_pct: int  # 0-100: share of the way from the real-vs-real reference to the worst value
    value: str
    reference: str
    ci: str
    has_interval: bool
    anchor: str


@dataclass(frozen=True)
class GlossaryRow:
    name: str
    label: str
    explanation: str
    passing: str
    reference: str  # the real-vs-real reference, "" when the metric has none
    anchor: str


@dataclass(frozen=True)
class GalleryItem:
    """One group of thumbnails: (label, data URI of a PNG) per image, and a caption."""

    caption: str
    images: list[tuple[str, str]]


@dataclass(frozen=True)
class TableView:
    title: str
    columns: list[str]
    rows: list[list[Cell]]  # shown
    folded_rows: list[list[Cell]]  # the rest, in a closed <details>
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
    withheld: list[str]  # public report: what per-record content was left out

    @property
    def shown_metrics(self) -> list[MetricRow]:
        return [m for i, m in enumerate(self.metrics) if i < METRICS_SHOWN or m.gate]

    @property
    def folded_metrics(self) -> list[MetricRow]:
        return [m for i, m in enumerate(self.metrics) if i >= METRICS_SHOWN and not m.gate]

    @property
    def shown_figures(self) -> list[FigureView]:
        return [f for f in self.figures if not f.folded]

    @property
    def folded_figures(self) -> list[FigureView]:
        return [f for f in self.figures if f.folded]


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
    label: str
    value: str
    ci: str
    ci_note: str
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
    audience: Audience
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
    findings: list[FindingView]
    findings_checked: int  # metrics with a real-vs-real reference
    findings_without_reference: int
    families: list[FamilyView]
    glossary: list[GlossaryRow]
    data_counts: list[tuple[str, str]]
    columns: list[ColumnRow]
    column_names: list[str]
    dropped: list[tuple[str, str]]
    generator_name: str | None  # None: audited without a generator
    generator_params: list[tuple[str, str]]
    generator_privacy: list[tuple[str, str]]
    has_formal_guarantee: bool
    dp_check: GateRow | None  # the DP claim against the membership audit's epsilon bound, when both exist
    manifest_overview: list[KeyValues]
    manifest_records: list[RecordTable]
    manifest_json: str | None  # None: no manifest in the result
    audits_applied: list[str]  # the audits that ran on this kind of data
    audits_not_applicable: list[tuple[str, str]]  # (audit, why it did not apply)
    data_kind: str  # "table" or "image"
    findings_shown: int = FINDINGS_SHOWN  # on the first screen; the rest are folded


# -- building -------------------------------------------------------------------------


def build_view(result: Mapping[str, Any], *, audience: Audience = "steward") -> ReportView:
    """Check ``result`` (a result.json dict, schema version 1) and build the report's view model.

    ``audience``: ``"steward"`` (everything the result holds) or ``"public"`` (aggregates
    only: per-record tables and figures and metric details are left out; see
    :mod:`synth.reports.audience`).

    Raises :class:`synth.errors.DataError` naming the problem when ``result`` is not a
    result.json dict of a supported schema version.
    """
    check_result(result)
    if audience not in AUDIENCES:
        raise DataError(f"Unknown report audience {audience!r}: use one of {', '.join(AUDIENCES)}.")
    sections = [s for s in result["sections"] if isinstance(s, Mapping)]
    metrics = {m["name"]: m for s in sections for m in _metrics_of(s)}
    gate_status = _gate_status(result["gates"])
    anchors = _Anchors()
    families = _families(sections, gate_status, anchors, audience)
    metric_anchor = {row.name: row.anchor for f in families for s in f.sections for row in s.metrics}
    findings = find(sections)
    gates = [_gate_row(g, metrics) for g in result["gates"] if isinstance(g, Mapping)]
    data = result["data"] if isinstance(result["data"], Mapping) else {}
    generator = result["generator"] if isinstance(result["generator"], Mapping) else None
    privacy = generator.get("privacy") if generator else None
    manifest = result["manifest"] if isinstance(result["manifest"], Mapping) else None
    overview, records = _manifest_overview(manifest) if manifest else ([], [])
    return ReportView(
        audience=audience,
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
        findings=[FindingView(f.name, f.label, f.sentence, round(100 * f.severity), f.value, f.reference, f.ci,
                              f.has_interval, metric_anchor.get(f.name, "")) for f in findings.findings],
        findings_checked=findings.checked,
        findings_without_reference=findings.without_reference,
        families=families,
        glossary=_glossary(families, metrics),
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
        dp_check=next((_gate_row(g, metrics) for g in result["gates"]
                       if isinstance(g, Mapping) and g.get("metric") == DP_CHECK_METRIC), None),
        manifest_overview=overview,
        manifest_records=records,
        manifest_json=json.dumps(manifest, indent=2, ensure_ascii=False, default=str) if manifest else None,
        **_applicability(result, sections, data),
    )


def _applicability(result: Mapping[str, Any], sections: list[Mapping[str, Any]], data: Mapping[str, Any]) -> dict:
    """Which audits ran and which did not apply to this kind of data (older results: every section ran)."""
    audits = result.get("audits") if isinstance(result.get("audits"), Mapping) else {}
    applied = audits.get("applied")
    if not isinstance(applied, Sequence) or isinstance(applied, str):
        applied = [s.get("audit") for s in sections]
    skipped = [(str(a.get("audit", MISSING)), str(a.get("reason", ""))) for a in audits.get("not_applicable") or []
               if isinstance(a, Mapping)]
    return {"audits_applied": [str(a) for a in applied], "audits_not_applicable": skipped,
            "data_kind": str(data.get("kind") or "table")}


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


_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_PNG_MAGIC = "iVBORw0KGgo"  # base64 of the 8-byte PNG signature's start


def _gallery(figure: Mapping[str, Any]) -> list[GalleryItem]:
    """The thumbnails of a ``gallery`` figure as PNG data URIs; anything but base64 PNG data is left out.

    The template puts each URI in an ``<img src>`` attribute (autoescaped); only ``data:`` images
    pass the page's Content-Security-Policy, so nothing is fetched.
    """
    items = []
    data = figure.get("data") if isinstance(figure.get("data"), Mapping) else {}
    for pair in data.get("pairs") or []:
        if not isinstance(pair, Mapping):
            continue
        images = [(str(i.get("label", "")), "data:image/png;base64," + i["png"]) for i in pair.get("images") or []
                  if isinstance(i, Mapping) and isinstance(i.get("png"), str) and i["png"].startswith(_PNG_MAGIC)
                  and _BASE64.match(i["png"])]
        if images:
            items.append(GalleryItem(str(pair.get("caption", "")), images))
    return items


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


def _gate_row(g: Mapping[str, Any], metrics: Mapping[str, Mapping[str, Any]]) -> GateRow:
    metric = str(g.get("metric") or "")
    return GateRow(
        expression=str(g.get("expression", MISSING)),
        label=entry(metric, metrics.get(metric)).label if metric else "",
        observed=format_number(g.get("observed")),
        op=str(g.get("op", "")),
        threshold=format_exact(g.get("threshold")),
        passed=bool(g.get("passed")),
        default=bool(g.get("default")),
        error=str(g["error"]) if g.get("error") else None,
        statement=" ".join(str(g[k]) for k in ("rules_out", "shown_to_fail") if g.get(k)) or None,
    )


def _families(sections: list[Mapping[str, Any]], gate_status: dict[str, str], anchors: _Anchors,
              audience: Audience) -> list[FamilyView]:
    order = list(FAMILIES) + sorted({str(s.get("family")) for s in sections} - set(FAMILIES))
    families = []
    figure_counter = itertools.count(1)  # fig1, fig2, ...: SVG id prefixes unique on the page
    for family in order:
        members = [s for s in sections if str(s.get("family")) == family]
        if not members:
            continue
        anchor = anchors("family", family)
        views = [_section(s, family, gate_status, anchors, figure_counter, audience) for s in members]
        families.append(FamilyView(anchor, family, FAMILY_TITLES.get(family, family.title()),
                                   FAMILY_QUESTIONS.get(family, ""), views))
    return families


def _section(s: Mapping[str, Any], family: str, gate_status: dict[str, str], anchors: _Anchors,
             figure_counter: Iterator[int], audience: Audience) -> SectionView:
    audit = str(s.get("audit", family))
    metrics = _metrics_of(s)
    public = audience == "public"
    rows = [_metric_row(m, family, gate_status, anchors, with_details=not public) for m in metrics]
    withheld: list[str] = []
    figures = []
    for f in _shown_blocks(s.get("figures"), "figure", public, withheld):
        n = next(figure_counter)
        labels = (f.get("data") or {}).get("labels") or []
        big_heatmap = f.get("kind") == "heatmap" and len(labels) > HEATMAP_LABELS_SHOWN
        folded = big_heatmap or sum(not v.folded for v in figures) >= FIGURES_SHOWN
        anchor, title, caption = anchors("figure", str(f.get("id", n))), str(f.get("title", "")), str(f.get("caption", ""))
        gallery = _gallery(f) if f.get("kind") == "gallery" else None
        if gallery:
            figures.append(FigureView(anchor, title, caption, None, folded=folded, gallery=gallery))
        else:
            figures.append(FigureView(anchor, title, caption, trusted_svg(figure_svg(f, id_prefix=f"fig{n}")),
                                      folded=folded))
    tables = [_table(t) for t in _shown_blocks(s.get("tables"), "table", public, withheld)]
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
        tables=tables,
        notes=[str(n) for n in s.get("notes") or []],
        withheld=withheld,
    )


def _shown_blocks(blocks: Any, what: str, public: bool, withheld: list[str]) -> Iterator[Mapping[str, Any]]:
    """The figure or table dicts the audience may see; notes in ``withheld`` what the public report leaves out."""
    for b in blocks or []:
        if not isinstance(b, Mapping):
            continue
        if public and is_per_record(b):
            withheld.append(f"the {what} '{b.get('title', '')}'")
            continue
        yield b


def _metrics_of(section: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [m for m in section.get("metrics") or [] if isinstance(m, Mapping) and "name" in m]


def _metric_row(m: Mapping[str, Any], family: str, gate_status: dict[str, str], anchors: _Anchors, *,
                with_details: bool = True) -> MetricRow:
    name = str(m["name"])
    ci = m.get("ci") if isinstance(m.get("ci"), Mapping) else None
    details = m.get("details")
    details_text = None
    if with_details and isinstance(details, Mapping) and details:
        details_text = json.dumps(details, indent=2, ensure_ascii=False, default=str)
        if len(details_text) > MAX_DETAILS_CHARS:
            details_text = details_text[:MAX_DETAILS_CHARS] + "\n… (cut here; result.json has the full details)"
    ci_text, ci_note = interval_text(ci)
    return MetricRow(
        name=name,
        label=entry(name, m).label,
        value=format_number(m.get("value")),
        ci=ci_text,
        ci_note=ci_note,
        reference=format_number(ref) if (ref := reference_of(m)) is not None else "",
        ci_method=str(ci.get("method", "")) if ci else "no interval",
        ci_level=_level_text(ci),
        passing=str(m.get("passing") or ""),
        direction=_direction(m),
        gate=gate_status.get(name),
        missing_threat_model=family in THREAT_FAMILIES and not isinstance(m.get("threat_model"), Mapping),
        details=details_text,
        anchor=anchors("metric", name),
    )


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
    rows = [[Cell(format_number(v) if v is None or is_number(v) else str(v), is_number(v) or v is None)
             for v in r] for r in t.get("rows") or []]
    # Fold only when it saves something: a table two rows too long is shown whole.
    cut = TABLE_ROWS_SHOWN if len(rows) > TABLE_ROWS_SHOWN + 2 else len(rows)
    return TableView(
        title=str(t.get("title", "")),
        columns=[str(c) for c in t.get("columns") or []],
        rows=rows[:cut],
        folded_rows=rows[cut:],
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
        ci_text, ci_note = interval_text(ci)
        out.append(KeyNumber(name, entry(name, m).label, format_number(m.get("value")), ci_text, ci_note,
                             f"{_level_text(ci)} {ci.get('method', '')}".strip() if ci else "no interval",
                             gate_status.get(name), metric_anchor.get(name, "")))
    return out


def _glossary(families: list[FamilyView], metrics: Mapping[str, Mapping[str, Any]]) -> list[GlossaryRow]:
    """One entry per metric in the report, in report order."""
    rows = []
    for f in families:
        for s in f.sections:
            for row in s.metrics:
                m = metrics.get(row.name, {})
                e = entry(row.name, m)
                ref = reference_of(m) if m else None
                rows.append(GlossaryRow(row.name, e.label, e.explanation, row.passing,
                                        format_number(ref) if ref is not None else "", row.anchor))
    return rows


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
        rare = c.get("rare_levels")
        if is_number(rare) and rare > 0:  # levels too rare to name (the k-rule, synth.disclosure)
            cats_text = f"{cats_text}{'; ' if cats_text else ''}{format_number(rare)} rare level(s) not named"
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
