"""Benchmark: the full audit on the local engine and on a Ray cluster, same tables and seed.

Prints, for ``--rows`` population rows (default 200,000; split 75/25, a disjoint
"synthetic" draw as large as the training part, as in bench_full_audit.py):

1. per-audit seconds on each engine, the Ray/local ratio (the overhead bound: at most 1.3x
   on a 2-core machine) and the load average with each line;
2. whether every metric (value, interval, details) is identical on both engines;
3. a scaling estimate for ``--target-rows`` (default 10M) on 8 and 32 nodes, from the
   shard times Ray measured, with the model written out.

    .venv/bin/python bench/bench_ray.py                  # 200k rows, a private 2-CPU Ray cluster
    .venv/bin/python bench/bench_ray.py --rows 20000 --audits memorization
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _run(engine, audits, inputs):
    from synth.audits.runner import run_audits
    from synth.execution import use_engine

    out, cpu0, t0 = [], _cpu(), time.perf_counter()
    with use_engine(engine):
        for audit in audits:
            (section,) = run_audits([audit], inputs)
            out.append(section)
            print(f"  {engine.name:<6} {section.audit:<20} {section.seconds:8.1f} s   load {_load()}"
                  + (f"   ERROR {section.error[:80]}" if section.error else ""), flush=True)
    return out, time.perf_counter() - t0, _cpu() - cpu0


def _table_audits(names):
    """The audits for table data, as the pipeline picks them (the image audits do not apply)."""
    from synth.audits.runner import build_audits, split_by_kind
    from synth.schema import DataKind

    return split_by_kind(build_audits(names, None, source="bench"), DataKind.TABLE)[0]


def _metric_dicts(sections) -> dict[str, str]:
    return {m.name: json.dumps(m.to_dict(), sort_keys=True, default=str) for s in sections for m in s.metrics}


def _scaling(timings, caps: set[int], target_rows: int, rows: int, driver_s: float, nodes: list[int],
             cores_per_node: int, bandwidth_gbit: float) -> None:
    """The scaling model, its inputs, and its estimates (printed)."""
    s = target_rows / rows
    quad, lin, boot = 0.0, 0.0, 0.0
    attacks: list[float] = []
    seen: set[tuple] = set()
    broadcast_bytes = 0.0
    for t in timings:
        if t.label == "nearest-neighbour search":
            key = (t.work["queries"], t.work["reference_rows"], t.work["dims"])
            if key not in seen:
                seen.add(key)
                broadcast_bytes += t.work["reference_rows"] * t.work["dims"] * 8 * s
            if t.work["queries"] in caps:
                lin += t.seconds  # a seeded cap on the queries (e.g. max_query_rows): only n_r grows
            else:
                quad += t.seconds  # every row of a table queries: n_q and n_r both grow
        elif t.label == "bootstrap replicates":
            boot += t.seconds
        else:
            attacks.append(t.seconds)  # one task per attack, each linear in the synthetic rows
    longest = max(attacks, default=0.0)
    work_target = quad * s * s + lin * s + boot * s * math.log(target_rows) / math.log(rows)
    driver_target = driver_s * s
    print(f"\nScaling model for {target_rows:,} rows (s = {s:g} x the measured {rows:,}), P nodes of c cores:")
    print("  T(P) = D*s + A*s + (Q*s^2 + L*s + B*s*log(N')/log(N)) / (P*c) + P*R*s/bw")
    print(f"  D = {driver_s:.1f} s  driver work outside the shards (encoding, model fits, intervals), assumed linear")
    print(f"  A = {longest:.1f} s  the longest anonymeter attack task (one task per attack: not split further)")
    print(f"  Q = {quad:.1f} CPU-s  search shards whose queries are whole tables (n_q and n_r grow: s^2)")
    print(f"  L = {lin:.1f} CPU-s  search shards with capped queries {sorted(caps)} (only n_r grows: s)")
    print(f"  B = {boot:.1f} CPU-s  bootstrap-replicate shards (n log n per replicate)")
    print(f"  c = {cores_per_node} cores per node, each as fast as one core measured here (under the load printed); "
          f"R*s = {broadcast_bytes / 1e9:.2f} GB of reference tables put in the object store; bw = {bandwidth_gbit:g} "
          "Gbit/s from the driver, each reference sent once to each node")
    print(f"  at {target_rows:,} rows: sharded work {work_target / 3600:.1f} CPU-hours, driver {driver_target / 60:.1f} min, "
          f"longest attack {longest * s / 60:.1f} min")
    for p in nodes:
        t = (driver_target + longest * s + work_target / (p * cores_per_node)
             + p * broadcast_bytes * 8 / (bandwidth_gbit * 1e9))
        print(f"  {p:>3} nodes: {t / 60:7.1f} min")
    print(f"  one core: {(driver_target + longest * s + work_target) / 3600:7.1f} h")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--audits", nargs="+", default=None)
    ap.add_argument("--num-cpus", type=int, default=None, help="CPUs of the private Ray cluster (default: all)")
    ap.add_argument("--target-rows", type=int, default=10_000_000)
    ap.add_argument("--cores-per-node", type=int, default=16)
    ap.add_argument("--bandwidth-gbit", type=float, default=10.0)
    args = ap.parse_args()

    from bench_full_audit import _tables

    from synth.audits.base import AuditInputs
    from synth.data.split import split_train_holdout
    from synth.execution import LocalEngine, open_engine

    real, synthetic, schema = _tables("population", args.rows, args.seed)
    train, holdout = split_train_holdout(real, schema, holdout_fraction=0.25, seed=args.seed)
    synthetic = synthetic.iloc[: len(train)]
    inputs = AuditInputs(train=train, holdout=holdout, synthetic=synthetic, schema=schema, seed=args.seed)
    print(f"Ray vs local: {len(train)} train / {len(holdout)} holdout / {len(synthetic)} synthetic rows; "
          f"load before {_load()}", flush=True)

    # Warm-up (imports, numba compilation, in this process and in each Ray worker) on a small
    # table large enough to be sharded, so neither engine pays it in the timings.
    w_real, w_syn, _ = _tables("population", 12_000, args.seed + 1)
    w_train, w_hold = split_train_holdout(w_real, schema, holdout_fraction=0.25, seed=args.seed)
    warm = AuditInputs(train=w_train, holdout=w_hold, synthetic=w_syn.iloc[: len(w_train)], schema=schema)
    with contextlib.redirect_stdout(io.StringIO()):
        _run(LocalEngine(), _table_audits(args.audits), warm)

    local_sections, local_s, local_cpu = _run(LocalEngine(), _table_audits(args.audits), inputs)
    t0 = time.perf_counter()
    ray_engine = open_engine("ray", None, args.num_cpus)
    start_s = time.perf_counter() - t0
    print(f"  Ray cluster started in {start_s:.1f} s: {ray_engine.describe()}", flush=True)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        _run(ray_engine, _table_audits(args.audits), warm)
    warm_s = time.perf_counter() - t0
    ray_engine.timings.clear()
    print(f"  Ray workers warmed up in {warm_s:.1f} s (imports, numba; once per cluster)", flush=True)
    in_maps = [0.0]
    plain_map = ray_engine.map

    def timed_map(*a, **kw):
        t = time.perf_counter()
        try:
            return plain_map(*a, **kw)
        finally:
            in_maps[0] += time.perf_counter() - t

    ray_engine.map = timed_map  # the driver's own time is the run's wall time outside the maps
    audits = _table_audits(args.audits)
    ray_sections, ray_s, ray_cpu = _run(ray_engine, audits, inputs)
    timings = list(ray_engine.timings)
    ray_engine.close()

    print(f"\n{'audit':<20} {'local s':>9} {'ray s':>9} {'ratio':>7}")
    for a, b in zip(local_sections, ray_sections, strict=True):
        print(f"{a.audit:<20} {a.seconds:>9.1f} {b.seconds:>9.1f} {b.seconds / max(a.seconds, 1e-9):>7.2f}")
    print(f"{'total':<20} {local_s:>9.1f} {ray_s:>9.1f} {ray_s / local_s:>7.2f}   "
          f"(+{start_s:.1f} s to start the cluster, {warm_s:.1f} s to warm it up; driver CPU-s local {local_cpu:.0f}, ray {ray_cpu:.0f}); "
          f"load after {_load()}")
    a, b = _metric_dicts(local_sections), _metric_dicts(ray_sections)
    differ = sorted(n for n in a.keys() | b.keys() if a.get(n) != b.get(n))
    print(f"metrics identical on both engines: {not differ} ({len(a)} metrics)"
          + (f"; differ: {', '.join(differ)}" if differ else ""))
    shard_s = sum(t.seconds for t in timings)
    print(f"Ray ran {len(timings)} shards, {shard_s:.1f} worker-seconds in all")
    driver_s = max(0.0, ray_s - in_maps[0])
    # Query caps: every audit parameter that bounds rows (max_query_rows, max_eval_rows, ...).
    caps = {v for a in audits for k, v in a.params.items() if k.startswith("max_") and isinstance(v, int)}
    _scaling(timings, caps, args.target_rows, args.rows, driver_s, [8, 32], args.cores_per_node, args.bandwidth_gbit)


if __name__ == "__main__":
    main()
