"""Benchmark: Bt-GAN against CTGAN on ACTG 175 (fairness, utility, ablations, DP, speed).

Every quality number comes from synth's own pipeline and audits (``synth.generate`` on
``builtin:actg175``, target ``cens``, sensitive ``race`` and ``gender``): CTGAN runs as the
``ctgan`` generator, with the same epochs and batch size as ``btgan``. Each seed changes
the train/holdout split and every generator's seed.

Subcommands (results are appended as JSON lines to ``--out`` and summarised at the end):

- ``fairness``: ``ctgan``, ``btgan`` and two ablations (``fairness_weight: 0``;
  ``weighted_sampling: false``), audits utility, fairness and subgroup fidelity. Prints
  mean and standard deviation over seeds and checks the issue's acceptance criteria:
  ``fairness.dp_diff_synthetic`` at most half of CTGAN's, ``utility.auroc_tstr`` within 0.03
  of CTGAN's, ``fairness.bias_amplification`` no worse, the smallest race x gender
  subgroup's output share within 20 % of its real share.
- ``no-bias``: ACTG 175 with the (race, gender) pairs shuffled across rows, so the outcome
  (and every other column) is independent of them; btgan with the penalty on and off;
  utility must not drop.
- ``dp``: btgan without DP and at epsilon 1 and 10: the epsilon spent, the membership
  audit's AUC and empirical epsilon lower bound. ``--train-rows N`` trains on a random
  sample of N rows (half of it held out) without early stopping, where the plain model
  overfits and its AUC has room to fall.
- ``floor``: the ``fairness.dp_diff_synthetic`` a perfectly fair model would show on each
  seed's holdout: a subgroup-blind predictor flagging the training prevalence at random,
  simulated (the metric is a maximum over small subgroups, so it is not 0).
- ``speed``: seconds per epoch of ``ctgan.CTGAN`` (the package) and of ``btgan`` on the same
  data and batch size, in one run, as a ratio; preprocessing time of both on a 10k-row table.

Every result line carries ``os.getloadavg()``: the machine is shared, so read timings with it.

Usage::

    python bench/bench_btgan.py fairness --seeds 0 1 2 3 4 --epochs 300
    python bench/bench_btgan.py dp --seeds 0 1 2 --epochs 100
    python bench/bench_btgan.py dp --seeds 0 1 2 --epochs 1000 --batch-size 50 --train-rows 400
    python bench/bench_btgan.py speed --epochs 30
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from synth.errors import InternalError

DATA = {"source": "builtin:actg175", "target": "cens", "sensitive": ["race", "gender"],
        "split": {"holdout_fraction": 0.25}}
FAIRNESS_AUDITS = ["utility", "fairness", "subgroup_fidelity"]
HEADLINES = ["fairness.dp_diff_synthetic", "fairness.dp_diff_real", "fairness.dp_diff_synthetic_prevalence",
             "fairness.dp_diff_real_prevalence", "utility.auroc_tstr", "utility.auroc_trtr",
             "fairness.bias_amplification", "gap_real_train", "gap_synthetic_20k", "positive_rate_real_train",
             "positive_rate_synthetic_20k", "fairness.eo_diff_synthetic", "fidelity.subgroup_worst_marginal_score",
             "fidelity.coverage", "fidelity.recall", "fidelity.detection_auc", "smallest_subgroup_share_error",
             "flagged_share_real_model", "flagged_share_synthetic_model",
             "membership.auc", "membership.epsilon_lower_bound_max", "epsilon_spent", "fit_seconds"]


def _variants(epochs: int, batch: int, weight: float = 1.0) -> dict[str, tuple[str, dict]]:
    """The compared generators; Bt-GAN's penalty at ``weight`` (named ``btgan_w<weight>`` when not 1)."""
    base = {"epochs": epochs, "batch_size": batch}
    quiet = {**base, "progress": False}
    return {
        "ctgan": ("ctgan", dict(base)),
        "btgan" if weight == 1.0 else f"btgan_w{weight:g}": ("btgan", {**quiet, "fairness_weight": weight}),
        "btgan_no_penalty": ("btgan", {**quiet, "fairness_weight": 0.0}),
        "btgan_no_weights": ("btgan", {**quiet, "weighted_sampling": False}),
    }


