"""The output folder is one unit (issue 8, items 6, 9, 11): swapped in whole, locked, never over an input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import pytest
from hostile import assert_nothing_written, config, one_paragraph_error, write_config, write_table
from typer.testing import CliRunner

import synth
from synth.cli.main import app
from synth.errors import ConfigError
from synth.outputs import MARKER, StagedOutputs

runner = CliRunner()


def _stage(out, files: dict[str, str], **kw) -> StagedOutputs:
    staged = StagedOutputs(out, **kw)
    for name, text in files.items():
        staged.path(name).write_text(text)
    return staged


def test_commit_replaces_the_whole_folder_no_stale_file_survives(tmp_path):
    out = tmp_path / "out"
    _stage(out, {"report.html": "old PASSED", "synthetic.parquet": "old"}).commit()
    _stage(out, {"report.html": "new", "synthetic.csv": "new"}).commit()
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "report.html", "synthetic.csv"])
    assert (out / "report.html").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging, old or lock leftovers


def test_a_failed_run_leaves_the_previous_outputs_untouched(tmp_path):
    out = tmp_path / "out"
    _stage(out, {"result.json": "old"}).commit()
    with pytest.raises(RuntimeError), _stage(out, {"result.json": "half"}):
        raise RuntimeError("the run failed")
    assert (out / "result.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_second_run_into_the_same_folder_is_a_clear_error(tmp_path):
    first = _stage(tmp_path / "out", {"a.txt": "1"})
    with pytest.raises(ConfigError, match="Another synth run is writing into"):
        StagedOutputs(tmp_path / "out")
    first.commit()
    StagedOutputs(tmp_path / "out").abort()  # free again once the first is done


def test_folder_with_foreign_files_is_refused_not_emptied(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="did not write .*notes.txt"):
        StagedOutputs(out)
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    _stage(out, {"result.json": "x"}).commit()  # an empty folder is fine
    (out / "notes.txt").write_text("added later")
    with pytest.raises(ConfigError, match="notes.txt"):  # a synth folder with a file synth did not write
        StagedOutputs(out)


def test_output_folder_holding_an_input_is_refused_before_work(tmp_path):
    data = write_table(tmp_path, name="synthetic.csv")
    before = data.read_bytes()
    cfg = write_config(tmp_path, config(source="synthetic.csv", output={"dir": "."}))
    result = runner.invoke(app, ["generate", "--config", str(cfg)])
    assert result.exit_code == 2, result.output
    text = one_paragraph_error(result.output)
    assert "holds the input" in text and "synthetic.csv" in text
    assert data.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml", "synthetic.csv"]


def test_audit_out_that_is_a_file_is_refused_before_the_audit(tmp_path, monkeypatch):
    real = write_table(tmp_path, n=60, name="real.csv")
    (tmp_path / "taken").write_text("a file")

    def no_audit(*args, **kwargs):  # the check must come before any work
        raise AssertionError("the audit ran before the output path was checked")

    monkeypatch.setattr("synth.pipeline.run_audits", no_audit)
    result = runner.invoke(app, ["audit", "--real", str(real), "--synthetic", str(real),
                                 "--out", str(tmp_path / "taken")])
    assert result.exit_code == 2, result.output
    assert "--out" in one_paragraph_error(result.output) and "not a folder" in result.output


@pytest.mark.parametrize("out", ["/proc/synth-test/x", "/dev/null/x"])
def test_unusable_output_folder_is_a_user_error(tmp_path, out):
    write_table(tmp_path)
    cfg = write_config(tmp_path, config())
    result = runner.invoke(app, ["generate", "--config", str(cfg), "--out", out])
    assert result.exit_code == 2, result.output
    assert out.rsplit("/", 1)[0] in one_paragraph_error(result.output)


def test_report_and_mimic_out_that_is_a_folder_or_the_input_is_refused(tmp_path):
    (tmp_path / "result.json").write_text("{}")
    for args in (["report", str(tmp_path / "result.json"), "--out", str(tmp_path)],
                 ["report", str(tmp_path / "result.json"), "--out", str(tmp_path / "result.json")],
                 ["data", "mimic-iv", "--root", str(tmp_path), "--out", str(tmp_path)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "--out" in one_paragraph_error(result.output)
    assert (tmp_path / "result.json").read_text() == "{}"


def test_leftovers_of_a_killed_run_are_cleaned_and_reported(tmp_path):
    """SIGKILL in the middle of staging leaves a .synth-tmp folder; the next run removes it and says so."""
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import os, signal
        from synth.outputs import StagedOutputs
        staged = StagedOutputs({str(out)!r})
        staged.path("synthetic.csv").write_text("real-looking rows")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".synth-tmp-out-")]
    assert len(leftovers) == 1
    write_table(tmp_path)
    cfg = config(source=str(tmp_path / "cohort.csv"), audit={"enabled": False})
    cfg.pop("gates")
    said = []
    run = synth.generate(cfg, output_dir=out, progress=said.append)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".synth-")]
    assert any("leftover" in s for s in said)
    assert json.loads((out / "manifest.json").read_text())["cleaned_leftovers"] == leftovers
    assert run.outputs["synthetic.csv"].is_file()


def test_user_mistake_leaves_nothing_even_after_the_folder_was_taken(tmp_path):
    (tmp_path / "cohort.csv").write_text("age,outcome\n" + "".join(f"{i},{i % 2}\n" for i in range(5)))
    result = runner.invoke(app, ["generate", "--config", str(write_config(tmp_path, config()))])
    assert result.exit_code == 2 and "only 5 rows" in one_paragraph_error(result.output)
    assert_nothing_written(tmp_path)


def test_without_an_atomic_exchange_a_crash_mid_commit_never_mixes_runs(tmp_path, monkeypatch):
    """Where renameat2 is missing the swap is two renames; a crash between them leaves the old run or nothing."""
    import os

    import synth.outputs as outputs

    out = tmp_path / "out"
    _stage(out, {"report.html": "old PASSED"}).commit()
    monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)
    _stage(out, {"report.html": "new"}).commit()
    assert (out / "report.html").read_text() == "new"
    real_replace, calls = os.replace, []

    def crash_on_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed between moving the old folder away and moving the new one in
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        _stage(out, {"report.html": "newer", "synthetic.csv": "x"}).commit()
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    assert not out.exists()  # neither a mix nor a half: the folder is absent until the next run
    nxt = StagedOutputs(out)
    assert nxt.cleaned and not [p for p in tmp_path.iterdir() if p.name.startswith(".synth-") and p != nxt.staging
                                and not p.name.startswith(".synth-lock")]
    nxt.abort()
