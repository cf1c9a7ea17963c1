"""Shared pieces of the hostile-input tests: a small table, configs, and the "nothing written" check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from population import make_population

SYNTH = str(Path(sys.executable).parent / "synth")  # the console script of this environment


def write_table(folder: Path, n: int = 120, name: str = "cohort.csv", seed: int = 3) -> Path:
    """A small population table as CSV (or Parquet, by the name's extension) in ``folder``."""
    path = folder / name
    frame = make_population(n, seed=seed)
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def config(source: str = "cohort.csv", **sections) -> dict:
    """A quick run config: tiny audit set, one cheap gate, output into ``out`` beside the config."""
    cfg = {
        "seed": 1,
        "data": {"source": source, "target": "outcome"},
        "audit": {"audits": ["fidelity_columns"], "params": {"fidelity_columns": {"n_boot": 10}}},
        "gates": ["fidelity.ks_mean <= 1"],
        "output": {"dir": "out"},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def write_config(folder: Path, cfg: dict | str, name: str = "run.yaml") -> Path:
    path = folder / name
    path.write_text(cfg if isinstance(cfg, str) else yaml.safe_dump(cfg), encoding="utf-8")
    return path


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120, env: dict | None = None):
    """Run the real `synth` console script; returns the CompletedProcess (text, stdout+stderr merged)."""
    return subprocess.run([SYNTH, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def assert_nothing_written(folder: Path, out: str = "out") -> None:
    """No output folder and no staging leftovers in ``folder``."""
    assert not (folder / out).exists(), f"{folder / out} was written"
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith((".synth-tmp", ".synth-old", ".synth-lock"))]
    assert not leftovers, leftovers


def one_paragraph_error(text: str) -> str:
    """The CLI's error text with whitespace normalised; asserts there is no traceback."""
    assert "Traceback" not in text, text
    return " ".join(text.split())
