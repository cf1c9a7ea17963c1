"""Benchmark: a full audit (every installed audit plugin, default parameters) on a large table.

Data (``--source``):

- ``population`` (default): ``tests/population.py``'s ``make_population`` -- a mixed-type
  clinical population (integer, numeric with missing values, categorical, boolean, binary
  target) -- with ``--rows`` records (default 200,000);
- ``nih``: the real NIH ChestX-ray14 metadata table (bench/nih_table.py, 112,120 rows),
  modelled columns only; ``--rows`` is capped so that the real rows plus an equally large
  disjoint "synthetic" slice fit in the table (at most 64,068 real rows).

The ``--rows`` real rows are split 75/25 into train and holdout by
:func:`synth.data.split.split_train_holdout` (stratified on the target). The
"synthetic" table is a stand-in for a generator's output: fresh real draws of the same
population, disjoint from both, as many rows as the training part. It is what a perfect,
non-memorising generator would produce, so every privacy number should sit at its null.

Every installed audit (``build_audits(None)``; ``--audits`` picks a subset, ``--param
audit.key=value`` overrides a parameter) runs through :func:`synth.audits.runner.run_audits`
in this one process. Printed: per-audit seconds, the process's peak resident set size
(Linux ``VmHWM``) after each audit, the total, and the load average before and after
(the machine may be shared: a load above the core count means the seconds are inflated).

    .venv/bin/python bench/bench_full_audit.py                       # 200k population rows
    .venv/bin/python bench/bench_full_audit.py --source nih
    .venv/bin/python bench/bench_full_audit.py --rows 20000 --audits memorization coverage
"""

from __future__ import annotations

import argparse
import ast
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

NIH_ROWS = 112_120


_PEAK = [0.0]


