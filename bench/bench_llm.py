"""LLM generator benchmark: each prompt strategy with schema-constrained decoding, against the
same model and prompt without it (parsed the SynLLM way, by splitting lines on commas).

On the built-in ACTG 175 table (real, public; 26 modelled columns) with the embedded model
(Gemma 3 270M Q4_K_M through llama.cpp), for every strategy it prints:

- the valid-row rate (rows that fit the schema and the hard rules, per row asked for) and
  valid rows per second, constrained and unconstrained, and their ratio;
- the audit's fidelity headline numbers (marginal score, pairwise correlation difference)
  and privacy headline numbers (exact-copy rate, DCR share, distance-attack AUC) of the
  constrained rows;
- ``os.getloadavg()`` with every line (the machine is shared).

    python bench/bench_llm.py --rows 40
    python bench/bench_llm.py --rows 20 --strategies rules --no-audit
"""

from __future__ import annotations

import argparse
import os
import time
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

import synth
from synth.config.model import DataConfig
from synth.cpus import free_cpus
from synth.generators.llm import LLMGenerator
from synth.generators.llm.backends.base import BatchRequest
from synth.generators.llm.prompts import PromptRenderer, example_rows
from synth.generators.llm.row_schema import RowValidator, batch_json_schema
from synth.prepare import prepare
from synth.schema import ColumnKind, Schema

STRATEGIES = ("examples", "definitions_examples", "statistics", "rules")
RULES = [
    "if arms == 0 then treat == 0",
    "if arms != 0 then treat == 1",
    "if str2 == 0 then strat == 1",
    "if str2 == 1 then strat != 1",
    "if r == 0 then cd496 is missing",
    "if r == 1 then cd496 is not missing",
]
AUDITS = ["fidelity_columns", "fidelity_pairs", "memorization", "membership"]
HEADLINE = [
    ("fidelity.marginal_score", "marginal"),
    ("fidelity.pairwise_corr_diff_mean", "corr_diff"),
    ("privacy.exact_copy_rate", "copies"),
    ("privacy.dcr_share", "dcr_share"),
    ("membership.distance.auc", "mia_auc"),
]


def _load() -> str:
    return "load %.1f %.1f %.1f" % os.getloadavg()


# -- the SynLLM-style baseline: unconstrained text, split on commas -----------------------------


def _convert(text: str, kind: ColumnKind) -> Any:
    text = text.strip().strip('"').strip()
    if text.lower() in ("", "null", "none", "nan"):
        return None
    if kind == ColumnKind.INTEGER:
        return int(float(text)) if float(text).is_integer() else float(text)
    if kind == ColumnKind.NUMERIC:
        return float(text)
    if kind == ColumnKind.BOOLEAN:
        return text.lower() == "true"
    try:
        number = float(text)
        return int(number) if number.is_integer() else number
    except ValueError:
        return text


def synllm_parse(text: str, schema: Schema) -> list[dict[str, Any]]:
    """Rows from free text the way the SynLLM scripts read model output: one record per line,
    fields split on commas and matched to the columns by position. Lines with the wrong
    number of fields or values that do not convert are dropped."""
    rows = []
    for line in text.splitlines():
        fields = line.strip().strip("[]{}, ").split(",")
        if len(fields) != len(schema.names):
            continue
        try:
            values = [_convert(f.split(":", 1)[-1], spec.kind) for f, spec in zip(fields, schema.columns)]
        except ValueError:
            continue
        rows.append(dict(zip(schema.names, values)))
    return rows


@cache
def _plain_llama(path: str, threads: int) -> Any:
    from llama_cpp import Llama

    return Llama(model_path=path, n_ctx=8192, n_threads=threads, n_batch=512, seed=0, verbose=False)


