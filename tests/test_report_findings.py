"""The report's findings, plain labels, glossary, interval notes, public audience and comparison.

Built on small result dicts (fast); the quickstart's own report is checked end to end in
tests/test_pipeline_quickstart.py.
"""

from __future__ import annotations

import copy
import html
import json
import re

import pytest
from typer.testing import CliRunner

from synth.audits.base import AuditSection, Interval, Metric, TableBlock
from synth.cli.main import app
from synth.reports import render_compare, render_html
from synth.reports.audience import is_per_record
from synth.reports.compare import better_of, build_compare, intervals_overlap
from synth.reports.findings import find, reference_of, severity
from synth.reports.glossary import entry, humanize
from synth.reports.numbers import interval_text
from synth.result import AuditResult

# -- a small result: a detectable generator, a per-record table, awkward intervals ------------


def _section(audit: str, family: str, metrics: list[Metric], **kw) -> AuditSection:
    return AuditSection(audit=audit, family=family, title=audit.replace("_", " "), metrics=metrics, **kw)


def small_result(*, detection: float = 0.984, ks: float = 0.111, dcr_high: float = 0.525) -> dict:
    sections = [
        _section("detection", "fidelity", [Metric(
            "fidelity.detection_auc", detection, "0.5 means indistinguishable.",
            Interval(detection - 0.003, detection + 0.003, "bootstrap (n=200)"), "closer", 0.5, reference=0.503)]),
        _section("fidelity_columns", "fidelity", [
            # close to its reference: not a finding
            Metric("fidelity.tvd_mean", 0.0083, "0 = identical.", Interval(0.0026, 0.0148, "bootstrap"), "lower",
                   0.0, reference=0.0074),
            # legacy: the reference only in the details, as result.json files before Metric.reference had it
            Metric("fidelity.ks_mean", ks, "0 = identical.", Interval(ks - 0.008, ks + 0.011, "bootstrap"),
                   "lower", 0.0, details={"noise_floor_holdout": 0.0389}),
        ]),
        _section("utility", "utility", [Metric(
            "utility.auroc_gap", 0.147, "near 0 is good.", Interval(0.11, 0.186, "paired bootstrap"), "lower", 0.0,
            reference=0.0, details={"trtr": 0.931, "tstr": 0.784})]),
        _section("memorization", "privacy", [
            Metric("privacy.exact_copy_excess", 0.0, "no copies beyond chance.", Interval(0.0, 0.0, "bootstrap"),
                   "lower", 0.0),
            Metric("privacy.dcr_share", 0.498, "0.5 = no preference.", Interval(0.47, dcr_high, "wilson"),
                   "closer", 0.5),
        ], tables=[
            TableBlock("Most exposed training records (by row index)",
                       ("rank", "training row", "exposure ratio"),
                       ((1, 2003, 0.16676), (2, 1702, 0.17584), (3, 977, 0.19123)), per_record=True),
            TableBlock("Copies by column kind", ("kind", "copies"), (("numeric", 0), ("categorical", 0))),
        ]),
        _section("membership", "membership", [
            Metric("membership.shadow.epsilon_lower_bound", 0.0, "0 = no evidence of leakage.",
                   Interval(0.0, float("nan"), "clopper-pearson"), "lower", 0.0, details={"per_record_rank": [2003]}),
            Metric("membership.novel_attack.score_gap", 0.02, "A plugin's metric this report does not know."),
        ]),
    ]
    return AuditResult(sections=sections, gates=[], data={"n_train": 1497, "n_holdout": 642, "n_synthetic": 1497},
                       generator={"name": "gaussian_copula", "params": {}, "privacy": {"mechanism": "none"}},
                       created_utc="2026-11-26T01:23:45Z").to_dict()


def finding_names(page: str) -> list[str]:
    panel = page[page.index('id="findings"'):page.index("Key numbers") if "Key numbers" in page else None]
    return re.findall(r'<li class="finding" data-metric="([^"]+)"', panel)


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


# -- findings ---------------------------------------------------------------------------


