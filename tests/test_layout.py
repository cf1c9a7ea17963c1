"""The layout's import rules, checked by reading every module's imports (no execution).

- no module under generators/ imports synth.audits (a generator never depends on an audit);
- no module under audits/ imports a concrete generator (only the contract, generators/base.py);
- audits/ holds only the contract, the runner and the parameter checks at top level;
- the core (synth/) imports no audit family and no concrete generator.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_generators_never_import_audits():
    offenders = {
        str(p.relative_to(ROOT)): sorted(i for i in _imports(p) if i == "synth.audits" or i.startswith("synth.audits."))
        for p in _modules("generators")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_audits_import_only_the_generator_contract():
    allowed = {"synth.generators", "synth.generators.base"}
    allowed |= {f"synth.generators.base.{n}" for n in ("Generator", "PrivacyGuarantee", "Condition", "GeneratorParams",
                                                                 "DiffusionInternals")}
    offenders = {
        str(p.relative_to(ROOT)): sorted(
            i for i in _imports(p) if (i == "synth.generators" or i.startswith("synth.generators.")) and i not in allowed
        )
        for p in _modules("audits")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_core_numerics_import_no_plugins():
    for folder in ("synth/stats", "synth/neighbors"):
        for p in _modules(folder):
            bad = [i for i in _imports(p) if i.startswith(("synth.audits", "synth.generators", "synth.reports"))]
            assert not bad, f"{p.relative_to(ROOT)} imports {bad}"


def test_audits_top_level_holds_only_the_contract_runner_and_checks():
    top = sorted(p.name for p in (ROOT / "audits").glob("*.py"))
    assert top == ["__init__.py", "base.py", "param_checks.py", "runner.py"]


def test_the_rule_checker_sees_a_violation(tmp_path):
    # the checker itself must be able to fail
    bad = tmp_path / "bad.py"
    bad.write_text("from synth.audits.privacy.dcr import dcr_share\nimport synth.generators.sdv_ctgan\n")
    assert {"synth.audits.privacy.dcr", "synth.generators.sdv_ctgan"} <= _imports(bad)