def _smallest_subgroup_error(train: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """Relative error of the smallest real race x gender subgroup's share in the output."""
    real = train.groupby(["race", "gender"]).size() / len(train)
    syn = synthetic.astype({"race": "int64", "gender": "int64"}).groupby(["race", "gender"]).size() / len(synthetic)
    g = real.idxmin()
    return float(abs(syn.get(g, 0.0) - real[g]) / real[g])


def run_one(variant: str, generator: str, params: dict, seed: int, audits: list[str], audit_params: dict,
            data: dict | None = None, frame: pd.DataFrame | None = None) -> dict:
    import synth
    from synth.config.model import DataConfig
    from synth.prepare import prepare

    with tempfile.TemporaryDirectory() as tmp:
        cfg = {"name": f"bench-{variant}", "seed": seed, "data": data or DATA,
               "generator": {"name": generator, "params": params},
               "audit": {"audits": audits, "params": audit_params}, "gates": [],
               "output": {"dir": tmp, "formats": ["csv"], "report": False, "save_generator": True}}
        started = time.perf_counter()
        run = synth.generate(cfg, data=frame)
        seconds = time.perf_counter() - started
        metrics = {name: m.value for name, m in run.result.metrics().items()}
        prep = prepare(DataConfig(**(data or DATA)), seed=seed, frame=frame)
        train = prep.train
        row = {"variant": variant, "seed": seed, "seconds_total": seconds,
               "fit_seconds": run.manifest["timings_s"].get("fit"),
               "smallest_subgroup_share_error": _smallest_subgroup_error(train, run.synthetic),
               "loadavg": os.getloadavg()}
        row.update(_large_sample_gaps(generator, Path(tmp) / "generator", train))
        lbs = [v for k, v in metrics.items() if k.startswith("membership.") and k.endswith(".epsilon_lower_bound")]
        if lbs:
            metrics["membership.epsilon_lower_bound_max"] = max(lbs)
        privacy = run.result.generator["privacy"] if run.result.generator else {}
        row["epsilon_spent"] = privacy.get("epsilon")
        row.update({k: metrics.get(k) for k in HEADLINES if k in metrics})
        row.update(_flagged_shares(run.result))
        if "fairness" in audits:
            row.update(_prevalence_parity(run, prep, data or DATA, seed, audit_params))
        return row


def _prevalence_parity(run, prep, data: dict, seed: int, audit_params: dict) -> dict:
    """``dp_diff`` of the same two downstream models with each flagging the positive share of
    its own training data (the fairness audit's ``threshold: prevalence``), on the same
    rows (``prep``: the run's split): at threshold 0.5 a model that flags few holdout rows
    shows small parity gaps whatever it learned, so compare the generators at equal flag
    rates too."""
    import synth

    params = {**audit_params.get("fairness", {}), "threshold": "prevalence"}
    cfg = {"seed": seed, "data": data, "audit": {"audits": ["fairness"], "params": {"fairness": params}}, "gates": []}
    result = synth.audit(real=prep.train, synthetic=run.synthetic, holdout=prep.holdout, config=cfg)
    metrics = result.metrics()
    return {f"{name}_prevalence": metrics[name].value for name in ("fairness.dp_diff_synthetic", "fairness.dp_diff_real")
            if name in metrics}


def _flagged_shares(result) -> dict:
    """Share of the real holdout each downstream model of the fairness audit flags positive
    (from its per-subgroup table, first attribute): a model that flags few rows shows small
    parity gaps whatever it has learned, so read ``dp_diff`` beside it."""
    tables = [t for s in result.sections if s.audit == "fairness" for t in s.tables
              if t.title.startswith("Downstream model by subgroup")]
    if not tables:
        return {}
    rows = [r for r in tables[0].rows if r[0] == tables[0].rows[0][0]]  # attribute, group, model, n, rate, ...
    out = {}
    for which in ("real", "synthetic"):
        mine = [r for r in rows if r[2].endswith(f"({which})")]
        n = sum(r[3] for r in mine)
        out[f"flagged_share_{which}_model"] = sum(r[3] * r[4] for r in mine) / n if n else None
    return out


def _large_sample_gaps(generator: str, saved: Path, train: pd.DataFrame, rows: int = 20_000) -> dict:
    """Outcome-rate gap between race x gender subgroups in ``rows`` fresh synthetic rows and in the
    real training rows: the audit's bias amplification measured where sampling noise is small
    (the audit sees as many synthetic rows as training rows, ~120 in the smallest subgroup)."""
    from synth.registry import generator_class

    model = generator_class(generator).load(saved, trusted=True)  # our own file, written just now
    synthetic = model.sample(rows, seed=12345)

    def gap(frame: pd.DataFrame) -> float:
        key = frame["race"].astype(str) + "|" + frame["gender"].astype(str)
        rates = frame["cens"].astype(float).groupby(key.to_numpy()).mean()
        return float(rates.max() - rates.min())

    return {"gap_real_train": gap(train), f"gap_synthetic_{rows // 1000}k": gap(synthetic),
            f"positive_rate_synthetic_{rows // 1000}k": float(synthetic["cens"].astype(float).mean()),
            "positive_rate_real_train": float(train["cens"].astype(float).mean())}


def _append(out: Path, row: dict) -> None:
    with out.open("a") as fh:
        fh.write(json.dumps(row, default=float) + "\n")
    shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k != "loadavg"}
    print(json.dumps(shown), "load", tuple(round(x, 1) for x in row["loadavg"]), flush=True)


