"""Coverage of every privacy and membership 95 % interval over null draws (issue 7).

Each draw is new in every random input: fresh population rows, a new random train/holdout
split (3,000 / 1,000 rows by default) and a synthetic table drawn independently from the
same population (``--sizes`` rows: 1,000 and 20,000 by default), so no record leaks and
every interval should cover its metric's no-leak value in 95 % of draws (see
``tests/null_coverage.py`` for the null values). The shadow attack runs with a stand-in
generator that samples fresh population rows. Printed: for each synthetic size and
metric, the share of ``--draws`` draws (default 200) whose interval covered, with a
binomial 95 % range for that share, and the load average.

    .venv/bin/python bench/bench_coverage.py [--draws 200] [--sizes 1000 20000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

GATED = ("privacy.exact_copy_excess", "privacy.exposure_excess", "privacy.dcr_share", "membership.auc")


def _chunk(args: tuple[int, int, int, int, int]) -> dict[str, list[bool]]:
    warnings.filterwarnings("ignore")
    from null_coverage import null_coverage

    n_draws, first_seed, n_train, n_holdout, n_syn = args
    return null_coverage(n_draws, n_train=n_train, n_holdout=n_holdout, n_synthetic=n_syn, first_seed=first_seed,
                         shadow=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000], help="synthetic rows per draw")
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--holdout", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (draws are split between them)")
    args = ap.parse_args()

    from synth.stats.intervals import wilson

    print(f"interval coverage over {args.draws} null draws ({args.train} train / {args.holdout} holdout rows, "
          f"new split and fresh rows each draw); load average before: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    for n_syn in args.sizes:
        started = time.perf_counter()
        per = -(-args.draws // args.jobs)
        jobs = [(min(per, args.draws - i * per), 60_000 + i * per, args.train, args.holdout, n_syn)
                for i in range(args.jobs) if args.draws - i * per > 0]
        merged: dict[str, list[bool]] = {}
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for part in pool.map(_chunk, jobs):
                for name, hits in part.items():
                    merged.setdefault(name, []).extend(hits)
        print(f"\n{n_syn} synthetic rows ({time.perf_counter() - started:.0f} s):")
        print(f"  {'metric':<42} {'coverage':>9}  {'binomial 95 % range':>20}  gated")
        for name in sorted(merged):
            hits = merged[name]
            k, n = sum(hits), len(hits)
            ci = wilson(k, n)
            print(f"  {name:<42} {k / n:>9.3f}  [{ci.low:.3f}, {ci.high:.3f}]{'':>6}  {'yes' if name in GATED else ''}",
                  flush=True)
    print("\nload average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
