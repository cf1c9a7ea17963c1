"""The HTML report: structure, escaping, self-containment, number formatting, figures."""

from __future__ import annotations

import copy
import html
import re
from collections import Counter

import pytest
from markupsafe import escape
from sample_result import HOSTILE, sample_result

from synth.errors import DataError
from synth.reports import render_html, write_report
from synth.reports.figures import figure_svg
from synth.reports.html import soft_breaks
from synth.reports.numbers import format_number
from synth.reports.view import trusted_svg

# -- fixtures: each page is rendered once per module (figures take ~0.2 s each) ----------


@pytest.fixture(scope="module")
def result() -> dict:
    return sample_result()


@pytest.fixture(scope="module")
def page(result) -> str:
    return render_html(result)


@pytest.fixture(scope="module")
def default_page() -> str:
    return render_html(without_figures(sample_result(default_gates=True)))


@pytest.fixture(scope="module")
def hostile_page() -> str:
    return render_html(sample_result(hostile=True))


def without_figures(result: dict) -> dict:
    """A deep copy with no figures: for tests about other parts (fast to render)."""
    out = copy.deepcopy(result)
    for s in out["sections"]:
        s["figures"] = []
    return out


def article(page: str, audit: str) -> str:
    m = re.search(rf'<article[^>]*data-audit="{re.escape(audit)}"[^>]*>(.*?)</article>', page, re.S)
    assert m, f"no section for audit {audit!r}"
    return m.group(1)


def metric_row(page: str, name: str) -> str:
    m = re.search(rf'<tr[^>]*data-metric="{re.escape(name)}"[^>]*>(.*?)</tr>', page, re.S)
    assert m, f"no row for metric {name!r}"
    return m.group(1)


def cells(row_html: str) -> list[str]:
    """The text of each ``<td>`` of a row, tags dropped and entities decoded."""
    tds = re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in tds]


# -- verdict and gates ------------------------------------------------------------------


def test_failed_verdict_is_the_headline(page, result):
    assert result["passed"] is False
    assert '<span class="verdict-word">FAIL</span>' in page
    assert 'data-verdict="FAIL"' in page
    assert "<title>synth audit report: FAIL</title>" in page
    assert "PASS</span>" not in page
    assert "1 of 3 gates passed." in page
    assert "Created 2026-11-26 01:23:45 UTC" in page


def test_passed_verdict(default_page):
    assert '<span class="verdict-word">PASS</span>' in default_page
    assert "2 of 2 gates passed." in default_page
    assert 'class="card summary pass"' in default_page


