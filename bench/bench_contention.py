"""The quickstart alone vs with two other quickstarts running at once on the same machine.

A run that sizes its thread pools to the core count oversubscribes a shared machine:
OpenMP and BLAS threads spin at their barriers while other processes hold the cores, and
a 30-second quickstart took over 5 minutes with two others beside it. synth sizes its
pools to the CPUs free at each audit (``synth.cpus.free_cpus``) and fits models as
single-threaded tasks side by side; this script measures what that buys.

It runs ``synth generate --config examples/quickstart.yaml`` (the console script of this
environment, so imports and the whole pipeline count) ``--repeats`` times alone, then
``--repeats`` rounds of three copies started together, and prints each wall time, the
median of each condition and their ratio (the target: at most 3). Three runs on two
cores cannot take less than 1.5x the time of one single-threaded run, so 3x leaves room
for the run alone to use both cores.

Other work on the machine changes both numbers: the load average is printed before and
after every measurement, and a run "alone" is only alone if the load before it is low.
Each run also reports its CPU time (user + system, from ``wait4``): threads spinning at a
barrier burn CPU, so CPU seconds per run that stay the same alone and at once show that no
core is wasted, whatever the background load does to the wall times.

Each run starts in a session of its own (``--same-session`` turns that off), as jobs of
different users or pipelines do. Linux's scheduler shares the CPUs between sessions
(autogroups) first: three runs in one session share one session's slice, which on a
machine with other busy sessions makes their wall time three times that of one run
whatever the code does.

    python bench/bench_contention.py --repeats 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"
SYNTH = str(Path(sys.executable).parent / "synth")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def start(out: Path, own_session: bool) -> tuple[subprocess.Popen[bytes], float]:
    proc = subprocess.Popen([SYNTH, "generate", "--config", str(QUICKSTART), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=own_session)
    return proc, time.perf_counter()


def finish(proc: subprocess.Popen[bytes], started: float) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a run."""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1 is a failed gate: still a complete run
        raise SystemExit(f"synth generate exited {code}")
    return seconds, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs alone, and rounds of three at once")
    parser.add_argument("--copies", type=int, default=3, help="quickstarts started together in a round")
    parser.add_argument("--same-session", action="store_true", help="start every run in this script's session")
    args = parser.parse_args()
    own = not args.same_session
    print(f"cores usable: {len(os.sched_getaffinity(0))}; synth: {SYNTH}; "
          f"{'each run in its own session' if own else 'all runs in one session'}")
    alone, together, cpu_alone, cpu_together = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="synth-bench-contention-") as tmp:
        base = Path(tmp)
        for i in range(args.repeats):
            before = load()
            seconds, cpu = finish(*start(base / f"alone-{i}", own))
            alone.append(seconds)
            cpu_alone.append(cpu)
            print(f"alone    run {i + 1}: {seconds:7.1f} s wall, {cpu:6.1f} s CPU   ({before} -> {load()})", flush=True)
        for i in range(args.repeats):
            before = load()
            procs = [start(base / f"round-{i}-copy-{k}", own) for k in range(args.copies)]
            runs = [finish(p, t) for p, t in procs]
            together.extend(s for s, _ in runs)
            cpu_together.extend(c for _, c in runs)
            print(f"{args.copies} at once round {i + 1}: " + ", ".join(f"{s:.1f} s wall/{c:.1f} s CPU" for s, c in runs)
                  + f"   ({before} -> {load()})", flush=True)
    a, t = statistics.median(alone), statistics.median(together)
    print(f"median alone {a:.1f} s; median with {args.copies - 1} others {t:.1f} s; "
          f"ratio {t / a:.2f}x (target <= 3x); worst ratio {max(together) / min(alone):.2f}x")
    ca, ct = statistics.median(cpu_alone), statistics.median(cpu_together)
    print(f"CPU per run: median alone {ca:.1f} s, at once {ct:.1f} s: ratio {ct / ca:.2f}x (1 = no CPU wasted)")
    print(f"finished at {load()}")


if __name__ == "__main__":
    main()
