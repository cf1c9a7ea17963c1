"""With differential privacy, the encoding may rest only on facts the config declares.

The DP encoding (:mod:`.encoding` with ``fixed_modes``) bins each numeric column over its
schema bounds and one-hot encodes each categorical column over its schema levels. When
those facts are inferred, they are read off the training records: a column's minimum and
maximum are two people's values, a level held by one person names that person's value,
and a missing-value indicator says some member lacks a value. None of this is covered by
the epsilon the accountant reports, and all of it shows in the output (generated values
pile up at the inferred bounds; a holdout record outside them can never be generated,
which a membership attack reads as "not a member"). So under DP every such fact must
come from outside the records: ``data.columns.<name>`` in the config (``min``/``max``,
``categories``, ``nullable``), from domain knowledge such as a codebook or plausible
clinical ranges. :func:`check_public_schema` refuses a fit before any training otherwise.

Booleans are exempt (their two levels are public by kind). A column whose records have
missing values must be declared ``nullable: true``; one that is not declared nullable is
encoded without a missing-value indicator. Taken as public, as in Opacus: the number of
records and the column kinds.
"""

from __future__ import annotations

import pandas as pd

from synth.errors import ConfigError
from synth.schema import ColumnKind, Schema


def check_public_schema(schema: Schema, frame: pd.DataFrame) -> None:
    """Raise :class:`ConfigError` unless every fact the DP encoding uses was declared.

    ``schema``: the modelled columns; ``frame``: the training rows (n_rows x those columns),
    read only for whether a column has missing values. The message names the columns and
    config keys, never a value from the records.
    """
    bounds = [c.name for c in schema.columns if c.is_numeric and not (
        {"minimum", "maximum"} <= c.declared and c.minimum is not None and c.maximum is not None)]
    levels = [c.name for c in schema.columns
              if c.kind == ColumnKind.CATEGORICAL and ("categories" not in c.declared or c.categories is None)]
    # declared nullable *and* true: "nullable: false" over missing values would leave the
    # encoding to find them in the records
    missing = [c.name for c in schema.columns if not (c.nullable and "nullable" in c.declared)
               and c.name in frame and bool(frame[c.name].isna().any())]
    if not (bounds or levels or missing):
        return
    lines, example = [], []
    if bounds:
        lines.append(f"numeric columns without both min and max: {', '.join(bounds)}")
        example.append(f"      {bounds[0]}: {{min: <lowest plausible value>, max: <highest plausible value>}}")
    if levels:
        lines.append(f"categorical columns without categories: {', '.join(levels)}")
        example.append(f"      {levels[0]}: {{categories: [<every possible level>]}}")
    if missing:
        lines.append(f"columns with missing values not declared nullable: {', '.join(missing)}")
        example.append(f"      {missing[0]}: {{nullable: true}}")
    raise ConfigError(
        "generator.params.dp_epsilon is set, so Bt-GAN may encode the data only with facts the config declares: "
        "bounds and levels inferred from the training records are people's values (a column's minimum is one "
        "person's), outside the privacy guarantee, and they show in the synthetic data. Declare them under "
        "data.columns from domain knowledge (a codebook, plausible clinical ranges), not from the data:\n  "
        + "\n  ".join(lines) + "\nfor example\n  data:\n    columns:\n" + "\n".join(example)
    )
