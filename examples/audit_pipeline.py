"""synth inside a data-sharing pipeline: audit synthetic data made elsewhere, release only on a pass.

The pipeline owns the real table and keeps a holdout back before anyone trains a
generator; the synthetic table may come from any tool. synth audits it against the
training rows and the holdout, writes the steward's report, and the release step copies
the synthetic data with the *public* report (aggregates only) into the release folder only
when every gate passed. The exit code is the verdict, so a CI job or a workflow engine can
gate on it: 0 released, 1 a gate failed (nothing released), 2 a mistake in the inputs.

    # split a real table, then make synthetic data from train.csv with any tool:
    python examples/audit_pipeline.py split --real data/cohort.csv --target outcome --out work/
    # ... your generator writes work/synthetic.csv from work/train.csv ...
    python examples/audit_pipeline.py release --work work/ --target outcome --sensitive sex,race --release out/

    # the whole thing offline on the built-in ACTG 175 table, with synth's Gaussian copula
    # standing in for the outside generator:
    python examples/audit_pipeline.py demo --work work/ --release out/
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import synth
from synth.data import infer_schema, load_table, split_train_holdout
from synth.errors import SynthUserError
from synth.reports import write_report

EXIT_RELEASED, EXIT_HELD_BACK, EXIT_USER_ERROR = 0, 1, 2
GATES = [  # what this pipeline's data-sharing agreement asks for; each rules out a leak
    "privacy.exact_copy_excess.lower_ci <= 0",  # no more copies of real records than chance makes
    "privacy.dcr_share.upper_ci <= 0.6",  # synthetic rows not systematically closer to training records
    "membership.auc.upper_ci <= 0.6",  # membership of a person in the training data stays a guess
]


def split(real: str, target: str | None, work: Path, holdout_fraction: float = 0.25, seed: int = 0) -> None:
    """Split the real table once, before any generator sees it; the holdout stays in the pipeline."""
    frame = load_table(real)
    schema = infer_schema(frame, target=target)
    train, holdout = split_train_holdout(frame, schema, holdout_fraction=holdout_fraction, seed=seed)
    work.mkdir(parents=True, exist_ok=True)
    train.to_csv(work / "train.csv", index=False)
    holdout.to_csv(work / "holdout.csv", index=False)
    print(f"{len(train)} training rows -> {work / 'train.csv'} (give these to the generator); "
          f"{len(holdout)} holdout rows -> {work / 'holdout.csv'} (keep these back)")


def release(work: Path, target: str | None, sensitive: list[str], release_dir: Path,
            audits: list[str] | None = None, gates: list[str] | None = None) -> int:
    """Audit work/synthetic.csv; on a pass copy it and the public report into ``release_dir``."""
    result = synth.audit(
        real=work / "train.csv", holdout=work / "holdout.csv", synthetic=work / "synthetic.csv",
        target=target, sensitive=sensitive, audits=audits, gates=gates or GATES, output_dir=work / "audit",
    )
    for g in result.gates:
        print(f"{'pass' if g.passed else 'FAIL'}  {g.expression}  (observed {g.observed})")
    print(f"steward report: {work / 'audit' / 'report.html'}")
    if not result.passed:
        print("held back: at least one gate failed; nothing was released.")
        return EXIT_HELD_BACK
    release_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "synthetic.csv", release_dir / "synthetic.csv")
    write_report(result.to_dict(), release_dir / "report.html", audience="public")
    print(f"released: {release_dir / 'synthetic.csv'} with its public report {release_dir / 'report.html'}")
    return EXIT_RELEASED


def demo(work: Path, release_dir: Path, audits: list[str] | None = None) -> int:
    """Split ACTG 175, make synthetic data from the training rows, audit, release on a pass."""
    from synth.data import coerce_to_schema
    from synth.registry import generator_class

    split("builtin:actg175", "cens", work, holdout_fraction=0.3, seed=7)
    # The outside generator: here synth's Gaussian copula plugin, fitted on train.csv only.
    train = load_table(work / "train.csv")
    full = infer_schema(train, target="cens", identifiers=["pidnum"])
    schema = full.modelled()
    train = coerce_to_schema(train, full)[schema.names]
    generator = generator_class("gaussian_copula")(seed=7).fit(train, schema)
    generator.sample(len(train), seed=7).to_csv(work / "synthetic.csv", index=False)
    return release(work, "cens", ["race", "gender"], release_dir, audits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p_split = sub.add_parser("split", help="split the real table into train.csv and holdout.csv")
    p_split.add_argument("--real", required=True)
    p_split.add_argument("--target")
    p_split.add_argument("--out", type=Path, required=True)
    p_split.add_argument("--holdout-fraction", type=float, default=0.25)
    p_release = sub.add_parser("release", help="audit work/synthetic.csv and release it on a pass")
    p_demo = sub.add_parser("demo", help="split, generate, audit and release ACTG 175 offline")
    for p in (p_release, p_demo):
        p.add_argument("--work", type=Path, required=True)
        p.add_argument("--release", type=Path, required=True)
        p.add_argument("--audits", help="comma-separated audits (default: all installed)")
    p_release.add_argument("--target")
    p_release.add_argument("--sensitive", default="")
    args = parser.parse_args(argv)
    audits = args.audits.split(",") if getattr(args, "audits", None) else None
    try:
        if args.step == "split":
            split(args.real, args.target, args.out, args.holdout_fraction)
            return EXIT_RELEASED
        if args.step == "release":
            sensitive = [s for s in args.sensitive.split(",") if s]
            return release(args.work, args.target, sensitive, args.release, audits)
        return demo(args.work, args.release, audits)
    except SynthUserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
