"""The worked examples in CONTRIBUTING.md run as written.

Each Python block becomes a module of a temporary package; each TOML entry-point block
becomes that package's ``entry_points.txt`` (a ``.dist-info`` folder on ``sys.path`` is
what ``pip install`` leaves, and what :mod:`importlib.metadata` reads). A subprocess with
that folder on its path then lists the plugins and runs ``synth.generate`` with them, so
this process's plugin cache is left alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", CONTRIBUTING.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plugins")
    (root / "my_plugins").mkdir()
    (root / "my_plugins" / "__init__.py").write_text("")
    python = _blocks("python")
    assert len(python) == 2, "CONTRIBUTING.md should hold one generator and one audit example"
    for code in python:
        first = code.splitlines()[0]
        m = re.fullmatch(r"# (my_plugins/\w+\.py)", first)
        assert m, f"each example starts with its file name, got {first!r}"
        (root / m.group(1)).write_text(code)
    groups = []
    for block in _blocks("toml"):
        block = re.sub(r'\[project\.entry-points\."([\w.]+)"\]', r"[\1]", block)
        groups.append(re.sub(r'= "([^"]+)"', r"= \1", block))  # TOML strings -> INI values
    info = root / "my_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("\n".join(groups))
    return root


def _run(plugin_path: Path, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=600)


def test_examples_register_and_run_through_generate(plugin_path, tmp_path):
    config = {
        "seed": 3,
        "data": {"source": "builtin:actg175", "target": "cens"},
        "generator": {"name": "marginals", "params": {"replace": True}},
        "sample": {"rows": 400},
        "audit": {"audits": ["missingness", "memorization"], "params": {"missingness": {"min_rows": 5}}},
        "gates": ["fidelity.missing_share.upper_ci <= 0.2"],
        "output": {"dir": str(tmp_path / "out"), "formats": ["csv"]},
    }
    done = _run(plugin_path, f"""
        import json, synth
        from synth.registry import audit_names, generator_names
        assert "marginals" in generator_names() and "missingness" in audit_names()
        run = synth.generate({config!r})
        m = run.result.metrics()["fidelity.missing_share"]
        print(json.dumps({{"passed": run.passed, "value": m.value, "low": m.ci.low, "high": m.ci.high,
                          "rows": len(run.synthetic), "gates": [g.passed for g in run.result.gates],
                          "memorization_ran": "privacy.dcr_share" in run.result.metrics()}}))
    """)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["rows"] == 400
    # ACTG 175 has missing cells only in cd496 (about 40 % of its rows): about 1.5 % overall
    assert 0.005 < out["value"] < 0.05 and out["low"] <= out["value"] <= out["high"]
    assert out["gates"] == [True] and out["passed"] and out["memorization_ran"]


def test_example_parameters_are_strict(plugin_path):
    done = _run(plugin_path, """
        from synth.audits.runner import build_audits
        from synth.errors import ConfigError
        from synth.registry import generator_class
        for attempt in (lambda: build_audits(["missingness"], {"missingness": {"min_row": 5}}),
                        lambda: generator_class("marginals")(seed=0, replace_=True)):
            try:
                attempt()
            except ConfigError as exc:
                print(exc)
            else:
                raise SystemExit("no error")
    """)
    assert done.returncode == 0, done.stderr
    assert "Did you mean 'min_rows'" in done.stdout
    assert "unknown parameter 'replace_' for generator 'marginals'" in done.stdout
