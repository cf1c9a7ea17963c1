"""Which real records does the synthetic data expose? A per-record ratio, its baseline and a ranking.

For each real record (training or holdout) its *exposure ratio* is::

    distance to its closest synthetic row / distance to the closest record of *another* real person

where the real records are the whole pool (training plus holdout) and a person is a row
unless a group column says otherwise (a patient's own second stay never hides a copy of
the first). A ratio well below 1 means some synthetic row sits much closer to this record
than any other real person's record does: the synthetic data points at this person. A
ratio near or above 1 means the record is hidden among its real neighbours. 0 / 0 (a
record with an exact twin held by another person, and an exact synthetic copy) counts as
1, because the copy singles out neither twin; x / 0 with x > 0 is infinite. A person's
exposure is the smallest ratio over their records.

**The metric, with its baseline** (``privacy.exposure_excess``). A person is *exposed*
when their exposure ratio is below ``EXPOSED`` = 0.1: a synthetic row is ten times closer
to one of their records than any other real person's record is. Holdout persons were
never shown to the generator, so their exposed share is what chance gives; the metric is

    (exposed training persons / training persons) - (exposed holdout persons / holdout persons)

with Newcombe's hybrid score interval for a difference of two proportions
(:func:`synth.stats.intervals.newcombe_difference`) and, in its details, the exact one-sided
p-value: without memorisation the split is independent of who is exposed, so the number
of exposed training persons given the number exposed in all is hypergeometric. The ratio
is computed the same way for both sides (same pool, same synthetic data, same distance),
so the comparison is exact whatever the population.

The ranking names records only by their row index label (``train.index``) -- never by
their values -- so it can go into a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scipy import stats

from synth.neighbors.search import Metric, nearest, nearest_other
from synth.stats.intervals import Interval, newcombe_difference

EXPOSED = 0.1  # a synthetic row ten times closer to the record than any other real person's record


def exposure_ratios(d_to_synthetic: np.ndarray, d_to_other_train: np.ndarray) -> np.ndarray:
    """Per-record ratio (n_train,) from the two closest distances, each (n_train,)."""
    a = np.asarray(d_to_synthetic, dtype=np.float64)
    b = np.asarray(d_to_other_train, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.where(a > 0, np.inf, 1.0))


def _json_label(label: Any) -> Any:
    """Index labels as plain JSON values (numpy ints become int, anything odd becomes str)."""
    if isinstance(label, (bool, np.bool_)):
        return bool(label)
    if isinstance(label, (int, np.integer)):
        return int(label)
    if isinstance(label, (float, np.floating)):
        return float(label)
    return label if isinstance(label, str) else str(label)


@dataclass(frozen=True)
class ExposureRanking:
    """The most exposed training records, most exposed first.

    ``labels``: their ``train.index`` labels (JSON-ready); ``ratios``,
    ``d_to_synthetic``, ``d_to_other_train``: (top_n,) float64. ``n_records``: training
    records ranked; ``n_below_one``: records closer to a synthetic row than to any other
    training row; ``n_exact_unique``: records with an exact synthetic copy and no exact
    twin in training (ratio 0).
    """

    labels: tuple[Any, ...]
    ratios: np.ndarray
    d_to_synthetic: np.ndarray
    d_to_other_train: np.ndarray
    n_records: int
    n_below_one: int
    n_exact_unique: int

    def to_frame(self) -> pd.DataFrame:
        """One row per ranked record: ``row`` (index label), ``ratio`` and both distances."""
        return pd.DataFrame(
            {
                "row": list(self.labels),
                "ratio": self.ratios,
                "distance_to_closest_synthetic": self.d_to_synthetic,
                "distance_to_closest_other_training": self.d_to_other_train,
            }
        )


def rank_from_distances(
    index: pd.Index,
    d_to_synthetic: np.ndarray,
    d_to_other_train: np.ndarray,
    top_n: int = 20,
) -> ExposureRanking:
    """Rank training records (labelled by ``index``, length n_train) by exposure ratio.

    Ties on the ratio go to the record closer to a synthetic row.
    """
    ratios = exposure_ratios(d_to_synthetic, d_to_other_train)
    d_s = np.asarray(d_to_synthetic, dtype=np.float64)
    d_t = np.asarray(d_to_other_train, dtype=np.float64)
    order = np.lexsort((d_s, ratios))[: max(int(top_n), 0)]
    return ExposureRanking(
        labels=tuple(_json_label(index[i]) for i in order),
        ratios=ratios[order],
        d_to_synthetic=d_s[order],
        d_to_other_train=d_t[order],
        n_records=int(ratios.size),
        n_below_one=int((ratios < 1).sum()),
        n_exact_unique=int(((d_s == 0) & (d_t > 0)).sum()),
    )


def exposure_ranking(
    train: np.ndarray,
    synthetic: np.ndarray,
    index: pd.Index,
    *,
    rows: np.ndarray | None = None,
    top_n: int = 20,
    metric: Metric = "euclidean",
    block_queries: int = 2048,
    block_reference: int = 16384,
    closest: tuple[np.ndarray, np.ndarray] | None = None,
) -> ExposureRanking:
    """Rank encoded training rows (n_train, d) against encoded synthetic rows (n_s, d).

    ``index`` labels the training rows (``train_frame.index``); needs n_train >= 2.
    ``rows``: positions of the training rows to rank (default: all), each still compared
    with every synthetic and every other training row. ``closest``: those rows' distances
    to the closest synthetic row and to the closest other training row, each (len(rows),),
    when the caller has searched already.
    """
    rows = np.arange(len(train)) if rows is None else np.asarray(rows)
    if closest is None:
        kw = dict(metric=metric, block_queries=block_queries, block_reference=block_reference)
        closest = (nearest(train[rows], synthetic, 1, **kw)[0][:, 0], nearest_other(train, rows, 1, **kw)[0][:, 0])
    d_s, d_t = closest
    return rank_from_distances(index[rows], d_s, d_t, top_n)


@dataclass(frozen=True)
class ExposureExcess:
    """Exposed training persons against exposed holdout persons (module docstring).

    ``value`` = ``exposed_train / n_train - exposed_holdout / n_holdout`` (persons), ``ci`` its
    Newcombe interval, ``p_value`` the exact one-sided hypergeometric p-value.
    """

    value: float
    ci: Interval
    p_value: float
    exposed_train: int
    exposed_holdout: int
    n_train: int
    n_holdout: int
    threshold: float

    def details(self) -> dict[str, Any]:
        return {
            "exposed_train_persons": self.exposed_train,
            "exposed_holdout_persons": self.exposed_holdout,
            "n_train_persons": self.n_train,
            "n_holdout_persons": self.n_holdout,
            "exposure_threshold": self.threshold,
            "p_value_one_sided_exact": self.p_value,
        }


def exposure_excess(
    train_exposure: np.ndarray, holdout_exposure: np.ndarray, *, threshold: float = EXPOSED, level: float = 0.95
) -> ExposureExcess:
    """Compare per-person exposure ratios of training (n_train,) and holdout (n_holdout,) persons."""
    a = int((np.asarray(train_exposure) < threshold).sum())
    b = int((np.asarray(holdout_exposure) < threshold).sum())
    n_t, n_h = int(np.size(train_exposure)), int(np.size(holdout_exposure))
    value = a / n_t - b / n_h if n_t and n_h else float("nan")
    # P(at least a of the a + b exposed persons are training persons | random split).
    p = float(stats.hypergeom.sf(a - 1, n_t + n_h, n_t, a + b)) if (a + b) else 1.0
    return ExposureExcess(value, newcombe_difference(a, n_t, b, n_h, level), p, a, b, n_t, n_h, threshold)
