"""Draw the audits' figures (data, see :class:`synth.audits.base.Figure`) as inline SVG.

:func:`figure_svg` returns an ``<svg>`` element as a string, ready to be placed inside
HTML: no XML prolog, no DOCTYPE, no metadata, element ids made unique per figure, text
kept as text (``svg.fonttype: none``) and every string from the figure data escaped by
matplotlib's SVG writer. Mathtext is off, so labels such as ``"$10-$20"`` print literally.

Figures are made with :class:`matplotlib.figure.Figure` on an Agg canvas, never through
``pyplot``: no global figure registry, so nothing to close and nothing leaks between
reports. A figure of an unknown kind, or with malformed data, becomes a small SVG that
says so instead of breaking the report.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FIGURE_SIZE_IN = (5.0, 3.2)
HEATMAP_SIZE_IN = (5.0, 4.0)
NOTE_SIZE_IN = (5.0, 0.7)
PALETTE = ("#1f5f99", "#e07b24", "#2e8b57", "#8e5cc2", "#c0392b", "#6b7b8c")
MAX_TICK_LABEL = 22  # characters; longer category labels are shortened with an ellipsis

_RC = {
    "svg.fonttype": "none",  # text stays text: selectable, searchable, small
    "svg.hashsalt": "synth-report",  # deterministic clip-path ids -> reproducible reports
    "text.parse_math": False,  # a "$" in a category name is not mathtext
    "text.usetex": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "axes.edgecolor": "#4a5568",
    "axes.labelcolor": "#2d3748",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e2e8f0",
    "grid.linewidth": 0.6,
    "xtick.color": "#4a5568",
    "ytick.color": "#4a5568",
    "legend.fontsize": 8,
    "legend.frameon": False,
}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_ID_ATTR = re.compile(r'\bid="([^"]+)"')
_ID_REF = re.compile(r'(url\(#|xlink:href="#|\bhref="#)([^")]+)')


class FigureDataError(ValueError):
    """The figure's data does not have the documented shape for its kind."""


