"""A synthetic clinical *population* for known-answer tests.

``make_population(n, seed)`` draws independent records from one fixed distribution, so
disjoint draws play the roles of training data, holdout and "fresh records from the same
population". Mixed types: integer age, numeric lab values with missing entries, categorical
sex/race, boolean diabetes, and a binary outcome that depends on them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.schema import ColumnKind, ColumnSpec, Role, Schema


def make_population(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` independent records (index 0..n-1) from the fixed population."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 91, n)
    sex = rng.choice(["F", "M"], n, p=[0.52, 0.48])
    race = rng.choice(["white", "black", "asian", "other"], n, p=[0.6, 0.2, 0.12, 0.08])
    bmi = np.round(rng.normal(27 + 0.03 * (age - 50), 4.5, n), 1)
    sbp = np.round(110 + 0.5 * age + rng.normal(0, 12, n) + np.where(sex == "M", 4, 0), 0)
    creat = np.round(np.exp(rng.normal(0.0, 0.3, n)) * np.where(sex == "M", 1.1, 0.9), 2)
    creat = np.where(rng.random(n) < 0.1, np.nan, creat)  # 10 % missing lab
    diabetes = rng.random(n) < (0.08 + 0.004 * (bmi - 20).clip(0))
    logit = -6 + 0.05 * age + 0.08 * (bmi - 27) + 0.6 * diabetes + 0.3 * (race == "black")
    outcome = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "age": pd.array(age, dtype="Int64"),
            "sex": sex,
            "race": race,
            "bmi": bmi,
            "sbp": sbp,
            "creatinine": creat,
            "diabetes": pd.array(diabetes, dtype="boolean"),
            "outcome": pd.array(outcome, dtype="Int64"),
        }
    )


def population_schema() -> Schema:
    """The hand-written schema of :func:`make_population` (target: outcome; sensitive: sex, race)."""
    return Schema(
        (
            ColumnSpec("age", ColumnKind.INTEGER, minimum=18, maximum=90, roles=frozenset({Role.QUASI_IDENTIFIER})),
            ColumnSpec("sex", ColumnKind.CATEGORICAL, categories=("F", "M"),
                       roles=frozenset({Role.SENSITIVE, Role.QUASI_IDENTIFIER})),
            ColumnSpec("race", ColumnKind.CATEGORICAL, categories=("asian", "black", "other", "white"),
                       roles=frozenset({Role.SENSITIVE, Role.QUASI_IDENTIFIER})),
            ColumnSpec("bmi", ColumnKind.NUMERIC),
            ColumnSpec("sbp", ColumnKind.NUMERIC),
            ColumnSpec("creatinine", ColumnKind.NUMERIC, nullable=True),
            ColumnSpec("diabetes", ColumnKind.BOOLEAN, categories=(False, True)),
            ColumnSpec("outcome", ColumnKind.CATEGORICAL, categories=(0, 1), roles=frozenset({Role.TARGET})),
        )
    )


def known_answer_split(n_train: int = 1000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Disjoint draws: ``train``, ``holdout`` (n_train/2), ``fresh`` (n_train), and
    ``copy`` (= train), ``noisy`` (train + small noise on numeric columns)."""
    pop = make_population(n_train * 5 // 2, seed)
    train = pop.iloc[:n_train]
    holdout = pop.iloc[n_train : n_train + n_train // 2]
    fresh = pop.iloc[n_train + n_train // 2 :].reset_index(drop=True)
    rng = np.random.default_rng(seed + 1)
    noisy = train.copy().reset_index(drop=True)
    for col in ("bmi", "sbp"):
        noisy[col] = noisy[col] + rng.normal(0, 0.01 * noisy[col].std(), len(noisy))
    return {"train": train, "holdout": holdout, "fresh": fresh, "copy": train.reset_index(drop=True), "noisy": noisy}