def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB: the largest of the audits' own peaks
    (the runner resets the kernel's high-water mark before each audit, ru_maxrss with it) and
    the current one."""
    from synth.execution.resources import peak_rss_mib

    _PEAK[0] = max(_PEAK[0], peak_rss_mib())
    return _PEAK[0]


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its waited-for children so far."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _tables(source: str, rows: int, seed: int):
    """``(real, synthetic, schema)``: ``rows`` real rows and ``ceil(0.75 * rows)``-ish disjoint
    synthetic stand-in rows (the exact count is the training size after the split)."""
    n_syn = rows - -(-rows // 4)  # rows minus the holdout's ceil(rows / 4)
    if source == "population":
        from population import make_population, population_schema

        pop = make_population(rows + n_syn, seed=seed)
        return pop.iloc[:rows], pop.iloc[rows:].reset_index(drop=True), population_schema()
    from nih_table import load_nih_table

    frame, schema = load_nih_table()
    schema = schema.modelled()
    frame = frame[schema.names].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    if rows + n_syn > len(frame):
        sys.exit(
            f"--rows {rows}: the NIH table has {len(frame)} rows, too few for {rows} real rows plus "
            f"{n_syn} disjoint synthetic rows. Use --rows {len(frame) * 4 // 7} or fewer."
        )
    return frame.iloc[:rows], frame.iloc[rows : rows + n_syn].reset_index(drop=True), schema


def _parse_params(items: list[str]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        audit, dot, param = key.partition(".")
        if not sep or not dot:
            sys.exit(f"--param {item!r}: expected AUDIT.KEY=VALUE, e.g. memorization.max_query_rows=20000")
        try:
            value: object = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out.setdefault(audit, {})[param] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", choices=("population", "nih"), default="population")
    ap.add_argument("--rows", type=int, default=None,
                    help="real rows before the 75/25 split (default: 200000; nih: 64068, the most that fits)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--audits", nargs="+", default=None, help="audit names (default: every installed audit)")
    ap.add_argument("--param", action="append", default=[], metavar="AUDIT.KEY=VALUE",
                    help="override one audit parameter (repeatable)")
    ap.add_argument("--engine", choices=("local", "ray"), default="local",
                    help="where the shared numerics run (ray: a private local Ray cluster of --num-cpus CPUs)")
    ap.add_argument("--num-cpus", type=int, default=None, help="CPUs of the private Ray cluster (default: all)")
    args = ap.parse_args()
    rows = args.rows or (200_000 if args.source == "population" else NIH_ROWS * 4 // 7)

    from synth.audits.base import AuditInputs
    from synth.audits.runner import build_audits, run_audits, split_by_kind
    from synth.data.split import split_train_holdout
    from synth.schema import DataKind
    from synth.errors import SynthUserError

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    real, synthetic, schema = _tables(args.source, rows, args.seed)
    train, holdout = split_train_holdout(real, schema, holdout_fraction=0.25, seed=args.seed)
    synthetic = synthetic.iloc[: len(train)]
    prep = time.perf_counter() - t0
    try:
        audits = build_audits(args.audits, _parse_params(args.param), source="bench")
    except SynthUserError as exc:
        sys.exit(str(exc))
    # As the pipeline does: the audits for table data only (the image audits do not apply).
    audits, not_applicable = split_by_kind(audits, DataKind.TABLE)
    inputs = AuditInputs(train=train, holdout=holdout, synthetic=synthetic, schema=schema, seed=args.seed)

    print(f"full audit benchmark: source={args.source}, {len(train)} train / {len(holdout)} holdout / "
          f"{len(synthetic)} synthetic rows, {len(schema.names)} columns; data prepared in {prep:.1f} s")
    print(f"cores usable: {inputs.n_jobs}; load average before: "
          + " ".join(f"{x:.2f}" for x in load_before))
    if not_applicable:
        print("not applicable to table data (not run): " + ", ".join(a.name for a in not_applicable))
    from synth.execution import open_engine, use_engine

    engine = open_engine(args.engine, None, args.num_cpus)
    print(f"engine: {engine.describe()}; peak RSS after preparing the data: {_peak_rss_mib():.0f} MiB")
    print(f"{'audit':<20} {'seconds':>9} {'CPU s':>8} {'audit peak MiB':>15} {'process peak MiB':>17} "
          f"{'load 1/5/15':>14}  status", flush=True)

    def report(section, cpu: float) -> None:
        _PEAK[0] = max(_PEAK[0], section.peak_rss_mib or 0.0)
        status = section.error or (f"skipped: {section.skipped}" if section.skipped else
                                   f"{len(section.metrics)} metrics")
        own = f"{section.peak_rss_mib:.0f}" if section.peak_rss_mib is not None else "n/a"
        print(f"{section.audit:<20} {section.seconds:>9.1f} {cpu:>8.1f} {own:>15} {_peak_rss_mib():>17.0f} "
              f"{_load():>14}  {status[:100]}", flush=True)

    sections = []
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    with use_engine(engine):
        for audit in audits:  # one at a time, so each line prints as soon as its audit ends
            cpu0 = _cpu_seconds()
            (section,) = run_audits([audit], inputs)
            report(section, _cpu_seconds() - cpu0)
            sections.append(section)
    total = time.perf_counter() - start
    print("-" * 100)
    print(f"{'total':<20} {total:>9.1f} {_cpu_seconds() - cpu_start:>8.1f} {'':>15} {_peak_rss_mib():>17.0f} "
          f"{_load():>14}")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.engine == "ray":
        print("(CPU s and peak memory are this driver process's: the Ray workers' own are not included)")
    _print_sampling(sections)
    engine.close()
    failed = [s.audit for s in sections if s.error]
    if failed:
        print(f"audits that failed: {', '.join(failed)}")
    metrics = {m.name: m for s in sections for m in s.metrics}
    for name in ("privacy.dcr_share", "privacy.dcr_baseline_ratio", "privacy.nnaa_privacy_loss"):
        if name in metrics:
            m = metrics[name]
            ci = f" [{m.ci.low:.4f}, {m.ci.high:.4f}]" if m.ci else ""
            print(f"{name}: {m.value:.4f}{ci}")


def _print_sampling(sections) -> None:
    """How many rows each subsampled number rests on (the audits' notes that say so)."""
    for s in sections:
        for note in s.notes:
            low = note.lower()
            if "sampl" in low and ("rows" in low or "cap" in low):
                print(f"[{s.audit}] {note[:300]}")


if __name__ == "__main__":
    main()
