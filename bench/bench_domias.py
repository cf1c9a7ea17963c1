"""DOMIAS against synthcity's DOMIAS on the same known-answer data (issue 7).

Peer: synthcity's ``DomiasMIA_KDE`` (synthcity 0.2.x, ``synthcity/metrics/eval_privacy.py``),
the library itself. synthcity cannot be installed next to this project's pins (it asks for
torch < 2.3 and an older numpy/pyarrow stack), so it runs in its own virtual environment,
called as a subprocess with ``--synthcity-python``; one way to make that environment (about
2 minutes, from PyPI; ``--no-deps`` because its full dependency set pins a CUDA torch)::

    python3 -m venv /tmp/scvenv && /tmp/scvenv/bin/pip install torch==2.13.0 "numpy<2" \
        "pandas>=2.1" "pyarrow<18" scikit-learn scipy "pydantic>=2" loguru tenacity tqdm \
        cloudpickle "networkx<3" optuna geomloss pillow torchvision xgboost opacus lifelines \
        torchtuples pycox shap xgbse monai tsai redis && \
        /tmp/scvenv/bin/pip install --no-deps synthcity==0.2.12 && \
        /tmp/scvenv/bin/pip install "numpy<2" "pyarrow<18"

Without ``--synthcity-python`` its call is reproduced from its source instead (and the
output says so): ``density_gen = scipy.stats.gaussian_kde(synth_set.T)``, ``density_data =
gaussian_kde(reference_set.T)``, ``p_rel = p_G / (p_R + 1e-10)`` evaluated on members then
non-members, AUC of ``p_rel``. Both take the numeric matrix of the data
(``DataLoader.numpy()``): here categories as integer codes and missing values as the column
median, since ``gaussian_kde`` needs finite numbers and a non-singular covariance. synth's
DOMIAS (:mod:`synth.audits.membership.domias`) gets the same rows through the audit's
mixed-type encoding.

Same evaluation for both: members are training rows, non-members half of the holdout, the
reference sample the other half. Known answers on the simulated population
(``tests/population.py``, 3,000 training and 1,000 holdout rows), each over ``--draws``
draws (new split, fresh rows):

- ``overfit``: 1,000 random training rows, each re-emitted 3 times with noise of 10 % of
  a standard deviation on bmi and sbp (a generator that piles mass on its training
  records, without exact copies);
- ``near_copies``: 10 % of 3,000 fresh rows replaced by near-copies of training rows;
- ``null``: 3,000 fresh rows (AUC 0.5 expected).

Printed: mean AUC of each and the ratio of their advantages over chance, seconds, load.

    .venv/bin/python bench/bench_domias.py [--draws 5] [--synthcity-python /tmp/scvenv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _numeric(frame: pd.DataFrame, like: pd.DataFrame) -> np.ndarray:
    """synthcity's input: every column numeric (categories as codes of ``like``'s levels), NaN -> median."""
    out = []
    for col in like.columns:
        if like[col].dtype == object or str(like[col].dtype) in ("boolean", "bool"):
            levels = {v: i for i, v in enumerate(sorted(map(str, like[col].dropna().unique())))}
            out.append(frame[col].map(lambda v: levels.get(str(v), -1)).to_numpy(dtype=float))
        else:
            x = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
            out.append(np.where(np.isnan(x), np.nanmedian(like[col].to_numpy(dtype=float)), x))
    return np.column_stack(out)


def synthcity_domias_kde(synthetic: np.ndarray, reference: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """synthcity's DomiasMIAKDE.evaluate_p_R and the ratio in DomiasMIA._evaluate."""
    from scipy import stats

    density_gen = stats.gaussian_kde(synthetic.transpose(1, 0))
    density_data = stats.gaussian_kde(reference.transpose(1, 0))
    p_g = density_gen(x_test.transpose(1, 0))
    p_r = density_data(x_test.transpose(1, 0))
    return p_g / (p_r + 1e-10)


# Runs inside synthcity's own environment: its DomiasMIA_KDE._evaluate on GenericDataLoaders.
# X_gt is the holdout ordered non-members first, reference last (synthcity takes the first and
# the last ``reference_size`` rows of X_gt as non-members and reference).
_SYNTHCITY_CALL = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from synthcity.metrics.eval_privacy import DomiasMIAKDE
from synthcity.plugins.core.dataloader import GenericDataLoader
z = np.load(sys.argv[1])
frame = lambda a: GenericDataLoader(pd.DataFrame(a, columns=[f"c{i}" for i in range(a.shape[1])]))
t0 = time.perf_counter()
out = DomiasMIAKDE()._evaluate(frame(z["x_gt"]), frame(z["synthetic"]), frame(z["members"]), frame(z["synthetic"]),
                               reference_size=int(z["reference_size"]), device="cpu")
