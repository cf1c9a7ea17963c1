"""Reports: the audit result as a self-contained HTML page.

``render_html(result_dict, audience=...) -> str`` and ``write_report(result_dict, path)``
(the steward's report, or the public one that carries aggregates only);
``write_compare(a, b, path)`` puts two results side by side. Figures are drawn by
:func:`synth.reports.figures.figure_svg`.
"""

from __future__ import annotations

from synth.reports.audience import AUDIENCES, Audience
from synth.reports.compare import render_compare, write_compare
from synth.reports.html import render_html, write_report

__all__ = ["AUDIENCES", "Audience", "render_compare", "render_html", "write_compare", "write_report"]