def test_every_gate_is_listed_with_its_outcome(page, result):
    table = re.search(r'<table class="gates">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr class=\"gate-(pass|fail)\">(.*?)</tr>", table, re.S)
    assert len(rows) == len(result["gates"]) == 3
    for gate, (status, row) in zip(result["gates"], rows, strict=True):
        assert f"<code>{escape(gate['expression'])}</code>" in row
        assert status == ("pass" if gate["passed"] else "fail")
    observed = [cells(r)[1] for _, r in rows]
    assert observed == ["0.931", "0.541", "\u2014"]  # the unevaluated gate has no observation
    assert [cells(r)[2] for _, r in rows] == [">= 0.9", "<= 0.53", "<= 0.2"]
    # the error column appears because one gate could not be evaluated
    assert "<th>Error</th>" in table
    assert "not evaluated" in rows[2][1]
    assert "metric not computed: audit &#39;subgroup_fidelity&#39; was skipped" in rows[2][1]


def test_default_gates_are_badged_and_explained(default_page, page):
    sentence = "Default conservative privacy gates were applied because the config set none."
    assert sentence in default_page
    gates = re.search(r'<table class="gates">(.*?)</table>', default_page, re.S).group(1)
    assert gates.count('<span class="badge default">default</span>') == 2
    assert "<th>Error</th>" not in gates  # no gate failed to evaluate
    assert sentence not in page  # the config set its own gates there


def test_a_default_gate_shows_what_it_rules_out_and_old_results_still_render():
    # result.json files written before gates carried their statements have no such keys
    old = without_figures(sample_result(default_gates=True))
    for g in old["gates"]:
        del g["rules_out"], g["shown_to_fail"]
    assert "Rules out" not in render_html(old)
    new = without_figures(sample_result(default_gates=True))
    new["gates"][0]["rules_out"] = "Rules out <wholesale> copying."
    new["gates"][0]["shown_to_fail"] = "Shown to fail at 30 % copies."
    gates = re.search(r'<table class="gates">(.*?)</table>', render_html(new), re.S).group(1)
    assert "Rules out &lt;wholesale&gt; copying. Shown to fail at 30 % copies." in gates  # escaped


def test_no_gates_says_the_verdict_checks_nothing(result):
    r = without_figures(result)
    r["gates"], r["passed"] = [], True
    page = render_html(r)
    assert "No gates were evaluated, so this verdict checks nothing." in page
    assert '<table class="gates">' not in page


def test_key_numbers_start_with_gated_metrics_then_each_audits_first(page, result):
    names = [n.replace("<wbr>", "") for n in re.findall(r'<span class="kn-name">(.*?)</span>', page)]
    assert names[:2] == ["utility.auc_ratio", "privacy.dcr_share"]  # gate order; the third gate's metric is absent
    firsts = [s["metrics"][0]["name"] for s in result["sections"] if s["metrics"]]
    assert set(names) == set(firsts) | {"utility.auc_ratio", "privacy.dcr_share"}
    assert len(names) == len(set(names))
    card = re.search(r'<a class="keynum gate-fail" href="#metric-privacy-dcr-share">(.*?)</a>', page, re.S).group(1)
    assert "0.512" in card and "[0.483, 0.541]" in card and "95% wilson" in card


# -- sections -----------------------------------------------------------------------------


def test_families_in_order_with_their_audits_and_figures(page, result):
    positions = [page.index(f'id="family-{f}"') for f in ("fidelity", "utility", "fairness", "privacy", "membership")]
    assert positions == sorted(positions)
    assert positions[0] > page.index('id="summary"')
    for s in result["sections"]:
        body = article(page, s["audit"])
        assert s["title"] in body
        assert body.count("<svg") == len(s["figures"])
        for f in s["figures"]:
            assert f["title"] in body
    assert page.count("<svg") == sum(len(s["figures"]) for s in result["sections"]) == 9
    # each audit sits inside its family's section
    privacy = page[page.index('id="family-privacy"'):page.index('id="family-membership"')]
    assert 'data-audit="memorization"' in privacy and 'data-audit="anonymeter"' in privacy


def test_metric_rows_show_value_interval_method_and_meaning(page):
    row = cells(metric_row(page, "privacy.dcr_share"))
    # the plain label first, then the id gates refer to
    assert row[0].startswith("closer to training than to fresh data privacy.dcr_share") and "gate fail" in row[0]
    assert row[1:4] == ["0.512", "[0.483, 0.541]", "wilson"]
    assert "closer to 0.5 is better" in row[4]
    assert cells(metric_row(page, "utility.auc_ratio"))[1:3] == ["0.962", "[0.931, 0.990]"]


def test_threat_model_cards_for_privacy_and_membership(page, result):
    for s in result["sections"]:
        body = article(page, s["audit"])
        threats = {(m["threat_model"]["attack"], tuple(m["threat_model"]["attacker_has"]))
                   for m in s["metrics"] if m["threat_model"]}
        assert body.count('<div class="threat">') == len(threats)
        for attack, has in threats:
            assert f"<h4>{attack}</h4>" in body
            for asset in has:
                assert f"<li>{asset}</li>" in body
    assert article(page, "memorization").count('<div class="threat">') == 1  # two metrics share one model
    assert article(page, "membership").count('<div class="threat">') == 2
    assert article(page, "fidelity_columns").count('<div class="threat">') == 0


def test_privacy_metric_without_threat_model_is_flagged(result):
    r = without_figures(result)
    r["sections"][6]["metrics"][1]["threat_model"] = None  # memorization: privacy.dcr_share
    page = render_html(r)
    assert '<span class="badge warn">no threat model</span>' in metric_row(page, "privacy.dcr_share")
    assert "no threat model" not in metric_row(page, "privacy.exact_copies")


def test_skipped_section_shows_its_reason(page, result):
    skipped = next(s for s in result["sections"] if s["skipped"])
    body = article(page, skipped["audit"])
    assert "<strong>Skipped:</strong> " + skipped["skipped"] in body
    assert "<table" not in body
    assert re.search(r'<a href="#audit-subgroup-fidelity">Subgroup fidelity</a> <span class="muted">\(skipped\)', page)


def test_missing_values_render_as_em_dash(page):
    row = cells(metric_row(page, "fidelity.missing_rate_gap"))  # value NaN -> None in result.json
    assert row[1:4] == ["\u2014", "\u2014", "no interval"]
    table = article(page, "fidelity_columns")
    assert re.search(r"<td>missing</td><td>numeric</td><td>KS</td><td class=\"num\">\u2014</td>", table)
    assert ">nan<" not in page.lower() and ">None<" not in page


def test_tables_and_notes_are_shown(page, result):
    body = article(page, "anonymeter")
    assert "Attack success rates" in body
    assert "<caption>Rates are shares of attack guesses that were right.</caption>" in body
    assert '<td class="num">0.0610</td>' in body
    assert "<li>Distances use the mixed-type encoding" in article(page, "memorization")


# -- data, generator, manifest -----------------------------------------------------------


def test_data_summary_shows_schema_not_values(page, result):
    data = page[page.index('<section id="data"'):page.index('<section id="generator"')]
    for col in result["data"]["schema"]["columns"]:
        assert f"<code>{col['name']}</code>" in data
    assert "asian, black, other, white" in data  # category names are allowed
    assert '<span class="badge role">quasi identifier</span>' in data
    assert "<code>patient_id</code></td><td>identifier</td>" in data
    assert '<span class="n">1,200</span><span class="what">training rows (real)</span>' in data
    # bounds are values of real records: the report leaves them out
    assert ">18<" not in data and ">90<" not in data


def test_generator_and_its_privacy_statement(page):
    gen = page[page.index('<section id="generator"'):page.index('<section id="manifest"')]
    assert "<code>gaussian_copula</code>" in gen
    assert "no formal privacy guarantee" in gen
    assert "<tr><th>default_distribution</th><td>beta</td></tr>" in gen
    assert "<tr><th>mechanism</th><td>none</td></tr>" in gen


def test_manifest_outputs_hashes_timings_versions(page, result):
    man = page[page.index('<section id="manifest"'):]
    for out in result["manifest"]["outputs"]:
        assert f"<td>{out['path']}</td><td>{out['sha256']}</td>" in man
    assert "<tr><th>fit</th><td>4.31</td></tr>" in man
    assert "<tr><th>sdv</th><td>2.0.0</td></tr>" in man
    assert result["manifest"]["config_sha256"] in man
    assert '<pre class="manifest">{\n  &#34;run_id&#34;: &#34;20261126T012345Z-3f9a1c&#34;' in man


def test_absent_generator_and_manifest_are_said_plainly(result):
    r = without_figures(result)
    r["generator"], r["manifest"] = None, None
    page = render_html(r)
    assert "the synthetic data was audited without its generator" in page
    assert "No run manifest: this result was not produced by the pipeline." in page
    assert '<pre class="manifest">' not in page


# -- safety: escaping and self-containment -----------------------------------------------


def test_hostile_strings_are_escaped_everywhere(hostile_page):
    escaped = str(escape(HOSTILE))
    assert escaped == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert "<script" not in hostile_page.lower()
    assert f"<code>{escaped}</code>" in hostile_page  # gate expression and column name
    assert f"<li>{escaped}</li>" in hostile_page  # note
    assert f"<td>{escaped}</td>" in hostile_page  # table cell
    assert f"asian, black, {escaped}, white" in hostile_page  # category value
    # figure text (matplotlib's escaping): the category axis label and the heatmap label
    svg_text = "".join(re.findall(r"<svg.*?</svg>", hostile_page, re.S))
    assert "&lt;script&gt;alert(1)&lt;/scr\u2026" in svg_text


def test_page_is_self_contained(page):
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page, re.I)
    refs += re.findall(r"url\(\s*['\"]?([^)'\"]*)", page, re.I)
    assert refs, "the page has internal links; the pattern must see them"
    outside = [r for r in refs if not r.startswith("#")]
    assert outside == []
    assert not re.search(r"https?://", " ".join(refs))
    assert "<link" not in page and "@import" not in page and "<script" not in page.lower()
    assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';" in page


