"""A simulated clinical *population* with known answers, and the leaks the audit must catch.

``make_population(n, seed, twins=True)`` draws independent records from one fixed distribution, so
disjoint draws play the roles of training data, holdout and "fresh records from the same
population". Mixed types: integer age, numeric lab values with missing entries, categorical
sex/race, boolean diabetes, and a binary outcome that depends on them.

**Natural duplicates.** Real clinical tables hold records that are identical on every
column without being the same person (coarse values, standard visits). Here 4.5 % of the
population's records come from a fixed catalogue of 40 coarse "standard" records (bmi
rounded to a whole number, sbp to 10 mmHg, no creatinine) with Zipf(0.5) weights, so about
4.4 % of the rows of a 3,000-4,000-row sample have an exact twin (3 % at 1,000 rows,
4.5 % at 20,000); the rest are continuous and unique. The catalogue is the same for every
seed: it is part of the population, not of a sample. ``tail=True`` uses a long-tailed
catalogue instead (100 records, Zipf(1)): the same twin share, but many standard records
rare enough to be the only one of their kind in a 4,000-row sample, where a natural exact
match looks like a copy (about 13 such matches per 3,000 synthetic rows instead of 3).

**Leaks** (:func:`leak`): synthetic tables that are fresh population draws except for a
planted leak of a stated size, the known-answer cases of the default gates (issue 7):
verbatim copies of random training records, near-copies (numeric values times 1.001,
categories kept), copies of the rarest training records (farthest from any holdout
record), and a privacy filter's hole (synthetic rows closer to a training record than to
any holdout record removed).

**People with several rows** (:func:`make_grouped_population`): patients with 1-4
near-identical stays each, for the per-person (``data.group``) privacy tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.neighbors.encoding import MixedEncoder
from synth.neighbors.search import nearest
from synth.schema import ColumnKind, ColumnSpec, Role, Schema

CATALOGUE_SHARE = 0.045
_CATALOGUES = {False: (40, 0.5), True: (100, 1.0)}  # tail -> (records, Zipf exponent)
_CATALOGUE_SEED = 20_231_117  # fixed: the catalogue belongs to the population, not to a draw
LEAKS = ("copies", "near_copies", "rare_copies", "filter_hole")


def _records(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` continuous records from the fixed generative model."""
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
    return pd.DataFrame({"age": age, "sex": sex, "race": race, "bmi": bmi, "sbp": sbp, "creatinine": creat,
                         "diabetes": diabetes, "outcome": outcome})


