"""Render an audit result (``result.json`` dict) as one self-contained HTML page.

The page loads nothing: CSS is inlined, figures are inline SVG drawn by matplotlib, there
is no JavaScript, and a Content-Security-Policy forbids any request. Jinja2 autoescapes
every value from the result, so a column called ``<script>`` prints as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup, escape

from synth.atomic import write_text
from synth.reports.audience import AUDIENCE_NOTES, AUDIENCE_TITLES, Audience
from synth.reports.view import build_view

TEMPLATES = Path(__file__).parent / "templates"


def render_html(result: Mapping[str, Any], *, audience: Audience = "steward") -> str:
    """The report page for ``result`` (``AuditResult.to_dict()``, schema version 1), as HTML text.

    ``audience`` is ``"steward"`` (the default: everything) or ``"public"`` (aggregates
    only; see :mod:`synth.reports.audience`).

    Raises :class:`synth.errors.DataError` when ``result`` is not such a dict.
    """
    return _template("report.html.j2").render(v=build_view(result, audience=audience),
                                              audience_title=AUDIENCE_TITLES[audience],
                                              audience_note=AUDIENCE_NOTES[audience])


def write_report(result: Mapping[str, Any], path: Path, *, audience: Audience = "steward") -> None:
    """Render ``result`` and write it to ``path`` atomically (temp file, then rename)."""
    write_text(Path(path), render_html(result, audience=audience))


@cache
def _template(name: str) -> Template:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, every value: result strings are untrusted text
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["soft_breaks"] = soft_breaks
    return env.get_template(name)


def soft_breaks(name: str) -> Markup:
    """Escape ``name`` and allow line breaks after its dots and underscores (``<wbr>``).

    Metric names such as ``fidelity.subgroup_worst_marginal_score`` then wrap at their
    parts in narrow cells instead of overflowing or splitting mid-word.
    """
    return Markup("<wbr>").join(escape(part) for part in re.split(r"(?<=[._])", str(name)))
