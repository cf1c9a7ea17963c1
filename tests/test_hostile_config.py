"""Hostile configs (issue 8, items 8, 11, 12, 13): refused quickly, exit 2, one paragraph naming file and key."""

from __future__ import annotations

import os
import time

import pytest
from hostile import assert_nothing_written, config, one_paragraph_error, run_cli, write_config, write_table
from typer.testing import CliRunner

from synth.cli.main import app
from synth.config import load_config
from synth.config.strict_yaml import MAX_CONFIG_BYTES
from synth.errors import ConfigError

runner = CliRunner()


def _generate(tmp_path, cfg):
    path = write_config(tmp_path, cfg)
    return runner.invoke(app, ["generate", "--config", str(path)])


def _user_error(result, tmp_path, *needles):
    assert result.exit_code == 2, result.output
    text = one_paragraph_error(result.output)
    for needle in needles:
        assert needle in text, text
    assert_nothing_written(tmp_path)
    return text


# -- item 12: bounded reading -------------------------------------------------------------

def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]  # 10**10 leaves
    lines += ["data: {source: cohort.csv, target: *a9}"]
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="aliases"):
        load_config(write_config(tmp_path, "\n".join(lines)))
    assert time.perf_counter() - started < 5


def test_recursive_alias_and_deep_nesting_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="recursive|refers to a node"):
        load_config(write_config(tmp_path, "data: &d {source: x.csv, columns: {c: *d}}\n"))
    with pytest.raises(ConfigError, match="nested"):
        load_config(write_config(tmp_path, "data: " + "[" * 200 + "]" * 200 + "\n"))


def test_oversized_config_is_refused_without_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(ConfigError, match="bytes"):
        load_config(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_config_that_is_a_fifo_or_a_device_is_refused(tmp_path):
    fifo = tmp_path / "run.yaml"
    os.mkfifo(fifo)
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config("/dev/zero")
    assert time.perf_counter() - started < 5


# -- item 8: duplicate keys, min > max ----------------------------------------------------

def test_duplicate_yaml_key_is_an_error_naming_it_and_its_lines(tmp_path):
    text = "seed: 1\ndata:\n  source: a.csv\n  target: outcome\n  target: sex\n"
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, text))
    msg = str(err.value)
    assert "run.yaml" in msg and "'target' appears twice" in msg and "line 4" in msg and "line 5" in msg


def test_merge_keys_are_not_duplicates(tmp_path):
    text = "base: &b {source: a.csv, target: x}\ndata:\n  <<: *b\n  target: outcome\n"
    with pytest.raises(ConfigError, match="unknown key 'base'"):  # parsed fine; 'base' is not a section
        load_config(write_config(tmp_path, text))


def test_min_above_max_is_a_config_error(tmp_path):
    write_table(tmp_path)
    cfg = config(data={"columns": {"age": {"min": 60, "max": 20}}})
    _user_error(_generate(tmp_path, cfg), tmp_path, "run.yaml", "data.columns.age", "min (60) is greater than max (20)")


# -- item 11: seeds, huge row counts, markup in user text -------------------------------

@pytest.mark.parametrize("seed", [-1, 2**32, 10**30])
def test_seed_out_of_range_is_a_config_error(tmp_path, seed):
    write_table(tmp_path)
    _user_error(_generate(tmp_path, config(seed=seed)), tmp_path, "run.yaml", "'seed'")


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_audit_seed_out_of_range_is_a_user_error(tmp_path, seed):
    real = write_table(tmp_path, n=40, name="real.csv")
    result = runner.invoke(app, ["audit", "--real", str(real), "--synthetic", str(real), "--seed", seed,
                                 "--out", str(tmp_path / "out")])
    _user_error(result, tmp_path, "--seed", "2**32 - 1")


def test_split_seed_out_of_range_is_a_config_error(tmp_path):
    write_table(tmp_path)
    _user_error(_generate(tmp_path, config(data={"split": {"seed": -5}})), tmp_path, "data.split.seed")


def test_huge_sample_rows_is_refused_before_work(tmp_path):
    write_table(tmp_path)
    _user_error(_generate(tmp_path, config(sample={"rows": 10**12})), tmp_path, "sample.rows", "less than or equal")


def test_rich_markup_in_keys_prints_as_text(tmp_path):
    write_table(tmp_path)
    cfg = config()
    cfg["data"]["[/x]"] = 1
    _user_error(_generate(tmp_path, cfg), tmp_path, "unknown key 'data.[/x]'")
    cfg = config(data={"target": "[bold]out[/x]"})
    _user_error(_generate(tmp_path, cfg), tmp_path, "Column '[bold]out[/x]'")


def test_env_var_errors_name_the_key(tmp_path):
    write_table(tmp_path)
    cfg = config(data={"source": "${SYNTH_TEST_UNSET_VARIABLE}/cohort.csv"})
    _user_error(_generate(tmp_path, cfg), tmp_path, "data.source", "SYNTH_TEST_UNSET_VARIABLE")


# -- item 13: `synth audit --config` without data, empty paths ---------------------------

def test_audit_config_needs_no_data_section(tmp_path):
    real = write_table(tmp_path, n=80, name="real.csv", seed=1)
    hold = write_table(tmp_path, n=40, name="hold.csv", seed=2)
    syn = write_table(tmp_path, n=80, name="syn.csv", seed=4)
    cfg = write_config(tmp_path, {"audit": {"audits": ["fidelity_columns"]}, "gates": ["fidelity.ks_mean <= 1"]})
    result = runner.invoke(app, ["audit", "--real", str(real), "--holdout", str(hold), "--synthetic", str(syn),
                                 "--config", str(cfg), "--target", "outcome", "--out", str(tmp_path / "a[/x]")])
    assert result.exit_code == 0, result.output  # markup in the output path prints as text after the outputs exist
    assert (tmp_path / "a[/x]" / "result.json").is_file() and "a[/x]" in result.output


@pytest.mark.parametrize("command", ["generate", "audit", "report", "mimic"])
def test_empty_out_is_an_error_not_the_current_folder(tmp_path, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_table(tmp_path)
    cfg = write_config(tmp_path, config())
    args = {
        "generate": ["generate", "--config", str(cfg), "--out", ""],
        "audit": ["audit", "--real", "cohort.csv", "--synthetic", "cohort.csv", "--out", ""],
        "report": ["report", "result.json", "--out", ""],
        "mimic": ["data", "mimic-iv", "--root", str(tmp_path), "--out", ""],
    }[command]
    (tmp_path / "result.json").write_text("{}")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "--out is empty" in one_paragraph_error(result.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_real_cli_exit_codes_for_config_mistakes(tmp_path):
    """Through the installed console script: exit 2, one paragraph, nothing written."""
    write_table(tmp_path)
    bomb = write_config(tmp_path, "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)), "bomb.yaml")
    dup = write_config(tmp_path, "data: {source: cohort.csv}\ndata: {source: cohort.csv}\n", "dup.yaml")
    markup = write_config(tmp_path, config(seed="[/x]"), "markup.yaml")
    for path, needle in ((bomb, "aliases"), (dup, "appears twice"), (markup, "[/x]"), ("/dev/zero", "regular file")):
        # config mistakes are found before the pipeline's heavy imports, so each run takes about a second
        proc = run_cli("generate", "--config", str(path), cwd=tmp_path, timeout=60)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert needle in one_paragraph_error(proc.stderr)
    assert_nothing_written(tmp_path)
