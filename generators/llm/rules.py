"""Row rules: a small, safe expression language over a table's columns (no ``eval``).

A rule is one line, for example::

    age >= 18
    if stage == 4 then ascites == "Y" or edema == "Y"
    cd420 - cd40 <= 900
    karnof in [70, 80, 90, 100]
    cd496 is missing or r == 1

Grammar (parsed with lark; keywords are case-insensitive): ``if A then B`` (``not A or B``),
``or``, ``and``, ``not``, comparisons ``== != < <= > >=``, ``in [..]``, ``is missing``,
``is not missing``, ``+ - * /`` on numeric columns, numbers, strings in double quotes,
``true``/``false``, parentheses, and column names (a name with spaces or symbols goes in
backticks: ```my col` > 3``).

Missing values follow SQL's three-valued logic: a comparison involving a missing value is
*unknown*, ``and``/``or``/``not`` combine unknowns the Kleene way, and a row **violates** a
rule only when the rule is definitely false (as a SQL ``CHECK`` constraint). Use
``is missing`` to make missingness itself part of a rule.

A row still being written may hold the markers :data:`UNWRITTEN` (the value is not known
yet and may turn out missing) and :data:`PRESENT` (some value that is not missing) in
cells: both are unknown to comparisons, and ``is missing`` is unknown for ``UNWRITTEN`` and
false for ``PRESENT``. Kleene logic is monotone, so a rule that is definitely false with
markers is false whatever values replace them (:mod:`synth.generators.llm.rule_narrowing`).

:func:`parse_rule` checks syntax only; :meth:`Rule.bind` checks the rule against a
:class:`~synth.schema.Schema` (unknown columns, a string compared with a number, a
category that is not a level) and raises :class:`~synth.errors.ConfigError` naming the
rule and the fix. :meth:`Rule.holds` evaluates a bound rule on a table, vectorised.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput

from synth.errors import ConfigError, did_you_mean
from synth.schema import ColumnSpec, Schema

_GRAMMAR = r"""
?start: rule
?rule: IF disj THEN disj -> implies
     | disj
?disj: disj OR conj -> or_
     | conj
?conj: conj AND neg -> and_
     | neg
?neg: NOT neg -> not_
    | comparison
?comparison: sum COMP sum -> compare
           | sum IN "[" literal ("," literal)* "]" -> member
           | sum NOT IN "[" literal ("," literal)* "]" -> not_member
           | sum IS MISSING -> is_missing
           | sum IS NOT MISSING -> not_missing
           | sum
?sum: sum ADDOP product -> arith
    | product
?product: product MULOP unary -> arith
        | unary
?unary: "-" unary -> negate
      | atom
?atom: literal
     | NAME -> column
     | QUOTED_NAME -> column
     | "(" disj ")"
?literal: SIGNED_NUMBER -> number
        | ESCAPED_STRING -> string
        | TRUE -> true
        | FALSE -> false

