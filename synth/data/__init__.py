"""The tabular data layer: load a table, infer its schema, bring it to canonical dtypes, split it.

::

    frame = load_table("data/cohort.csv")            # or "builtin:actg175", a DataFrame
    schema = infer_schema(frame, target="outcome", sensitive=["sex"])
    validate_for_run(frame, schema, source="data/cohort.csv")
    frame = coerce_to_schema(frame, schema)
    train, holdout = split_train_holdout(frame, schema, holdout_fraction=0.2, seed=0)

MIMIC-IV: :func:`extract_mimic_iv_cohort` builds a one-row-per-ICU-stay table from a local
MIMIC-IV folder with DuckDB.
"""

from __future__ import annotations

from synth.data.coerce import coerce_to_schema, validate_for_run
from synth.data.datasets import DatasetInfo, list_datasets, load_dataset
from synth.data.infer import infer_schema
from synth.data.load import load_table
from synth.data.mimic_iv import MIMIC_IV_COHORT_INFO, cohort_schema, extract_mimic_iv_cohort
from synth.data.split import split_train_holdout

__all__ = [
    "MIMIC_IV_COHORT_INFO",
    "DatasetInfo",
    "coerce_to_schema",
    "cohort_schema",
    "extract_mimic_iv_cohort",
    "infer_schema",
    "list_datasets",
    "load_dataset",
    "load_table",
    "split_train_holdout",
    "validate_for_run",
]
