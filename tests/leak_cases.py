"""The known-answer leak cases of issue 7, as (train, holdout, synthetic, roles) tuples.

Shared by the slow known-answer tests and ``bench/bench_leaks.py``:

- :func:`population_case`: the simulated population (``population.draw`` / ``population.leak``);
- :func:`actg_case`: the real built-in ACTG 175 table, split 75/25 with a new seed per
  draw; the leak-free base is a Gaussian copula fitted on the training part (as many
  rows as the training part), into which the same leaks are planted.
"""

from __future__ import annotations

import pandas as pd

from population import draw, leak, plant


def population_case(seed: int, kind: str, *, tail: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    d = draw(seed, tail=tail)
    synthetic = d.synthetic if kind == "null" else leak(d, kind)
    return d.train, d.holdout, synthetic, {"target": "outcome", "sensitive": ["sex", "race"]}


def actg_case(seed: int, kind: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    from synth.data.datasets import load_dataset
    from synth.data.infer import infer_schema
    from synth.data.split import split_train_holdout
    from synth.generators.sdv_gaussian_copula import GaussianCopulaGenerator

    frame, info = load_dataset("actg175")
    roles = info.role_arguments()
    schema = infer_schema(frame, {}, **roles)
    modelled = schema.modelled()
    train, holdout = split_train_holdout(frame, schema, holdout_fraction=0.25, seed=seed)
    train, holdout = train[modelled.names].reset_index(drop=True), holdout[modelled.names].reset_index(drop=True)
    generator = GaussianCopulaGenerator(seed=seed).fit(train, modelled)
    base = generator.sample(len(train), seed=seed)
    synthetic = base if kind == "null" else plant(
        train, holdout, base, kind, schema=modelled, seed=seed, more=lambda n: generator.sample(n, seed=seed + 17))
    return train, holdout, synthetic, {"target": roles.get("target"), "sensitive": roles.get("sensitive")}
