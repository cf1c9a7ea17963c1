"""The Ray engine on a real local Ray cluster: the same result.json as the local engine
through the CLI, and a worker killed mid-search retried to the same result.

Each test starts (and stops) a private local cluster of two CPUs, as
``execution: {engine: ray, num_cpus: 2}`` does; the two worker processes stand in for
nodes. Skipped when Ray is not installed (``pip install 'synth[ray]'``).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

ray = pytest.importorskip("ray")

from synth.cli.main import app  # noqa: E402
from synth.execution import use_engine  # noqa: E402
from synth.execution.ray_engine import RayEngine  # noqa: E402
from synth.neighbors.search import nearest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _metrics(path: Path) -> dict[str, dict]:
    result = json.loads(path.read_text())
    return {m["name"]: m for s in result["sections"] for m in s["metrics"]}


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.fixture
def shard_everything(monkeypatch):
    """Shard even the quickstart's small searches and bootstraps, and count what Ray ran."""
    monkeypatch.setattr("synth.neighbors.search._MIN_SHARD_QUERIES", 128)
    monkeypatch.setattr("synth.neighbors.search._CHUNK_QUERIES", 128)
    monkeypatch.setattr("synth.stats.bootstrap._MIN_SHARDED_WORK", 0)
    ran: list[str] = []
    original = RayEngine.map

    def counting_map(self, fn, shards, **kw):
        out = original(self, fn, shards, **kw)
        ran.extend(t.label for t in self.timings[-len(shards):])
        return out

    monkeypatch.setattr(RayEngine, "map", counting_map)
    return ran


def _compare_engines(tmp_path: Path, args: list[str], ran: list[str]) -> dict[str, dict]:
    """Run the CLI with ``args`` on each engine; assert every metric (value, interval, details)
    is equal and that Ray ran sharded searches and bootstraps. Returns the Ray run's manifest."""
    runs = {}
    for engine in ("local", "ray"):
        res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / engine), "--engine", engine])
        assert res.exit_code in (0, 1), res.output
        runs[engine] = _metrics(tmp_path / engine / "result.json")
    assert {"nearest-neighbour search", "bootstrap replicates"} <= set(ran)
    assert runs["local"].keys() == runs["ray"].keys() and len(runs["local"]) >= 8
    differ = [n for n in runs["local"] if not _same(runs["local"][n], runs["ray"][n])]
    assert not differ, f"metrics that differ between engines: {differ}"
    assert not ray.is_initialized()  # the run's private cluster is gone
    return json.loads((tmp_path / "ray" / "manifest.json").read_text())


def test_cli_audit_on_ray_gives_the_local_result(tmp_path: Path, shard_everything):
    """`synth audit --engine ray` (memorization: every DCR, copy, NNDR and NNAA number) equals
    `--engine local`, searches and bootstraps sharded over a real two-CPU local cluster."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from population import make_population

    pop = make_population(1400, seed=4)
    pop.iloc[1000:].to_csv(tmp_path / "syn.csv", index=False)
    pop.iloc[:700].to_csv(tmp_path / "train.csv", index=False)
    pop.iloc[700:1000].to_csv(tmp_path / "hold.csv", index=False)
    (tmp_path / "syn.csv").write_text((tmp_path / "syn.csv").read_text() + "\n".join(
        pop.iloc[:20].to_csv(index=False, header=False).splitlines()) + "\n")  # 20 copies: a partial leak
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"source": "unused", "target": "outcome"}, "audit": {"audits": ["memorization"]},
                                   "gates": ["privacy.dcr_share.upper_ci <= 0.6"], "execution": {"num_cpus": 2}}))
    manifest = _compare_engines(tmp_path, ["audit", "--real", str(tmp_path / "train.csv"), "--synthetic",
                                           str(tmp_path / "syn.csv"), "--holdout", str(tmp_path / "hold.csv"),
                                           "--config", str(cfg)], shard_everything)
    assert manifest["execution"]["engine"] == "ray" and manifest["execution"]["workers"] == 2
    assert [a["audit"] for a in manifest["audits"]] == ["memorization"]
    assert all(a["seconds"] > 0 and a["peak_rss_mib"] > 0 for a in manifest["audits"])
    # The shards ran in Ray workers, whose own peak memory is recorded beside the driver's.
    assert all(a["worker_peak_rss_mib"] > 0 for a in manifest["audits"])
    copies = _metrics(tmp_path / "ray" / "result.json")["privacy.exact_copy_rate"]
    assert copies["value"] > 0  # the planted copies are found on Ray too


@pytest.mark.slow
def test_quickstart_on_ray_gives_the_local_result(tmp_path: Path, shard_everything):
    """The quickstart, every audit, `synth generate --engine ray` against `--engine local`."""
    cfg = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
    cfg["execution"] = {"num_cpus": 2}
    cfg["output"] = {"dir": "unused", "formats": ["csv"], "report": False}
    path = tmp_path / "qs.yaml"
    path.write_text(yaml.safe_dump(cfg))
    manifest = _compare_engines(tmp_path, ["generate", "--config", str(path)], shard_everything)
    assert len(manifest["audits"]) >= 8


def _shard_workers() -> list[int]:
    """PIDs of Ray workers executing a shard now (Ray titles a busy worker after its task)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"ray::_run_shard" in cmd:
                pids.append(int(entry))
    return pids


@pytest.mark.slow
def test_killed_worker_is_retried_with_the_same_result(monkeypatch):
    monkeypatch.setattr("synth.neighbors.search._MIN_SHARD_QUERIES", 256)
    monkeypatch.setattr("synth.neighbors.search._CHUNK_QUERIES", 256)
    rng = np.random.default_rng(5)
    ref = rng.normal(size=(20_000, 8))
    queries = rng.normal(size=(6_000, 8))
    local = nearest(queries, ref, 2)
    killed: list[int] = []
    seen: set[int] = set()
    stop = threading.Event()

    def killer() -> None:
        while not stop.is_set():
            busy = _shard_workers()
            seen.update(busy)
            if busy and not killed:
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.01)

    engine = RayEngine(num_cpus=2)
    try:
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        with use_engine(engine):
            sharded = nearest(queries, ref, 2)
        stop.set()
        thread.join()
        n_shards = len(engine.timings)
    finally:
        engine.close()
    assert killed, "no shard was seen running, so none was killed"
    assert n_shards == 8  # every shard returned once, the killed one after its retry
    np.testing.assert_array_equal(sharded[0], local[0])
    np.testing.assert_array_equal(sharded[1], local[1])
