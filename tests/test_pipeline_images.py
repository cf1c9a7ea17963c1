"""Images through the whole flow: config -> phantom -> split -> fit -> sample -> PNGs -> audits -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cxr_fixture import write_mimic_fixture
from typer.testing import CliRunner

import synth
from synth.cli.main import app
from synth.data.images.mimic_cxr import load_mimic_cxr
from synth.errors import ConfigError, GateError

TINY = {"resolution": 16, "block_out_channels": [8, 16], "attention_head_dim": 8, "train_steps": 2, "batch_size": 4,
        "sampling_steps": 2, "progress": False, "max_prompt_tokens": 24}

pytestmark = pytest.mark.filterwarnings("ignore:cxr_diffusion.*training prompts are longer")


def _config(tmp: Path, **over) -> dict:
    cfg = {
        "seed": 5,
        "data": {"source": "builtin:cxr-phantom", "root": str(tmp / "phantom"), "phantom": {"n": 24, "size": 64},
                 "split": {"holdout_fraction": 0.25}},
        "generator": {"name": "cxr_diffusion", "params": dict(TINY)},
        "sample": {"conditions": [{"rows": 2, "values": {"cardiomegaly": 1}},
                                  {"rows": 2, "values": {"prompt": "Small left pleural effusion.", "view_position": "PA"}}]},
        "output": {"dir": str(tmp / "out"), "save_generator": True},
        # tabular audits only: what happens when none of the selected audits applies to images
        # (the image audits have their own tests: test_image_*.py)
        "audit": {"audits": ["memorization", "membership", "fidelity_columns"]},
    }
    cfg.update(over)
    return cfg


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("images")
    return synth.generate(_config(tmp)), tmp


def test_image_run_writes_pngs_manifest_pipeline_and_report(run):
    res, tmp = run
    out = tmp / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {o["path"]: o for o in manifest["outputs"]}
    assert {"synthetic.csv", "images/", "generator/", "result.json", "report.html"} <= set(listed)
    assert listed["images/"]["files"] == 4 + 4 + 4  # four PNGs, a report each, four tables
    table = pd.read_csv(out / "synthetic.csv")
    assert len(table) == 4 and all((out / p).is_file() for p in table["image"])
    assert table["prompt"].tolist()[:2] == ["Cardiomegaly.", "Cardiomegaly."]
    assert table["cardiomegaly"].tolist()[:2] == [1, 1]
    assert not {"subject_id", "study_id", "dicom_id"} & set(table.columns)
    # the synthetic set is in the real set's layout: the same loader reads it back
    back = load_mimic_cxr(out / "images", views=None)
    assert len(back) == 4 and back["prompt"].tolist()[2] == "Small left pleural effusion."
    assert (out / "generator" / "model_index.json").is_file()
    assert list((out / "generator" / "unet").glob("*.safetensors"))
    result = json.loads((out / "result.json").read_text())
    assert result["data"]["kind"] == "image" and result["data"]["n_synthetic"] == 4
    assert result["generator"]["fit"]["n_train_images"] == result["data"]["n_train"]
    # the phantom renders six findings: the other CheXpert columns are blank in every study, so they are
    # listed as dropped (not modelled), not an error and not silently lost
    dropped = {d["name"]: d["reason"] for d in result["data"]["dropped_columns"]}
    assert dropped["atelectasis"].startswith("no values") and "cardiomegaly" not in dropped


def test_no_tabular_audit_runs_on_images_and_the_verdict_says_so(run):
    res, tmp = run
    result = json.loads((tmp / "out" / "result.json").read_text())
    assert result["audits"]["applied"] == [] and result["sections"] == []
    names = {a["audit"] for a in result["audits"]["not_applicable"]}
    assert names == {"memorization", "membership", "fidelity_columns"}
    assert all(a["reason"] == "applies to table data, not to image data" for a in result["audits"]["not_applicable"])
    assert not res.passed  # nothing was checked: never a pass on missing evidence
    gate = result["gates"][-1]
    assert gate["expression"] == "at least one audit applies to image data" and "nothing was checked" in gate["error"]
    assert all(not g["passed"] for g in result["gates"])  # the default image gates have no metric either
    html = (tmp / "out" / "report.html").read_text()
    assert "Audits applied" in html and "applies to table data, not to image data" in html


def test_same_config_same_seed_byte_identical_images(run, tmp_path):
    res, tmp = run
    again = synth.generate(_config(tmp, output={"dir": str(tmp_path / "again")}))
    first = {o["path"]: o["sha256"] for o in res.manifest["outputs"]}
    second = {o["path"]: o["sha256"] for o in again.manifest["outputs"]}
    assert first["images/"] == second["images/"] and first["synthetic.csv"] == second["synthetic.csv"]


def test_generator_and_data_kind_mismatch_is_an_error_before_any_work(tmp_path):
    cfg = _config(tmp_path, generator={"name": "gaussian_copula"})
    with pytest.raises(ConfigError, match="generator 'gaussian_copula' models table data, but data.source gives image"):
        synth.generate(cfg)
    assert not (tmp_path / "phantom").exists() and not (tmp_path / "out").exists()  # nothing made, nothing written
    cfg = {"data": {"source": "builtin:gbsg2"}, "generator": {"name": "cxr_diffusion"}, "output": {"dir": str(tmp_path / "o")}}
    with pytest.raises(ConfigError, match="generator 'cxr_diffusion' models image data, but data.source gives table"):
        synth.generate(cfg)
    assert not (tmp_path / "o").exists()


def test_a_gate_on_a_tabular_metric_is_refused_for_images(tmp_path):
    with pytest.raises(GateError, match="privacy.dcr_share"):
        synth.generate(_config(tmp_path, gates=["privacy.dcr_share.upper_ci <= 0.6"]))
    assert not (tmp_path / "out").exists()


def test_cli_mimic_folder_without_tables_exits_2_and_writes_nothing(tmp_path):
    root = write_mimic_fixture(tmp_path / "mimic")
    (root / "mimic-cxr-2.0.0-metadata.csv.gz").unlink()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"data": {"source": "builtin:mimic-cxr-jpg", "root": str(root)},
                               "generator": {"name": "cxr_diffusion", "params": TINY},
                               "output": {"dir": str(tmp_path / "out")}}))
    proc = CliRunner().invoke(app, ["generate", "--config", str(cfg)])
    assert proc.exit_code == 2, proc.output
    assert "lacks the table mimic-cxr-2.0.0-metadata.csv.gz" in " ".join(proc.output.split())
    assert proc.exception is None or isinstance(proc.exception, SystemExit)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".synth-tmp-*"))


def test_cli_writes_a_phantom_set_and_refuses_to_overwrite(tmp_path):
    cmd = ["data", "cxr-phantom", "--size", "48", "--out", str(tmp_path / "p")]
    ok = CliRunner().invoke(app, [*cmd, "--n", "3"])
    assert ok.exit_code == 0, ok.output
    assert len(load_mimic_cxr(tmp_path / "p", views=None)) == 3
    clash = CliRunner().invoke(app, [*cmd, "--n", "4"])
    assert clash.exit_code == 2 and "not a phantom set made with these arguments" in " ".join(clash.output.split())
