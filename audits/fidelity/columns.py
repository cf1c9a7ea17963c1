"""Column-wise fidelity: does each synthetic column have the real column's distribution?

Per modelled column present in both tables (definitions in :mod:`synth.audits.fidelity.column_stats`):
KS statistic and range-scaled Wasserstein-1 distance for numeric, integer and datetime
columns, total variation distance for categorical and boolean columns, and the
missing-rate difference for all.

Headline metrics, each with a bootstrap interval (rows of both tables resampled, the
same resample for every column of a replicate; the replicates are recentred on the
estimate, see :func:`~synth.stats.bootstrap.recentred_interval`):

- ``fidelity.ks_mean``: mean KS over numeric columns (lower is better);
- ``fidelity.tvd_mean``: mean TVD over categorical columns (lower is better);
- ``fidelity.marginal_score``: 1 - mean of the per-column KS/TVD (higher is better, 1 = identical);
- ``fidelity.missing_rate_diff_max``: the largest missing-rate difference (lower is better).

The holdout, a real sample the generator never saw, is scored against the training
table the same way; its distances are the *noise floor*: what an ideal generator that
draws fresh records from the real population would get (at the holdout's sample size,
so it is a little pessimistic when the holdout is smaller than the synthetic table).
"""

from __future__ import annotations

import numpy as np

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Metric, TableBlock
from synth.audits.fidelity.column_stats import (
    BinnedColumn,
    ColumnDistance,
    MarginalSummary,
    bin_table,
    bootstrap_distances,
    compare_column,
    compared_columns,
    summarise,
)
from synth.audits.fidelity.marginal_figures import bars_figure, histogram_figure
from synth.audits.param_checks import check_int
from synth.schema import ColumnKind
from synth.stats.bootstrap import recentred_interval

_HEADLINES = {
    "ks_mean": ("fidelity.ks_mean", "lower", 0.0),
    "tvd_mean": ("fidelity.tvd_mean", "lower", 0.0),
    "marginal_score": ("fidelity.marginal_score", "higher", 1.0),
    "missing_diff_max": ("fidelity.missing_rate_diff_max", "lower", 0.0),
}

_PASSING = {
    "ks_mean": "Mean Kolmogorov-Smirnov statistic over numeric columns; 0 means identical distributions, "
    "a value near the holdout's noise floor is as close as a fresh real sample.",
    "tvd_mean": "Mean total variation distance of level shares over categorical columns; 0 means identical "
    "shares, a value near the holdout's noise floor is as close as a fresh real sample.",
    "marginal_score": "1 minus the mean per-column distance (KS or TVD); 1 means every synthetic column "
    "has the real column's distribution.",
    "missing_diff_max": "Largest difference in the share of missing values of any column; 0 means the "
    "synthetic data is missing values as often as the real data.",
}


class ColumnFidelityAudit(Audit):
    """Marginal (one-column) fidelity; see the module docstring.

    Args:
        n_boot: bootstrap replicates for the headline intervals (>= 10).
        max_figures: most per-column figures to show, worst columns first (>= 0).
    """

    name = "fidelity_columns"
    family = "fidelity"
    title = "Column fidelity (marginal distributions)"
    provides = tuple(v[0] for v in _HEADLINES.values())

    def __init__(self, n_boot: int = 100, max_figures: int = 12) -> None:
        self.n_boot = check_int(self.name, "n_boot", n_boot, 10, 100)
        self.max_figures = check_int(self.name, "max_figures", max_figures, 0, 12)
        super().__init__(n_boot=self.n_boot, max_figures=self.max_figures)

    def run(self, inputs: AuditInputs) -> AuditSection:
        kinds, absent = compared_columns(inputs.schema, inputs.train, inputs.synthetic)
        if not kinds:
            return self.skip("no modelled column is present in both the real and the synthetic table")
        if len(inputs.train) == 0 or len(inputs.synthetic) == 0:
            return self.skip("the real or the synthetic table has no rows")
        rng = np.random.default_rng([inputs.seed, 101])

        columns = bin_table(inputs.train, inputs.synthetic, kinds)
        points = [compare_column(c) for c in columns]
        dist_reps, miss_reps = bootstrap_distances(columns, self.n_boot, rng)
        summary = summarise(points, dist_reps, miss_reps)

        floor_points, floor = _noise_floor(inputs, kinds)

        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        section.metrics = self._metrics(summary, floor, points)
        section.tables = [_column_table(points, floor_points)]
        section.figures = _figures(columns, points, self.max_figures, inputs.rare_level_k)
        section.summary = _summary_line(summary, floor)
        if absent:
            section.notes.append(f"Not compared (absent from a table): {', '.join(absent)}.")
        undefined = [p.name for p in points if not np.isfinite(p.value)]
        if undefined:
            section.notes.append(
                f"No distance for {', '.join(undefined)}: one table has no observed value there "
                "(see the missing-rate columns); they are left out of the means."
            )
        if summary.n_ks == 0:
            section.notes.append("No numeric, integer or datetime column with values: fidelity.ks_mean not computed.")
        if summary.n_tvd == 0:
            section.notes.append("No categorical or boolean column with values: fidelity.tvd_mean not computed.")
        if floor is None:
            section.notes.append("No holdout rows: the noise floor (holdout vs training) is not available.")
        section.notes.append(
            "Wasserstein distances are computed on values divided by the real column's range "
            "(unitless; 0.1 = a tenth of the real range)."
        )
        return section

    def _metrics(
        self, summary: MarginalSummary, floor: MarginalSummary | None, points: list[ColumnDistance]
    ) -> list[Metric]:
        metrics = []
        counts = {"ks_mean": summary.n_ks, "tvd_mean": summary.n_tvd}
        for key, (name, better, ideal) in _HEADLINES.items():
            value = float(getattr(summary, key))
            if not np.isfinite(value):
                continue  # no column of that kind: the metric does not exist for this table
            details: dict[str, object] = {
                "noise_floor_holdout": _finite_or_none(getattr(floor, key)) if floor else None,
            }
            if key in counts:
                details["n_columns"] = counts[key]
            if key == "missing_diff_max":
                worst = max(points, key=lambda p: p.missing_diff if np.isfinite(p.missing_diff) else -1.0)
                details["column"] = worst.name
            if key == "marginal_score" and summary.worst is not None:
                details["worst_column"] = summary.worst.name
                details["worst_column_distance"] = summary.worst.value
            metrics.append(
                Metric(
                    name=name,
                    value=value,
                    passing=_PASSING[key],
                    ci=recentred_interval(summary.replicates[key], value, self.n_boot),
                    better=better,  # type: ignore[arg-type]
                    ideal=ideal,
                    details=details,
                    reference=details["noise_floor_holdout"],  # type: ignore[arg-type]
                )
            )
        return metrics