def test_element_ids_are_unique_and_every_reference_resolves(page):
    ids = re.findall(r'\bid="([^"]+)"', page)
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert dupes == []
    targets = re.findall(r'(?:href="#|url\(#)([^")]+)', page)
    assert set(targets) <= set(ids)


def test_rendering_is_deterministic(result):
    r = without_figures(result)
    r["sections"][1]["figures"] = result["sections"][1]["figures"]  # keep one heatmap
    assert render_html(r) == render_html(r)


# -- input checks and writing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("gates"), "lacks the key(s) 'gates'"),
        (lambda r: r.update(schema_version=2), "schema_version 2"),
        (lambda r: r.update(sections="fidelity"), "'sections' must be a list"),
    ],
)
def test_malformed_result_is_a_user_error_naming_the_key(result, mutate, message):
    r = without_figures(result)
    mutate(r)
    with pytest.raises(DataError, match=re.escape(message)):
        render_html(r)


def test_not_a_dict_is_a_user_error():
    with pytest.raises(DataError, match="needs a result.json dict"):
        render_html(["not", "a", "result"])  # type: ignore[arg-type]


def test_write_report_writes_the_page_atomically(tmp_path, result):
    r = without_figures(result)
    target = tmp_path / "out" / "report.html"
    write_report(r, target)
    assert target.read_text(encoding="utf-8") == render_html(r)
    bad = dict(r)
    bad.pop("sections")
    with pytest.raises(DataError):
        write_report(bad, target)
    assert target.read_text(encoding="utf-8") == render_html(r)  # untouched by the failed write
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temp file left


