"""Benchmark: the default audit of a 3,000-row, 14-column table, as `synth generate` runs it.

Issue 7's runtime budget: every installed audit with its default parameters (the shadow
attack included, since `generate` hands the audit a generator factory) must finish in under
40 s on the project's 2-core machine when it is idle. The table is
``tests/population.py``'s :func:`make_wide_population` (3,000 rows, 14 mixed-type columns),
split 75/25 by the pipeline; the generator is the Gaussian copula. Printed: the audit's
seconds (the manifest's ``audit`` step, fitting and sampling excluded), each audit's own
seconds, and the load average before and after (a load above the core count means the
seconds are inflated by other work on the machine).

    .venv/bin/python bench/bench_audit_runtime.py [--rows 3000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import synth
    from population import make_wide_population

    frame = make_wide_population(args.rows, seed=args.seed)
    config = {"name": "runtime", "seed": args.seed, "data": {"source": "<frame>", "target": "outcome",
                                                          "sensitive": ["sex", "race"]},
              "generator": {"name": "gaussian_copula"}, "output": {"formats": ["csv"]}}
    print(f"default audit runtime: {args.rows} rows x {frame.shape[1]} columns, Gaussian copula, every installed audit")
    for r in range(args.repeat):
        load_before = os.getloadavg()
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run = synth.generate(config, data=frame, output_dir=Path(tmp) / "out")
            wall = time.perf_counter() - t0
            result = json.loads((run.output_dir / "result.json").read_text())
        audit_s = run.manifest["timings_s"]["audit"]
        per = ", ".join(f"{s['audit']} {s['seconds']:.1f}" for s in result["sections"])
        print(f"run {r + 1}: audit {audit_s:.1f} s (whole generate {wall:.1f} s); load before "
              + " ".join(f"{x:.2f}" for x in load_before) + ", after " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        print(f"  per audit (s): {per}")
        print(f"  verdict: {'PASS' if run.passed else 'FAIL'}")


if __name__ == "__main__":
    main()
