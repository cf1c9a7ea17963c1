"""The grammar of one JSON value followed by its delimiter, and the tokens it can ever use.

The GBNF comes from llama-cpp-python's JSON-Schema converter. Two changes keep values
short: a number has at most :data:`NUMBER_DECIMALS` decimals and no exponent (a model
would otherwise spend up to 16 sampling steps on digits nobody reads).

:func:`grammar_alphabet` reads the characters the grammar can ever accept off its string
literals and character classes; a token whose text uses any other character can never be
accepted, so the engine evaluates the grammar on the (small) set of tokens spelled from
the alphabet instead of the whole 262k-token vocabulary. The result is the same.
"""

from __future__ import annotations

import json
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