def unconstrained(gen: LLMGenerator, n_calls: int, seed: int, threads: int) -> dict[str, Any]:
    """The same model and prompts, no grammar, one call at a time as the SynLLM scripts do;
    rows parsed by :func:`synllm_parse`."""
    llm = _plain_llama(str(gen._get_backend().model.path), threads)
    schema = gen.schema
    renderer = PromptRenderer(gen._template, gen._material)
    validator = RowValidator(schema)
    p = gen.params
    valid = requested = 0
    started = time.perf_counter()
    for call in range(n_calls):
        rng = np.random.default_rng([seed, call])
        shown = []
        if p.examples_per_prompt:
            idx = rng.choice(len(gen._train), size=p.examples_per_prompt, replace=False)
            shown = example_rows(gen._train.iloc[idx], schema)
        request = BatchRequest(prompt=renderer.render(shown, p.rows_per_call), schema=batch_json_schema(schema, p.rows_per_call),
                               rows=p.rows_per_call, seed=int(rng.integers(2**31 - 1)), temperature=p.temperature,
                               top_p=p.top_p, max_tokens=16 + p.rows_per_call * len(schema.names) * 12)
        llm.set_seed(request.seed)
        out = llm.create_completion(request.prompt + '{"rows":[\n', max_tokens=request.max_tokens,
                                    temperature=request.temperature, top_p=request.top_p, top_k=0, min_p=0.0)
        rows = [r for r in (validator.validate(r) for r in synllm_parse(out["choices"][0]["text"], schema)[: p.rows_per_call]) if r]
        if rows:
            frame = pd.DataFrame(rows, columns=schema.names)
            ok = np.ones(len(frame), dtype=bool)
            for rule in gen._rules:
                ok &= ~rule.violated(frame, schema)
            valid += int(ok.sum())
        requested += p.rows_per_call
    seconds = time.perf_counter() - started
    return {"valid_rows": valid, "rows_requested": requested, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=40, help="rows per strategy (constrained)")
    parser.add_argument("--rows-per-call", type=int, default=2)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--no-audit", action="store_true", help="skip the audit (rates and speed only)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unconstrained baseline")
    parser.add_argument("--rejection-only", action="store_true",
                        help="hard rules only checked after a row is written (rules_in_decoding: false)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: the free CPUs now)")
    args = parser.parse_args()
    threads = args.threads or free_cpus()

    prep = prepare(DataConfig(source="builtin:actg175", split={"holdout_fraction": 0.3}), seed=args.seed)
    train, holdout, schema = prep.train, prep.holdout, prep.modelled
    print(f"ACTG 175: {len(train)} training rows, {len(holdout)} holdout rows, {len(schema.names)} modelled columns; "
          f"{os.cpu_count()} CPUs, llama.cpp threads {threads}; {_load()}", flush=True)
    started = time.perf_counter()
    LLMGenerator(progress=False, threads=threads).fit(train.head(50), schema)._get_backend()
    print(f"embedded model load (first in process): {time.perf_counter() - started:.1f} s; {_load()}", flush=True)

    for strategy in args.strategies:
        gen = LLMGenerator(seed=args.seed, strategy=strategy, definitions="builtin:actg175", rules=RULES,
                           rows_per_call=args.rows_per_call, progress=False, threads=threads,
                           rules_in_decoding=not args.rejection_only,
                           description="Participants of the ACTG 175 HIV treatment trial.").fit(train, schema)
        cpu = time.process_time()
        rows = gen.sample(args.rows, seed=args.seed)
        cpu = time.process_time() - cpu
        rec = gen.provenance()["sampling"]
        line = (f"{strategy:22s} constrained: valid-row rate {rec['valid_row_rate']:.1%} "
                f"({rec['valid_rows']}/{rec['rows_requested']}), {rec['valid_rows'] / rec['seconds']:.2f} valid rows/s, "
                f"({rec['valid_rows'] / cpu:.2f} per CPU-second), guard dropped {rec['guard_dropped']['exact_copies']} copies")
        if not args.no_baseline:
            cpu = time.process_time()
            base = unconstrained(gen, max(1, rec["calls"] // 4), args.seed, threads)
            base_cpu = time.process_time() - cpu
            rate = base["valid_rows"] / base["rows_requested"]
            speed = base["valid_rows"] / base["seconds"]
            ratio = f"{(rec['valid_rows'] / rec['seconds']) / speed:.2f}x" if speed else "unbounded (no valid baseline row)"
            line += (f" | unconstrained (SynLLM parsing): valid-row rate {rate:.1%} "
                     f"({base['valid_rows']}/{base['rows_requested']}), {speed:.2f} valid rows/s "
                     f"({base['valid_rows'] / base_cpu:.2f} per CPU-second) | ratio {ratio}")
        print(line + f"; {_load()}", flush=True)
        if not args.no_audit:
            result = synth.audit(real=train, holdout=holdout, synthetic=rows, audits=AUDITS, gates=[],
                                 target="cens", seed=args.seed)
            metrics = result.metrics()
            shown = ", ".join(f"{label} {metrics[name].value:.3f}" for name, label in HEADLINE if name in metrics)
            print(f"{'':22s} audit of {len(rows)} rows: {shown}; {_load()}", flush=True)


if __name__ == "__main__":
    main()