def _noise_floor(
    inputs: AuditInputs, kinds: dict[str, ColumnKind]
) -> tuple[dict[str, ColumnDistance], MarginalSummary | None]:
    """Holdout-vs-training point distances per column, and their summary (None without a holdout)."""
    floor_kinds = {n: k for n, k in kinds.items() if n in inputs.holdout.columns}
    if len(inputs.holdout) == 0 or not floor_kinds:
        return {}, None
    pts = [compare_column(c) for c in bin_table(inputs.train, inputs.holdout, floor_kinds)]
    empty = np.empty((0, len(pts)))
    return {p.name: p for p in pts}, summarise(pts, empty, empty)


def _column_table(points: list[ColumnDistance], floor: dict[str, ColumnDistance]) -> TableBlock:
    order = sorted(points, key=lambda p: -p.value if np.isfinite(p.value) else 1.0)
    rows = []
    for p in order:
        f = floor.get(p.name)
        rows.append(
            (
                p.name,
                p.kind.value,
                "KS" if p.statistic == "ks" else "TVD",
                float(p.value),
                float(f.value) if f else float("nan"),
                float(p.wasserstein) if p.wasserstein is not None else float("nan"),
                float(p.missing_real),
                float(p.missing_synthetic),
            )
        )
    return TableBlock(
        title="Per-column distances (worst first)",
        columns=(
            "column",
            "kind",
            "statistic",
            "synthetic vs real",
            "holdout vs real (noise floor)",
            "Wasserstein / real range",
            "missing rate (real)",
            "missing rate (synthetic)",
        ),
        rows=tuple(rows),
        caption=(
            "KS for numeric, integer and datetime columns, total variation distance for categorical and "
            "boolean ones (0 = identical). The noise floor is the same distance between the holdout and "
            "the training data: a generator drawing fresh real records would score about this."
        ),
    )


def _figures(columns: list[BinnedColumn], points: list[ColumnDistance], limit: int, k: int) -> list[Figure]:
    ranked = sorted(range(len(points)), key=lambda j: -points[j].value if np.isfinite(points[j].value) else 1.0)
    figures = []
    for j in ranked[:limit]:
        col = columns[j]
        fig_id = f"fidelity_columns.{col.name}"
        figures.append(histogram_figure(col, fig_id) if col.statistic == "ks" else bars_figure(col, fig_id, k))
    return figures


def _summary_line(summary: MarginalSummary, floor: MarginalSummary | None) -> str:
    text = f"Marginal score {summary.marginal_score:.3f}"
    if floor is not None and np.isfinite(floor.marginal_score):
        text += f" (holdout noise floor {floor.marginal_score:.3f})"
    if summary.worst is not None:
        stat = "KS" if summary.worst.statistic == "ks" else "TVD"
        text += f"; worst column {summary.worst.name} ({stat} {summary.worst.value:.3f})"
    return text + "."


def _finite_or_none(x: float) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None
