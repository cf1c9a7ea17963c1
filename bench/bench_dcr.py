"""Benchmark: synth's DCR share against SDMetrics' DCROverfittingProtection on real data.

Data: the NIH ChestX-ray14 metadata table (see bench/nih_table.py), modelled columns only.
For each size n, a seeded shuffle gives disjoint ``train`` (n rows), ``synthetic`` (n other
real rows, standing in for a generator's output) and ``holdout`` (n rows, or all that
remain when the table runs short). Three methods run on the same rows:

- ``synth``: :func:`synth.audits.privacy.dcr.dcr_share` (mixed-type euclidean, equal-size share),
  including the encoding;
- ``synth-sdm-def``: :func:`synth.audits.privacy.dcr.dcr_share_sdmetrics_definition` (SDMetrics'
  own distance and rule, by exact blocked search);
- ``sdmetrics``: ``DCROverfittingProtection.compute_breakdown`` (SDMetrics 0.32, no
  subsampling).

Each run is a fresh subprocess, so its timing and memory are its own. Memory is the
growth of the process's peak resident set size (``ru_maxrss``) from just before the
computation (data loaded, libraries imported) to just after: it counts torch and pandas
allocations alike, which tracemalloc would not. A run that exceeds ``--timeout`` is
killed and printed as "did not finish in T s" (its ratio is then a lower bound).

Usage::

    .venv/bin/python bench/bench_dcr.py --sizes 2000 10000 --timeout 600
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nih_table import load_nih_table  # noqa: E402

METHODS = ("synth", "synth-sdm-def", "sdmetrics")


def _split(n: int, seed: int):
    frame, schema = load_nih_table()
    modelled = schema.modelled()
    frame = frame[modelled.names]
    order = np.random.default_rng(seed).permutation(len(frame))
    n_hold = min(n, len(frame) - 2 * n)
    if n_hold < 2:
        sys.exit(f"--sizes {n}: the table has {len(frame)} rows, too few for 2 x {n} rows plus a holdout.")
    take = lambda a, b: frame.iloc[order[a:b]].reset_index(drop=True)  # noqa: E731
    return take(0, n), take(n, 2 * n), take(2 * n, 2 * n + n_hold), modelled


def _sdmetrics_metadata(schema) -> dict:
    kinds = {}
    for c in schema.columns:
        kinds[c.name] = {"sdtype": "numerical" if c.is_numeric else "categorical"}
    return {"columns": kinds}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def worker(method: str, n: int, seed: int) -> dict:
    """Run one method once; returns seconds, memory and the share it found."""
    train, synthetic, holdout, schema = _split(n, seed)
    if method == "synth":
        from synth.audits.privacy.dcr import dcr_share
        from synth.neighbors.encoding import MixedEncoder
    elif method == "synth-sdm-def":
        from synth.audits.privacy.dcr import dcr_share_sdmetrics_definition
    else:
        from sdmetrics.single_table import DCROverfittingProtection
    before = _maxrss_mb()
    start = time.perf_counter()
    extra: dict = {}
    if method == "synth":
        enc = MixedEncoder(schema).fit(train)
        r = dcr_share(enc.transform(synthetic), enc.transform(train), enc.transform(holdout))
        value = r.value
        extra = {"raw_share": r.raw_share, "ties": r.ties, "ci": [r.ci.low, r.ci.high]}
    elif method == "synth-sdm-def":
        r = dcr_share_sdmetrics_definition(synthetic, train, holdout, schema)
        value = r.closer_to_training
        extra = {"n_outside_range": r.n_outside_range}
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = DCROverfittingProtection.compute_breakdown(
                real_training_data=train, synthetic_data=synthetic, real_validation_data=holdout,
                metadata=_sdmetrics_metadata(schema), table_name=None,
            )
        value = out["synthetic_data_percentages"]["closer_to_training"]
    seconds = time.perf_counter() - start
    return {
        "method": method, "n_train": len(train), "n_synthetic": len(synthetic), "n_holdout": len(holdout),
        "seconds": seconds, "peak_rss_mb": _maxrss_mb(), "rss_growth_mb": _maxrss_mb() - before,
        "value": value, **extra,
    }


def _spawn(method: str, n: int, seed: int, timeout: float) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", method, "--n", str(n), "--seed", str(seed)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        sys.exit(f"{method} at n={n} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 50000], help="training-set sizes")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per run (each method, each size)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.seed)))
        return

    load_nih_table()  # fail early, with the message, when the data is absent
    print(f"DCR share benchmark on the NIH ChestX-ray14 table; timeout {args.timeout:.0f} s per run; "
          f"each run in its own process")
    header = (f"{'n_train':>8} {'n_hold':>7} {'method':<14} {'seconds':>10} {'rss+MB':>8} {'peakMB':>8} "
              f"{'share':>7}  notes")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        results: dict[str, dict | None] = {}
        for method in args.methods:
            r = _spawn(method, n, args.seed, args.timeout)
            results[method] = r
            if r is None:
                print(f"{n:>8} {'':>7} {method:<14} did not finish in {args.timeout:.0f} s")
                continue
            notes = ""
            if method == "synth":
                notes = f"CI [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}], raw {r['raw_share']:.3f}, ties {r['ties']}"
            elif method == "synth-sdm-def":
                notes = f"rows outside ref. range: {r['n_outside_range']}"
            print(f"{n:>8} {r['n_holdout']:>7} {method:<14} {r['seconds']:>10.2f} {r['rss_growth_mb']:>8.0f} "
                  f"{r['peak_rss_mb']:>8.0f} {r['value']:>7.3f}  {notes}", flush=True)
        peer = results.get("sdmetrics", "absent")
        for ours in ("synth", "synth-sdm-def"):
            mine = results.get(ours)
            if not mine or peer == "absent":
                continue
            if peer is None:
                print(f"{'':>8} ratio sdmetrics / {ours}: > {args.timeout / mine['seconds']:.1f}x time "
                      f"(sdmetrics did not finish)")
            else:
                mem = peer["rss_growth_mb"] / max(mine["rss_growth_mb"], 1.0)
                print(f"{'':>8} ratio sdmetrics / {ours}: {peer['seconds'] / mine['seconds']:.1f}x time, "
                      f"{mem:.1f}x memory growth")


if __name__ == "__main__":
    main()