def test_findings_rank_metrics_far_from_their_reference_in_plain_words():
    summary = find(small_result()["sections"])
    names = [f.name for f in summary.findings]
    # detection moved 96 % of the way to 1.0, the AUROC gap 29 % of the way to 0.5, KS 8 % to 1.0
    assert names == ["fidelity.detection_auc", "utility.auroc_gap", "fidelity.ks_mean"]
    detection = summary.findings[0]
    assert detection.severity == pytest.approx((0.984 - 0.5 - 0.003) / (0.5 - 0.003))
    assert "98\u00a0%" in detection.sentence and "50\u00a0%" in detection.sentence and "real" in detection.sentence
    assert "0.784" in summary.findings[1].sentence and "0.931" in summary.findings[1].sentence
    assert summary.checked == 4  # detection, tvd (within noise), ks (legacy reference), auroc gap


def test_a_metric_within_noise_of_its_reference_is_no_finding():
    names = [f.name for f in find(small_result(ks=0.045)["sections"]).findings]
    assert "fidelity.ks_mean" not in names  # its interval [0.037, 0.056] holds the reference 0.0389
    assert "fidelity.tvd_mean" not in names
    # indistinguishable from real: no detection finding either
    assert "fidelity.detection_auc" not in [f.name for f in find(small_result(detection=0.505)["sections"]).findings]


def test_reference_comes_from_the_field_or_the_legacy_details():
    assert reference_of({"reference": 0.5}) == 0.5
    assert reference_of({"details": {"holdout_reference": {"auc": 0.51, "ci": {}}}}) == 0.51
    assert reference_of({"details": {"holdout_reference": 0.95}}) == 0.95
    assert reference_of({"details": {"noise_floor_holdout": 0.03}}) == 0.03
    assert reference_of({"details": {"noise_floor_holdout": None}}) is None


def test_severity_is_the_share_of_the_way_to_the_worst_value():
    assert severity({"name": "fidelity.precision", "better": "higher"}, 0.36, 0.96) == pytest.approx(0.6 / 0.96)
    assert severity({"name": "fidelity.precision", "better": "higher"}, 0.97, 0.96) == 0  # better than real
    assert severity({"name": "fidelity.detection_auc", "better": "closer", "ideal": 0.5}, 0.2, 0.5) == \
        pytest.approx(0.6)  # below 0.5 is as bad as above: copies learnt with the opposite label
    # unknown range: relative change
    assert severity({"name": "x.ratio", "better": "higher"}, 1.0, 4.0) == pytest.approx(0.75)


def test_findings_panel_sits_under_the_verdict_with_the_reference():
    page = render_html(small_result())
    assert page.index('id="findings"') < page.index('class="family"')
    assert finding_names(page) == ["fidelity.detection_auc", "utility.auroc_gap", "fidelity.ks_mean"]
    item = re.search(r'<li class="finding" data-metric="fidelity.detection_auc">(.*?)</li>', page, re.S).group(1)
    assert "real-vs-real reference 0.503" in text_of(item)
    assert "Privacy gates decide the verdict" in page


def test_no_reference_anywhere_says_so():
    r = small_result()
    for s in r["sections"]:
        for m in s["metrics"]:
            m["reference"] = None
            m["details"] = {}
    page = render_html(r)
    assert finding_names(page) == []
    assert "No metric carries a real-vs-real reference" in page


# -- labels, glossary, intervals ------------------------------------------------------------


def test_every_metric_has_a_plain_label_and_a_glossary_entry():
    r = small_result()
    page = render_html(r)
    glossary = page[page.index('id="glossary"'):page.index('id="data"')]
    for s in r["sections"]:
        for m in s["metrics"]:
            label = entry(m["name"], m).label
            assert label and label != m["name"]
            assert f'data-metric="{m["name"]}"' in glossary
            row = re.search(rf'<tr id="[^"]+" data-metric="{re.escape(m["name"])}"[^>]*>(.*?)</tr>', page, re.S)
            assert html.escape(label, quote=False) in row.group(1)
    # key-number cards lead with the label, the id beneath it
    card = re.search(r'<a class="keynum[^"]*" href="#metric-privacy-exact-copy-excess">(.*?)</a>', page, re.S).group(1)
    assert card.index("kn-label") < card.index("kn-name") and "copies beyond chance" in card


