"""Subgroup fidelity: are the marginals right *within* each sensitive subgroup?

A generator can match the overall distributions while getting a minority group wrong
(the overall numbers are dominated by the majority). For each sensitive attribute
(``schema.sensitive``, categorical or boolean) and each of its levels with at least
``min_rows`` real training rows, the column distances of
:mod:`synth.audits.fidelity.column_stats` (KS for numeric, TVD for categorical columns) are
recomputed between the real and the synthetic rows of that subgroup, leaving out the
attribute itself (constant within the subgroup).

Headline: ``fidelity.subgroup_worst_marginal_score``, the lowest subgroup marginal score
(1 - mean per-column distance; higher is better, 1 = identical). A subgroup the
synthetic data does not contain at all scores 0: none of its marginals is reproduced.
Interval: rows resampled within every subgroup of both tables, the worst subgroup taken
in each replicate, replicates recentred on the estimate (see
:func:`~synth.stats.bootstrap.recentred_interval`). Small subgroups score
lower by sampling noise alone; the holdout's score per subgroup (its noise floor) is
listed beside each to tell noise from a real gap.

Levels held by fewer than ``inputs.rare_level_k`` training rows are never named (the
k-rule of :mod:`synth.disclosure`): they read "other (rare)" in the table and notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.audits.base import Audit, AuditInputs, AuditSection, Metric, TableBlock
from synth.audits.fidelity.column_stats import (
    MarginalSummary,
    bin_table,
    bootstrap_distances,
    compare_column,
    compared_columns,
    level_codes,
    summarise,
)
from synth.audits.param_checks import check_int
from synth.disclosure import RARE_LABEL, nameable
from synth.schema import ColumnKind
from synth.stats.bootstrap import recentred_interval


@dataclass(frozen=True)
class _Subgroup:
    attribute: str
    level: str
    n_real: int
    n_synthetic: int
    summary: MarginalSummary | None  # None: no synthetic rows in the subgroup
    scores: np.ndarray  # (n_boot,) marginal-score replicates
    noise_floor: float  # holdout marginal score of the subgroup (NaN if too few holdout rows)

    @property
    def score(self) -> float:
        return self.summary.marginal_score if self.summary is not None else 0.0


class SubgroupFidelityAudit(Audit):
    """Marginal fidelity within sensitive subgroups; see the module docstring.

    Args:
        min_rows: fewest real training rows for a subgroup to be scored (>= 2).
        n_boot: bootstrap replicates for the headline interval (>= 10).
    """

    name = "subgroup_fidelity"
    family = "fidelity"
    title = "Subgroup fidelity (marginals within sensitive groups)"
    provides = ("fidelity.subgroup_worst_marginal_score",)

    def __init__(self, min_rows: int = 20, n_boot: int = 100) -> None:
        self.min_rows = check_int(self.name, "min_rows", min_rows, 2, 20)
        self.n_boot = check_int(self.name, "n_boot", n_boot, 10, 100)
        super().__init__(min_rows=self.min_rows, n_boot=self.n_boot)

    def run(self, inputs: AuditInputs) -> AuditSection:
        if not inputs.schema.sensitive:
            return self.skip("no sensitive attribute is declared (set `role: sensitive` on a column in the config)")
        kinds, _ = compared_columns(inputs.schema, inputs.train, inputs.synthetic)
        notes: list[str] = []
        attributes = []
        for attr in inputs.schema.sensitive:
            if attr not in kinds:
                notes.append(f"Sensitive attribute '{attr}' is not in both tables: not scored.")
            elif kinds[attr] not in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
                notes.append(
                    f"Sensitive attribute '{attr}' is {kinds[attr].value}, not categorical: subgroups need levels "
                    "(add a banded categorical copy, e.g. age groups, and mark that one sensitive)."
                )
            else:
                attributes.append(attr)
        if len(kinds) < 2 or not attributes:
            return self.skip("no categorical sensitive attribute with other columns to compare. " + " ".join(notes))

        rng = np.random.default_rng([inputs.seed, 505])
        groups: list[_Subgroup] = []
        too_small: list[str] = []
        k = inputs.rare_level_k
        for attr in attributes:
            others = {n: k for n, k in kinds.items() if n != attr}
            r_codes, r_keys = level_codes(inputs.train[attr])
            s_codes, s_keys = level_codes(inputs.synthetic[attr])
            h_codes, h_keys = (
                level_codes(inputs.holdout[attr]) if attr in inputs.holdout.columns else (np.empty(0, int), [])
            )
            n_rare = 0
            for li, level in enumerate(r_keys):
                real_rows = np.nonzero(r_codes == li)[0]
                shown = level if nameable(real_rows.size, k) else RARE_LABEL
                if real_rows.size < self.min_rows:
                    if shown == RARE_LABEL:
                        n_rare += 1
                    else:
                        too_small.append(f"{attr}={level} ({real_rows.size})")
                    continue
                syn_rows = np.nonzero(s_codes == s_keys.index(level))[0] if level in s_keys else np.empty(0, int)
                hold_rows = np.nonzero(h_codes == h_keys.index(level))[0] if level in h_keys else np.empty(0, int)
                groups.append(self._score(inputs, others, attr, shown, real_rows, syn_rows, hold_rows, rng))
            if n_rare:
                too_small.append(f"{n_rare} level(s) of {attr} held by fewer than {k} rows (not named)")
        if not groups:
            return self.skip(
                f"no sensitive subgroup has {self.min_rows} or more real rows (min_rows); lower "
                f"audit.params.{self.name}.min_rows to score smaller groups"
            )

        worst_i = int(np.argmin([g.score for g in groups]))
        worst = groups[worst_i]
        reps = np.min(np.vstack([g.scores for g in groups]), axis=0)
        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        section.metrics.append(
            Metric(
                name="fidelity.subgroup_worst_marginal_score",
                value=worst.score,
                passing="The marginal score (1 - mean per-column KS/TVD) of the worst-served sensitive subgroup; "
                "1 means every subgroup's columns match the real ones. Compare with that subgroup's holdout "
                "noise floor, which is lower for small groups.",
                ci=recentred_interval(reps, worst.score, self.n_boot),
                better="higher",
                ideal=1.0,
                details={
                    "attribute": worst.attribute,
                    "level": worst.level,
                    "n_real": worst.n_real,
                    "n_synthetic": worst.n_synthetic,
                    "noise_floor_holdout": float(worst.noise_floor) if np.isfinite(worst.noise_floor) else None,
                    "n_subgroups": len(groups),
                },
                reference=float(worst.noise_floor) if np.isfinite(worst.noise_floor) else None,
            )
        )
        section.tables.append(_table(groups))
        section.summary = (
            f"Worst subgroup {worst.attribute}={worst.level}: marginal score {worst.score:.3f}"
            + (f" (holdout noise floor {worst.noise_floor:.3f})" if np.isfinite(worst.noise_floor) else "")
            + f", over {len(groups)} subgroups."
        )
        missing = [f"{g.attribute}={g.level}" for g in groups if g.n_synthetic == 0]
        if missing:
            notes.append(f"Absent from the synthetic data (scored 0): {', '.join(missing)}.")
        no_floor = [f"{g.attribute}={g.level}" for g in groups if not np.isfinite(g.noise_floor)]
        if no_floor:
            notes.append(
                f"No holdout noise floor (fewer than {self.min_rows} holdout rows) for: {', '.join(no_floor)}."
            )
        if too_small:
            notes.append(f"Not scored (fewer than {self.min_rows} real rows): {', '.join(too_small)}.")
        section.notes.extend(notes)
        return section

    def _score(
        self,
        inputs: AuditInputs,
        others: dict[str, ColumnKind],
        attr: str,
        level: str,
        real_rows: np.ndarray,
        syn_rows: np.ndarray,
        hold_rows: np.ndarray,
        rng: np.random.Generator,
    ) -> _Subgroup:
        real = inputs.train.iloc[real_rows]
        floor = float("nan")
        if hold_rows.size >= self.min_rows and all(n in inputs.holdout.columns for n in others):
            pts = [compare_column(c) for c in bin_table(real, inputs.holdout.iloc[hold_rows], others)]
            empty = np.empty((0, len(pts)))
            floor = summarise(pts, empty, empty).marginal_score
        if syn_rows.size == 0:
            return _Subgroup(attr, level, real_rows.size, 0, None, np.zeros(self.n_boot), floor)
        columns = bin_table(real, inputs.synthetic.iloc[syn_rows], others)
        points = [compare_column(c) for c in columns]
        dist, miss = bootstrap_distances(columns, self.n_boot, rng)
        summary = summarise(points, dist, miss)
        scores = summary.replicates["marginal_score"]
        return _Subgroup(attr, level, real_rows.size, syn_rows.size, summary, scores, floor)


def _table(groups: list[_Subgroup]) -> TableBlock:
    rows = []
    for g in sorted(groups, key=lambda g: g.score):
        s = g.summary
        worst_col = "(subgroup absent)" if s is None else (s.worst.name if s.worst is not None else "")
        rows.append(
            (
                g.attribute,
                g.level,
                g.n_real,
                g.n_synthetic,
                float(s.ks_mean) if s is not None else float("nan"),
                float(s.tvd_mean) if s is not None else float("nan"),
                float(g.score),
                float(g.noise_floor),
                worst_col,
            )
        )
    return TableBlock(
        title="Marginal fidelity per sensitive subgroup (worst first)",
        columns=(
            "attribute",
            "level",
            "n real",
            "n synthetic",
            "mean KS",
            "mean TVD",
            "marginal score",
            "holdout score (noise floor)",
            "worst column",
        ),
        rows=tuple(rows),
        caption="Distances between the real and synthetic rows of each subgroup, the attribute itself left out. "
        "The noise floor is the same score for the holdout's rows of the subgroup.",
    )
