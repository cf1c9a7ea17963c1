"""Read a result.json back (``synth report``): untrusted input, checked before anything renders it.

A result.json may have been edited, truncated or forged. :func:`load_result_json` bounds
what it reads (a regular file of at most 256 MiB, nesting at most 40 deep, finite numbers
of sane magnitude, strings up to 1 MiB) and :func:`check_result_dict` checks the type of
every field the report reads (schema version 1, see :mod:`synth.result`), so a tampered
file is a :class:`~synth.errors.DataError` naming the file and the JSON path of the first
problem, never a crash inside the renderer.
"""

from __future__ import annotations

import json
import math
import numbers
import stat
from pathlib import Path
from typing import Any

from synth.errors import DataError
from synth.result import RESULT_SCHEMA_VERSION

MAX_RESULT_BYTES = 256 << 20
MAX_DEPTH = 40  # result.json nests about 8 deep (sections > metrics > details > ...)
MAX_STRING = 1 << 20
MAX_MAGNITUDE = 1e300  # finite, and safe to format and to add up


def load_result_json(path: Path) -> dict[str, Any]:
    """Read a result.json written by synth, checking it before anything renders it.

    Raises :class:`~synth.errors.DataError` naming the file and the JSON path of the first
    problem: not a regular file, too large, not JSON, nested too deeply, numbers that are
    not finite or too large, or a value of the wrong type where the report reads it.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"'{path}' cannot be read ({exc.strerror or exc}). Pass the result.json of a synth run.") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"'{path}' is not a regular file. Pass the result.json of a synth run.")
    if st.st_size > MAX_RESULT_BYTES:
        raise DataError(f"'{path}' is {st.st_size:,} bytes, more than a result.json can be ({MAX_RESULT_BYTES:,}).")
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(MAX_RESULT_BYTES + 1).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, and integers too long to convert
        raise DataError(f"'{path}' is not valid JSON ({exc}). Pass the result.json of a synth run.") from None
    except RecursionError:
        raise DataError(f"'{path}' is nested too deeply to be a result.json.") from None
    check_result_dict(data, f"'{path}'")
    return data


def check_result_dict(data: Any, source: str = "the result") -> None:
    """Raise :class:`~synth.errors.DataError` unless ``data`` has result.json's schema (version 1)."""
    problem = _result_problem(data)
    if problem is not None:
        where, what = problem
        raise DataError(
            f"{source} is not a synth result.json as written (at {where or 'the top level'}: {what}). "
            "Pass the result.json that `synth generate` or `synth audit` wrote, unmodified."
        )


