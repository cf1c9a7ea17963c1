"""Known-answer bench of the default gates: do they fail every planted leak and pass fresh data?

Issue 7's acceptance, run through ``synth.audit`` with no ``gates:`` (so the default gates
apply) and the two privacy audits the default gates read (memorization, membership):

- ``population`` (default): the simulated population of ``tests/population.py`` (natural
  duplicates: about 4 % of rows have an exact twin), 3,000 training and 1,000 holdout rows
  from a fresh random split in every draw, 3,000 synthetic rows drawn fresh from the same
  population; each leak of ``population.LEAKS`` (1 % verbatim copies of random training
  records, 2 % near-copies with numeric values times 1.001, 1 % copies of the rarest
  training records, a privacy filter's hole) is planted in ``--draws`` draws (default 10),
  and ``--null-draws`` draws (default 100) carry no leak. ``--tail`` uses the population
  with a long-tailed catalogue of standard records (many natural exact matches that look
  like copies).
- ``actg175``: the real built-in ACTG 175 table (2,139 patients, 75/25 split with a new seed
  in every draw); the leak-free base is a Gaussian copula fitted on the training part
  (as many rows as the training part), and the same leaks are planted into it. Its null
  row counts how often the copula itself passes (not a guaranteed null: a copula may
  leak a little).

Printed per scenario: how many draws failed the verdict and which default gates failed how
often, then the load average (a load above the core count slows the run, not the result).

    .venv/bin/python bench/bench_leaks.py [--table population|actg175] [--draws 10] [--null-draws 100] [--tail]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

AUDITS = ["memorization", "membership"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", choices=("population", "actg175"), default="population")
    ap.add_argument("--draws", type=int, default=10, help="draws per planted leak")
    ap.add_argument("--null-draws", type=int, default=100, help="draws without a leak")
    ap.add_argument("--tail", action="store_true", help="population with a long-tailed catalogue of standard records")
    ap.add_argument("--scenarios", nargs="+", default=None, help="subset of: null copies near_copies rare_copies filter_hole")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    import synth
    from leak_cases import actg_case, population_case
    from population import LEAKS

    scenarios = args.scenarios or ["null", *LEAKS]
    print(f"default-gate known answers on {args.table}{' (long-tailed catalogue)' if args.tail else ''}; "
          f"load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    for kind in scenarios:
        n = args.null_draws if kind == "null" else args.draws
        seeds = range(1000, 1000 + n) if kind == "null" else range(n)
        failed, gates, started = 0, Counter(), time.perf_counter()
        for seed in seeds:
            if args.table == "population":
                train, holdout, synthetic, roles = population_case(seed, kind, tail=args.tail)
            else:
                train, holdout, synthetic, roles = actg_case(seed, kind)
            result = synth.audit(real=train, holdout=holdout, synthetic=synthetic, audits=AUDITS, seed=seed, **roles)
            failed += not result.passed
            gates.update(g.expression for g in result.gates if not g.passed)
        verdict = (f"{n - failed} of {n} draws pass" if kind == "null" else f"{failed} of {n} draws fail")
        print(f"{kind:<12} {verdict:<22} ({time.perf_counter() - started:.0f} s)  failed gates: "
              + (", ".join(f"{g} x{c}" for g, c in gates.most_common()) or "none"), flush=True)
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
