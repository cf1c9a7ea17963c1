"""How the report writes numbers: three significant digits, missing values as an em dash.

The result dict stores NaN and infinity as ``None`` (see :func:`synth.audits.base._num`),
so both ``None`` and non-finite floats read as "no value" here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

MISSING = "\u2014"  # em dash: the value was not computed or is undefined


def format_number(x: Any) -> str:
    """A number for a human: 3 significant digits, thousands separators, ``—`` for None/NaN/inf.

    Integers are written in full (``1604 -> "1,604"``); floats keep three significant
    digits (``0.123456 -> "0.123"``, ``0.5 -> "0.500"``, ``12.34 -> "12.3"``), whole
    thousands and more are rounded to integers (``1234.5 -> "1,234"``), and very small
    or very large magnitudes use scientific notation (``0.000123 -> "1.23e-04"``).
    Booleans read ``yes``/``no``; anything else is returned as ``str(x)``.
    """
    if x is None:
        return MISSING
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, numbers.Integral):
        return f"{int(x):,}"
    if isinstance(x, numbers.Real):
        v = float(x)
        if not math.isfinite(v):
            return MISSING
        a = abs(v)
        if a == 0:
            return "0"
        if a >= 1e9 or a < 1e-3:
            return f"{v:.2e}"
        if a >= 999.5:  # "#.3g" would switch to 1.00e+03 here
            return f"{v:,.0f}"
        return f"{v:#.3g}".rstrip(".")
    return str(x)


def format_exact(x: Any) -> str:
    """A number as the user typed it (gate thresholds): up to 6 significant digits, no padding."""
    if x is None:
        return MISSING
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, numbers.Real):
        v = float(x)
        if not math.isfinite(v):
            return MISSING
        return f"{v:.6g}"
    return str(x)


def is_number(x: Any) -> bool:
    """True for ints and floats (not bools): table cells that are right-aligned."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def interval_text(ci: Mapping[str, Any] | None) -> tuple[str, str]:
    """An interval as the report writes it, and a note when it needs one.

    ``[0.12, 0.34]`` with no note for an ordinary interval; a degenerate or one-sided one
    says why instead of printing ``[0, 0]`` or ``[0, —]`` alone:

    - no interval: ``("—", "")`` (the report says "no interval" where the method goes);
    - both ends missing: ``("—", "interval undefined: too little data")``;
    - one end missing: ``("≥ 0", "one-sided: the data give no upper bound")``;
    - zero width: ``("[0, 0]", "zero width: every resample gave the same value ...")``.
    """
    if not ci:
        return MISSING, ""
    low, high = _finite(ci.get("low")), _finite(ci.get("high"))
    if low is None and high is None:
        return MISSING, "interval undefined: too little data to compute it"
    if high is None:
        return f"\u2265 {format_number(low)}", "one-sided: the data give no upper bound"
    if low is None:
        return f"\u2264 {format_number(high)}", "one-sided: the data give no lower bound"
    text = f"[{format_number(low)}, {format_number(high)}]"
    if low == high:
        return text, ("zero width: every resample gave the same value (typically no event was observed), "
                      "so this interval does not show the uncertainty")
    return text, ""


def _finite(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return None
    v = float(x)
    return v if math.isfinite(v) else None
