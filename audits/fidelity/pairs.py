"""Pairwise fidelity: does the synthetic table keep the real dependence between columns?

For every pair of modelled columns present in both tables the association is measured
in each table (Spearman's rho for numeric pairs, bias-corrected Cramér's V for
categorical pairs, the correlation ratio eta for mixed pairs; definitions in
:mod:`synth.audits.fidelity.association`) and compared:

- ``fidelity.pairwise_corr_diff_mean``: the mean over all pairs of
  ``|association_real - association_synthetic|`` (lower is better, 0 = same dependence;
  numeric pairs compare signed correlations, so a flipped sign counts fully);
- ``fidelity.contingency_similarity_mean``: over categorical pairs, the mean of
  ``1 - TVD`` between the real and synthetic joint two-way level shares (higher is
  better, 1 = same joint distribution);
- ``fidelity.association_diff_max``: the largest ``|association_real -
  association_synthetic|`` over all pairs, naming the pair: a mean over hundreds of pairs
  hides one dependence that collapses (a treatment and its arm, a code and its label).

Intervals: bootstrap over rows of both tables, replicates recentred on the estimate (see
:func:`~synth.stats.bootstrap.recentred_interval`). Tables larger than
``max_rows`` are first subsampled at random (an association is estimated to about
``1/sqrt(max_rows)``, far below the differences that matter). The holdout's score
against the training table is reported as the noise floor and is each metric's
``reference`` (for the maximum: the largest holdout difference over all pairs).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Metric, TableBlock
from synth.audits.fidelity.association import (
    AssociationLayout,
    Associations,
    associations,
    encode,
    make_layout,
    moments,
)
from synth.audits.fidelity.column_stats import compared_columns
from synth.audits.param_checks import check_int
from synth.stats.bootstrap import recentred_interval


class PairFidelityAudit(Audit):
    """Pairwise-dependence fidelity; see the module docstring.

    Args:
        n_boot: bootstrap replicates for the intervals (>= 10).
        max_rows: rows per table used (random subset above it; >= 100).
        max_table_rows: most pairs listed in the report table, largest differences first.
    """

    name = "fidelity_pairs"
    family = "fidelity"
    title = "Pairwise fidelity (dependence between columns)"
    provides = ("fidelity.pairwise_corr_diff_mean", "fidelity.contingency_similarity_mean", "fidelity.association_diff_max")

    def __init__(self, n_boot: int = 100, max_rows: int = 20_000, max_table_rows: int = 15) -> None:
        self.n_boot = check_int(self.name, "n_boot", n_boot, 10, 100)
        self.max_rows = check_int(self.name, "max_rows", max_rows, 100, 20_000)
        self.max_table_rows = check_int(self.name, "max_table_rows", max_table_rows, 0, 15)
        super().__init__(n_boot=self.n_boot, max_rows=self.max_rows, max_table_rows=self.max_table_rows)

    def run(self, inputs: AuditInputs) -> AuditSection:
        kinds, absent = compared_columns(inputs.schema, inputs.train, inputs.synthetic)
        if len(kinds) < 2:
            return self.skip("fewer than two modelled columns are present in both the real and the synthetic table")
        if len(inputs.train) < 3 or len(inputs.synthetic) < 3:
            return self.skip("the real or the synthetic table has fewer than 3 rows")
        rng = np.random.default_rng([inputs.seed, 202])
        real = _cap(inputs.train, self.max_rows, rng)
        syn = _cap(inputs.synthetic, self.max_rows, rng)
        has_holdout = len(inputs.holdout) >= 3 and all(n in inputs.holdout.columns for n in kinds)
        hold = _cap(inputs.holdout, self.max_rows, rng) if has_holdout else None

        layout = make_layout(kinds, *(f for f in (real, syn, hold) if f is not None))
        e_real, e_syn = encode(real, layout), encode(syn, layout)
        a_real = associations(moments(e_real, layout), layout)
        a_syn = associations(moments(e_syn, layout), layout)
        diff_mean, sim_mean, diff_max = _scores(a_real, a_syn)

        reps = np.empty((self.n_boot, 3))
        for b in range(self.n_boot):
            w_r = np.bincount(rng.integers(0, len(real), len(real)), minlength=len(real)).astype(float)
            w_s = np.bincount(rng.integers(0, len(syn), len(syn)), minlength=len(syn)).astype(float)
            reps[b] = _scores(
                associations(moments(e_real, layout, w_r), layout), associations(moments(e_syn, layout, w_s), layout)
            )

        a_hold = associations(moments(encode(hold, layout), layout), layout) if hold is not None else None
        floor = _scores(a_real, a_hold) if a_hold is not None else None

        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        details = {
            "n_pairs": len(kinds) * (len(kinds) - 1) // 2,
            "rows_used": {"real": len(real), "synthetic": len(syn)},
        }
        if np.isfinite(diff_mean):
            section.metrics.append(
                Metric(
                    name="fidelity.pairwise_corr_diff_mean",
                    value=diff_mean,
                    passing="Mean absolute difference between real and synthetic pairwise associations "
                    "(Spearman / Cramér's V / correlation ratio); 0 means the synthetic data keeps every "
                    "pairwise dependence, a value near the holdout's noise floor is as good as fresh real data.",
                    ci=recentred_interval(reps[:, 0], diff_mean, self.n_boot, upper=2.0),
                    better="lower",
                    ideal=0.0,
                    details={**details, "noise_floor_holdout": _finite(floor[0]) if floor else None},
                    reference=_finite(floor[0]) if floor else None,
                )
            )
        if np.isfinite(sim_mean):
            section.metrics.append(
                Metric(
                    name="fidelity.contingency_similarity_mean",
                    value=sim_mean,
                    passing="Mean over categorical pairs of 1 - total variation distance between the real and "
                    "synthetic two-way tables; 1 means identical joint distributions.",
                    ci=recentred_interval(reps[:, 1], sim_mean, self.n_boot),
                    better="higher",
                    ideal=1.0,
                    details={
                        "n_pairs": len(a_real.joint),
                        "noise_floor_holdout": _finite(floor[1]) if floor else None,
                    },
                    reference=_finite(floor[1]) if floor else None,
                )
            )
        if np.isfinite(diff_max):
            i, j = _largest_pair(a_real, a_syn)
            section.metrics.append(
                Metric(
                    name="fidelity.association_diff_max",
                    value=diff_max,
                    passing="The largest absolute difference between a real and a synthetic pairwise association; "
                    "near the holdout's largest difference means no single dependence is lost.",
                    ci=recentred_interval(reps[:, 2], diff_max, self.n_boot, upper=2.0),
                    better="lower",
                    ideal=0.0,
                    details={
                        "column_a": layout.names[i],
                        "column_b": layout.names[j],
                        "measure": _measure(layout, i, j),
                        "real_association": float(a_real.matrix[i, j]),
                        "synthetic_association": float(a_syn.matrix[i, j]),
                        "noise_floor_holdout": _finite(floor[2]) if floor else None,
                    },
                    reference=_finite(floor[2]) if floor else None,
                )
            )
        section.figures.append(_heatmap(layout, a_real, a_syn))
        section.tables.append(self._pair_table(layout, a_real, a_syn, a_hold))
        section.summary = f"Mean association difference {diff_mean:.3f}" + (
            f" (holdout noise floor {floor[0]:.3f})" if floor and np.isfinite(floor[0]) else ""
        ) + (f"; contingency similarity {sim_mean:.3f}." if np.isfinite(sim_mean) else ".")
        if absent:
            section.notes.append(f"Not compared (absent from a table): {', '.join(absent)}.")
        if len(inputs.train) > self.max_rows or len(inputs.synthetic) > self.max_rows:
            section.notes.append(f"Associations estimated on a random subset of {self.max_rows} rows per table.")
        if hold is None:
            section.notes.append("No usable holdout: the noise floor (holdout vs training) is not available.")
        return section

    def _pair_table(
        self, layout: AssociationLayout, a_real: Associations, a_syn: Associations, a_hold: Associations | None
    ) -> TableBlock:
        rows = []
        for i, j in combinations(range(len(layout.names)), 2):
            r, s = a_real.matrix[i, j], a_syn.matrix[i, j]
            h = a_hold.matrix[i, j] if a_hold is not None else float("nan")
            rows.append(
                (layout.names[i], layout.names[j], _measure(layout, i, j), float(r), float(s), float(abs(r - s)),
                 float(abs(r - h)))
            )
        rows.sort(key=lambda row: -row[5] if np.isfinite(row[5]) else 1.0)
        return TableBlock(
            title="Largest association differences",
            columns=(
                "column A",
                "column B",
                "measure",
                "real",
                "synthetic",
                "|difference|",
                "holdout |difference| (noise floor)",
            ),
            rows=tuple(rows[: self.max_table_rows]),
            caption="Pairs sorted by the absolute difference between real and synthetic association.",
        )


def _scores(a_real: Associations, a_syn: Associations) -> tuple[float, float, float]:
    """(mean |association difference| over defined pairs, mean contingency similarity, largest difference)."""
    p = a_real.matrix.shape[0]
    iu = np.triu_indices(p, 1)
    d = np.abs(a_real.matrix[iu] - a_syn.matrix[iu])
    d = d[np.isfinite(d)]
    sims = [1.0 - 0.5 * np.abs(a_real.joint[k] - a_syn.joint[k]).sum() for k in a_real.joint
            if a_real.joint[k].sum() > 0 and a_syn.joint[k].sum() > 0]
    nan = float("nan")
    return (float(d.mean()) if d.size else nan, float(np.mean(sims)) if sims else nan,
            float(d.max()) if d.size else nan)


def _largest_pair(a_real: Associations, a_syn: Associations) -> tuple[int, int]:
    """Indices ``(i, j)``, ``i < j``, of the pair whose association differs most."""
    diff = np.abs(a_real.matrix - a_syn.matrix)
    diff[~np.isfinite(diff)] = -1.0
    diff[np.tril_indices(diff.shape[0])] = -1.0
    i, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return int(i), int(j)


def _measure(layout: AssociationLayout, i: int, j: int) -> str:
    num = set(layout.numeric)
    if i in num and j in num:
        return "Spearman rho"
    if i in num or j in num:
        return "correlation ratio (eta)"
    return "Cramér's V (bias-corrected)"


def _heatmap(layout: AssociationLayout, a_real: Associations, a_syn: Associations) -> Figure:
    diff = np.abs(a_real.matrix - a_syn.matrix)
    np.fill_diagonal(diff, 0.0)
    matrix = [[float(min(v, 1.0)) if np.isfinite(v) else None for v in row] for row in diff]
    return Figure(
        id="fidelity_pairs.association_difference",
        title="Absolute difference of pairwise association (real vs synthetic)",
        kind="heatmap",
        data={
            "labels": list(layout.names),
            "matrix": matrix,
            "value_label": "|association real - synthetic|",
            "vmin": 0.0,
            "vmax": 1.0,
        },
        caption=(
            "Spearman's rho for numeric pairs, bias-corrected Cramér's V for categorical pairs, correlation ratio "
            "for mixed pairs. 0 = same dependence; values above 1 (a flipped correlation) are shown as 1; "
            "empty cells: too few rows with both values observed."
        ),
    )


def _cap(frame: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), max_rows, replace=False))]


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