def figure_svg(figure: Mapping[str, Any], id_prefix: str = "fig") -> str:
    """Draw one figure dict (``Figure.to_dict()``) and return an inline ``<svg>`` string.

    ``kind`` picks the drawing: ``histograms``, ``bars``, ``roc`` or ``heatmap``. Element
    ids inside the SVG are prefixed with ``id_prefix``: give each figure on one HTML page
    its own prefix (``fig1``, ``fig2``, ...) so their ids do not clash. An unknown kind or
    malformed data yields a small SVG note that names the problem. The title and caption
    are not drawn: the report prints them as HTML. Size: about 5 x 3.2 in, 10-30 kB.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", id_prefix):
        raise ValueError(f"id_prefix must be a plain identifier, got {id_prefix!r}")
    kind = figure.get("kind")
    draw = _DRAWERS.get(kind) if isinstance(kind, str) else None
    with matplotlib.rc_context(_RC):
        if draw is None:
            known = ", ".join(sorted(_DRAWERS))
            svg = _note_svg(f"Figure not drawn: unknown kind {kind!r} (known kinds: {known}).")
        else:
            try:
                svg = _draw(draw, figure.get("data") or {})
            except (FigureDataError, KeyError, TypeError, ValueError, IndexError) as exc:
                svg = _note_svg(f"Figure not drawn: its {kind} data is malformed ({_describe(exc)}).")
    return _namespace_ids(_strip_prolog(svg), id_prefix)


# -- drawing ------------------------------------------------------------------------


def _draw(draw: Callable[[Figure, Mapping[str, Any]], None], data: Mapping[str, Any]) -> str:
    size = HEATMAP_SIZE_IN if draw is _heatmap else FIGURE_SIZE_IN
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig, data)
    return _to_svg(fig)


def _histograms(fig: Figure, data: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    series = _series(data)
    for i, s in enumerate(series):
        edges = _floats(s["edges"], "edges")
        counts = _floats(s["counts"], "counts")
        if len(edges) != len(counts) + 1:
            raise FigureDataError(
                f"series {s.get('label', i)!r} has {len(edges)} edges for {len(counts)} counts (need counts + 1)"
            )
        color = PALETTE[i % len(PALETTE)]
        heights = np.nan_to_num(counts)
        ax.stairs(heights, edges, fill=True, color=color, alpha=0.18, linewidth=0)
        ax.stairs(heights, edges, color=color, linewidth=1.4, label=_legend_label(s.get("label", "")))
    ax.set_xlabel(str(data.get("x_label", "")))
    if data.get("y_label"):
        ax.set_ylabel(str(data["y_label"]))
    ax.set_ylim(bottom=0)
    ax.grid(axis="x", visible=False)
    _legend(ax, series)


def _bars(fig: Figure, data: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    categories = [str(c) for c in data["categories"]]
    series = _series(data)
    width = 0.8 / len(series)
    x = np.arange(len(categories))
    for i, s in enumerate(series):
        values = _floats(s["values"], "values")
        if len(values) != len(categories):
            raise FigureDataError(
                f"series {s.get('label', i)!r} has {len(values)} values for {len(categories)} categories"
            )
        offset = (i - (len(series) - 1) / 2) * width
        ax.bar(x + offset, values, width=width * 0.95, color=PALETTE[i % len(PALETTE)],
               label=_legend_label(s.get("label", "")))
    ax.set_xticks(x, [_shorten(c) for c in categories])
    if len(categories) > 5 or any(len(c) > 8 for c in categories):
        for label in ax.get_xticklabels():
            label.set_rotation(35)
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    if data.get("y_label"):
        ax.set_ylabel(str(data["y_label"]))
    ax.grid(axis="x", visible=False)
    ax.axhline(0, color="#4a5568", linewidth=0.8)
    _legend(ax, series)


def _roc(fig: Figure, data: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    curves = data["curves"]
    if not isinstance(curves, Sequence) or isinstance(curves, str):
        raise FigureDataError("'curves' must be a list")
    ax.plot([0, 1], [0, 1], linestyle="--", color="#a0aec0", linewidth=1, label="chance (AUC = 0.5)")
    for i, c in enumerate(curves):
        fpr = _floats(c["fpr"], "fpr")
        tpr = _floats(c["tpr"], "tpr")
        if len(fpr) != len(tpr):
            raise FigureDataError(f"curve {c.get('label', i)!r} has {len(fpr)} fpr and {len(tpr)} tpr values")
        auc = c.get("auc")
        label = str(c.get("label", f"curve {i + 1}"))
        if isinstance(auc, (int, float)) and math.isfinite(auc):
            label = f"{label} (AUC = {auc:.3f})"
        ax.plot(fpr, tpr, color=PALETTE[i % len(PALETTE)], linewidth=1.6, label=_legend_label(label))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    # curves with AUC >= 0.5 stay above the diagonal, so the lower right corner is free
    ax.legend(loc="lower right", frameon=True, framealpha=0.92, edgecolor="#e2e8f0", fontsize=7.5)


def _heatmap(fig: Figure, data: Mapping[str, Any]) -> None:
    ax = fig.add_subplot()
    labels = [str(v) for v in data["labels"]]
    rows = [_floats(r, "matrix row") for r in data["matrix"]]
    matrix = np.array(rows, dtype=float)
    if matrix.shape != (len(labels), len(labels)):
        raise FigureDataError(f"matrix is {matrix.shape[0]}x{matrix.shape[1] if matrix.ndim > 1 else 0} "
                              f"for {len(labels)} labels (need a square matrix, one row per label)")
    finite = matrix[np.isfinite(matrix)]
    vmin = _finite_or(data.get("vmin"), float(finite.min()) if finite.size else 0.0)
    vmax = _finite_or(data.get("vmax"), float(finite.max()) if finite.size else 1.0)
    if vmax <= vmin:  # a constant matrix still needs a colour scale with some width
        vmin, vmax = vmin - 0.5, vmin + 0.5
    # missing cells read as blank, not as a colour on the scale
    cmap = matplotlib.colormaps["RdBu_r" if vmin < 0 < vmax else "viridis"].with_extremes(bad="#edf2f7")
    # pcolormesh, not imshow: vector cells stay crisp in print and need no embedded PNG
    bounds = np.arange(len(labels) + 1) - 0.5
    image = ax.pcolormesh(bounds, bounds, np.ma.masked_invalid(matrix), vmin=vmin, vmax=vmax, cmap=cmap,
                          edgecolors="white", linewidth=0.5)
    ax.set_aspect("equal")
    ax.invert_yaxis()  # first label at the top, like a table
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, [_shorten(v) for v in labels], rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(ticks, [_shorten(v) for v in labels])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if len(labels) <= 8:  # values are legible only on small matrices
        mid = (vmin + vmax) / 2
        for (r, c), v in np.ndenumerate(matrix):
            if math.isfinite(v):
                dark = cmap((v - vmin) / (vmax - vmin or 1.0))[:3]
                light_text = sum(dark) < 1.5 or (vmin < 0 < vmax and abs(v - mid) > (vmax - vmin) * 0.35)
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if light_text else "#1a202c")
    # 40 bands: smooth to the eye, and few enough that matplotlib keeps them vector (not a PNG)
    bar = fig.colorbar(image, ax=ax, shrink=0.85, boundaries=np.linspace(vmin, vmax, 41))
    bar.set_label(str(data.get("value_label", "")))
    bar.outline.set_visible(False)


_DRAWERS: dict[str, Callable[[Figure, Mapping[str, Any]], None]] = {
    "histograms": _histograms,
    "bars": _bars,
    "roc": _roc,
    "heatmap": _heatmap,
}


# -- helpers --------------------------------------------------------------------------


def _note_svg(message: str) -> str:
    fig = Figure(figsize=NOTE_SIZE_IN)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("#fffaf0")
    fig.text(0.03, 0.5, message, ha="left", va="center", color="#9c4221", fontsize=8, wrap=True)
    return _to_svg(fig)


def _to_svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata=_SVG_METADATA)
    return buffer.getvalue()


def _strip_prolog(svg: str) -> str:
    """Drop the XML declaration, DOCTYPE and comments before ``<svg``: invalid inside HTML."""
    start = svg.find("<svg")
    if start < 0:
        raise RuntimeError("matplotlib returned no <svg> element")
    return svg[start:]


def _namespace_ids(svg: str, prefix: str) -> str:
    """Prefix every element id (and every reference to one): HTML ids must be unique per page."""
    svg = _ID_ATTR.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return _ID_REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)


def _series(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    series = data["series"]
    if not isinstance(series, Sequence) or isinstance(series, str) or not series:
        raise FigureDataError("'series' must be a non-empty list")
    return list(series)


def _floats(values: Any, what: str) -> np.ndarray:
    """A list of numbers (``None`` = missing -> NaN) as a float array."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise FigureDataError(f"'{what}' must be a list of numbers")
    out = np.array([np.nan if v is None else v for v in values], dtype=float)
    if out.ndim != 1:
        raise FigureDataError(f"'{what}' must be a flat list of numbers")
    return out


def _finite_or(x: Any, default: float) -> float:
    if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
        return float(x)
    return default


def _shorten(label: str) -> str:
    return label if len(label) <= MAX_TICK_LABEL else label[: MAX_TICK_LABEL - 1] + "\u2026"


def _legend_label(label: Any) -> str:
    # matplotlib hides artists whose label starts with "_" from the legend
    text = str(label)
    return "\u200a" + text if text.startswith("_") else text


def _legend(ax: Axes, series: list[Mapping[str, Any]]) -> None:
    # above the plot, in one row: inside the axes it would hide bars or bins
    if any(str(s.get("label", "")) for s in series):
        ax.figure.legend(loc="outside upper center", ncols=min(len(series), 3))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return str(exc) or type(exc).__name__
