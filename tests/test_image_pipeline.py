"""`synth generate` on a phantom CXR set with a tiny diffusion model (slow): the image audits run in the
pipeline, the default image gates apply, report.html shows the image sections and opens cleanly in
Chromium, and no training image or real prompt text reaches any output without the opt-in."""

from __future__ import annotations

import json
import shutil

import pytest

import synth
from synth.data.images.mimic_cxr import load_mimic_cxr
from synth.verdict import IMAGE_DEFAULT_GATES

pytestmark = pytest.mark.slow

IMAGE_AUDITS = ("image_fid", "image_diversity", "image_label_consistency", "image_memorization",
                "prompt_memorization", "diffusion_membership")


def _config(tmp_path, include: bool) -> dict:
    return {
        "name": "cxr-tiny", "seed": 3,
        "data": {"source": "builtin:cxr-phantom", "root": str(tmp_path / "phantom"), "phantom": {"n": 80, "size": 32},
                 "images": {"views": None}},
        "generator": {"name": "cxr_diffusion", "params": {
            "resolution": 16, "block_out_channels": [8, 16], "attention_head_dim": 8, "train_steps": 5, "batch_size": 8, "warmup_steps": 1,
            "sampling_steps": 2, "progress": False, "num_threads": 1, "max_prompt_tokens": 32}},
        "sample": {"rows": 24},
        "audit": {"include_real_records": include, "params": {
            "image_fid": {"n_boot": 20, "epochs": 2}, "image_memorization": {"epochs": 2},
            "image_label_consistency": {"epochs": 2, "n_boot": 20, "min_positives": 2},
            "image_diversity": {"n_boot": 20},
            "prompt_memorization": {"n_noise": 1, "top_prompts": 2, "max_prompts": 20, "max_holdout_prompts": 20},
            "diffusion_membership": {"max_images": 12, "n_noise": 1}}},
        "output": {"dir": str(tmp_path / ("out-open" if include else "out")), "formats": ["csv"]},
    }


def test_generate_runs_the_image_audits_and_keeps_training_data_out(tmp_path):
    run = synth.generate(_config(tmp_path, include=False))
    result = json.loads((run.output_dir / "result.json").read_text())
    assert set(IMAGE_AUDITS) <= set(result["audits"]["applied"])
    assert not [s for s in result["sections"] if s["error"]], [s["error"] for s in result["sections"] if s["error"]]
    assert [g["expression"] for g in result["gates"] if g["default"]] == list(IMAGE_DEFAULT_GATES)
    html = (run.output_dir / "report.html").read_text(encoding="utf-8")
    for title in ("Image fidelity: FID and KID", "Image memorization: nearest training images",
                  "Prompt and token memorization", "Membership inference on the diffusion model"):
        assert title in html
    assert "data:image/png" not in html
    table = load_mimic_cxr(tmp_path / "phantom", views=None)
    outputs = "".join(p.read_text(encoding="utf-8", errors="ignore") for p in run.output_dir.iterdir() if p.is_file())
    leaked = [p for p in table["prompt"] if isinstance(p, str) and len(p) > 40 and p in outputs]
    assert leaked == []
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        import test_report_browser

        done = test_report_browser.chromium(tmp_path, run.output_dir / "report.html", "--dump-dom")
        assert test_report_browser.console_messages(done.stderr) == []


def test_the_gallery_and_prompt_text_appear_with_the_opt_in(tmp_path):
    run = synth.generate(_config(tmp_path, include=True))
    html = (run.output_dir / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html
    result = json.loads((run.output_dir / "result.json").read_text())
    prompts = next(s for s in result["sections"] if s["audit"] == "prompt_memorization")
    assert "prompt" in prompts["tables"][0]["columns"]
