"""End to end: the README quickstart, its outputs, its manifest and its report."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import synth
from synth.config import load_config
from synth.data.datasets import load_dataset

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"
SYNTH = str(Path(sys.executable).parent / "synth")  # the console script of this environment
FAMILIES = ("fidelity", "utility", "fairness", "privacy", "membership")


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart")
    return synth.generate(QUICKSTART, output_dir=out)


def test_quickstart_writes_every_output(quickstart):
    names = {p.name for p in quickstart.output_dir.iterdir()}
    assert {"synthetic.csv", "synthetic.parquet", "result.json", "report.html", "manifest.json"} <= names
    assert not any(n.startswith(".synth-tmp") for n in names)
    assert quickstart.passed  # the quickstart's gates hold for a Gaussian copula on ACTG 175


def test_quickstart_runs_every_audit_family_without_errors(quickstart):
    result = json.loads((quickstart.output_dir / "result.json").read_text())
    assert result["schema_version"] == 1
    ran = {s["family"] for s in result["sections"] if not s["skipped"]}
    assert ran == set(FAMILIES)
    assert all(s["error"] is None for s in result["sections"])
    assert [g["passed"] for g in result["gates"]] == [True] * len(result["gates"])


def test_identifiers_never_reach_the_synthetic_data(quickstart):
    synthetic = quickstart.synthetic
    assert "pidnum" not in synthetic.columns
    assert len(synthetic) == 1497


def test_manifest_records_hash_seed_versions_timings_and_output_hashes(quickstart):
    manifest = json.loads((quickstart.output_dir / "manifest.json").read_text())
    assert len(manifest["config_sha256"]) == 64 and manifest["seed"] == 7
    assert {"synth", "python", "torch", "sdv"} <= set(manifest["versions"])
    assert {"fit", "sample", "audit"} <= set(manifest["timings_s"])
    assert manifest["hardware"]["cpu_count"] >= 1
    for entry in manifest["outputs"]:
        data = (quickstart.output_dir / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert {e["path"] for e in manifest["outputs"]} >= {"synthetic.csv", "result.json", "report.html"}


def test_report_shows_every_family_and_no_raw_real_records(quickstart):
    html = (quickstart.output_dir / "report.html").read_text()
    for family in FAMILIES:
        assert f'id="family-{family}"' in html
    assert "threat model" in html.lower()
    # ACTG 175 weights carry five decimals: a raw training row in the page would show them.
    real, _ = load_dataset("actg175")
    weights = {f"{w:.5f}" for w in real["wtkg"] if f"{w:.5f}"[-1] != "0"}
    assert not [w for w in weights if w in html]


def test_same_config_and_seed_give_byte_identical_synthetic_data(tmp_path):
    cfg = load_config(QUICKSTART).model_copy(deep=True)
    cfg.audit.enabled = False
    cfg.data.source = "builtin:actg175"
    first = synth.generate(cfg, output_dir=tmp_path / "a")
    second = synth.generate(cfg, output_dir=tmp_path / "b")
    for name in ("synthetic.csv", "synthetic.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    cfg.seed = 8
    third = synth.generate(cfg, output_dir=tmp_path / "c")
    assert (tmp_path / "c" / "synthetic.csv").read_bytes() != (tmp_path / "a" / "synthetic.csv").read_bytes()
    assert first.passed and second.passed and third.result is None


def test_quickstart_report_leads_with_findings_against_real_vs_real_references(quickstart):
    html = (quickstart.output_dir / "report.html").read_text()
    panel = html[html.index('id="findings"'):html.index('id="family-fidelity"')]  # under the verdict, before details
    assert html.index('data-verdict="PASS"') < html.index('id="findings"')
    items = re.findall(r'<li class="finding" data-metric="([^"]+)">(.*?)</li>', panel, re.S)
    names = [name for name, _ in items]
    assert names[0] == "fidelity.detection_auc"  # a copula's rows are easy to tell from real ones here
    result = json.loads((quickstart.output_dir / "result.json").read_text())
    detection = next(m for s in result["sections"] for m in s["metrics"] if m["name"] == "fidelity.detection_auc")
    assert 0.45 < detection["reference"] < 0.55  # two real samples: a classifier is at chance
    text = re.sub(r"<[^>]+>", "", dict(items)["fidelity.detection_auc"])
    assert f"real-vs-real reference {detection['reference']:.3f}" in text
    assert "between two real samples it manages" in text
    # the other quality problems the verdict alone hides
    assert {"fidelity.association_diff_max", "fairness.subgroup_tpr_drop_max", "utility.auroc_gap"} <= set(names)


def test_quickstart_public_report_leaves_out_per_record_results(quickstart, tmp_path):
    from synth.reports import write_report

    result = json.loads((quickstart.output_dir / "result.json").read_text())
    ranking = next(t for s in result["sections"] for t in s["tables"] if t.get("per_record"))
    write_report(result, tmp_path / "public.html", audience="public")
    steward = (quickstart.output_dir / "report.html").read_text()
    public = (tmp_path / "public.html").read_text()

    def rows(page: str) -> set[str]:
        return {re.sub(r"<[^>]+>|\s", "", tr) for tr in re.findall(r"<tr>(.*?)</tr>", page, re.S)}

    from synth.reports.numbers import format_number
    ranked = {"".join(format_number(v) for v in row) for row in ranking["rows"]}
    assert ranked <= rows(steward)  # every ranked record (rank, row index, scores) is in the steward's report
    assert not ranked & rows(public)
    assert "<th>training row</th>" in steward and "<th>training row</th>" not in public  # no column of row indices
    assert f">{ranking['title']}</h4>" in steward and f">{ranking['title']}</h4>" not in public
    assert "Left out of this public report" in public


def test_cli_quickstart_exit_code_and_report_command(tmp_path, quickstart):
    cfg = yaml.safe_load(QUICKSTART.read_text())
    cfg["data"]["source"] = "builtin:actg175"
    cfg["audit"] = {"audits": ["fidelity_columns", "memorization"]}
    cfg["gates"] = ["privacy.dcr_share.upper_ci <= 0.6", "fidelity.ks_mean <= 0.001"]  # the second must fail
    cfg["output"] = {"dir": str(tmp_path / "run")}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    done = subprocess.run([SYNTH, "generate", "--config", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
    (tmp_path / "run" / "report.html").unlink()
    again = subprocess.run([SYNTH, "report", str(tmp_path / "run" / "result.json")],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and (tmp_path / "run" / "report.html").is_file()
    # two runs side by side: the quickstart (every audit) and this one (two audits)
    compare = subprocess.run([SYNTH, "report", str(quickstart.output_dir / "result.json"),
                              str(tmp_path / "run" / "result.json"), "--out", str(tmp_path / "compare.html")],
                             capture_output=True, text=True, timeout=120)
    assert compare.returncode == 0, compare.stdout + compare.stderr
    page = (tmp_path / "compare.html").read_text()
    row = re.search(r'<tr data-metric="fidelity.ks_mean" data-better="(\w*)" data-overlap="(\w*)">', page)
    assert row and row.group(1) in ("A", "B", "tie") and row.group(2) in ("yes", "no")
    assert re.search(r'data-metric="fidelity.detection_auc"[^>]*>.*?not computed', page, re.S)  # only run A has it


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install -y chromium)")
@pytest.mark.parametrize("width", [1400, 800])
def test_quickstart_report_opens_in_headless_chromium(quickstart, tmp_path, width):
    from PIL import Image

    png = tmp_path / f"quickstart-{width}.png"
    height = 30_000  # taller than the page: the screenshot shows where it ends
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
           f"--screenshot={png}", f"--window-size={width},{height}", (quickstart.output_dir / "report.html").as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not [ln for ln in done.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    shutil.copy(png, quickstart.output_dir / f"screenshot-{width}.png")  # for a person to look at
    with Image.open(png) as im:
        rgb = im.convert("RGB")
        pass_green = (0x1E, 0x7B, 0x4F)  # --pass in report.css: the PASS verdict
        first_screen = rgb.crop((0, 0, width, 1000)).getdata()
        assert sum(1 for p in first_screen if all(abs(a - b) <= 12 for a, b in zip(p, pass_green))) > 500
        # the page ends well before the screenshot does: detail is folded (it was 26,800 px at 1400)
        background = rgb.getpixel((width - 2, height - 2))
        rows = [y for y in range(height - 1, 0, -50) if any(rgb.getpixel((x, y)) != background
                                                             for x in range(0, width, 7))]
        assert rows and rows[0] < (19_000 if width == 1400 else 25_000)


def test_readme_shows_the_real_quickstart_config():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The config"):]
    block = section[section.index("```yaml\n") + len("```yaml\n"):]
    block = block[: block.index("```")]
    assert block == QUICKSTART.read_text()
