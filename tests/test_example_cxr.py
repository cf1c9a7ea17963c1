"""The CPU example end to end (slow: it trains the example's UNet; minutes on 2 cores)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from synth.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cxr_diffusion.yaml"


@pytest.mark.slow
def test_cpu_example_writes_images_pipeline_result_and_report(tmp_path):
    config = tmp_path / "examples" / "cxr_diffusion.yaml"
    config.parent.mkdir()
    shutil.copy(EXAMPLE, config)  # its relative paths (../runs/: the phantom set, the outputs) then land in tmp_path
    result = CliRunner().invoke(app, ["generate", "--config", str(config)])
    assert result.exit_code in (0, 1), result.output  # a verdict, not a crash or a user mistake
    out = tmp_path / "runs" / "cxr_diffusion"
    table = pd.read_csv(out / "synthetic.csv")
    assert len(table) == 36 and all((out / p).is_file() for p in table["image"])
    assert (out / "generator" / "model_index.json").is_file()
    report = json.loads((out / "result.json").read_text())
    assert report["data"]["kind"] == "image"
    assert {"image_fid", "image_memorization", "prompt_memorization", "diffusion_membership"} <= set(report["audits"]["applied"])
    assert not [s["error"] for s in report["sections"] if s["error"]]
    html = (out / "report.html").read_text()
    assert "Audits applied" in html and "Image memorization: nearest training images" in html
    assert "data:image/png" not in html  # no training image without audit.include_real_records
    manifest = json.loads((out / "manifest.json").read_text())
    assert {o["path"] for o in manifest["outputs"]} >= {"images/", "generator/", "synthetic.csv", "result.json"}
