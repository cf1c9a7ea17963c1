"""Same data and seed, separate processes: identical anonymeter results, details included.

anonymeter orders univariate singling-out queries by a polars ``group_by`` (hash order,
randomised per process) and draws its linkability baseline unseeded; the audit pins both
(:mod:`synth.audits.privacy.anonymeter.determinism`). Each run is a fresh interpreter, so
the hash seeds differ as they do between two `synth generate` runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl

from synth.audits.privacy.anonymeter.determinism import anonymeter_deterministic

TESTS = Path(__file__).resolve().parent

RUN = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from population import make_population, population_schema
    from synth.audits.base import AuditInputs
    from synth.audits.privacy.anonymeter.audit import AnonymeterAudit

    real = make_population(900, seed=1)
    real["race"] = real["race"].where(real.index % 97 != 0, "level-" + real.index.astype(str))  # rare values
    train, holdout = real.iloc[:600].reset_index(drop=True), real.iloc[600:].reset_index(drop=True)
    synthetic = make_population(600, seed=2)
    synthetic.loc[:5, "race"] = train.loc[:5, "race"]
    inputs = AuditInputs(train=train, holdout=holdout, synthetic=synthetic, schema=population_schema(), seed=11)
    section = AnonymeterAudit(n_attacks=150).run(inputs).to_dict()
    section.pop("seconds")
    print(json.dumps(section, sort_keys=True))
""")


def _run_once() -> dict:
    done = subprocess.run([sys.executable, "-c", RUN.format(tests=str(TESTS))], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_anonymeter_section_is_identical_across_processes():
    first, second = _run_once(), _run_once()
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
