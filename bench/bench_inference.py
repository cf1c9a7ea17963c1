"""Benchmark: synth's inference attack against anonymeter's InferenceEvaluator.

On the real NIH ChestX-ray14 metadata (../shared/data/cxr/Data_Entry_2017_v2020.csv.gz, read
by bench/nih_table.py), for each training size n (``--sizes``, default 2000 10000 50000):

- rows are shuffled once (``--seed``) and cut into disjoint slices: training = n rows,
  synthetic = the next n rows, control = the next min(n, rows left) rows (disjoint rows;
  a patient with several images may appear in more than one slice);
- the attacker knows ``age, sex, follow_up, width, height`` and guesses ``view`` (PA/AP);
- both implementations run the full evaluation (random baseline, attack on training rows,
  attack on control rows) with ``n_attacks`` = the whole control set (``--n-attacks`` sets
  a fixed number instead) and the same seed, so they draw the same targets;
- each runs in its own fresh process, after a tiny warm-up evaluation that compiles its
  numba code (for synth also ``anonymeter_nearest.warm_up()``, since a 50-row warm-up need
  not reach every one of its kernels, e.g. the tie-breaking one), so the seconds are the
  evaluation alone; memory is the evaluation's extra peak:
  the process's peak resident set size during the evaluation (Linux ``VmHWM``, reset just
  before) minus its resident size when the evaluation started, in MiB (the kernel's RSS
  counters are approximate to about 1 MiB; a negative difference is shown as 0.0);
- a run longer than ``--timeout`` seconds is stopped and printed as "did not finish", and
  the speed-up as the lower bound ``> timeout / synth seconds``.

Threads: anonymeter runs with ``n_jobs=-1`` (all cores, its joblib threading backend);
synth's tree search and numba kernels use all cores too (a kernel with little work runs on
one thread). ``--backend`` picks synth's search (default ``auto``: the k-d tree here, five
auxiliary columns embed in five dimensions). ``--cuda`` adds a column for synth's torch
backend on a CUDA device.

    .venv/bin/python bench/bench_inference.py --sizes 2000 10000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SECRET = "view"
AUX = ["age", "sex", "follow_up", "width", "height"]


def _split(n: int, seed: int) -> tuple[Any, Any, Any]:
    from nih_table import load_nih_table  # exits with a clear message when the file is absent

    table, _ = load_nih_table()
    if 2 * n + 1 > len(table):
        sys.exit(f"--sizes {n}: the NIH table has {len(table)} rows, too few for {n} training + {n} synthetic rows.")
    rows = table[AUX + [SECRET]].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n_control = min(n, len(rows) - 2 * n)
    return (
        rows.iloc[:n].reset_index(drop=True),
        rows.iloc[n : 2 * n].reset_index(drop=True),
        rows.iloc[2 * n : 2 * n + n_control].reset_index(drop=True),
    )


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    try:  # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _evaluate(
    engine: str, ori: Any, syn: Any, control: Any, n_attacks: int, seed: int, backend: str = "auto"
) -> dict[str, Any]:
    if engine == "anonymeter":
        from anonymeter.evaluators import InferenceEvaluator

        np.random.seed(seed)
        ev = InferenceEvaluator(
            ori=ori, syn=syn, control=control, aux_cols=AUX, secret=SECRET, regression=False, n_attacks=n_attacks
        ).evaluate(n_jobs=-1)
        res, risk = ev.results(), ev.risk()
        return {"counts": [int(res.n_success), int(res.n_baseline), int(res.n_control)],
                "risk": float(risk.value), "ci": [float(risk.ci[0]), float(risk.ci[1])]}
    from synth.audits.privacy.anonymeter.inference import inference_risk

    device = "cuda" if engine == "synth-cuda" else "cpu"
    ours = inference_risk(ori, syn, AUX, SECRET, control=control, regression=False, n_attacks=n_attacks,
                          random_state=seed, device=device, backend="auto" if engine == "synth-cuda" else backend)
    risk = ours.risk()
    return {"counts": [ours.n_success, ours.n_baseline, ours.n_control], "risk": float(risk.value),
            "ci": [float(risk.ci[0]), float(risk.ci[1])], "ties_resolved": ours.n_ambiguous}


def worker(engine: str, n: int, n_attacks: int, seed: int, backend: str) -> None:
    """Run one timed evaluation in this process and print its JSON on the last line."""
    warnings.simplefilter("ignore")
    ori, syn, control = _split(n, seed)
    n_att = len(control) if n_attacks <= 0 else min(n_attacks, len(control), len(ori))
    _evaluate(engine, ori.iloc[:50], syn.iloc[:50], control.iloc[:50], 20, seed, backend)  # compile numba code
    if engine.startswith("synth"):
        from synth.audits.privacy.anonymeter.nearest import warm_up

        warm_up()
    _reset_peak()
    rss_before = _rss_mib("VmRSS")
    start = time.perf_counter()
    out = _evaluate(engine, ori, syn, control, n_att, seed, backend)
    seconds = time.perf_counter() - start
    out |= {"seconds": seconds, "peak_mib": _rss_mib("VmHWM"), "rss_before_mib": rss_before, "n_attacks": n_att,
            "n_control": len(control)}
    print(json.dumps(out))


def _run_worker(engine: str, n: int, args: argparse.Namespace) -> dict[str, Any] | None:
    cmd = [sys.executable, __file__, "--worker", engine, str(n), str(args.n_attacks), str(args.seed), args.backend]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        sys.exit(f"{engine} at n={n} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt_risk(r: dict[str, Any] | None) -> str:
    return "-" if r is None else f"{r['risk']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 50000], help="training sizes")
    parser.add_argument("--n-attacks", type=int, default=0, help="targets per attack; 0 = the whole control set")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run counts as not finished")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=["auto", "index", "numba", "torch"], default="auto",
                        help="synth's nearest-row search on CPU (default: auto)")
    parser.add_argument("--cuda", action="store_true", help="also time synth's torch backend on CUDA")
    parser.add_argument("--worker", nargs=5, metavar=("ENGINE", "N", "N_ATTACKS", "SEED", "BACKEND"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        engine, n, n_attacks, seed, backend = args.worker
        worker(engine, int(n), int(n_attacks), int(seed), backend)
        return
    _split(min(args.sizes), args.seed)  # fail early, with the loader's message, if the data is absent

    engines = ["synth"] + (["synth-cuda"] if args.cuda else []) + ["anonymeter"]
    print(f"NIH ChestX-ray14 metadata: secret '{SECRET}', attacker knows {AUX}")
    print(f"n_attacks = {'the whole control set' if args.n_attacks <= 0 else args.n_attacks} per attack "
          f"(baseline + training + control), seed {args.seed}, timeout {args.timeout:.0f} s, {os.cpu_count()} CPUs, "
          f"synth backend {args.backend}")
    header = ["n_train", "n_attacks"] + [f"{e} s" for e in engines] + ["speed-up"] + [
        f"{e} extra peak MiB" for e in engines] + ["synth risk [CI]", "anonymeter risk [CI]",
                                                   "identical counts, risk, CI"]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for n in args.sizes:
        results = {e: _run_worker(e, n, args) for e in engines}
        ours, peer = results["synth"], results["anonymeter"]
        if ours is None:
            print(f"{n} | - | synth did not finish within {args.timeout:.0f} s")
            continue
        secs = [f"{r['seconds']:.2f}" if r else f"did not finish (> {args.timeout:.0f})" for r in results.values()]
        if peer is None:
            ratio = f"> {args.timeout / ours['seconds']:.0f}x"
        else:
            ratio = f"{peer['seconds'] / ours['seconds']:.1f}x"
        mem = [f"{max(0.0, r['peak_mib'] - r['rss_before_mib']):.1f}" if r else "-" for r in results.values()]
        identical = peer is not None and (peer["counts"], peer["risk"], peer["ci"]) == (
            ours["counts"], ours["risk"], ours["ci"])
        same = "-" if peer is None else ("yes" if identical else f"no: {ours['counts']} vs {peer['counts']}")
        print(" | ".join([str(n), str(ours["n_attacks"]), *secs, ratio, *mem, _fmt_risk(ours), _fmt_risk(peer), same]))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
