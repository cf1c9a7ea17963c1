"""Reports: the audit result as a self-contained HTML page.

``render_html(result_dict) -> str`` and ``write_report(result_dict, path)``; figures are
drawn by :func:`synth.reports.figures.figure_svg`.
"""

from __future__ import annotations

from synth.reports.html import render_html, write_report

__all__ = ["render_html", "write_report"]