# -- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (None, "\u2014"), (float("nan"), "\u2014"), (float("inf"), "\u2014"),
        (0.123456, "0.123"), (0.5, "0.500"), (12.345, "12.3"), (123.0, "123"), (-0.0456, "-0.0456"),
        (999.4, "999"), (999.6, "1,000"), (1234.5, "1,234"), (0.000123, "1.23e-04"), (2.5e9, "2.50e+09"),
        (0.0, "0"), (1604, "1,604"), (0, "0"), (True, "yes"), ("F", "F"),
    ],
)
def test_format_number(x, text):
    assert format_number(x) == text


# -- figures ------------------------------------------------------------------------------


def test_each_kind_draws_an_inline_svg_with_its_text(result):
    figures: dict[str, dict] = {}
    for s in result["sections"]:
        for f in s["figures"]:
            figures.setdefault(f["kind"], f)
    assert set(figures) == {"histograms", "bars", "roc", "heatmap"}
    expected_text = {"histograms": "real (train)", "bars": "share of rows", "roc": "AUC = 0.546",
                     "heatmap": "difference in Pearson r"}
    for kind, f in figures.items():
        svg = figure_svg(f, id_prefix="t1")
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<image" not in svg
        assert expected_text[kind] in svg  # text stays text (svg.fonttype none)
        assert all(i.startswith("t1-") for i in re.findall(r'\bid="([^"]+)"', svg))
        assert len(svg) < 40_000


def test_roc_has_the_chance_diagonal_and_unit_axes(result):
    roc = result["sections"][2]["figures"][0]
    svg = figure_svg(roc)
    assert "chance (AUC = 0.5)" in svg
    ticks = re.findall(r">(0\.0|0\.2|0\.4|0\.6|0\.8|1\.0)</text>", svg)
    assert ticks.count("0.0") == 2 and ticks.count("1.0") == 2  # both axes run 0..1


def test_unknown_kind_and_bad_data_become_visible_notes():
    unknown = figure_svg({"id": "x", "title": "t", "kind": "pie", "data": {}})
    assert unknown.startswith("<svg") and "unknown kind 'pie' (known kinds: bars, heatmap, histograms, roc)" in unknown
    bad = figure_svg({"kind": "bars", "data": {"categories": ["a", "b"], "series": [{"label": "s", "values": [1]}]}})
    assert "malformed" in bad and "1 values for 2 categories" in bad
    missing = figure_svg({"kind": "histograms", "data": {}})
    assert "missing key 'series'" in missing


def test_labels_are_literal_text(result):
    fig = {"kind": "bars", "data": {"categories": ["$10-$20", "_hidden?"], "y_label": "a & b",
                                    "series": [{"label": "_private", "values": [1.0, None]}]}}
    svg = figure_svg(fig)
    assert "$10-$20" in svg  # not parsed as mathtext
    assert "a &amp; b" in svg
    assert "_private" in svg  # a leading underscore does not hide the legend entry


def test_heatmap_with_missing_cells():
    fig = {"kind": "heatmap", "data": {"labels": ["a", "b"], "matrix": [[1.0, None], [None, 1.0]],
                                       "value_label": "r"}}
    svg = figure_svg(fig)
    assert "malformed" not in svg and svg.count(">1.00<") == 2


def test_soft_breaks_escapes_and_breaks_after_dots_and_underscores():
    assert soft_breaks("fidelity.ks_mean") == "fidelity.<wbr>ks_<wbr>mean"
    assert soft_breaks(HOSTILE + ".x") == "&lt;script&gt;alert(1)&lt;/script&gt;.<wbr>x"


def test_only_plain_matplotlib_svg_is_trusted():
    benign = figure_svg({"kind": "bars", "data": {"categories": ["only=5 onload=alert(1)", "<a href='x'>"],
                                                   "series": [{"label": "s", "values": [1.0, 2.0]}]}})
    assert trusted_svg(benign) == benign  # text that looks like attributes is escaped text, not markup
    for bad in ('<svg><script>alert(1)</script></svg>', '<svg onload="alert(1)"></svg>',
                '<svg><use xlink:href="https://example.org/x.svg#a"/></svg>', '<div>not svg</div>'):
        with pytest.raises(RuntimeError):
            trusted_svg(bad)