IF.2: /if\b/i
THEN.2: /then\b/i
OR.2: /or\b/i
AND.2: /and\b/i
NOT.2: /not\b/i
IN.2: /in\b/i
IS.2: /is\b/i
MISSING.2: /missing\b/i
TRUE.2: /true\b/i
FALSE.2: /false\b/i
COMP: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADDOP: "+" | "-"
MULOP: "*" | "/"
NAME: /[A-Za-z_][A-Za-z0-9_.]*/
QUOTED_NAME: /`[^`]+`/

%import common.SIGNED_NUMBER
%import common.ESCAPED_STRING
%import common.WS
%ignore WS
"""


@cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)


# -- cells not known yet (a row being written) --------------------------------------------


class Unknown:
    """A marker for a cell whose value is not known yet (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


UNWRITTEN = Unknown("UNWRITTEN")  # not written yet: any value, or missing
PRESENT = Unknown("PRESENT")  # some value, not missing


def _markers(col: pd.Series, marker: Unknown) -> np.ndarray:
    """(n,) bool: the cells of ``col`` that hold ``marker``."""
    if col.dtype != object:
        return np.zeros(len(col), dtype=bool)
    return np.fromiter((v is marker for v in col), dtype=bool, count=len(col))


# -- the expression tree ----------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A node of a rule's expression tree."""


@dataclass(frozen=True)
class Literal(Node):
    value: Any  # float, str or bool


@dataclass(frozen=True)
class Column(Node):
    name: str


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


class Arith(Binary):
    """``+ - * /`` on numbers."""


@dataclass(frozen=True)
class Negate(Node):
    operand: Node


class Compare(Binary):
    """``== != < <= > >=``."""


@dataclass(frozen=True)
class Member(Node):
    operand: Node
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsMissing(Node):
    operand: Node
    negated: bool = False


@dataclass(frozen=True)
class Logic(Node):
    op: str  # "and", "or", "not", "implies"
    operands: tuple[Node, ...]


class _ToTree(Transformer):
    """lark parse tree -> :class:`Node` tree."""

    def number(self, items: list[Token]) -> Literal:
        return Literal(float(items[0]))

    def string(self, items: list[Token]) -> Literal:
        import json

        return Literal(json.loads(str(items[0])))

    def true(self, _items: list[Token]) -> Literal:
        return Literal(True)

    def false(self, _items: list[Token]) -> Literal:
        return Literal(False)

    def column(self, items: list[Token]) -> Column:
        text = str(items[0])
        return Column(text[1:-1] if text.startswith("`") else text)

    @v_args(inline=True)
    def arith(self, left: Node, op: Token, right: Node) -> Arith:
        return Arith(str(op), left, right)

    @v_args(inline=True)
    def negate(self, operand: Node) -> Node:
        if isinstance(operand, Literal) and isinstance(operand.value, float):
            return Literal(-operand.value)
        return Negate(operand)

    @v_args(inline=True)
    def compare(self, left: Node, op: Token, right: Node) -> Compare:
        return Compare(str(op), left, right)

    def member(self, items: list[Any]) -> Member:
        return Member(items[0], tuple(i for i in items[1:] if isinstance(i, Literal)))

    def not_member(self, items: list[Any]) -> Member:
        return Member(items[0], tuple(i for i in items[1:] if isinstance(i, Literal)), negated=True)

    def is_missing(self, items: list[Any]) -> IsMissing:
        return IsMissing(items[0])

    def not_missing(self, items: list[Any]) -> IsMissing:
        return IsMissing(items[0], negated=True)

    def _logic(self, op: str, items: list[Any]) -> Logic:
        return Logic(op, tuple(i for i in items if isinstance(i, Node)))

    def or_(self, items: list[Any]) -> Logic:
        return self._logic("or", items)

    def and_(self, items: list[Any]) -> Logic:
        return self._logic("and", items)

    def not_(self, items: list[Any]) -> Logic:
        return self._logic("not", items)

    def implies(self, items: list[Any]) -> Logic:
        return self._logic("implies", items)


# -- parsing and checking ----------------------------------------------------------------


