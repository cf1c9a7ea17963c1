"""Thread pools sized to the CPUs that are free: the estimate, the runner's use of it, parallel tasks."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from synth import cpus
from synth.audits.base import Audit, AuditInputs, AuditSection
from synth.audits.runner import run_audits


def _fake_stat(monkeypatch, before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> None:
    samples = iter([before, after])
    monkeypatch.setattr(cpus, "_cpu_times", lambda mine: next(samples))
    monkeypatch.setattr(cpus.time, "sleep", lambda s: None)
    monkeypatch.setattr(cpus, "usable_cores", lambda: 2)


@pytest.mark.parametrize(("busy_share", "expected"), [
    ((0.0, 0.0), 2),  # an idle machine: both cores
    ((1.0, 0.2), 1),  # one core held by someone else, the other mostly idle
    ((1.0, 0.5), 1),  # half a core free is not a core
    ((1.0, 1.0), 1),  # everything busy: still one thread, never none
    ((0.1, 0.1), 2),  # a little background noise does not cost a core
])
def test_free_cpus_counts_the_idle_share_of_each_usable_cpu(monkeypatch, busy_share, expected):
    before = {0: (1000, 1000), 1: (1000, 1000)}
    after = {c: (1000 + round(100 * b), 1000 + round(100 * (1 - b))) for c, b in enumerate(busy_share)}
    _fake_stat(monkeypatch, before, after)
    assert cpus.free_cpus() == expected


def test_free_cpus_on_this_machine_is_within_the_affinity_mask():
    n = cpus.free_cpus(0.05)
    assert 1 <= n <= cpus.usable_cores()


class _Probe(Audit):
    """Records the threads the runner lets it use."""

    name, family, title = "probe", "fidelity", "probe"
    seen: dict[str, int] = {}

    def run(self, inputs: AuditInputs) -> AuditSection:
        _Probe.seen["n_jobs"] = inputs.n_jobs
        native = [p["num_threads"] for p in threadpool_info() if p["user_api"] in ("openmp", "blas")]
        _Probe.seen["native_max"] = max(native) if native else 1
        return AuditSection(audit=self.name, family=self.family, title=self.title)


def test_runner_lowers_threads_to_the_free_cpus(monkeypatch, known, schema):
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime the tree models use)

    monkeypatch.setattr("synth.audits.runner.free_cpus", lambda: 1)
    inputs = AuditInputs(known["train"], known["holdout"], known["fresh"], schema, n_jobs=8)
    run_audits([_Probe()], inputs)
    assert _Probe.seen == {"n_jobs": 1, "native_max": 1}
    monkeypatch.setattr("synth.audits.runner.free_cpus", lambda: 2)
    run_audits([_Probe()], AuditInputs(known["train"], known["holdout"], known["fresh"], schema, n_jobs=2))
    assert _Probe.seen == {"n_jobs": 2, "native_max": 2}  # the native pools follow
    run_audits([_Probe()], AuditInputs(known["train"], known["holdout"], known["fresh"], schema, n_jobs=1))
    assert _Probe.seen["n_jobs"] == 1  # never more than the caller allows


def test_map_single_threaded_keeps_order_runs_side_by_side_and_raises():
    seen_threads = set()
    barrier = threading.Barrier(2, timeout=30)

    def task(x: int) -> int:
        seen_threads.add(threading.get_ident())
        if x < 2:
            barrier.wait()  # both first tasks must be running at once
        native = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]
        assert all(n == 1 for n in native)
        return x * x

    assert cpus.map_single_threaded(task, range(6), n_jobs=2) == [x * x for x in range(6)]
    assert len(seen_threads) == 2
    with pytest.raises(ValueError, match="bad"):
        cpus.map_single_threaded(lambda x: (_ for _ in ()).throw(ValueError("bad")) if x == 3 else x, range(5), 2)
    assert cpus.map_single_threaded(np.sqrt, [4.0, 9.0], n_jobs=1) == [2.0, 3.0]
