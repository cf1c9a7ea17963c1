"""Loader for the real NIH ChestX-ray14 metadata table, for benchmark scripts.

The file lives outside the repository, at ``../shared/data/cxr/Data_Entry_2017_v2020.csv.gz``
relative to the repository root (112,120 rows, one per image). A fresh checkout has no
``../shared``; then :func:`load_nih_table` stops the script with a message saying so.

Columns returned (schema in brackets):

- ``patient_id`` [id: never modelled], ``age`` [integer], ``sex`` [categorical],
  ``view`` [categorical: PA / AP], ``follow_up`` [integer],
- ``width`` / ``height`` [integer: original image size in pixels],
- ``spacing_x`` / ``spacing_y`` [numeric: original pixel spacing in mm],
- ``finding`` [categorical: the pipe-separated finding labels as one string, the
  ``top_k_findings`` most common kept and the rest as ``"other"``].
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from synth.schema import ColumnKind, ColumnSpec, Role, Schema

NIH_TABLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cxr" / "Data_Entry_2017_v2020.csv.gz"

# The CSV header splits "OriginalImage[Width,Height]" and "...PixelSpacing[x,y]" at the
# commas, so pandas sees four columns with half-bracketed names.
_RENAME = {
    "Patient ID": "patient_id",
    "Patient Age": "age",
    "Patient Gender": "sex",
    "View Position": "view",
    "Follow-up #": "follow_up",
    "OriginalImage[Width": "width",
    "Height]": "height",
    "OriginalImagePixelSpacing[x": "spacing_x",
    "y]": "spacing_y",
    "Finding Labels": "finding",
}


def nih_table_schema() -> Schema:
    """The schema of :func:`load_nih_table`'s frame."""
    return Schema((
        ColumnSpec("patient_id", ColumnKind.ID, roles=frozenset({Role.IDENTIFIER})),
        ColumnSpec("age", ColumnKind.INTEGER, roles=frozenset({Role.QUASI_IDENTIFIER})),
        ColumnSpec("sex", ColumnKind.CATEGORICAL, roles=frozenset({Role.SENSITIVE, Role.QUASI_IDENTIFIER})),
        ColumnSpec("view", ColumnKind.CATEGORICAL),
        ColumnSpec("follow_up", ColumnKind.INTEGER),
        ColumnSpec("width", ColumnKind.INTEGER),
        ColumnSpec("height", ColumnKind.INTEGER),
        ColumnSpec("spacing_x", ColumnKind.NUMERIC),
        ColumnSpec("spacing_y", ColumnKind.NUMERIC),
        ColumnSpec("finding", ColumnKind.CATEGORICAL, roles=frozenset({Role.TARGET})),
    ))


def load_nih_table(top_k_findings: int = 10, path: Path = NIH_TABLE) -> tuple[pd.DataFrame, Schema]:
    """The NIH metadata table (112,120 rows) and its schema; exits with a message if absent."""
    if not path.is_file():
        sys.exit(
            f"The NIH ChestX-ray14 metadata table is not at {path}. It is real data kept beside the "
            "repository in ../shared/data/cxr/ (see ../shared/data/README.md); benchmarks that use it "
            "cannot run without it."
        )
    raw = pd.read_csv(path)
    missing = [c for c in _RENAME if c not in raw.columns]
    if missing:
        sys.exit(f"{path} lacks the expected columns {missing}; is it the NIH Data_Entry_2017 table?")
    frame = raw[list(_RENAME)].rename(columns=_RENAME)
    top = frame["finding"].value_counts().index[:top_k_findings]
    frame["finding"] = frame["finding"].where(frame["finding"].isin(top), "other")
    schema = nih_table_schema()
    return frame[schema.names].reset_index(drop=True), schema
