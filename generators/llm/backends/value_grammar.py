"""The grammar of one JSON value followed by its delimiter, and the tokens it can ever use.

The GBNF comes from llama-cpp-python's JSON-Schema converter. Three changes keep values
short: a number has at most :data:`NUMBER_DECIMALS` decimals and no exponent (a model
would otherwise spend up to 16 sampling steps on digits nobody reads), and no space may
follow a value (the answer is compact JSON; a space would cost a step and end a number
before it could reach its minimum, e.g. ``100 `` where the minimum is 124).

:func:`grammar_alphabet` reads the characters the grammar can ever accept off its string
literals and character classes; a token whose text uses any other character can never be
accepted, so the engine evaluates the grammar on the (small) set of tokens spelled from
the alphabet instead of the whole 262k-token vocabulary. The result is the same.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
import re
from typing import Any

NUMBER_DECIMALS = 2

# a string literal or a character class, scanned left to right (a class may hold a quote)
_TERMINAL = re.compile(r'"((?:\\.|[^"\\])*)"|\[((?:\\.|[^\]\\])*)\]')
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "]": "]", "[": "[", "-": "-", "^": "^"}


def value_gbnf(schema: dict[str, Any], delimiter: str) -> str:
    """GBNF: one value of the JSON Schema ``schema`` (short numbers), then ``delimiter``."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(schema, sort_keys=True))
    gbnf = gbnf.replace(' ([eE] [-+]? integral-part)?', "")
    gbnf = re.sub(r"^decimal-part ::= .*$", "decimal-part ::= [0-9]" + " [0-9]?" * (NUMBER_DECIMALS - 1), gbnf,
                  flags=re.MULTILINE)
    gbnf = re.sub(r"^root ::=", "value ::=", gbnf, count=1, flags=re.MULTILINE)
    gbnf = re.sub(r"^space ::= .*$", 'space ::= ""', gbnf, flags=re.MULTILINE)
    return f"root ::= value {json.dumps(delimiter)}\n{gbnf}"


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "xu":
                width = 2 if nxt == "x" else 4
                out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
                i += 2 + width
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def grammar_alphabet(gbnf: str) -> frozenset[str] | None:
    """Every character ``gbnf`` can accept, or ``None`` when that is not bounded (``[^...]``, ``.``)."""
    chars: set[str] = set()
    for match in _TERMINAL.finditer(gbnf):
        literal, klass = match.group(1), match.group(2)
        if literal is not None:
            chars.update(_unescape(literal))
            continue
        if klass.startswith("^"):
            return None
        items, i = _unescape(klass), 0
        while i < len(items):
            if i + 2 < len(items) and items[i + 1] == "-":
                chars.update(chr(c) for c in range(ord(items[i]), ord(items[i + 2]) + 1))
                i += 3
            else:
                chars.add(items[i])
                i += 1
    if re.search(r"(^|[\s(|])\.($|[\s)|*+?{])", _TERMINAL.sub(" ", gbnf)):
        return None  # "any character"
    return frozenset(chars)


def numeric_bounds(schema: dict[str, Any]) -> tuple[float, float] | None:
    """(minimum, maximum) of a numeric or integer column's schema (-inf/inf when open), else None.

    llama-cpp-python's converter does not write bounds into the grammar, so the engine
    checks them on the few tokens the grammar allows (:func:`number_prefix_ok`).
    """
    options = schema.get("anyOf", [schema])
    number = next((o for o in options if o.get("type") in ("integer", "number")), None)
    if number is None:
        return None
    return float(number.get("minimum", -math.inf)), float(number.get("maximum", math.inf))


def number_prefix_ok(text: str, delimiter: str, bounds: tuple[float, float]) -> bool:
    """Whether ``text`` (a value written so far, maybe ending in ``delimiter``) can still become a
    number within ``bounds``; text that is no number prefix (``nu``...) is left to the grammar."""
    lo, hi = bounds
    body = text.strip()
    closed = body.endswith(delimiter)
    if closed:
        body = body[: -len(delimiter)].strip()
    if not re.fullmatch(r"-?[0-9]*(\.[0-9]*)?", body):
        return True
    if body in ("", "-"):
        return not closed and (body == "" or lo < 0)
    if closed:
        return lo <= float(body) <= hi
    whole, dot, decimals = body.partition(".")
    if dot:
        # the integer part is final: the value lies within [whole, whole + 1) (or its mirror)
        # the value lies within [x, x + 10^-k) (or its mirror), exactly x once all decimals are there
        x = Decimal((whole if whole not in ("", "-") else whole + "0") + "." + (decimals or "0"))
        k = len(decimals)
        if k >= NUMBER_DECIMALS:
            return Decimal(str(lo)) <= x <= Decimal(str(hi)) if math.isfinite(lo) and math.isfinite(hi) else lo <= x <= hi
        width = Decimal(1).scaleb(-k)
        if whole.startswith("-"):
            return x >= lo and x - width < hi
        return x + width > lo and x <= hi
    if whole.lstrip("-") == "0":
        return -1 < hi and 1 > lo
    value = int(whole)
    p = abs(value)
    scale = 1
    while scale == 1 or p * scale <= max(abs(lo), abs(hi)):
        # the numbers whose integer part starts with these digits and has log10(scale) more
        a, b = p * scale, (p + 1) * scale  # [a, b), or (-b, -a] for a negative prefix
        if (b > lo and a <= hi) if value > 0 else (-a >= lo and -b < hi):
            return True
        if math.isinf(lo) and math.isinf(hi):
            return True
        scale *= 10
    return False
