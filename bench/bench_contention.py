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


def start(out: Path) -> tuple[subprocess.Popen[bytes], float]:
    proc = subprocess.Popen([SYNTH, "generate", "--config", str(QUICKSTART), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, time.perf_counter()


def finish(proc: subprocess.Popen[bytes], started: float) -> float:
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1):  # 1 is a failed gate: still a complete run
        raise SystemExit(f"synth generate exited {proc.returncode}: {err.decode()[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs alone, and rounds of three at once")
    parser.add_argument("--copies", type=int, default=3, help="quickstarts started together in a round")
    args = parser.parse_args()
    print(f"cores usable: {len(os.sched_getaffinity(0))}; synth: {SYNTH}")
    alone, together = [], []
    with tempfile.TemporaryDirectory(prefix="synth-bench-contention-") as tmp:
        base = Path(tmp)
        for i in range(args.repeats):
            before = load()
            seconds = finish(*start(base / f"alone-{i}"))
            alone.append(seconds)
            print(f"alone    run {i + 1}: {seconds:7.1f} s   ({before} -> {load()})", flush=True)
        for i in range(args.repeats):
            before = load()
            procs = [start(base / f"round-{i}-copy-{k}") for k in range(args.copies)]
            times = [finish(p, t) for p, t in procs]
            together.extend(times)
            print(f"{args.copies} at once round {i + 1}: " + ", ".join(f"{s:.1f} s" for s in times)
                  + f"   ({before} -> {load()})", flush=True)
    a, t = statistics.median(alone), statistics.median(together)
    print(f"median alone {a:.1f} s; median with {args.copies - 1} others {t:.1f} s; "
          f"ratio {t / a:.2f}x (target <= 3x); worst ratio {max(together) / min(alone):.2f}x")
    print(f"finished at {load()}")


if __name__ == "__main__":
    main()