def parse_rule(text: str) -> Rule:
    """Parse one rule; raise :class:`ConfigError` showing where the syntax is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"A rule must be a non-empty string, got {text!r}.")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        pointer = " " * max(exc.column - 1, 0) + "^"
        raise ConfigError(
            f"Rule {text!r} cannot be parsed at column {exc.column}:\n    {text}\n    {pointer}\n"
            "Rules look like `age >= 18`, `if stage == 4 then ascites == \"Y\" or edema == \"Y\"`, "
            "`karnof in [70, 80]` or `cd496 is missing`; strings go in double quotes."
        ) from None
    except LarkError as exc:
        raise ConfigError(f"Rule {text!r} cannot be parsed: {exc}") from None
    node = _ToTree().transform(tree)
    if not _is_boolean(node):
        raise ConfigError(
            f"Rule {text!r} is not a condition: it must compare something (==, <, in, is missing, ...) "
            "so that each row either satisfies it or not."
        )
    return Rule(text=text.strip(), node=node)


def _is_boolean(node: Node) -> bool:
    if isinstance(node, (Compare, Member, IsMissing)):
        return True
    if isinstance(node, Logic):
        return all(_is_boolean(o) for o in node.operands)
    return isinstance(node, Literal) and isinstance(node.value, bool)


def _columns(node: Node) -> list[str]:
    if isinstance(node, Column):
        return [node.name]
    children: list[Node] = []
    if isinstance(node, Binary):
        children = [node.left, node.right]
    elif isinstance(node, (Negate, IsMissing)):
        children = [node.operand]
    elif isinstance(node, Member):
        children = [node.operand, *node.values]
    elif isinstance(node, Logic):
        children = list(node.operands)
    return [c for child in children for c in _columns(child)]


def _category_key(value: Any) -> tuple[str, Any]:
    """Equal levels from YAML, CSV and JSON coincide: 1, 1.0 and "1"-as-number are one level."""
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, numbers.Number):
        return ("number", float(value))
    return ("str", str(value))


@dataclass(frozen=True)
class Rule:
    """A parsed rule: its source ``text`` and expression tree."""

    text: str
    node: Node

    @property
    def columns(self) -> list[str]:
        """The columns the rule names, in order of appearance, without repeats."""
        return list(dict.fromkeys(_columns(self.node)))

    def bind(self, schema: Schema, where: str = "generator.params.rules") -> Rule:
        """Check the rule against ``schema``; return self or raise :class:`ConfigError`."""
        for name in self.columns:
            if name not in schema:
                raise ConfigError(
                    f"{where}: the rule {self.text!r} names the column '{name}', which is not a modelled column."
                    + did_you_mean(name, schema.names) + f" Modelled columns: {', '.join(schema.names)}."
                )
        _Checker(schema, self.text, where).check(self.node)
        return self

    def holds(self, frame: pd.DataFrame, schema: Schema) -> pd.Series:
        """Whether each row satisfies the rule: a nullable boolean Series (``pd.NA`` = unknown).

        ``frame`` has (at least) the rule's columns; rows violate the rule where the
        result is ``False``.
        """
        out = _Evaluator(frame, schema).logical(self.node)
        return out.reindex(frame.index) if isinstance(out, pd.Series) else pd.Series(out, index=frame.index, dtype="boolean")

    def violated(self, frame: pd.DataFrame, schema: Schema) -> np.ndarray:
        """(n_rows,) bool: the rule is definitely false for the row."""
        return (~self.holds(frame, schema)).fillna(False).to_numpy(dtype=bool)


class _Checker:
    """Type checks of a rule against a schema."""

    def __init__(self, schema: Schema, text: str, where: str) -> None:
        self.schema, self.text, self.where = schema, text, where

    def fail(self, message: str) -> None:
        raise ConfigError(f"{self.where}: in the rule {self.text!r}, {message}")

    def kind(self, node: Node) -> str:
        """'number', 'string', 'bool' or 'category' (with ``self.spec`` of that column)."""
        if isinstance(node, Literal):
            return "bool" if isinstance(node.value, bool) else "number" if isinstance(node.value, float) else "string"
        if isinstance(node, Column):
            spec = self.schema.column(node.name)
            if spec.is_numeric:
                return "number"
            return "category"
        if isinstance(node, (Arith, Negate)):
            for side in (node.left, node.right) if isinstance(node, Arith) else (node.operand,):
                if self.kind(side) != "number":
                    self.fail("arithmetic (+ - * /) needs numeric columns or numbers on both sides.")
            return "number"
        return "bool"

    def check(self, node: Node) -> None:
        if isinstance(node, Logic):
            for o in node.operands:
                self.check(o)
        elif isinstance(node, Compare):
            self.check_pair(node.left, node.right, ordered=node.op not in ("==", "!="))
        elif isinstance(node, Member):
            for v in node.values:
                self.check_pair(node.operand, v, ordered=False)
        elif isinstance(node, IsMissing):
            self.kind(node.operand)

    def check_pair(self, left: Node, right: Node, *, ordered: bool) -> None:
        kinds = (self.kind(left), self.kind(right))
        if "bool" in kinds and not any(isinstance(n, Column) for n in (left, right)):
            self.fail("a condition cannot be compared; compare a column with a value.")
        for col, other in ((left, right), (right, left)):
            if isinstance(col, Column) and self.kind(col) == "category":
                self.check_level(self.schema.column(col.name), other, ordered)
                return
        if set(kinds) != {"number"}:
            self.fail(f"a {kinds[0]} is compared with a {kinds[1]}; compare numeric columns with numbers.")

    def check_level(self, spec: ColumnSpec, other: Node, ordered: bool) -> None:
        if isinstance(other, Column):
            return  # two categorical columns: compared level by level
        if not isinstance(other, Literal):
            self.fail(f"the categorical column '{spec.name}' can only be compared with a value or another column.")
        levels = spec.categories or ()
        if ordered and not all(isinstance(c, numbers.Number) and not isinstance(c, bool) for c in levels):
            self.fail(f"'{spec.name}' is categorical with non-numeric levels: use == != or in, not < or >.")
        if levels and not ordered and _category_key(other.value) not in {_category_key(c) for c in levels}:
            shown = ", ".join(repr(c) for c in levels)
            self.fail(
                f"{other.value!r} is not a level of '{spec.name}' (levels: {shown})."
                + did_you_mean(str(other.value), [str(c) for c in levels])
            )


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


class _Evaluator:
    """Vectorised evaluation on a table with pandas' nullable (Kleene) booleans."""

    def __init__(self, frame: pd.DataFrame, schema: Schema) -> None:
        self.frame, self.schema = frame, schema

    def value(self, node: Node) -> Any:
        """A Float64 / object Series, or a scalar for literals."""
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Column):
            spec = self.schema.column(node.name)
            col = self._cells(node.name)
            if spec.is_numeric:
                if spec.kind.value == "datetime":
                    dt = pd.to_datetime(col, errors="coerce").dt.as_unit("ns")
                    return pd.Series(dt.astype("int64").astype("float64"), index=col.index).where(dt.notna()).astype("Float64")
                return pd.to_numeric(col, errors="coerce").astype("Float64")
            return col.map(lambda v: None if pd.isna(v) else _category_key(v), na_action="ignore").astype(object)
        if isinstance(node, Negate):
            return -self.value(node.operand)
        if isinstance(node, Arith):
            left, right = self.value(node.left), self.value(node.right)
            if node.op == "/":
                right = right.where(right != 0) if isinstance(right, pd.Series) else (pd.NA if right == 0 else right)
            return _ARITH[node.op](left, right)
        raise TypeError(f"not a value: {node}")

    def _cells(self, name: str) -> pd.Series:
        """Column ``name`` with cells not known yet (:class:`Unknown`) as missing."""
        col = self.frame[name]
        unknown = _markers(col, UNWRITTEN) | _markers(col, PRESENT)
        return col.where(~unknown, None) if unknown.any() else col

    def _key_side(self, node: Node) -> Any:
        """Categorical comparisons use level keys on both sides."""
        if isinstance(node, Literal):
            return _category_key(node.value)
        return self.value(node)

    def logical(self, node: Node) -> pd.Series:
        idx = self.frame.index
        if isinstance(node, Literal):
            return pd.Series(bool(node.value), index=idx, dtype="boolean")
        if isinstance(node, Logic):
            parts = [self.logical(o) for o in node.operands]
            if node.op == "not":
                return ~parts[0]
            if node.op == "and":
                return parts[0] & parts[1]
            if node.op == "or":
                return parts[0] | parts[1]
            return ~parts[0] | parts[1]  # implies
        if isinstance(node, IsMissing):
            missing = self._missing(node.operand)
            return ~missing if node.negated else missing
        if isinstance(node, Member):
            hits = [self.logical(Compare("==", node.operand, v)) for v in node.values]
            out = hits[0]
            for h in hits[1:]:
                out = out | h
            return ~out if node.negated else out
        if isinstance(node, Compare):
            if self._categorical(node.left) or self._categorical(node.right):
                return self._compare_levels(node)
            result = _COMPARE[node.op](self.value(node.left), self.value(node.right))
            if not isinstance(result, pd.Series):
                return pd.Series(bool(result), index=idx, dtype="boolean")
            return result.astype("boolean")
        raise TypeError(f"not a condition: {node}")

    def _categorical(self, node: Node) -> bool:
        return isinstance(node, Column) and not self.schema.column(node.name).is_numeric

    def _missing(self, node: Node) -> pd.Series:
        """Whether ``node``'s value is missing: a nullable boolean Series (unknown for cells not written yet)."""
        v = self.value(node)
        if isinstance(v, pd.Series):
            missing = v.isna().to_numpy(dtype=bool)
        else:
            missing = np.full(len(self.frame), v is None or v is pd.NA, dtype=bool)
        out = pd.Series(missing, index=self.frame.index, dtype="boolean")
        for name in dict.fromkeys(_columns(node)):
            col = self.frame[name]
            unwritten, present = _markers(col, UNWRITTEN), _markers(col, PRESENT)
            if isinstance(node, Column):
                out[present] = False
                out[unwritten] = pd.NA
            else:  # an expression with a cell not known yet: missing only if it surely is (kept True)
                out[(unwritten | present) & missing & ~self._surely_missing(node)] = pd.NA
        return out

    def _surely_missing(self, node: Node) -> np.ndarray:
        """(n,) bool: a column ``node`` names is missing (not merely unknown), so its value is."""
        out = np.zeros(len(self.frame), dtype=bool)
        for name in dict.fromkeys(_columns(node)):
            col = self.frame[name]
            known_missing = col.isna().to_numpy(dtype=bool) & ~_markers(col, UNWRITTEN) & ~_markers(col, PRESENT)
            out |= known_missing
        return out

    def _compare_levels(self, node: Compare) -> pd.Series:
        left, right = self._key_side(node.left), self._key_side(node.right)
        n = len(self.frame)
        lv = left.to_numpy(dtype=object) if isinstance(left, pd.Series) else [left] * n
        rv = right.to_numpy(dtype=object) if isinstance(right, pd.Series) else [right] * n
        out = pd.array([pd.NA] * n, dtype="boolean")
        for i, (a, b) in enumerate(zip(lv, rv)):
            if a is None or b is None or a is pd.NA or b is pd.NA:
                continue
            if node.op in ("==", "!="):
                out[i] = (a == b) == (node.op == "==")
            elif a[0] == b[0] == "number":
                out[i] = bool(_COMPARE[node.op](a[1], b[1]))
        return pd.Series(out, index=self.frame.index)


def parse_rules(texts: list[str]) -> list[Rule]:
    """Parse each rule (syntax only); the first bad one raises :class:`ConfigError`."""
    return [parse_rule(t) for t in texts]