def _summary(rows: list[dict], title: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    cols = [c for c in HEADLINES + ["seconds_total"] if c in frame and frame[c].notna().any()]
    agg = frame.groupby("variant")[cols].agg(["mean", "std"])
    print(f"\n== {title}: mean and standard deviation over seeds {sorted(frame.seed.unique().tolist())} ==")
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        for c in cols:
            print(f"{c:42s} " + "  ".join(f"{v}: {agg.loc[v, (c, 'mean')]:.4f} ± {agg.loc[v, (c, 'std')]:.4f}"
                                         for v in agg.index))
    loads = np.array([r["loadavg"][0] for r in rows])
    print(f"load average (1 min) during the runs: {loads.min():.1f} to {loads.max():.1f}")
    return frame


def cmd_fairness(args: argparse.Namespace) -> None:
    rows = []
    audit_params = {"fairness": {"n_boot": 50}, "utility": {"n_boot": 50}}
    for seed in args.seeds:
        for variant, (generator, params) in _variants(args.epochs, args.batch_size, args.fairness_weight).items():
            if args.variants and variant not in args.variants:
                continue
            row = run_one(variant, generator, params, seed, FAIRNESS_AUDITS, audit_params)
            _append(args.out, row)
            rows.append(row)
    _acceptance(_summary(rows, f"ACTG 175, {args.epochs} epochs, batch {args.batch_size}"))


def _acceptance(frame: pd.DataFrame) -> None:
    """The issue's criteria for each Bt-GAN penalty weight against CTGAN (means over the seeds both ran)."""
    fair = [v for v in sorted(set(frame.variant)) if v == "btgan" or v.startswith("btgan_w")]
    if "ctgan" not in set(frame.variant) or not fair:
        return
    for variant in fair:
        seeds = set(frame[frame.variant == variant].seed) & set(frame[frame.variant == "ctgan"].seed)
        if not seeds:
            print(f"\nacceptance, {variant}: no seed in common with ctgan; run ctgan on its seeds to compare")
            continue
        m = frame[frame.seed.isin(seeds)].groupby("variant").mean(numeric_only=True)
        ct, bt = m.loc["ctgan"], m.loc[variant]
        print(f"\nacceptance, {variant} against ctgan (means over seeds {sorted(seeds)}):")
        bt_dp, half_ct_dp = bt["fairness.dp_diff_synthetic"], ct["fairness.dp_diff_synthetic"] / 2
        print(f"  dp_diff_synthetic: {bt_dp:.4f} vs half of ctgan {half_ct_dp:.4f} -> {bt_dp <= half_ct_dp}")
        print(f"  auroc_tstr: {bt['utility.auroc_tstr']:.4f} vs ctgan {ct['utility.auroc_tstr']:.4f} "
              f"(diff {bt['utility.auroc_tstr'] - ct['utility.auroc_tstr']:+.4f}) -> "
              f"{bt['utility.auroc_tstr'] >= ct['utility.auroc_tstr'] - 0.03}")
        bt_ba, ct_ba = bt["fairness.bias_amplification"], ct["fairness.bias_amplification"]
        print(f"  bias_amplification: {bt_ba:.4f} vs ctgan {ct_ba:.4f} -> {bt_ba <= ct_ba}")
        worst = frame[frame.variant == variant].smallest_subgroup_share_error.max()
        print(f"  smallest subgroup share error (worst seed): {worst:.4f} -> {worst <= 0.2}")


def cmd_summary(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for path in args.files for line in path.read_text().splitlines() if line.strip()]
    frame = _summary(rows, "results in " + ", ".join(str(p) for p in args.files))
    _acceptance(frame)
    _dp_acceptance(frame)


def _unbiased(seed: int) -> pd.DataFrame:
    """ACTG 175 with its (race, gender) pairs shuffled across rows: subgroup sizes stay, every
    dependence of the outcome (or any column) on race and gender is gone."""
    from synth.data.datasets import load_dataset

    frame = load_dataset("actg175")[0].copy()
    order = np.random.default_rng(seed).permutation(len(frame))
    frame[["race", "gender"]] = frame[["race", "gender"]].to_numpy()[order]
    return frame


def cmd_no_bias(args: argparse.Namespace) -> None:
    rows = []
    for seed in args.seeds:
        frame = _unbiased(seed)
        for variant, extra in (("btgan", {}), ("btgan_no_penalty", {"fairness_weight": 0.0})):
            params = {"epochs": args.epochs, "batch_size": args.batch_size, "progress": False, **extra}
            row = run_one(variant, "btgan", params, seed, ["utility", "fairness"],
                          {"fairness": {"n_boot": 50}, "utility": {"n_boot": 50}},
                          data={**DATA, "identifiers": ["pidnum"]}, frame=frame)
            _append(args.out, row)
            rows.append(row)
    _summary(rows, "outcome independent of race and gender")


def cmd_dp(args: argparse.Namespace) -> None:
    rows = []
    audits = ["membership"]
    attacks = ["distance", "domias"] + (["shadow"] if args.shadow else [])
    audit_params = {"membership": {"attacks": attacks}, "utility": {"n_boot": 50}}
    # DP may use only declared bounds and levels (the DP example's); every variant gets the
    # same data block so that only the training differs.
    import yaml

    declared = yaml.safe_load((Path(__file__).parents[1] / "examples" / "btgan_dp.yaml").read_text())["data"]["columns"]
    for seed in args.seeds:
        frame, data, plain = None, {**DATA, "columns": declared}, {}
        if args.train_rows:
            # a small random sample trained long without early stopping: the plain model has
            # something to leak, so "DP does not raise the membership AUC" is not vacuous
            from synth.data.datasets import load_dataset

            full = load_dataset("actg175")[0]
            frame = full.sample(n=min(args.train_rows, len(full)), random_state=seed).reset_index(drop=True)
            data = {**data, "identifiers": ["pidnum"], "split": {"holdout_fraction": 0.5}}
            plain = {"validation_fraction": 0.0}
        for variant, extra in (("btgan", plain), ("btgan_dp_eps10", {"dp_epsilon": 10.0}),
                               ("btgan_dp_eps1", {"dp_epsilon": 1.0})):
            if args.variants and variant not in args.variants:
                continue
            params = {"epochs": args.epochs, "batch_size": args.batch_size, "progress": False, **extra}
            try:
                row = run_one(variant, "btgan", params, seed, audits + ["utility"], audit_params, data=data,
                              frame=frame)
            except InternalError as exc:  # e.g. a column the generator left empty: a result, recorded
                row = {"variant": variant, "seed": seed, "failed": str(exc), "loadavg": os.getloadavg()}
            _append(args.out, row)
            rows.append(row)
    sample = f", {args.train_rows} sampled rows split in halves" if args.train_rows else ""
    _dp_acceptance(_summary(rows, f"differential privacy, {args.epochs} epochs{sample}"))


def _dp_acceptance(frame: pd.DataFrame) -> None:
    """Per seed: the epsilon spent against the target, the membership AUC against the same seed without DP."""
    if "membership.auc" not in frame or not {"btgan", "btgan_dp_eps1", "btgan_dp_eps10"} & set(frame.variant):
        return
    print("\nacceptance (per seed):")
    plain = frame[frame.variant == "btgan"].set_index("seed")["membership.auc"]
    for variant, target in (("btgan_dp_eps10", 10.0), ("btgan_dp_eps1", 1.0)):
        for _, row in frame[frame.variant == variant].iterrows():
            if isinstance(row.get("failed"), str):
                print(f"  {variant} seed {row['seed']}: no data set; the generator failed: {row['failed'][:160]}")
                continue
            auc, base = row["membership.auc"], plain.get(row["seed"], float("nan"))
            print(f"  {variant} seed {row['seed']}: epsilon spent {row['epsilon_spent']:.4f} <= {target:g} -> "
                  f"{row['epsilon_spent'] <= target}; membership AUC {auc:.4f} vs {base:.4f} without DP -> "
                  f"{auc <= base}; empirical epsilon lower bound {row.get('membership.epsilon_lower_bound_max')}")
        # Over seeds, paired: the leak's size is |AUC - 0.5| (the gate is two-sided); one AUC on
        # 200 members has a standard error of about 0.03, so read the mean difference with its own.
        done = frame[(frame.variant == variant) & frame["membership.auc"].notna()].set_index("seed")["membership.auc"]
        seeds = sorted(set(done.index) & set(plain.dropna().index))
        if len(seeds) >= 2:
            diff = done[seeds].to_numpy() - plain[seeds].to_numpy()
            leak = np.abs(done[seeds].to_numpy() - 0.5) - np.abs(plain[seeds].to_numpy() - 0.5)
            se = diff.std(ddof=1) / np.sqrt(len(seeds))
            print(f"  {variant} over seeds {seeds}: mean AUC {done[seeds].mean():.4f} vs {plain[seeds].mean():.4f} without "
                  f"DP (paired difference {diff.mean():+.4f} +- {se:.4f} s.e.); mean |AUC - 0.5| difference "
                  f"{leak.mean():+.4f}")


class _TimedEpochs:
    """Stands in for the tqdm bar both trainers wrap their epoch loop in, and times each epoch
    in wall seconds and in CPU seconds of this process (the machine is shared: wall time
    stretches with the load, CPU time much less)."""

    times: list[tuple[float, float]] = []

    def __init__(self, iterable, *args, **kwargs) -> None:
        self.iterable = iterable

    def __iter__(self):
        last = time.perf_counter(), time.process_time()
        for item in self.iterable:
            yield item
            now = time.perf_counter(), time.process_time()
            _TimedEpochs.times.append((now[0] - last[0], now[1] - last[1]))
            last = now

    def set_description(self, *args, **kwargs) -> None:
        pass

    set_postfix = close = set_description


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its live descendants: ctgan's DataTransformer
    transforms columns in joblib worker processes, which ``time.process_time`` misses.
    Reads /proc (Linux); elsewhere this process only."""
    total = time.process_time()
    if not Path("/proc/self/stat").exists():
        return total
    tick = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the process ended meanwhile
            table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)  # ppid, utime+stime
    frontier, seen = [os.getpid()], set()
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, cpu) in table.items():
            if ppid == parent and pid not in seen:
                seen.add(pid)
                frontier.append(pid)
                total += cpu
    return total


def _epoch_times(target: str, fit) -> np.ndarray:
    """(epochs, 2) wall and CPU seconds of each epoch of ``fit()``, read off the progress bar at ``target``."""
    from unittest import mock

    _TimedEpochs.times = []
    with mock.patch(target, _TimedEpochs), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit()
    return np.asarray(_TimedEpochs.times)


def cmd_floor(args: argparse.Namespace) -> None:
    from fairlearn.metrics import demographic_parity_difference

    from synth.config.model import DataConfig
    from synth.prepare import prepare

    floors, fairs = [], []
    for seed in args.seeds:
        prep = prepare(DataConfig(**DATA), seed=seed)
        hold = prep.holdout
        groups = [hold["race"].astype(str), hold["gender"].astype(str),
                  hold["race"].astype(str) + "|" + hold["gender"].astype(str)]
        rate = float(prep.train["cens"].astype(float).mean())
        rng = np.random.default_rng(seed)
        sims = [max(demographic_parity_difference(np.zeros(len(hold)), rng.uniform(size=len(hold)) < rate,
                                                  sensitive_features=g) for g in groups) for _ in range(args.sims)]
        floors.append(float(np.mean(sims)))
        sizes = (groups[2].value_counts()).to_dict()
        print(f"seed {seed}: holdout {len(hold)} rows, race|gender sizes {sizes}; a fair random predictor at rate "
              f"{rate:.3f} shows dp_diff {np.mean(sims):.4f} on average (5-95 %: {np.quantile(sims, 0.05):.4f}-"
              f"{np.quantile(sims, 0.95):.4f}, {args.sims} draws)")
        fair = _parity_post_processed(prep, groups, seed)
        fairs.append(fair)
        print(f"  a real-trained model held to demographic parity on the training rows (fairlearn ThresholdOptimizer): "
              f"AUROC {fair['auroc']:.3f}, flags {fair['flagged']:.3f} of the holdout, dp_diff {fair['dp_diff']:.4f}")
    print(f"mean over seeds: random fair predictor {np.mean(floors):.4f}; parity-post-processed real model "
          f"{np.mean([f['dp_diff'] for f in fairs]):.4f} (AUROC {np.mean([f['auroc'] for f in fairs]):.3f})")


def _parity_post_processed(prep, groups: list[pd.Series], seed: int) -> dict:
    """The ``dp_diff`` on the holdout of an accurate model made fair by a peer library: gradient
    boosting on the real training rows, post-processed by fairlearn's ``ThresholdOptimizer``
    to demographic parity across race x gender *on the training rows*. What remains on the
    holdout is what holdout sampling leaves to a model that is fair in the population it
    learned from: the level below which no accurate generator's data can push the metric."""
    from fairlearn.metrics import demographic_parity_difference
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
        x = frame.drop(columns=["cens", "pidnum"], errors="ignore").astype(float)
        return x, frame["cens"].astype(int).to_numpy(), frame["race"].astype(str) + "|" + frame["gender"].astype(str)

    x_tr, y_tr, s_tr = split(prep.train)
    x_ho, y_ho, s_ho = split(prep.holdout)
    model = HistGradientBoostingClassifier(random_state=seed)
    post = ThresholdOptimizer(estimator=model, constraints="demographic_parity", predict_method="predict_proba",
                              objective="accuracy_score")
    post.fit(x_tr, y_tr, sensitive_features=s_tr)
    flags = post.predict(x_ho, sensitive_features=s_ho, random_state=seed)
    auroc = roc_auc_score(y_ho, post.estimator_.predict_proba(x_ho)[:, 1])
    dp = max(demographic_parity_difference(y_ho, flags, sensitive_features=g) for g in groups)
    return {"auroc": float(auroc), "flagged": float(np.mean(flags)), "dp_diff": float(dp)}


def cmd_speed(args: argparse.Namespace) -> None:
    """Seconds per epoch of ctgan.CTGAN and btgan on the same table and batch size, in one run:
    each epoch is timed where both trainers step their progress bar (preprocessing excluded)."""
    from dataclasses import replace

    from ctgan import CTGAN
    from ctgan.data_transformer import DataTransformer

    from synth.config.model import DataConfig
    from synth.generators.btgan import BtGANGenerator
    from synth.generators.btgan.encoding import TableTransformer
    from synth.generators.sdv_adapter import training_frame
    from synth.prepare import prepare
    from synth.schema import ColumnKind, ColumnSpec, Schema

    prep = prepare(DataConfig(**DATA), seed=0)
    # ctgan.CTGAN refuses missing numeric values: both get the same table, cd496 imputed
    # with its median and its missingness as a 0/1 column (what btgan encodes internally).
    base = training_frame(prep.train, prep.modelled)
    missing = base["cd496"].isna()
    train = base.assign(cd496=base["cd496"].fillna(base["cd496"].median()), cd496_missing=missing.astype(int))
    schema = Schema(tuple(replace(c, nullable=False) if c.name == "cd496" else c for c in prep.modelled.columns)
                    + (ColumnSpec("cd496_missing", ColumnKind.CATEGORICAL, categories=(0, 1)),))
    discrete = [c.name for c in schema.columns if c.is_discrete]
    # ctgan.CTGAN takes plain pandas columns: categories as objects, integers as floats.
    ct_frame = train.astype({c: "object" for c in discrete}).astype({"cd496": "float64"})
    load0 = os.getloadavg()

    ct_times = _epoch_times("ctgan.synthesizers.ctgan.tqdm", lambda: CTGAN(
        epochs=args.epochs, batch_size=args.batch_size, verbose=False).fit(ct_frame, discrete_columns=discrete))
    bt_times = _epoch_times("tqdm.auto.tqdm", lambda: BtGANGenerator(
        seed=0, epochs=args.epochs, batch_size=args.batch_size, validation_fraction=0, progress=False,
    ).fit(train, schema))
    print(f"ACTG 175 train ({len(train)} rows), batch {args.batch_size}, {args.epochs} epochs each, torch threads "
          f"{args.threads}; load {tuple(round(x, 1) for x in load0)} -> {tuple(round(x, 1) for x in os.getloadavg())}")
    for unit, k in (("wall", 0), ("CPU", 1)):
        ct_epoch, bt_epoch = float(np.median(ct_times[:, k])), float(np.median(bt_times[:, k]))
        print(f"  {unit:4s} ctgan.CTGAN median {ct_epoch:.4f} s/epoch, btgan median {bt_epoch:.4f} s/epoch; "
              f"ratio btgan / ctgan {bt_epoch / ct_epoch:.2f} (median), "
              f"{bt_times[:, k].mean() / ct_times[:, k].mean():.2f} (mean)")

    big = pd.concat([train] * (args.prep_rows // len(train) + 1), ignore_index=True).iloc[: args.prep_rows]
    rng = np.random.default_rng(1)
    big["wtkg"] = big["wtkg"] * rng.uniform(0.95, 1.05, len(big))  # not only repeated values
    ct_big = big.astype({c: "object" for c in discrete}).astype({"cd496": "float64"})
    clocks = (time.perf_counter, _cpu_seconds)
    started = [c() for c in clocks]
    transformer = DataTransformer()
    transformer.fit(ct_big, discrete)
    transformer.transform(ct_big)
    ct_s = [c() - t for c, t in zip(clocks, started)]
    started = [c() for c in clocks]
    TableTransformer(schema).fit(big, rng).transform(big, rng)
    bt_s = [c() - t for c, t in zip(clocks, started)]
    print(f"preprocessing (fit + transform) of a {len(big)}-row table: ctgan DataTransformer {ct_s[0]:.2f} s wall, "
          f"{ct_s[1]:.2f} s CPU; btgan TableTransformer {bt_s[0]:.3f} s wall, {bt_s[1]:.3f} s CPU (CPU ratio "
          f"{bt_s[1] / ct_s[1]:.3f}); load {tuple(round(x, 1) for x in os.getloadavg())}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("fairness", "no-bias", "dp", "speed", "floor"):
        p = sub.add_parser(name)
        p.add_argument("--epochs", type=int, default=300)
        p.add_argument("--batch-size", type=int, default=500)
        p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
        p.add_argument("--out", type=Path, default=Path(f"bench-btgan-{name}.jsonl"))
        p.add_argument("--variants", nargs="*", default=None)
        p.add_argument("--shadow", action="store_true", help="dp: include the shadow-model attack (slow)")
        p.add_argument("--threads", type=int, default=1,
                       help="torch threads for every generator (more only pays on an idle machine)")
        p.add_argument("--prep-rows", type=int, default=10_000)
        p.add_argument("--train-rows", type=int, default=None,
                       help="dp: a random sample of this many ACTG 175 rows per seed (half train, half holdout), "
                            "no early stopping: a setting where the plain model overfits")
        p.add_argument("--fairness-weight", type=float, default=1.0,
                       help="fairness: Bt-GAN's penalty strength (variant btgan_w<weight> when not 1)")
        p.add_argument("--sims", type=int, default=500, help="floor: simulated predictors per seed")
    summary = sub.add_parser("summary", help="summarise JSON-lines result files of earlier runs")
    summary.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if hasattr(args, "threads"):
        import torch

        torch.set_num_threads(args.threads)
    commands = {"fairness": cmd_fairness, "no-bias": cmd_no_bias, "dp": cmd_dp, "speed": cmd_speed,
                "floor": cmd_floor, "summary": cmd_summary}
    commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
