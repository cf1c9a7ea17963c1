"""Who a report is for: the data steward (everything) or the public (aggregates only).

The steward report is the default: it carries everything the audit result holds,
including per-record results (an exposure ranking of training rows, the records an attack
flags), which a steward needs to decide. The public report travels with a released data
set and carries aggregates only: no per-record tables or figures (row indices, galleries,
nearest-neighbour tables) and no metric details, because published per-record privacy
results can serve an attacker as an oracle (Ganev & De Cristofaro, 2023, "On the
Inadequacy of Similarity-based Privacy Metrics").

Audits mark per-record content with ``per_record: true`` on a table or figure. Result
files written before that flag existed are read with a conservative rule: a table with a
column named for a row or record (``training row``, ``row index``) is per-record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

Audience = Literal["steward", "public"]
AUDIENCES: tuple[Audience, ...] = ("steward", "public")

AUDIENCE_TITLES = {
    "steward": "Steward report",
    "public": "Public report",
}
AUDIENCE_NOTES = {
    "steward": "Full detail for the data steward, including per-record results (row indices). "
    "Do not publish it with the data; publish the public report instead.",
    "public": "Aggregates only, to travel with the released data: per-record results (row indices, "
    "per-record scores, galleries, nearest-neighbour tables) and metric details are left out.",
}

_RECORD_COLUMN = re.compile(r"^((training|synthetic|holdout|real) )?(row|record)( index| id)?$", re.I)


def is_per_record(block: Mapping[str, Any]) -> bool:
    """Whether a table or figure dict (result.json) shows individual records."""
    if block.get("kind") == "gallery":  # thumbnails of real images: per-record whatever the flag says
        return True
    flag = block.get("per_record")
    if isinstance(flag, bool):
        return flag
    # Written before the flag existed: judge a table by its title and column names.
    if "row index" in str(block.get("title", "")).lower():
        return True
    return any(_RECORD_COLUMN.match(str(c).strip()) for c in block.get("columns") or [])