def catalogue(tail: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """The coarse standard records and their Zipf probabilities (summing to 1)."""
    size, exponent = _CATALOGUES[tail]
    rng = np.random.default_rng(_CATALOGUE_SEED)
    records = _records(size, rng)
    records["bmi"] = np.round(records["bmi"])
    records["sbp"] = np.round(records["sbp"], -1)
    records["creatinine"] = np.nan
    weights = 1.0 / np.arange(1, size + 1) ** exponent
    return records, weights / weights.sum()


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reset_index(drop=True).copy()
    out["age"] = pd.array(out["age"].astype(int), dtype="Int64")
    out["diabetes"] = pd.array(out["diabetes"].astype(bool), dtype="boolean")
    out["outcome"] = pd.array(out["outcome"].astype(int), dtype="Int64")
    return out


def make_population(n: int, seed: int = 0, *, twins: bool = False, tail: bool = False) -> pd.DataFrame:
    """``n`` independent records (index 0..n-1) from the fixed population.

    ``twins``: with the standard records that give natural duplicates (the privacy known
    answers use them; without, every record is continuous and unique, which the other
    audits' known answers were written for); ``tail``: the long-tailed catalogue of
    standard records (see the module docstring).
    """
    rng = np.random.default_rng(seed)
    frame = _records(n, rng)
    standard = rng.random(n) < CATALOGUE_SHARE
    if (twins or tail) and standard.any():
        records, weights = catalogue(tail)
        picks = rng.choice(len(records), int(standard.sum()), p=weights)
        for col in frame.columns:
            frame.loc[standard, col] = records[col].to_numpy()[picks]
    return _typed(frame)


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


def twin_share(frame: pd.DataFrame) -> float:
    """Share of rows identical (on every column, missing equal to missing) to another row."""
    return float(frame.astype(str).duplicated(keep=False).mean())


def known_answer_split(n_train: int = 1000, seed: int = 0, *, twins: bool = False) -> dict[str, pd.DataFrame]:
    """Disjoint draws: ``train``, ``holdout`` (n_train/2), ``fresh`` (n_train), and
    ``copy`` (= train), ``noisy`` (train + small noise on numeric columns); ``twins`` as in
    :func:`make_population`."""
    pop = make_population(n_train * 5 // 2, seed, twins=twins)
    train = pop.iloc[:n_train]
    holdout = pop.iloc[n_train : n_train + n_train // 2]
    fresh = pop.iloc[n_train + n_train // 2 :].reset_index(drop=True)
    rng = np.random.default_rng(seed + 1)
    noisy = train.copy().reset_index(drop=True)
    for col in ("bmi", "sbp"):
        noisy[col] = noisy[col] + rng.normal(0, 0.01 * noisy[col].std(), len(noisy))
    return {"train": train, "holdout": holdout, "fresh": fresh, "copy": train.reset_index(drop=True), "noisy": noisy}


# -- the acceptance draws: a split, fresh synthetic rows, and planted leaks -------------------


@dataclass(frozen=True)
class Draw:
    """One known-answer draw: a random train/holdout split of fresh population rows and
    ``synthetic`` rows drawn independently from the same population (no leak)."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    seed: int
    tail: bool = False


def draw(seed: int, n_train: int = 3000, n_holdout: int = 1000, n_synthetic: int | None = None, *,
         tail: bool = False) -> Draw:
    """A null draw: ``n_train + n_holdout`` population rows split at random (the pipeline's
    default holdout share of 25 % at the defaults), and ``n_synthetic`` (default ``n_train``)
    fresh rows that no generator derived from the training data."""
    n_synthetic = n_train if n_synthetic is None else n_synthetic
    pool = make_population(n_train + n_holdout, seed=2 * seed + 1, twins=True, tail=tail)
    order = np.random.default_rng([seed, 1]).permutation(len(pool))
    train = pool.iloc[np.sort(order[:n_train])].reset_index(drop=True)
    holdout = pool.iloc[np.sort(order[n_train:])].reset_index(drop=True)
    synthetic = make_population(n_synthetic, seed=2 * seed + 2, twins=True, tail=tail)
    return Draw(train, holdout, synthetic, seed, tail)


def _closest(queries: pd.DataFrame, reference: pd.DataFrame, encoder: MixedEncoder) -> np.ndarray:
    return nearest(encoder.transform(queries), encoder.transform(reference), 1)[0][:, 0]


def plant(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    kind: str,
    *,
    schema: Schema,
    seed: int,
    share: float | None = None,
    more: Callable[[int], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """``synthetic`` with a planted leak of ``kind`` (see :data:`LEAKS`), any table and schema.

    - ``copies``: ``share`` (default 1 %) of the synthetic rows replaced by verbatim copies
      of distinct random training records;
    - ``near_copies``: ``share`` (default 2 %) replaced by training records with every
      numeric value times 1.001 (integer columns rounded back), categories kept;
    - ``rare_copies``: ``share`` (default 1 %) replaced by verbatim copies of the training
      records farthest from any holdout record;
    - ``filter_hole``: a privacy filter's output: rows from ``more(5 * n)`` (fresh leak-free
      rows) closer to a training record than to any holdout record are removed, and the
      first ``n`` kept rows returned.
    """
    if kind not in LEAKS:
        raise ValueError(f"unknown leak {kind!r}; one of {LEAKS}")
    rng = np.random.default_rng([seed, 7])
    columns = schema.modelled().names
    n_s = len(synthetic)
    encoder = MixedEncoder(schema, columns).fit(pd.concat([train[columns], holdout[columns]]))
    if kind == "filter_hole":
        if more is None:
            raise ValueError("filter_hole needs `more`, a source of fresh leak-free rows")
        pool = more(5 * n_s)
        keep = _closest(pool[columns], holdout[columns], encoder) < _closest(pool[columns], train[columns], encoder)
        return pool[keep].iloc[:n_s].reset_index(drop=True)
    share = {"copies": 0.01, "near_copies": 0.02, "rare_copies": 0.01}[kind] if share is None else share
    k = int(round(share * n_s))
    if kind == "rare_copies":
        rarest = np.argsort(-_closest(train[columns], holdout[columns], encoder), kind="stable")[:k]
        chosen = train.iloc[rarest]
    else:
        chosen = train.iloc[np.sort(rng.choice(len(train), k, replace=False))]
    chosen = chosen.reset_index(drop=True).copy()
    if kind == "near_copies":
        for spec in schema.modelled().columns:
            if spec.kind == ColumnKind.NUMERIC:
                chosen[spec.name] = chosen[spec.name] * 1.001
            elif spec.kind == ColumnKind.INTEGER:
                chosen[spec.name] = np.round(chosen[spec.name].astype(float) * 1.001)
    out = synthetic.reset_index(drop=True).copy()
    rows = np.sort(rng.choice(n_s, k, replace=False))
    for col in out.columns:
        values = chosen[col].to_numpy() if col in chosen.columns else out[col].to_numpy()[rows]
        out[col] = out[col].astype(object)
        out.loc[rows, col] = values
        out[col] = out[col].astype(synthetic[col].dtype)
    return out


def leak(d: Draw, kind: str, share: float | None = None) -> pd.DataFrame:
    """The synthetic table of the null draw ``d`` with a planted leak (see :func:`plant`);
    the filter's fresh rows are more draws of the same population."""
    return plant(d.train, d.holdout, d.synthetic, kind, schema=population_schema(), seed=d.seed, share=share,
                 more=lambda n: make_population(n, seed=10_000_019 + d.seed, twins=True, tail=d.tail))


# -- people with several rows (data.group) ------------------------------------------------------


def make_grouped_population(n_people: int, seed: int = 0) -> pd.DataFrame:
    """Patients with 1-4 ICU stays each (mean 2.5): a ``subject_id`` column names the
    person; a patient's stays share age, sex, race, diabetes and outcome and have
    near-identical labs (bmi +- 0.1, sbp +- 1, creatinine +- 0.01)."""
    rng = np.random.default_rng(seed)
    people = make_population(n_people, seed, twins=True)
    stays = rng.integers(1, 5, n_people)
    rows = np.repeat(np.arange(n_people), stays)
    frame = people.iloc[rows].reset_index(drop=True)
    n = len(frame)
    frame["bmi"] = np.round(frame["bmi"] + rng.integers(-1, 2, n) * 0.1, 1)
    frame["sbp"] = frame["sbp"] + rng.integers(-1, 2, n)
    frame["creatinine"] = np.round(frame["creatinine"] + rng.integers(-1, 2, n) * 0.01, 2)
    frame.insert(0, "subject_id", pd.array(rows + 10_000, dtype="Int64"))
    return frame


# -- a wider table for runtime benchmarks ---------------------------------------------------


def make_wide_population(n: int, seed: int = 0) -> pd.DataFrame:
    """:func:`make_population` plus six more columns (14 in all): heart rate, glucose (15 %
    missing), length of stay in days, ICU admission, smoking status and insurance."""
    base = make_population(n, seed)
    rng = np.random.default_rng([seed, 14])
    age = base["age"].to_numpy(dtype=float)
    glucose = np.round(90 + 25 * base["diabetes"].to_numpy(dtype=float) + rng.normal(0, 15, n), 0)
    base["heart_rate"] = np.round(rng.normal(75 + 0.05 * (age - 50), 11, n), 0)
    base["glucose"] = np.where(rng.random(n) < 0.15, np.nan, glucose)
    base["los_days"] = pd.array(1 + rng.poisson(2 + 0.03 * age), dtype="Int64")
    base["icu"] = pd.array(rng.random(n) < 0.1 + 0.1 * base["outcome"].to_numpy(dtype=float), dtype="boolean")
    base["smoking"] = rng.choice(["never", "former", "current"], n, p=[0.55, 0.3, 0.15])
    base["insurance"] = rng.choice(["private", "medicare", "medicaid", "none"], n, p=[0.5, 0.3, 0.15, 0.05])
    return base


def wide_population_schema() -> Schema:
    """The schema of :func:`make_wide_population` (14 columns)."""
    return Schema(population_schema().columns + (
        ColumnSpec("heart_rate", ColumnKind.NUMERIC),
        ColumnSpec("glucose", ColumnKind.NUMERIC, nullable=True),
        ColumnSpec("los_days", ColumnKind.INTEGER, minimum=1),
        ColumnSpec("icu", ColumnKind.BOOLEAN, categories=(False, True)),
        ColumnSpec("smoking", ColumnKind.CATEGORICAL, categories=("current", "former", "never")),
        ColumnSpec("insurance", ColumnKind.CATEGORICAL, categories=("medicaid", "medicare", "none", "private")),
    ))