def _result_problem(data: Any) -> tuple[str, str] | None:
    """``(json path, what is wrong)`` of the first problem in ``data``, or None."""
    def walk(x: Any, at: str, depth: int) -> tuple[str, str] | None:
        if depth > MAX_DEPTH:
            return at, f"nested more than {MAX_DEPTH} levels deep"
        if isinstance(x, bool) or x is None:
            return None
        if isinstance(x, numbers.Integral):
            return None if abs(x) <= 2**63 else (at, "an integer too large")
        if isinstance(x, numbers.Real):
            return None if math.isfinite(x) and abs(x) <= MAX_MAGNITUDE else (at, "a number that is not finite or too large")
        if isinstance(x, str):
            return None if len(x) <= MAX_STRING else (at, "a string over 1 MiB")
        if isinstance(x, dict):
            for k, v in x.items():
                found = walk(v, f"{at}.{k}" if at else str(k), depth + 1)
                if found:
                    return found
            return None
        if isinstance(x, list):
            for i, v in enumerate(x):
                found = walk(v, f"{at}[{i}]", depth + 1)
                if found:
                    return found
            return None
        return at, f"a {type(x).__name__}"

    if not isinstance(data, dict):
        return "", f"a {type(data).__name__}, not an object"
    found = walk(data, "", 0)
    if found:
        return found
    if data.get("schema_version") != RESULT_SCHEMA_VERSION:
        return "schema_version", f"{data.get('schema_version')!r}, this synth reads version {RESULT_SCHEMA_VERSION}"
    checks = [
        ("passed", data.get("passed"), bool),
        ("gates", data.get("gates"), list),
        ("sections", data.get("sections"), list),
        ("data", data.get("data"), dict),
        ("generator", data.get("generator"), (dict, type(None))),
        ("manifest", data.get("manifest"), (dict, type(None))),
        ("created_utc", data.get("created_utc"), (str, type(None))),
        ("synth_version", data.get("synth_version"), (str, type(None))),
    ]
    for i, g in enumerate(data.get("gates") or []):
        at = f"gates[{i}]"
        checks += [(at, g, dict)] if not isinstance(g, dict) else _typed(at, g, {
            "expression": str, "metric": str, "field": str, "op": str, "threshold": _NUM, "observed": _OPT_NUM,
            "passed": bool, "default": bool, "error": (str, type(None))})
    for i, s in enumerate(data.get("sections") or []):
        at = f"sections[{i}]"
        if not isinstance(s, dict):
            checks.append((at, s, dict))
            continue
        checks += _typed(at, s, {"audit": str, "family": str, "title": str, "summary": str,
                                 "skipped": (str, type(None)), "error": (str, type(None)), "seconds": _NUM,
                                 "metrics": list, "figures": list, "tables": list, "notes": list})
        checks += [(f"{at}.notes[{j}]", n, str) for j, n in enumerate(_list(s.get("notes")))]
        for j, m in enumerate(_list(s.get("metrics"))):
            mat = f"{at}.metrics[{j}]"
            if not isinstance(m, dict):
                checks.append((mat, m, dict))
                continue
            checks += _typed(mat, m, {"name": str, "value": _OPT_NUM, "ci": (dict, type(None)), "better": str,
                                      "ideal": _OPT_NUM, "passing": str, "threat_model": (dict, type(None)),
                                      "details": dict})
            if isinstance(m.get("ci"), dict):
                checks += _typed(f"{mat}.ci", m["ci"], {"low": _OPT_NUM, "high": _OPT_NUM, "method": str,
                                                        "level": _NUM})
            if isinstance(m.get("threat_model"), dict):
                tm = m["threat_model"]
                checks += _typed(f"{mat}.threat_model", tm, {"attack": str, "attacker_has": list, "description": str})
                checks += [(f"{mat}.threat_model.attacker_has[{k}]", a, str)
                           for k, a in enumerate(_list(tm.get("attacker_has")))]
        for j, f in enumerate(_list(s.get("figures"))):
            fat = f"{at}.figures[{j}]"
            checks += [(fat, f, dict)] if not isinstance(f, dict) else _typed(
                fat, f, {"id": str, "title": str, "kind": str, "data": dict, "caption": str})
        for j, t in enumerate(_list(s.get("tables"))):
            tat = f"{at}.tables[{j}]"
            if not isinstance(t, dict):
                checks.append((tat, t, dict))
                continue
            checks += _typed(tat, t, {"title": str, "columns": list, "rows": list, "caption": str})
            checks += [(f"{tat}.columns[{k}]", c, str) for k, c in enumerate(_list(t.get("columns")))]
            for k, row in enumerate(_list(t.get("rows"))):
                checks.append((f"{tat}.rows[{k}]", row, list))
                checks += [(f"{tat}.rows[{k}][{c}]", v, (str, bool, int, float, type(None)))
                           for c, v in enumerate(_list(row))]
    if "audits" in data:  # which audits applied to this kind of data (images: see synth.result)
        au = data["audits"]
        checks.append(("audits", au, dict))
        if isinstance(au, dict):
            checks += _typed("audits", au, {"applied": list, "not_applicable": list}, optional=True)
            checks += [(f"audits.applied[{i}]", a, str) for i, a in enumerate(_list(au.get("applied")))]
            for i, na in enumerate(_list(au.get("not_applicable"))):
                checks += [(f"audits.not_applicable[{i}]", na, dict)] if not isinstance(na, dict) else _typed(
                    f"audits.not_applicable[{i}]", na, {"audit": str, "reason": str}, optional=True)
    d = data.get("data") if isinstance(data.get("data"), dict) else {}
    checks += [("data.kind", d["kind"], str)] if "kind" in d else []
    checks += [(f"data.{key}", d[key], int) for key in ("n_train", "n_holdout", "n_synthetic") if key in d]
    checks += [(f"data.columns[{i}]", c, str) for i, c in enumerate(_list(d.get("columns")))]
    if "schema" in d:
        checks.append(("data.schema", d["schema"], dict))
        for i, c in enumerate(_list(d["schema"].get("columns")) if isinstance(d["schema"], dict) else []):
            cat = f"data.schema.columns[{i}]"
            checks += [(cat, c, dict)] if not isinstance(c, dict) else _typed(
                cat, c, {"name": str, "kind": str, "nullable": bool, "roles": list}, optional=True)
            if isinstance(c, dict):
                checks += [(f"{cat}.roles[{k}]", r, str) for k, r in enumerate(_list(c.get("roles")))]
                checks += [(f"{cat}.categories", c.get("categories"), (list, type(None)))]
    for i, dc in enumerate(_list(d.get("dropped_columns"))):
        checks += [(f"data.dropped_columns[{i}]", dc, dict)] if not isinstance(dc, dict) else _typed(
            f"data.dropped_columns[{i}]", dc, {"name": str, "reason": str}, optional=True)
    gen = data.get("generator")
    if isinstance(gen, dict):
        checks += _typed("generator", gen, {"name": str, "params": (dict, type(None)), "privacy": (dict, type(None))},
                         optional=True)
    for at, value, types in checks:
        if not isinstance(value, types) or (types in (int, _NUM) and isinstance(value, bool)):
            return at, f"{type(value).__name__} where {_type_names(types)} belongs"
    return None


_NUM = (int, float)
_OPT_NUM = (int, float, type(None))


def _list(x: Any) -> list[Any]:
    return x if isinstance(x, list) else []


def _typed(at: str, obj: dict[str, Any], fields: dict[str, Any], optional: bool = False) -> list[tuple[str, Any, Any]]:
    """``(path, value, expected types)`` for each field; a missing field fails unless ``optional``."""
    out = []
    for key, types in fields.items():
        if key in obj:
            out.append((f"{at}.{key}", obj[key], types))
        elif not optional:
            out.append((f"{at}.{key}", _Missing(), types))
    return out


class _Missing:
    """Stands for a required key that is absent (its type name reads 'missing')."""


_Missing.__name__ = "nothing (missing key)"


def _type_names(types: Any) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "an object", type(None): "null"}
    seq = types if isinstance(types, tuple) else (types,)
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in seq))
