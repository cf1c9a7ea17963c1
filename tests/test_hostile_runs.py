"""Hostile runs (issue 8, items 1, 4, 10, 11, 13): overlap, crashes, tampered results, MIMIC edge cases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile import one_paragraph_error, run_cli, write_table
from mimic_fixture import write_mimic_iv_fixture
from population import make_population
from typer.testing import CliRunner

import synth
from synth.cli.main import app
from synth.data.overlap import check_holdout_disjoint
from synth.errors import DataError, InternalError

runner = CliRunner()
QUICK = {"audits": ["fidelity_columns"], "gates": ["fidelity.ks_mean <= 1"]}


# -- item 1: holdout and training rows must be different records --------------------------

def test_holdout_equal_to_real_is_refused(tmp_path):
    real = write_table(tmp_path, n=150, name="real.csv")
    copy = tmp_path / "copy.csv"
    copy.write_bytes(real.read_bytes())
    result = runner.invoke(app, ["audit", "--real", str(real), "--holdout", str(copy), "--synthetic", str(copy),
                                 "--out", str(tmp_path / "a")])  # a copy of the file
    assert result.exit_code == 2, result.output
    assert "--holdout" in one_paragraph_error(result.output) and "exact copies" in result.output
    result = runner.invoke(app, ["audit", "--real", str(real), "--holdout", str(real), "--synthetic", str(copy),
                                 "--out", str(tmp_path / "a")])  # the same path
    assert result.exit_code == 2 and "same file as --real" in one_paragraph_error(result.output)
    assert not (tmp_path / "a").exists()


def _continuous(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n).round(6), "b": rng.normal(size=n).round(6)})


@pytest.mark.parametrize("share", [1.0, 0.1, 0.05])
def test_partial_overlap_is_detected(share):
    train = _continuous(1000, 1)
    fresh = _continuous(300, 2)
    k = int(share * len(fresh))
    holdout = pd.concat([train.iloc[:k], fresh.iloc[k:]], ignore_index=True)
    with pytest.raises(DataError, match=f"{k} of the 300 holdout rows are exact copies"):
        check_holdout_disjoint(train, holdout, source="test")


def test_natural_duplicates_are_not_an_overlap():
    """Discrete data where people share rows: fresh holdouts pass, in every one of 200 draws."""
    rng = np.random.default_rng(0)
    levels = rng.dirichlet(np.ones(60))  # 60 possible rows, some common: many natural duplicates

    def draw(n):
        return pd.DataFrame({"row": rng.choice(60, size=n, p=levels)}).assign(x=lambda d: d["row"] % 7)

    for _ in range(200):
        check_holdout_disjoint(draw(400), draw(150), source="test")  # never raises
    check_holdout_disjoint(_continuous(500, 3), _continuous(200, 4), source="test")


def test_group_on_both_sides_is_refused_and_groups_reach_the_audits(tmp_path, monkeypatch):
    frame = make_population(120, seed=5).assign(subject_id=np.repeat(np.arange(60), 2))
    train, holdout = frame.iloc[:80], frame.iloc[70:]  # subjects 35-39 on both sides, no shared row... rows 70-79
    holdout = holdout.drop(index=range(70, 80)).pipe(lambda h: pd.concat([h, frame.iloc[[0]].assign(
        bmi=99.9)]))  # a new row of subject 0 (in training)
    cfg = {"data": {"source": "x", "group": "subject_id", "target": "outcome"}, "audit": {"audits": QUICK["audits"]},
           "gates": QUICK["gates"]}
    with pytest.raises(DataError, match="group column 'subject_id'"):
        synth.audit(real=train, holdout=holdout, synthetic=train, config=cfg)
    seen = {}

    def spy(audits, inputs, **kw):
        seen["train"], seen["holdout"] = inputs.train_groups, inputs.holdout_groups
        return []

    monkeypatch.setattr("synth.pipeline.run_audits", spy)
    synth.audit(real=frame.iloc[:80], holdout=frame.iloc[80:], synthetic=frame.iloc[:80], config=cfg)
    assert set(seen["train"]) == set(range(40)) and set(seen["holdout"]) == set(range(40, 60))


# -- item 10: a crash is never a verdict --------------------------------------------------

def _quick_cfg(tmp_path: Path) -> Path:
    write_table(tmp_path, n=60)
    cfg = {"seed": 1, "data": {"source": "cohort.csv", "target": "outcome"}, "audit": {"audits": QUICK["audits"]},
           "gates": QUICK["gates"], "output": {"dir": "out"}}
    path = tmp_path / "run.yaml"
    path.write_text(json.dumps(cfg))
    return path


def test_internal_error_exits_3_with_one_paragraph_and_a_crash_log(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise ZeroDivisionError("a bug with a value 123.456 in its message")

    monkeypatch.setattr("synth.pipeline.prepare", boom)
    result = runner.invoke(app, ["generate", "--config", str(_quick_cfg(tmp_path))])
    assert result.exit_code == 3, result.output
    text = one_paragraph_error(result.output)
    assert "internal error" in text and "ZeroDivisionError" in text and "not a verdict" in text
    assert "123.456" not in text  # the message may quote data: it goes to the log only
    log = Path(re.search(r"The traceback is in (\S+)\.", text).group(1))
    assert "Traceback" in log.read_text() and "123.456" in log.read_text()
    assert not (tmp_path / "out").exists()
    log.unlink()


def test_generator_producing_an_empty_column_is_an_internal_error(tmp_path, monkeypatch):
    from synth.generators.sdv_gaussian_copula import GaussianCopulaGenerator

    original = GaussianCopulaGenerator.sample

    def blank(self, n, conditions=None, seed=None):
        return original(self, n, conditions, seed).assign(bmi=np.nan)

    monkeypatch.setattr(GaussianCopulaGenerator, "sample", blank)
    result = runner.invoke(app, ["generate", "--config", str(_quick_cfg(tmp_path))])
    assert result.exit_code == 3, result.output
    assert "produced no values for column 'bmi'" in one_paragraph_error(result.output)
    with pytest.raises(InternalError):
        synth.generate(_quick_cfg(tmp_path))
    assert not (tmp_path / "out").exists()


def test_empty_column_is_a_failure_only_when_the_training_missing_rate_rules_it_out():
    """0 % missing in training: one empty synthetic column is a failure; 95 % missing and 5 rows: plausible."""
    from types import SimpleNamespace

    from synth.data.infer import infer_schema
    from synth.pipeline import _check_synthetic

    train = pd.DataFrame({"x": [1.0] * 100, "y": [np.nan] * 95 + [2.0] * 5})
    prep = SimpleNamespace(modelled=infer_schema(train), train=train)
    _check_synthetic(pd.DataFrame({"x": [1.0] * 5, "y": [np.nan] * 5}), prep, "g")  # 0.95 ** 5 = 0.77
    with pytest.raises(InternalError, match="'y'"):  # 0.95 ** 1000 < 1e-22
        _check_synthetic(pd.DataFrame({"x": [1.0] * 1000, "y": [np.nan] * 1000}), prep, "g")
    with pytest.raises(InternalError, match="'x'"):
        _check_synthetic(pd.DataFrame({"x": [np.nan] * 2, "y": [2.0] * 2}), prep, "g")


def test_empty_finding_labels_of_image_data_are_not_a_failure_but_an_empty_prompt_is():
    """Image data: a finding no condition names stays missing ("not mentioned"); prompts and images must be there."""
    from types import SimpleNamespace

    from synth.data.infer import infer_schema
    from synth.pipeline import _check_synthetic

    train = pd.DataFrame({"image": [f"p{i}.png" for i in range(100)], "report": [f"Effusion {i}." for i in range(100)],
                          "effusion": [1.0] * 100})
    prep = SimpleNamespace(modelled=infer_schema(train, prompt="report"), train=train)
    synthetic = pd.DataFrame({"image": [f"s{i}.png" for i in range(50)], "report": ["Effusion."] * 50,
                              "effusion": [np.nan] * 50})
    _check_synthetic(synthetic, prep, "g")  # a tabular column this empty would fail (0 % missing in training)
    with pytest.raises(InternalError, match="'report'"):
        _check_synthetic(synthetic.assign(report=np.nan), prep, "g")


def test_crashed_audit_exits_3_not_1(tmp_path, monkeypatch):
    from synth.audits.fidelity.columns import ColumnFidelityAudit

    def crash(self, inputs):
        raise RuntimeError("audit bug")

    monkeypatch.setattr(ColumnFidelityAudit, "run", crash)
    result = runner.invoke(app, ["generate", "--config", str(_quick_cfg(tmp_path))])
    assert result.exit_code == 3, result.output
    assert "fidelity_columns crashed" in one_paragraph_error(result.output)


def test_real_cli_tells_a_crash_from_a_failed_gate(tmp_path):
    """The console script exits 3 for an internal error (1 for a failed gate: test_pipeline_quickstart)."""
    cfg = _quick_cfg(tmp_path)
    env = {"PYTHONPATH": str(tmp_path)}
    (tmp_path / "sitecustomize.py").write_text(
        "import synth.data.split as s\n"
        "def boom(*a, **k):\n    raise KeyError('bug')\n"
        "s.split_train_holdout = boom\nimport synth.prepare as p\np.split_train_holdout = boom\n")
    proc = run_cli("generate", "--config", str(cfg), cwd=tmp_path, timeout=300, env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    text = one_paragraph_error(proc.stderr)
    assert "internal error" in text and "KeyError" in text
    Path(re.search(r"The traceback is in (\S+)\.", text).group(1)).unlink()


def test_readme_documents_the_four_exit_codes():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Exit codes"):]
    for code in ("`0`", "`1`", "`2`", "`3`"):
        assert code in section


# -- item 11: tampered result.json for `synth report` -------------------------------------

def _result(tmp_path) -> dict:
    from sample_result import sample_result

    return json.loads(json.dumps(sample_result()))  # plain JSON types, as read from a file


TAMPERINGS = {
    "huge integer": lambda r: r["data"].__setitem__("n_train", "HUGE"),  # digits spliced into the text below
    "huge float": lambda r: r["gates"][0].__setitem__("threshold", 1e308 * 10),
    "list as metric name": lambda r: r["gates"][0].__setitem__("metric", ["a", "b"]),
    "list as audit name": lambda r: r["sections"][0].__setitem__("audit", [1]),
    "deep nesting": lambda r: r["sections"][0]["metrics"][0].__setitem__("details", "DEEP"),  # spliced below
    "sections not a list": lambda r: r.__setitem__("sections", "all"),
    "metric not an object": lambda r: r["sections"][0]["metrics"].__setitem__(0, 7),
    "table row not a list": lambda r: r["sections"][0].__setitem__("tables", [{"title": "t", "columns": ["a"],
                                                                             "rows": [5], "caption": ""}]),
    "ci level a string": lambda r: r["sections"][0]["metrics"][0].__setitem__("ci", {"low": 0, "high": 1,
                                                                                    "method": "x", "level": "95%"}),
    "missing gate key": lambda r: r["gates"][0].pop("passed"),
}


@pytest.mark.parametrize("kind", list(TAMPERINGS))
def test_tampered_result_json_is_a_user_error(tmp_path, kind):
    result = _result(tmp_path)
    TAMPERINGS[kind](result)
    path = tmp_path / "result.json"
    # json.dumps refuses such an integer and such nesting: splice them into the text
    path.write_text(json.dumps(result).replace('"HUGE"', "9" * 5000).replace('"DEEP"', "[" * 5000 + "]" * 5000))
    cli = runner.invoke(app, ["report", str(path), "--out", str(tmp_path / "r.html")])
    assert cli.exit_code == 2, (kind, cli.output)
    assert "result.json" in one_paragraph_error(cli.output)
    assert not (tmp_path / "r.html").exists()


def test_untampered_sample_result_renders(tmp_path):
    path = tmp_path / "result.json"
    path.write_text(json.dumps(_result(tmp_path)))
    cli = runner.invoke(app, ["report", str(path)])
    assert cli.exit_code == 0, cli.output
    assert (tmp_path / "report.html").is_file()


# -- item 13: MIMIC-IV edge cases ---------------------------------------------------------

def _gz_lines(path: Path) -> list[str]:
    import gzip

    return gzip.open(path, "rt").read().splitlines()


def _write_gz(path: Path, lines: list[str]) -> None:
    import gzip

    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def test_mimic_header_only_table_is_a_user_error(tmp_path):
    root = tmp_path / "mimic"
    write_mimic_iv_fixture(root, n_patients=4)
    stays = root / "icu" / "icustays.csv.gz"
    _write_gz(stays, _gz_lines(stays)[:1])
    result = runner.invoke(app, ["data", "mimic-iv", "--root", str(root), "--out", str(tmp_path / "c.parquet")])
    assert result.exit_code == 2, result.output
    assert "icustays.csv.gz' has a header but no rows" in one_paragraph_error(result.output)
    assert not (tmp_path / "c.parquet").exists()


def test_mimic_unreadable_table_message_is_short_and_names_the_file(tmp_path):
    root = tmp_path / "mimic"
    write_mimic_iv_fixture(root, n_patients=4)
    labs = root / "hosp" / "labevents.csv.gz"
    lines = _gz_lines(labs)
    lines[2] += ',extra,"unterminated'
    _write_gz(labs, lines)
    result = runner.invoke(app, ["data", "mimic-iv", "--root", str(root), "--out", str(tmp_path / "c.parquet")])
    assert result.exit_code == 2, result.output
    assert "labevents.csv.gz" in result.output
    assert len(result.output.strip().splitlines()) <= 3 and "Possible fixes" not in result.output


def test_bad_values_in_audit_inputs_name_the_file_and_column(tmp_path):
    real = write_table(tmp_path, n=60, name="real.csv")
    bad = make_population(60, seed=9).astype({"bmi": object})
    bad.loc[5, "bmi"] = "heavy"
    bad.to_csv(tmp_path / "syn.csv", index=False)
    result = runner.invoke(app, ["audit", "--real", str(real), "--synthetic", str(tmp_path / "syn.csv"),
                                 "--out", str(tmp_path / "a")])
    assert result.exit_code == 2, result.output
    text = one_paragraph_error(result.output)
    assert "--synthetic" in text and "syn.csv" in text and "'bmi'" in text
