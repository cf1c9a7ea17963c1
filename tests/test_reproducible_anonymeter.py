"""Same data and seed, separate processes: identical anonymeter results, details included.

anonymeter orders univariate singling-out queries by a polars ``group_by`` (hash order,
randomised per process) and draws its linkability baseline unseeded; the audit pins both
(:mod:`synth.audits.privacy.anonymeter.determinism`). The two runs are in different
processes (the test's own and a fresh interpreter), so the hash seeds differ as they do
between two `synth generate` runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from synth.audits.privacy.anonymeter.determinism import anonymeter_deterministic

TESTS = Path(__file__).resolve().parent

RUN = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from population import make_population, population_schema
    from synth.audits.base import AuditInputs
    from synth.audits.privacy.anonymeter.audit import AnonymeterAudit

    real = make_population(500, seed=1)
    real["race"] = real["race"].where(real.index % 47 != 0, "level-" + real.index.astype(str))  # rare values
    train, holdout = real.iloc[:330].reset_index(drop=True), real.iloc[330:].reset_index(drop=True)
    synthetic = make_population(330, seed=2)
    synthetic.loc[:5, "race"] = train.loc[:5, "race"]
    inputs = AuditInputs(train=train, holdout=holdout, synthetic=synthetic, schema=population_schema(), seed=11)
    # engine="anonymeter": the package's own inference attack, no numba compile in each fresh process
    section = AnonymeterAudit(n_attacks=100, engine="anonymeter").run(inputs).to_dict()
    section.pop("seconds")
    print(json.dumps(section, sort_keys=True))
""")


def _run_once() -> dict:
    done = subprocess.run([sys.executable, "-c", RUN.format(tests=str(TESTS))], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_here() -> dict:
    """The same script in this (test worker's) process, whose hash seeds differ from a fresh one's."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(RUN.format(tests=str(TESTS)), {"__name__": "anonymeter_run"})
    return json.loads(printed.getvalue().strip().splitlines()[-1])


@pytest.mark.slow  # a fresh interpreter runs the whole anonymeter audit; in-process: test_patches_are_undone_and_seeded
def test_anonymeter_section_is_identical_across_processes():
    first, second = _run_here(), _run_once()
    details = {m["name"]: m["details"] for m in first["metrics"]}
    assert "privacy.singling_out_risk" in details and "privacy.linkability_risk" in details
    assert first == second


def test_patches_are_undone_and_seeded():
    original_group_by, original_unique = pl.DataFrame.group_by, pl.Series.unique
    from anonymeter.evaluators import linkability_evaluator

    with anonymeter_deterministic(5):
        a = linkability_evaluator.np.random.default_rng().integers(0, 10**9, 3)
        b = linkability_evaluator.np.random.default_rng().integers(0, 10**9, 3)
        frame = pl.DataFrame({"x": ["b", "a", "c", "a"]})
        assert frame.group_by("x").len()["x"].to_list() == ["b", "a", "c"]  # first-appearance order
        assert frame["x"].unique().to_list() == ["b", "a", "c"]
    with anonymeter_deterministic(5):
        assert (linkability_evaluator.np.random.default_rng().integers(0, 10**9, 3) == a).all()
    assert not (a == b).all()  # each unseeded call its own stream
    assert pl.DataFrame.group_by is original_group_by and pl.Series.unique is original_unique
    assert linkability_evaluator.np is np


def _timeless(x):
    """A result.json without what legitimately changes between runs (clock times, durations, the manifest)."""
    if isinstance(x, dict):
        return {k: _timeless(v) for k, v in x.items()
                if k not in ("created_utc", "seconds", "timings_s", "started_utc", "finished_utc", "manifest")}
    if isinstance(x, list):
        return [_timeless(v) for v in x]
    return x


@pytest.mark.slow
def test_generate_twice_in_separate_processes_gives_the_same_result(tmp_path):
    """The whole pipeline, default audits: result.json equal but for clock times; synthetic data byte-identical."""
    from population import make_population

    make_population(400, seed=4).to_csv(tmp_path / "cohort.csv", index=False)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(
        {"seed": 9, "data": {"source": "cohort.csv", "target": "outcome", "sensitive": ["sex", "race"]}}))
    outputs = []
    for name in ("a", "b"):
        done = subprocess.run([str(Path(sys.executable).parent / "synth"), "generate", "--config", "run.yaml",
                               "--out", name], cwd=tmp_path, capture_output=True, text=True, timeout=1800)
        assert done.returncode in (0, 1), done.stderr
        outputs.append(tmp_path / name)
    first, second = (json.loads((o / "result.json").read_text()) for o in outputs)
    assert _timeless(first) == _timeless(second)
    assert (outputs[0] / "synthetic.csv").read_bytes() == (outputs[1] / "synthetic.csv").read_bytes()