def test_unknown_metrics_get_a_readable_label():
    assert humanize("membership.shadow.tpr_at_0.1pct_fpr") == "Shadow · TPR at 0.1 % FPR"
    assert entry("membership.novel_attack.auc").label == "novel attack: attack AUC"
    plugin = entry("fidelity.missing_share", {"passing": "Close to the training share.", "label": "missing cells"})
    assert plugin.label == "missing cells" and plugin.explanation == "Close to the training share."


def test_degenerate_intervals_say_why():
    text, note = interval_text({"low": 0.0, "high": 0.0})
    assert text == "[0, 0]" and note.startswith("zero width")
    text, note = interval_text({"low": 0.0, "high": None})
    assert text == "\u2265 0" and "no upper bound" in note
    assert interval_text({"low": 0.1, "high": 0.2}) == ("[0.100, 0.200]", "")
    page = render_html(small_result())
    assert "[0, \u2014]" not in page
    copy_row = re.search(r'data-metric="privacy.exact_copy_excess"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert "zero width" in copy_row
    eps_row = re.search(r'data-metric="membership.shadow.epsilon_lower_bound"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert "\u2265 0" in eps_row and "no upper bound" in eps_row


# -- length: folded detail, no script ---------------------------------------------------------


def test_detail_is_folded_and_the_page_has_no_script():
    from synth.audits.base import Figure

    labels = [f"c{i}" for i in range(26)]
    heatmap = Figure("pairs.heat", "Association difference, every pair", "heatmap",
                     {"labels": labels, "matrix": [[0.1] * 26] * 26, "value_label": "|diff|", "vmin": 0, "vmax": 1})
    hists = [Figure(f"col.{c}", f"{c}: real vs synthetic", "histograms",
                    {"x_label": c, "series": [{"label": "real", "edges": [0, 1, 2], "counts": [1, 2]}]})
             for c in labels[:4]]
    pairs = [TableBlock("Largest association differences", ("a", "b", "diff"),
                        tuple((a, "c0", 0.1) for a in labels[1:26]))]
    r = AuditResult(sections=[_section("fidelity_columns", "fidelity", [], figures=hists),
                              _section("fidelity_pairs", "fidelity", [], figures=[heatmap], tables=pairs)],
                    created_utc="2026-11-26T01:23:45Z").to_dict()
    page = render_html(r)

    def folded(marker: str) -> bool:  # inside a closed <details>
        at = page.index(marker)
        return page.rfind("<details", 0, at) > page.rfind("</details>", 0, at)

    assert folded("Association difference, every pair")  # the unreadable matrix on demand ...
    assert not folded("Largest association differences")  # ... the top pairs in plain view
    assert not folded("c0: real vs synthetic") and not folded("c1: real vs synthetic")
    assert folded("c2: real vs synthetic") and folded("c3: real vs synthetic")
    assert "Show the other 15 rows" in page  # 25 pairs: ten shown
    assert "<details open" not in page and "<script" not in page.lower()


# -- audiences ------------------------------------------------------------------------------


def test_public_report_holds_no_per_record_value_the_steward_report_holds():
    r = small_result()
    steward, public = render_html(r), render_html(r, audience="public")
    rows = [[text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", steward, re.S) if "2,003" in tr or "1,702" in tr or "977" in tr]
    assert len(rows) == 3  # the ranking's rows are in the steward report ...
    public_cells = [text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", public, re.S)]
    for index in ("2,003", "1,702", "977", "0.167", "0.176", "0.191"):
        assert any(index == c for row in rows for c in row)
        assert index not in public_cells  # ... and none of their cells in the public one
    assert "per_record_rank" in steward and "per_record_rank" not in public  # metric details stay out too
    assert "Copies by column kind" in public  # aggregates stay
    assert 'data-audience="public"' in public and "Public report" in public[:public.index('id="summary"')]
    assert 'data-audience="steward"' in steward and "Steward report" in steward[:steward.index('id="summary"')]
    assert "Left out of this public report" in public


def test_legacy_results_are_judged_by_their_columns():
    legacy = {"title": "Most exposed training records (by row index)", "columns": ["rank", "training row"]}
    assert is_per_record(legacy)
    assert is_per_record({"title": "x", "columns": ["record", "score"]})
    assert not is_per_record({"title": "Support metrics", "columns": ["metric", "holdout vs real (reference)"]})
    assert not is_per_record({"title": "Flagged", "columns": ["rank"], "per_record": False})
    r = small_result()
    del r["sections"][3]["tables"][0]["per_record"]  # written before the flag existed
    assert "2,003" not in render_html(r, audience="public")


def test_unknown_audience_is_an_error():
    from synth.errors import DataError

    with pytest.raises(DataError, match="audience"):
        render_html(small_result(), audience="everyone")


# -- comparison ------------------------------------------------------------------------------


def test_better_follows_each_metrics_direction_and_overlap_is_checked():
    def m(value, low, high, better="lower", ideal=None):
        return {"value": value, "ci": {"low": low, "high": high}, "better": better, "ideal": ideal}

    assert better_of(m(0.1, 0, 0.2), m(0.3, 0.2, 0.4)) == "A"
    assert better_of(m(0.9, 0, 1, "higher"), m(0.95, 0, 1, "higher")) == "B"
    assert better_of(m(0.6, 0, 1, "closer", 0.5), m(0.45, 0, 1, "closer", 0.5)) == "B"
    assert better_of(m(0.5, 0, 1), m(0.5, 0, 1)) == "tie"
    assert intervals_overlap(m(0.1, 0.05, 0.15), m(0.3, 0.25, 0.35)) is False
    assert intervals_overlap(m(0.1, 0.05, 0.26), m(0.3, 0.25, 0.35)) is True
    assert intervals_overlap(m(0.1, 0.05, None), m(0.3, 0.25, 0.35)) is None


def test_comparison_puts_two_runs_side_by_side():
    a, b = small_result(), small_result(detection=0.62, ks=0.05)
    view = build_compare(a, b)
    rows = {r.name: r for f in view.families for r in f.rows}
    assert rows["fidelity.detection_auc"].better == "B" and rows["fidelity.detection_auc"].overlap == "no"
    assert rows["privacy.dcr_share"].better == "tie" and rows["privacy.dcr_share"].overlap == "yes"
    assert view.b_clearly_better == 2 and view.a_clearly_better == 0
    assert view.warnings == []
    page = render_compare(a, b)
    assert "<script" not in page.lower() and "B on 2" in text_of(page)
    b["data"]["n_train"] = 1000
    assert any("not directly comparable" in w for w in build_compare(a, b).warnings)


def test_cli_report_compares_two_results_and_renders_a_public_report(tmp_path):
    runner = CliRunner()
    a, b = tmp_path / "a" / "result.json", tmp_path / "b" / "result.json"
    for path, r in ((a, small_result()), (b, small_result(detection=0.62))):
        path.parent.mkdir()
        path.write_text(json.dumps(r))
    done = runner.invoke(app, ["report", str(a), str(b), "--out", str(tmp_path / "compare.html")])
    assert done.exit_code == 0, done.output
    page = (tmp_path / "compare.html").read_text()
    assert 'data-metric="fidelity.detection_auc" data-better="B" data-overlap="no"' in page
    done = runner.invoke(app, ["report", str(a), "--audience", "public", "--out", str(tmp_path / "public.html")])
    assert done.exit_code == 0, done.output
    assert "2,003" not in (tmp_path / "public.html").read_text()
    for args in ([str(a), str(b), str(a)], [str(a), "--audience", "everyone"], [str(tmp_path / "nope.json")]):
        bad = runner.invoke(app, ["report", *args])
        assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_results_written_before_reference_and_label_still_render():
    r = copy.deepcopy(small_result())
    for s in r["sections"]:
        for m in s["metrics"]:
            m.pop("reference")
            m.pop("label")
        for t in s["tables"]:
            t.pop("per_record")
    page = render_html(r)
    assert "fidelity.ks_mean" in finding_names(page)  # its legacy noise floor still makes it a finding