print(json.dumps({"auc": float(out["aucroc"]), "seconds": time.perf_counter() - t0}))
"""


def synthcity_library_auc(python: str, synthetic: np.ndarray, members: np.ndarray, nonmembers: np.ndarray,
                          reference: np.ndarray) -> tuple[float, float]:
    """(AUC, seconds) of synthcity's own DomiasMIA_KDE, run by the interpreter ``python``.

    ``nonmembers`` and ``reference`` must have the same number of rows (synthcity's
    ``reference_size`` is both).
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "case.npz")
        np.savez(path, synthetic=synthetic, members=members, x_gt=np.vstack([nonmembers, reference]),
                 reference_size=len(reference))
        done = subprocess.run([python, "-c", _SYNTHCITY_CALL, path], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"synthcity's DomiasMIA_KDE failed in {python}:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["auc"], result["seconds"]


def _case(seed: int, kind: str):
    from population import draw, leak

    d = draw(seed)
    synthetic = d.synthetic
    if kind == "near_copies":
        synthetic = leak(d, "near_copies", share=0.10)
    elif kind == "overfit":
        rng = np.random.default_rng(seed)
        base = d.train.iloc[rng.choice(len(d.train), 1000, replace=False)]
        synthetic = pd.concat([base] * 3, ignore_index=True)
        for col in ("bmi", "sbp"):
            synthetic[col] = synthetic[col] + rng.normal(0, 0.1 * d.train[col].std(), len(synthetic))
    return d, synthetic


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--synthcity-python", default=os.environ.get("SYNTHCITY_PYTHON"),
                    help="python of a virtual environment with synthcity installed (see the module docstring); "
                         "without it synthcity's call is reproduced from its source")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    from population import population_schema

    from synth.audits.membership.domias import domias_scores
    from synth.neighbors.encoding import MixedEncoder
    from synth.stats.roc import auc

    schema = population_schema()
    peer = ("synthcity DomiasMIA_KDE (the library, in " + args.synthcity_python + ")") if args.synthcity_python else \
        "synthcity DomiasMIA_KDE (reproduced from its source: no --synthcity-python given)"
    print(f"DOMIAS: synth (full encoding, held-out-likelihood bandwidth) vs {peer}; "
          "load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    for kind in ("overfit", "near_copies", "null"):
        ours, theirs, t_ours, t_theirs = [], [], 0.0, 0.0
        for seed in range(args.draws):
            d, synthetic = _case(seed, kind)
            rng = np.random.default_rng([seed, 3])
            order = rng.permutation(len(d.holdout))
            reference, nonmembers = d.holdout.iloc[order[:500]], d.holdout.iloc[order[500:]]
            members = d.train.iloc[rng.choice(len(d.train), len(nonmembers), replace=False)]
            test = pd.concat([members, nonmembers], ignore_index=True)
            labels = np.r_[np.ones(len(members), int), np.zeros(len(nonmembers), int)]

            t0 = time.perf_counter()
            enc = MixedEncoder(schema).fit(synthetic)
            result = domias_scores(enc.transform(test), np.zeros(len(test), int), enc.transform(synthetic),
                                   [enc.transform(reference)], seed=seed)
            t_ours += time.perf_counter() - t0
            ours.append(auc(np.nan_to_num(result.scores, neginf=-1e6, posinf=1e6), labels))

            if args.synthcity_python:
                value, seconds = synthcity_library_auc(
                    args.synthcity_python, _numeric(synthetic, d.train), _numeric(members, d.train),
                    _numeric(nonmembers, d.train), _numeric(reference, d.train))
                theirs.append(value)
                t_theirs += seconds
            else:
                t0 = time.perf_counter()
                p_rel = synthcity_domias_kde(_numeric(synthetic, d.train), _numeric(reference, d.train),
                                             _numeric(test, d.train))
                t_theirs += time.perf_counter() - t0
                theirs.append(auc(np.nan_to_num(p_rel), labels))
        a, b = float(np.mean(ours)), float(np.mean(theirs))
        ratio = (a - 0.5) / (b - 0.5) if abs(b - 0.5) > 1e-9 else float("nan")
        print(f"{kind:<12} AUC synth {a:.3f} (sd {np.std(ours):.3f})  synthcity {b:.3f} (sd {np.std(theirs):.3f})  "
              f"advantage ratio {ratio:.2f}  seconds {t_ours:.1f} vs {t_theirs:.1f}", flush=True)
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
