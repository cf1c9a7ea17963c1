"""Image audit sections in report.html: rendered generically from result.json, the gallery only with the
opt-in, and the page opens in headless Chromium with a clean console."""

from __future__ import annotations

import json

import numpy as np
import pytest
from image_sets import inputs_from_arrays, smooth_images

from synth.audits.images.diversity import ImageDiversityAudit
from synth.audits.images.nearest_images import ImageMemorizationAudit
from synth.reports import write_report
from synth.result import AuditResult
from synth.verdict import evaluate_gates, parse_gates
from synth.schema import DataKind


def _result(tmp_path, include: bool) -> dict:
    rng = np.random.default_rng(0)
    train, holdout = smooth_images(60, 24, rng), smooth_images(30, 24, rng)
    synthetic = np.concatenate([train[:4], smooth_images(16, 24, rng)])
    prompts = {"train": ["a"] * 60, "holdout": ["a"] * 30, "synthetic": [f"p{i % 4}" for i in range(20)]}
    inputs = inputs_from_arrays(tmp_path, train, holdout, synthetic, prompts=prompts, include_real_records=include)
    sections = [ImageMemorizationAudit(gallery_pairs=3).run(inputs), ImageDiversityAudit(n_boot=20).run(inputs)]
    metrics = {m.name: m for s in sections for m in s.metrics}
    gates = evaluate_gates(parse_gates(None, kind=DataKind.IMAGE), metrics)
    return AuditResult(sections=sections, gates=gates, data={"kind": "image", "n_train": 60, "n_holdout": 30,
                                                             "n_synthetic": 20},
                       applied=[s.audit for s in sections]).to_dict()


def test_the_gallery_is_rendered_only_with_the_opt_in(tmp_path):
    without = tmp_path / "without.html"
    write_report(_result(tmp_path / "a", include=False), without)
    html = without.read_text(encoding="utf-8")
    assert "data:image/png" not in html and "Gallery of the closest generated / training pairs withheld" in html
    assert "privacy.image_copy_excess" in html and "fidelity.intra_prompt_ms_ssim" in html
    with_gallery = tmp_path / "with.html"
    write_report(_result(tmp_path / "b", include=True), with_gallery)
    html = with_gallery.read_text(encoding="utf-8")
    assert html.count('<img src="data:image/png;base64,iVBORw0KGgo') == 6  # three pairs


def test_the_public_report_leaves_out_the_gallery_and_the_per_image_tables_even_with_the_opt_in(tmp_path):
    result = _result(tmp_path / "a", include=True)
    result["sections"][0]["figures"][-1]["per_record"] = False  # a gallery is per-record whatever its flag says
    page = tmp_path / "public.html"
    write_report(result, page, audience="public")
    html = page.read_text(encoding="utf-8")
    assert "data:image/png" not in html and "<img" not in html
    assert "nearest training row" not in html  # which training images were copied: per-record
    assert "generated images that copy a training image" in html  # the glossary label of the aggregate stays
    assert "privacy.image_copy_excess" in html and "fidelity.intra_prompt_ms_ssim" in html


def test_a_gallery_entry_that_is_not_a_png_is_dropped(tmp_path):
    result = _result(tmp_path / "a", include=True)
    gallery = next(f for s in result["sections"] for f in s["figures"] if f["kind"] == "gallery")
    gallery["data"]["pairs"][0]["images"][0]["png"] = '"><script>alert(1)</script>'
    page = tmp_path / "r.html"
    write_report(json.loads(json.dumps(result)), page)
    html = page.read_text(encoding="utf-8")
    assert "<script>alert" not in html and html.count("data:image/png") == 5


@pytest.mark.browser
def test_the_image_report_opens_in_chromium_with_a_clean_console(tmp_path):
    test_report_browser = pytest.importorskip("test_report_browser")
    page = tmp_path / "report.html"
    write_report(_result(tmp_path / "a", include=True), page)
    done = test_report_browser.chromium(tmp_path, page, "--dump-dom")
    assert test_report_browser.console_messages(done.stderr) == []
    assert done.stdout.count("<img") == 6 and 'data-verdict="FAIL"' in done.stdout  # four copies fail the copy gate
