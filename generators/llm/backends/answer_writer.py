"""One answer ``{"rows":[{...},...]}`` written field by field, engine-independent.

Everything the JSON Schema fixes -- braces, commas, keys in schema order, and the value of
a column that has a single possible value -- is *forced*: appended as text, never sampled.
Only values are sampled; a value ends when the model samples the delimiter the schema puts
next, or earlier, when :func:`value_is_final` shows that nothing but the delimiter can
follow (then no model step is spent on it). The JSON is compact (no space after ``,`` and
``:``): the model evaluates every forced token, and spaces cost a quarter of a row's tokens.

With a :class:`~synth.generators.llm.rule_narrowing.RowNarrowing`, each field's schema is
first narrowed by the hard rules given the row's earlier values (:attr:`AnswerWriter.schema`);
a field the rules leave one value is forced too.

The engine asks :meth:`AnswerWriter.take_forced` for the text to feed the model, samples
tokens for :attr:`AnswerWriter.field` and hands each token's text to :meth:`AnswerWriter.add`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synth.generators.llm.rule_narrowing import RowNarrowing

ANSWER_START = '{"rows":['


@dataclass(frozen=True)
class Field:
    """A column of the answer: its key and the JSON Schema of its value."""

    name: str
    schema: dict[str, Any]


def fixed_text(schema: dict[str, Any]) -> str | None:
    """A value's JSON text when ``schema`` allows exactly one value, else ``None``."""
    levels = schema.get("enum")
    if levels is not None and len(levels) == 1:
        return json.dumps(levels[0])
    return "null" if schema.get("type") == "null" else None


def answer_fields(schema: dict[str, Any]) -> list[Field]:
    """The fields of a batch JSON Schema (:func:`~synth.generators.llm.row_schema.batch_json_schema`)."""
    properties = schema["properties"]["rows"]["items"]["properties"]
    return [Field(name, value) for name, value in properties.items()]


class AnswerWriter:
    """The bookkeeping of one answer: the text so far, what the model has not seen, the field."""

    def __init__(self, fields: list[Field], rows: int, decimals: int | None = None,
                 narrowing: RowNarrowing | None = None) -> None:
        self.fields, self.rows, self.decimals, self.narrowing = fields, rows, decimals, narrowing
        self.text = ""  # the answer so far
        self._forced = ""  # forced text the model has not been fed yet
        self.value = ""  # the sampled text of the current value
        self.row, self.col = 0, -1
        self.row_values: dict[str, Any] = {}  # the current row's complete values (JSON)
        self.schema: dict[str, Any] = {}  # the current field's schema, narrowed by the rules
        self.done = False
        self._force(ANSWER_START)
        self._next_field()

    @property
    def field(self) -> Field:
        """The field whose value is being sampled."""
        return self.fields[self.col]

    @property
    def delimiter(self) -> str:
        """What the schema puts after the current value."""
        return "}" if self.col + 1 == len(self.fields) else ","

    def take_forced(self) -> str:
        """Forced text not yet fed to the model (and forget it: the caller feeds it)."""
        text, self._forced = self._forced, ""
        return text

    def add(self, piece: str) -> bool:
        """Append a sampled token's text to the value; True when the value is complete.

        A complete value moves the writer to the next field (or finishes the answer); the
        delimiter is forced when the model did not sample it.
        """
        self.value += piece
        text = self.value.strip()
        d = self.delimiter
        if text.endswith(d) and _is_json(text[: -len(d)]):
            text = text[: -len(d)].strip()
            self.text += text + d
        elif value_is_final(text, self.schema, self.decimals):
            self.text += text
            self._force(d)
        else:
            return False
        self.row_values[self.field.name] = json.loads(text)
        self.value = ""
        self._next_field()
        return True

    def truncated(self) -> str:
        """The answer cut after its last complete row (when a token budget ran out)."""
        if self.done:
            return self.text
        end = self.text.rfind("}")
        return self.text[: end + 1] + "]}" if end >= 0 else ANSWER_START + "]}"

    def _force(self, text: str) -> None:
        self.text += text
        self._forced += text

    def _next_field(self) -> None:
        while True:
            self.col += 1
            if self.col == len(self.fields):
                self.row, self.col = self.row + 1, 0
            if self.row == self.rows:
                self._force("]}")
                self.done = True
                return
            if self.col == 0:
                self._force(",{" if self.row else "{")
                self.row_values = {}
            self._force(json.dumps(self.field.name) + ":")
            self.schema = self.field.schema
            if self.narrowing is not None:
                self.schema = self.narrowing.narrow(self.field.name, self.schema, self.row_values) or self.schema
            fixed = fixed_text(self.schema)
            if fixed is None:
                return
            self.row_values[self.field.name] = json.loads(fixed)
            self._force(fixed + self.delimiter)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def value_is_final(text: str, schema: dict[str, Any], decimals: int | None = None) -> bool:
    """Whether ``text`` is a complete value that no longer value of ``schema`` extends.

    Then the schema fixes what comes next (the delimiter) and no model step is spent on it:
    an enum level that is no other level's prefix, ``true``/``false``/``null``, an
    integer to which any further digit would break the column's bounds, or, when the
    grammar allows numbers at most ``decimals`` decimals, a number that has them all.
    """
    try:
        value = json.loads(text)
    except ValueError:
        return False
    options = schema.get("anyOf", [schema])
    texts = [json.dumps(v) for o in options for v in o.get("enum", [])]
    if any(t.startswith(text) and t != text for t in texts):
        return False
    if any(o.get("type") == "number" for o in options) and decimals is not None and "." in text:
        return len(text.rsplit(".", 1)[1]) >= decimals and "e" not in text.lower()
    if any(o.get("type") in ("number", "string") for o in options):
        return isinstance(value, bool) or value is None
    if texts and text in texts:
        return True
    if isinstance(value, bool) or value is None:
        return True
    integer = next((o for o in options if o.get("type") == "integer"), None)
    if integer is None or not isinstance(value, int):
        return False
    if text.lstrip("-") == "0":
        return True  # JSON allows no digit after a leading zero
    lo, hi = integer.get("minimum"), integer.get("maximum")
    longer = value * 10
    return (value > 0 and hi is not None and longer > hi) or (value < 0 and lo is not None and longer < lo)
