"""Coverage: does the synthetic data fill the real data's support, and only it?

Rows are embedded with :class:`~synth.neighbors.encoding.MixedEncoder` fitted on the real
training rows (the documented mixed-type distance). Each real row gets a ball whose
radius is the distance to its ``k``-th nearest other real row; each synthetic row a ball
from its ``k``-th nearest other synthetic row. Then (all in [0, 1] except density):

- ``fidelity.precision`` (Kynkäänniemi et al. 2019): share of synthetic rows inside at
  least one real ball — synthetic rows that look like plausible real ones;
- ``fidelity.recall`` (Kynkäänniemi et al. 2019): share of real rows inside at least one
  synthetic ball — how much of the real variety the generator reproduces;
- ``fidelity.density`` (Naeem et al. 2020): mean number of real balls containing a
  synthetic row, divided by ``k``; about 1 when the two distributions match, above 1
  when synthetic rows crowd into dense real regions, below 1 when they stray;
- ``fidelity.coverage`` (Naeem et al. 2020): share of real rows whose ball contains at
  least one synthetic row — robust to outliers, unlike recall.

Both tables are cut to the same number of rows, ``min(n_real, n_synthetic, max_rows)``
(random subsets): density and coverage depend on the sample sizes, and exact
neighbour search is quadratic. This is a fidelity measure of the distributions, so a
subset is an estimate of the same quantity, not a weaker test. Intervals treat the
per-row results as the sample (which rows fall in which balls is kept fixed, so they
reflect which rows were drawn, not the estimation of the radii): precision, recall and
coverage are shares of rows, so they get the Wilson interval, which is what resampling
the 0/1 indicators approximates but stays honest at 0 and 1 (a bootstrap of all-ones
indicators is the empty interval [1, 1]); density gets a percentile bootstrap of the
per-row ball counts. The same
four numbers for holdout rows in place of synthetic ones (with as many training rows)
are the reference a generator of fresh real records would get.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from synth.audits.base import Audit, AuditInputs, AuditSection, Metric, TableBlock
from synth.audits.fidelity.column_stats import compared_columns
from synth.audits.param_checks import check_int
from synth.neighbors.encoding import MixedEncoder
from synth.neighbors.search import nearest
from synth.schema import ColumnKind
from synth.stats.bootstrap import resampled_means
from synth.stats.intervals import percentile_interval, wilson

# Ball membership is tested as d^2 <= r^2 * (1 + _REL_TOL) + _ABS_TOL: the k-th neighbour that
# defines a radius (and an exact duplicate at radius 0) must count as inside although its
# distance is recomputed by another summation order.
_REL_TOL = 1e-9
_ABS_TOL = 1e-10

_PASSING = {
    "precision": "Share of synthetic rows that fall inside the real data's k-NN support; 1 means every "
    "synthetic row looks like a plausible real row.",
    "recall": "Share of real rows that fall inside the synthetic data's k-NN support; 1 means the "
    "synthetic data reproduces all of the real variety.",
    "density": "Mean number of real k-NN balls around a synthetic row, over k; about 1 when the "
    "distributions match (above 1: crowding into common cases, below 1: straying).",
    "coverage": "Share of real rows whose k-NN ball holds at least one synthetic row; 1 means no region "
    "of the real data is left empty.",
}


@dataclass(frozen=True)
class _Indicators:
    """Per-row results: for synthetic rows (n,) in-real-support and ball counts / k, for real rows (n,)
    in-synthetic-support and covered."""

    precision: np.ndarray
    density: np.ndarray
    recall: np.ndarray
    coverage: np.ndarray

    def values(self) -> dict[str, float]:
        return {k: float(getattr(self, k).mean()) for k in ("precision", "recall", "density", "coverage")}


class CoverageAudit(Audit):
    """Precision / recall / density / coverage in the shared embedding; see the module docstring.

    Args:
        k: neighbours defining each ball's radius (>= 1).
        max_rows: most rows per table (>= 20); both tables are cut to the same size.
        n_boot: bootstrap replicates for the density interval (>= 10).
    """

    name = "coverage"
    family = "fidelity"
    title = "Coverage (precision, recall, density, coverage)"
    provides = ("fidelity.precision", "fidelity.recall", "fidelity.density", "fidelity.coverage")

    def __init__(self, k: int = 5, max_rows: int = 10_000, n_boot: int = 200) -> None:
        self.k = check_int(self.name, "k", k, 1, 5)
        self.max_rows = check_int(self.name, "max_rows", max_rows, 20, 10_000)
        self.n_boot = check_int(self.name, "n_boot", n_boot, 10, 200)
        super().__init__(k=self.k, max_rows=self.max_rows, n_boot=self.n_boot)

    def run(self, inputs: AuditInputs) -> AuditSection:
        kinds, absent = compared_columns(inputs.schema, inputs.train, inputs.synthetic)
        if not kinds:
            return self.skip("no modelled column is present in both the real and the synthetic table")
        n = min(len(inputs.train), len(inputs.synthetic), self.max_rows)
        if n <= self.k:
            return self.skip(f"too few rows ({n} per table) for k={self.k} nearest neighbours; lower k or add rows")
        rng = np.random.default_rng([inputs.seed, 404])
        real = _ns_datetimes(_subset(inputs.train, n, rng), kinds)
        syn = _ns_datetimes(_subset(inputs.synthetic, n, rng), kinds)
        columns = list(kinds)
        # One embedding (fitted on the real subset) for the test and its reference, so both
        # measure distance the same way and share the real rows' radii.
        encoder = MixedEncoder(inputs.schema, columns).fit(real)
        real_enc = encoder.transform(real)
        real_radius = _radii(real_enc, self.k)
        main = _indicators(real_enc, real_radius, encoder.transform(syn), self.k)

        reference = None
        n_ref = min(len(inputs.holdout), n)
        if n_ref > self.k and all(c in inputs.holdout.columns for c in columns):
            hold_enc = encoder.transform(_ns_datetimes(_subset(inputs.holdout, n_ref, rng), kinds))
            if n_ref == n:
                reference = _indicators(real_enc, real_radius, hold_enc, self.k)
            else:  # as many real rows as holdout rows: density and coverage depend on the sizes
                keep = np.sort(rng.choice(n, n_ref, replace=False))
                ref_real = real_enc[keep]
                reference = _indicators(ref_real, _radii(ref_real, self.k), hold_enc, self.k)
        ref_values = reference.values() if reference is not None else {}

        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        for key, value in main.values().items():
            per_row = getattr(main, key)
            if key == "density":
                ci = percentile_interval(resampled_means(per_row, self.n_boot, rng), f"bootstrap (n={self.n_boot})")
            else:
                ci = wilson(int(per_row.sum()), per_row.size)
            section.metrics.append(
                Metric(
                    name=f"fidelity.{key}",
                    value=value,
                    passing=_PASSING[key],
                    ci=ci,
                    better="closer" if key == "density" else "higher",
                    ideal=1.0,
                    details={
                        "k": self.k,
                        "rows_per_table": n,
                        "holdout_reference": ref_values.get(key),
                        "holdout_reference_rows": n_ref if reference is not None else None,
                    },
                    reference=ref_values.get(key),
                )
            )
        section.tables.append(
            TableBlock(
                title="Support metrics",
                columns=("metric", "synthetic vs real", "holdout vs real (reference)"),
                rows=tuple((key, value, ref_values.get(key, float("nan"))) for key, value in main.values().items()),
                caption=f"k = {self.k} nearest neighbours in the mixed-type encoding fitted on the real rows; "
                f"{n} rows per table. The reference replaces the synthetic rows by holdout rows.",
            )
        )
        v = main.values()
        section.summary = (
            f"Precision {v['precision']:.3f}, recall {v['recall']:.3f}, density {v['density']:.3f}, "
            f"coverage {v['coverage']:.3f}"
            + (f" (holdout reference coverage {ref_values['coverage']:.3f})." if reference is not None else ".")
        )
        if absent:
            section.notes.append(f"Not used (absent from a table): {', '.join(absent)}.")
        if max(len(inputs.train), len(inputs.synthetic)) > n:
            section.notes.append(f"Computed on random subsets of {n} rows per table (equal sizes).")
        if reference is None:
            section.notes.append("Holdout too small or missing columns: no real-vs-real reference.")
        return section


def _subset(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) == n:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))]


def _ns_datetimes(frame: pd.DataFrame, kinds: dict[str, ColumnKind]) -> pd.DataFrame:
    """``frame`` with datetime columns at nanosecond resolution (a new frame when any changes).

    MixedEncoder reads datetimes as integers in the column's own unit, and pandas 2 keeps
    s/ms/us units, so a real table in seconds and a synthetic one in nanoseconds would
    sit 10^9 apart. Normalising here keeps the embedding right whatever the encoder does.
    """
    dt_cols = [c for c, k in kinds.items() if k == ColumnKind.DATETIME]
    if not dt_cols:
        return frame
    out = frame.copy()
    for c in dt_cols:
        out[c] = pd.to_datetime(frame[c], errors="coerce").dt.as_unit("ns")
    return out


def _radii(encoded: np.ndarray, k: int) -> np.ndarray:
    """(n,) distance of each row to its k-th nearest other row of the same table."""
    return nearest(encoded, encoded, k, exclude_self=True)[0][:, -1]


def _indicators(real: np.ndarray, real_radius: np.ndarray, synthetic: np.ndarray, k: int) -> _Indicators:
    """Per-row support indicators for encoded ``real`` (n_r, d) rows with their radii (n_r,) and
    ``synthetic`` (n_s, d) rows."""
    m = ball_membership(synthetic, real, real_radius, _radii(synthetic, k))
    return _Indicators(
        precision=(m.point_in_centre_balls > 0).astype(float),
        density=m.point_in_centre_balls / k,
        recall=(m.centre_in_point_balls > 0).astype(float),
        coverage=(m.centre_ball_has_point > 0).astype(float),
    )


@dataclass(frozen=True)
class BallMembership:
    """Counts from one pass over all point-centre distances.

    ``point_in_centre_balls`` (n_p,): centre balls containing each point;
    ``centre_ball_has_point`` (n_c,): points inside each centre's ball;
    ``centre_in_point_balls`` (n_c,): point balls containing each centre.
    """

    point_in_centre_balls: np.ndarray
    centre_ball_has_point: np.ndarray
    centre_in_point_balls: np.ndarray


def ball_membership(
    points: np.ndarray,
    centres: np.ndarray,
    centre_radii: np.ndarray,
    point_radii: np.ndarray,
    *,
    block_points: int = 1024,
    block_centres: int = 4096,
) -> BallMembership:
    """Which points lie in which centres' balls and vice versa (Euclidean, boundary included).

    Args:
        points: (n_p, d); centres: (n_c, d) in the same encoding.
        centre_radii: (n_c,) ball radius of each centre; point_radii: (n_p,) of each point.
        block_points / block_centres: block sizes bounding memory (block_points * block_centres * 8 bytes).

    Exact: every point-centre distance is computed once, block by block, in float64; the
    same pass serves both directions (precision/density/coverage and recall).
    """
    p_all = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float64))
    c_all = torch.from_numpy(np.ascontiguousarray(centres, dtype=np.float64))
    rc2_all = torch.from_numpy(np.asarray(centre_radii, dtype=np.float64) ** 2 * (1 + _REL_TOL) + _ABS_TOL)
    rp2_all = torch.from_numpy(np.asarray(point_radii, dtype=np.float64) ** 2 * (1 + _REL_TOL) + _ABS_TOL)
    c_sq_all = (c_all * c_all).sum(1)
    in_centre = np.zeros(p_all.shape[0], dtype=np.int64)
    has_point = torch.zeros(c_all.shape[0], dtype=torch.int64)
    in_point = torch.zeros(c_all.shape[0], dtype=torch.int64)
    with torch.no_grad():
        for ps in range(0, p_all.shape[0], block_points):
            p = p_all[ps : ps + block_points]
            p_sq = (p * p).sum(1, keepdim=True)
            rp2 = rp2_all[ps : ps + p.shape[0]][:, None]
            total = torch.zeros(p.shape[0], dtype=torch.int64)
            for cs in range(0, c_all.shape[0], block_centres):
                ce = cs + min(block_centres, c_all.shape[0] - cs)
                # round-off can make d2 slightly negative for duplicates; that still compares as inside
                d2 = torch.addmm(c_sq_all[cs:ce][None, :], p, c_all[cs:ce].T, alpha=-2.0).add_(p_sq)
                # summing uint8 views is several times faster than summing bool tensors
                inside = (d2 <= rc2_all[cs:ce][None, :]).view(torch.uint8)
                total += inside.sum(1, dtype=torch.int64)
                has_point[cs:ce] += inside.sum(0, dtype=torch.int64)
                in_point[cs:ce] += (d2 <= rp2).view(torch.uint8).sum(0, dtype=torch.int64)
            in_centre[ps : ps + p.shape[0]] = total.numpy()
    return BallMembership(in_centre, has_point.numpy(), in_point.numpy())
