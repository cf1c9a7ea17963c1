"""Memorisation audit: does the synthetic data reproduce, or sit on, training records?

Each number is measured against a baseline from the holdout -- real rows from the same
population that the generator never saw -- so what an independent sample of the
population would show anyway is not mistaken for leakage:

- ``privacy.exact_copy_rate`` / ``privacy.exact_copy_rate_holdout``: synthetic rows
  identical to a training / holdout row (see :mod:`synth.audits.privacy.exact_copies`);
- ``privacy.exact_copy_excess``: copied training records beyond chance, by an exact
  permutation test that weighs records unique in the pool more than records with natural
  twins (see :mod:`synth.audits.privacy.exact_copies`; default gate
  ``privacy.exact_copy_excess.lower_ci <= 0``);
- ``privacy.exposure_excess``: share of training persons a synthetic row points at (ten
  times closer than any other real person's record) minus the same share of holdout
  persons (see :mod:`synth.audits.privacy.exposure`; default gate
  ``privacy.exposure_excess.lower_ci <= 0``);
- ``privacy.dcr_share``: equal-size share of synthetic rows closer to training than to
  holdout, with a randomization interval over the split (see
  :mod:`synth.audits.privacy.dcr`; default gate ``privacy.dcr_share.upper_ci <= 0.6``);
- ``privacy.dcr_baseline_ratio``: median closest-record distance of synthetic rows to
  training over that of holdout rows to training;
- ``privacy.nndr_ratio``: the same for the nearest-neighbour distance ratio d1/d2;
- ``privacy.nnaa`` and ``privacy.nnaa_privacy_loss``: nearest-neighbour adversarial
  accuracy (Yale et al. 2020) against training and against holdout, and their gap;
- a per-record exposure ranking of training rows (by row index only), see
  :mod:`synth.audits.privacy.exposure`.

Persons. A person is a row unless a group column (``data.group``) names who each row
belongs to (:mod:`synth.neighbors.persons`); then copies, exposure and the DCR share's
interval count persons, and a person's own other rows never count as "another real record".

Distances use the documented mixed-type encoding (:mod:`synth.neighbors.encoding`) fitted on
the real pool (training and holdout together, so the distance treats both samples alike
and the randomization tests over the split are exact), and exact blocked
nearest-neighbour search (:mod:`synth.neighbors.search`); each of the nine searches is run
once and shared by the metrics that need it: synthetic queries against training (two
nearest: DCR share, baseline ratio, NNDR, NNAA), holdout and synthetic; holdout queries
against training (two nearest), synthetic and holdout; training queries against synthetic
and training (NNAA and the exposure ranking); training and holdout queries against the
pool's other persons (exposure).

**Query sampling** (``max_query_rows``, default 50,000). Every search compares each of
its query rows with *every* row of the reference table -- the reference side is never
subsampled -- and exact copies are found by hashing *all* rows. When a table has more
rows than ``max_query_rows``, a seeded uniform random sample of that many of its rows
serves as the queries of the distance metrics: synthetic rows for the DCR share and the
numerators of the baseline ratio and NNDR and NNAA's synthetic term; holdout rows for the
denominators and NNAA's holdout term and the exposure baseline; training rows for NNAA's
training term, the exposure metric and the ranking (which then ranks the sampled training
rows). Training and holdout queries are sampled by person (all rows of a sampled person). Each sampled number then
estimates the number of the full tables, and its interval carries the sampling
uncertainty: the DCR share's randomization interval and the exposure comparison count only
the sampled rows and persons, the ratio and NNAA intervals bootstrap them. Every distance metric's ``details`` give
``n_query`` (query rows per role), ``n_reference`` (reference rows per role, all of them)
and ``queries_sampled``. At or below the cap nothing is sampled and the numbers are those
of the full tables. Cost: about ``q_s (n_T + n_H + n_s) + q_T (n_s + n_T) + q_H (n_T +
n_s + n_H)`` distance evaluations with ``q_x = min(n_x, max_query_rows)`` (see
bench/bench_full_audit.py for timings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Metric, TableBlock, ThreatModel
from synth.audits.param_checks import check_int
from synth.audits.privacy.dcr import (
    DCRShare,
    adversarial_accuracy,
    dcr_baseline_ratio,
    dcr_share,
    nnaa_privacy_loss,
    nndr_ratio,
)
from synth.neighbors.persons import Persons, nearest_other_person, per_person_min, persons
from synth.audits.privacy.exact_copies import ExactCopies, exact_copies
from synth.audits.privacy.exposure import (
    ExposureExcess,
    ExposureRanking,
    exposure_excess,
    exposure_ranking,
    exposure_ratios,
)
from synth.errors import ConfigError, DataError, did_you_mean
from synth.neighbors.encoding import MixedEncoder
from synth.neighbors.search import nearest, nearest_other

_METRICS = ("euclidean", "cityblock", "mean_abs")

COPY_THREAT = ThreatModel(
    attack="exact-match lookup",
    attacker_has=("the synthetic data", "a real person's record to look up"),
    description=(
        "The attacker holds the synthetic data and looks for a record they know, verbatim. "
        "The auditor compares how often synthetic rows equal training rows with how often they "
        "equal rows of a holdout sample from the same population that the generator never saw: "
        "only copies beyond that baseline reveal training records."
    ),
)

DCR_THREAT = ThreatModel(
    attack="distance to closest record",
    attacker_has=("the synthetic data",),
    description=(
        "The attacker holds the synthetic data and treats synthetic rows that sit very close to a "
        "real record as evidence about that record. The auditor measures how close synthetic rows "
        "sit to training rows against a holdout sample from the same population that the "
        "generator never saw: without memorisation both are equally close."
    ),
)

EXPOSURE_THREAT = ThreatModel(
    attack="per-record exposure: a synthetic row that points at one real person",
    attacker_has=("the synthetic data", "a real person's record to look up"),
    description=(
        "The attacker looks up a person they know and finds a synthetic row far closer to that person's record "
        "than any other real person's record is. The auditor counts such persons among the training data and "
        "among a holdout from the same population that the generator never saw: only an excess on the "
        "training side reveals training records."
    ),
)

NNAA_THREAT = ThreatModel(
    attack="nearest-neighbour adversarial accuracy",
    attacker_has=("the synthetic data", "real records to test"),
    description=(
        "A 1-nearest-neighbour classifier tells real from synthetic rows. If it does worse on "
        "training rows than on holdout rows from the same population, the synthetic data carries "
        "information specific to the training records (Yale et al. 2020)."
    ),
)



class MemorizationAudit(Audit):
    """Exact copies, distance-to-closest-record tests against a holdout, and record exposure.

    Args:
        metric: distance on the encoded rows: ``"euclidean"`` (default), ``"cityblock"`` or
            ``"mean_abs"`` (see :func:`synth.neighbors.search.nearest`).
        top_n: how many most-exposed training records the ranking table lists (by row index).
        n_boot: bootstrap replicates for the ratio and NNAA intervals.
        bins: histogram bins of the distance figure.
        max_query_rows: at most this many rows of each table serve as queries of the
            distance metrics (a seeded random sample when a table is larger; each query is
            still compared with every reference row). See the module docstring.
        block_queries / block_reference: upper bounds on the tile sizes of the
            nearest-neighbour search (see :func:`synth.neighbors.search.nearest`).
    """

    name: ClassVar[str] = "memorization"
    family: ClassVar[str] = "privacy"
    title: ClassVar[str] = "Memorisation: exact copies and distance to closest record"
    provides: ClassVar[tuple[str, ...]] = (
        "privacy.exact_copy_rate",
        "privacy.exact_copy_rate_holdout",
        "privacy.exact_copy_excess",
        "privacy.exposure_excess",
        "privacy.dcr_share",
        "privacy.dcr_baseline_ratio",
        "privacy.nndr_ratio",
        "privacy.nnaa",
        "privacy.nnaa_privacy_loss",
    )

    def __init__(
        self,
        *,
        metric: str = "euclidean",
        top_n: int = 20,
        n_boot: int = 200,
        bins: int = 30,
        max_query_rows: int = 50_000,
        block_queries: int = 2048,
        block_reference: int = 16384,
    ) -> None:
        if metric not in _METRICS:
            raise ConfigError(
                f"audit.params.memorization.metric: unknown distance '{metric}'."
                + did_you_mean(str(metric), _METRICS)
                + f" Choose one of: {', '.join(_METRICS)}."
            )
        super().__init__(
            metric=metric,
            top_n=check_int(self.name, "top_n", top_n, 0),
            n_boot=check_int(self.name, "n_boot", n_boot, 10),
            bins=check_int(self.name, "bins", bins, 2),
            max_query_rows=check_int(self.name, "max_query_rows", max_query_rows, 10),
            block_queries=check_int(self.name, "block_queries", block_queries, 1),
            block_reference=check_int(self.name, "block_reference", block_reference, 1),
        )

    def run(self, inputs: AuditInputs) -> AuditSection:
        p = self.params
        columns = _modelled_columns(inputs)
        n_t, n_h, n_s = len(inputs.train), len(inputs.holdout), len(inputs.synthetic)
        if not columns:
            return self.skip("The schema models no columns, so there is nothing to compare.")
        if min(n_t, n_h, n_s) < 2:
            return self.skip(
                f"Needs at least 2 rows in each of training ({n_t}), holdout ({n_h}) and synthetic "
                f"({n_s}) data; memorisation is judged against a holdout of real rows."
            )
        who = persons(inputs.train_groups, inputs.holdout_groups, n_t, n_h)
        seed = int(inputs.seed)
        copies = exact_copies(inputs.synthetic, inputs.train, inputs.holdout, inputs.schema, columns,
                              train_persons=who.train, holdout_persons=who.holdout, n_train_persons=who.n_train,
                              n_holdout_persons=who.n_holdout, seed=seed)
        encoder = MixedEncoder(inputs.schema, columns).fit(pd.concat([inputs.train[columns], inputs.holdout[columns]]))
        d = _search(encoder, inputs, who, p, np.random.default_rng([seed, 0x6D656D]))
        share = dcr_share(d.S_q, d.T, d.H, closest=(d.st[:, 0], d.sh, d.st_i, d.sh_i), train_persons=who.train,
                          holdout_persons=who.holdout, **d.search_kw)
        t_rows, h_rows = d.rows["train"], d.rows["holdout"]
        train_exposure = exposure_ratios(d.ts, d.tp)
        holdout_exposure = exposure_ratios(d.hs, d.hp)
        excess = exposure_excess(
            _by_person(train_exposure, who.train[t_rows]), _by_person(holdout_exposure, who.holdout[h_rows]))
        ranking = exposure_ranking(d.T, d.S, inputs.train.index, rows=t_rows, top_n=p["top_n"], closest=(d.ts, d.tp))
        metrics = [
            *_copy_metrics(copies, d),
            _exposure_metric(excess, d, who.grouped),
            _dcr_share_metric(share, d, p["metric"]),
            _baseline_ratio_metric(d, p["metric"], p["n_boot"], seed),
            _nndr_metric(d, p["n_boot"], seed),
            *_nnaa_metrics(d, p["n_boot"], seed),
        ]
        tables = []
        if p["top_n"] > 0:
            tables.append(_ranking_table(ranking, n_t, excess))
            if inputs.include_real_records:
                tables.append(_exposed_records_table(inputs.train, ranking))
        return AuditSection(
            audit=self.name,
            family=self.family,
            title=self.title,
            summary=_summary(copies.copies_of_train, copies.copies_of_holdout, n_s, share.value, share.ci.high),
            metrics=metrics,
            figures=[_dcr_figure(d.st[:, 0], d.sh, d.ht[:, 0], p["bins"], p["metric"], n_t, n_h)],
            tables=tables,
            notes=[
                f"Distances: {p['metric']} on the mixed-type encoding fitted on the real pool (training and holdout) "
                f"({len(encoder.feature_names)} features from {len(columns)} columns); exact search, "
                "each query row against every reference row.",
                _sampling_note(d.used, d.full, p["max_query_rows"]),
                f"dcr_share weighs training and holdout to equal size ({who.n_train} vs {who.n_holdout} "
                f"{'persons' if who.grouped else 'rows'}): each training 'closest record' counts 1/n_train and each "
                "holdout one 1/n_holdout.",
                *([f"Persons: a group column names who each row belongs to ({who.n_train} training and "
                   f"{who.n_holdout} holdout persons); copies, exposure and the DCR share's interval count persons, "
                   "and a person's own other rows never count as another real record."] if who.grouped else []),
            ],
        )


def _modelled_columns(inputs: AuditInputs) -> list[str]:
    """The schema's modelled columns; a DataError when a table lacks one."""
    columns = inputs.schema.modelled().names
    for label, frame in (("training", inputs.train), ("holdout", inputs.holdout), ("synthetic", inputs.synthetic)):
        for name in columns:
            if name not in frame.columns:
                raise DataError(
                    f"The {label} data has no column '{name}', which the schema models."
                    + did_you_mean(name, [str(c) for c in frame.columns])
                    + f" Give the {label} table the same modelled columns as the training data"
                    " (or drop the column from the schema)."
                )
    return columns


@dataclass(frozen=True)
class _Distances:
    """The encoded tables, the query rows and the eight searches every metric shares.

    Encoded tables ``T`` (n_T, d), ``H`` (n_H, d), ``S`` (n_s, d); ``rows`` maps a role to
    the positions of its query rows (all rows, or a sample of ``max_query_rows``).
    Closest distances, one per query row: ``st`` and ``ht`` (two nearest training rows,
    shape (q, 2)), ``sh``, ``ts``, ``tt`` (other training), ``ss`` (other synthetic),
    ``hs``, ``hh`` (other holdout), ``tp`` / ``hp`` (closest record of another person in the
    pool, for training / holdout queries); ``st_i`` / ``sh_i``: positions of the closest
    training / holdout row of each synthetic query.
    """

    T: np.ndarray
    H: np.ndarray
    S: np.ndarray
    rows: dict[str, np.ndarray]
    search_kw: dict[str, Any]
    st: np.ndarray
    st_i: np.ndarray
    sh: np.ndarray
    sh_i: np.ndarray
    ht: np.ndarray
    ts: np.ndarray
    tt: np.ndarray
    ss: np.ndarray
    hs: np.ndarray
    hh: np.ndarray
    tp: np.ndarray
    hp: np.ndarray

    @property
    def S_q(self) -> np.ndarray:
        return self.S[self.rows["synthetic"]]

    @property
    def full(self) -> dict[str, int]:
        return {"synthetic": len(self.S), "train": len(self.T), "holdout": len(self.H)}

    @property
    def used(self) -> dict[str, int]:
        return {role: len(r) for role, r in self.rows.items()}

    @property
    def sizes(self) -> dict[str, int]:
        return {"n_synthetic": len(self.S), "n_train": len(self.T), "n_holdout": len(self.H)}

    def sampling(self, queries: tuple[str, ...], references: tuple[str, ...]) -> dict[str, Any]:
        """How many rows a metric's queries and references rest on (for its ``details``)."""
        return {
            "n_query": {r: self.used[r] for r in queries},
            "n_reference": {r: self.full[r] for r in references},
            "queries_sampled": any(self.used[r] < self.full[r] for r in queries),
        }


def _search(encoder: MixedEncoder, inputs: AuditInputs, who: Persons, p: dict[str, Any],
            rng: np.random.Generator) -> _Distances:
    """Encode the three tables and run each nearest-neighbour search once."""
    T, H, S = (encoder.transform(f) for f in (inputs.train, inputs.holdout, inputs.synthetic))
    kw = dict(metric=p["metric"], block_queries=p["block_queries"], block_reference=p["block_reference"])
    cap = p["max_query_rows"]
    rows = {"synthetic": _query_rows(len(S), cap, rng), "train": _person_rows(who.train, cap, rng),
            "holdout": _person_rows(who.holdout, cap, rng)}
    s_rows, t_rows, h_rows = rows["synthetic"], rows["train"], rows["holdout"]
    st, st_i = nearest(S[s_rows], T, 2, **kw)
    sh, sh_i = nearest(S[s_rows], H, 1, **kw)
    pool, codes = np.vstack([T, H]), who.pool
    other = dict(metric=p["metric"], max_rows=who.max_rows)
    return _Distances(
        T=T, H=H, S=S, rows=rows, search_kw=kw,
        st=st, st_i=st_i[:, 0], sh=sh[:, 0], sh_i=sh_i[:, 0],
        ht=nearest(H[h_rows], T, 2, **kw)[0],
        ts=nearest(T[t_rows], S, 1, **kw)[0][:, 0],
        tt=nearest_other(T, t_rows, 1, **kw)[0][:, 0],
        ss=nearest_other(S, s_rows, 1, **kw)[0][:, 0],
        hs=nearest(H[h_rows], S, 1, **kw)[0][:, 0],
        hh=nearest_other(H, h_rows, 1, **kw)[0][:, 0],
        tp=nearest_other_person(pool, codes, t_rows, **other)[0],
        hp=nearest_other_person(pool, codes, len(T) + h_rows, **other)[0],
    )


def _person_rows(codes: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Rows serving as queries: all, or every row of persons drawn at random until ``cap``
    rows are reached (whole persons, so a person's exposure sees all their rows)."""
    if codes.size <= cap:
        return np.arange(codes.size)
    uniq = np.unique(codes)
    sizes = np.bincount(np.searchsorted(uniq, codes), minlength=uniq.size)
    order = rng.permutation(uniq.size)
    take = order[: max(1, int(np.searchsorted(np.cumsum(sizes[order]), cap, side="right")))]
    return np.flatnonzero(np.isin(codes, uniq[take]))


def _by_person(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The smallest value over each person's rows, one entry per person present in ``codes``."""
    uniq, inverse = np.unique(codes, return_inverse=True)
    return per_person_min(values, inverse, uniq.size)


def _copy_metrics(copies: ExactCopies, d: _Distances) -> list[Metric]:
    """exact_copy_rate, exact_copy_rate_holdout and exact_copy_excess (hashing, all rows)."""
    n_s, n_t, n_h = d.full["synthetic"], d.full["train"], d.full["holdout"]
    hashed = {**d.sizes, "n_query": {"synthetic": n_s}, "n_reference": {"train": n_t, "holdout": n_h},
              "queries_sampled": False}
    return [
        Metric(
            name="privacy.exact_copy_rate",
            value=copies.rate_train,
            ci=copies.rate_train_ci,
            better="lower",
            ideal=0.0,
            threat_model=COPY_THREAT,
            passing=(
                "Few synthetic rows equal a training row on every modelled column; read it next to "
                "privacy.exact_copy_rate_holdout, what an independent sample would match anyway."
            ),
            details={
                **hashed,
                "synthetic_rows_copying_train": copies.copies_of_train,
                "train_rows_reproduced": copies.train_rows_reproduced,
            },
        ),
        Metric(
            name="privacy.exact_copy_rate_holdout",
            value=copies.rate_holdout,
            ci=copies.rate_holdout_ci,
            better="lower",
            threat_model=COPY_THREAT,
            passing=(
                "The baseline: how many synthetic rows equal a row of the holdout, real records the "
                "generator never saw (natural duplicates in the population)."
            ),
            details={
                **hashed,
                "synthetic_rows_matching_holdout": copies.copies_of_holdout,
                "holdout_rows_matched": copies.holdout_rows_reproduced,
            },
        ),
        Metric(
            name="privacy.exact_copy_excess",
            value=copies.excess,
            ci=copies.excess_ci,
            better="lower",
            ideal=0.0,
            threat_model=COPY_THREAT,
            passing=(
                "The interval reaches 0 or below (lower_ci <= 0): synthetic rows reproduce training records no "
                "more often than holdout records of the same population, records unique in the pool weighing most."
            ),
            details={
                **hashed,
                "n_train_persons": copies.n_train_persons,
                "n_holdout_persons": copies.n_holdout_persons,
                "values_reproduced": copies.values_reproduced,
                "unique_copies_train": copies.unique_copies_train,
                "unique_copies_holdout": copies.unique_copies_holdout,
                "p_value_one_sided_exact": copies.p_value,
                "permutations": copies.permutations,
                "scheme": "sum over reproduced record values of (training share of its holders - expected share), "
                          "exact permutation test over splits; unique records weigh most",
            },
        ),
    ]


def _exposure_metric(excess: ExposureExcess, d: _Distances, grouped: bool) -> Metric:
    unit = "persons" if grouped else "records"
    return Metric(
        name="privacy.exposure_excess",
        value=excess.value,
        ci=excess.ci,
        better="lower",
        ideal=0.0,
        threat_model=EXPOSURE_THREAT,
        passing=(
            f"The interval reaches 0 or below (lower_ci <= 0): synthetic rows point at training {unit} (ten times "
            f"closer than any other real person's record) no more often than at holdout {unit}."
        ),
        details={**excess.details(), **d.sizes, **d.sampling(("train", "holdout"), ("synthetic", "train", "holdout"))},
    )


def _dcr_share_metric(share: DCRShare, d: _Distances, metric: str) -> Metric:
    return Metric(
        name="privacy.dcr_share",
        value=share.value,
        ci=share.ci,
        better="lower",
        ideal=0.5,
        threat_model=DCR_THREAT,
        passing=(
            "About 0.5 (gate: upper_ci <= 0.6): synthetic rows are no more often closest to a "
            "training row than to a holdout row, the two sets weighted to equal size."
        ),
        details={**share.details(), **d.sizes, "metric": metric, **d.sampling(("synthetic",), ("train", "holdout"))},
    )


def _baseline_ratio_metric(d: _Distances, metric: str, n_boot: int, seed: int) -> Metric:
    value, ci = dcr_baseline_ratio(d.st[:, 0], d.ht[:, 0], n_boot=n_boot, seed=seed)
    return Metric(
        name="privacy.dcr_baseline_ratio",
        value=value,
        ci=ci,
        better="higher",
        ideal=1.0,
        threat_model=DCR_THREAT,
        passing=(
            "About 1 or above: synthetic rows sit as far from their closest training row as fresh "
            "real (holdout) rows do; well below 1 means synthetic rows hug training records."
        ),
        details={
            **d.sizes,
            "median_dcr_synthetic_to_train": float(np.median(d.st[:, 0])),
            "median_dcr_holdout_to_train": float(np.median(d.ht[:, 0])),
            "synthetic_rows_at_distance_zero": int((d.st[:, 0] == 0).sum()),
            "holdout_rows_at_distance_zero": int((d.ht[:, 0] == 0).sum()),
            "metric": metric,
            **d.sampling(("synthetic", "holdout"), ("train",)),
        },
    )


def _nndr_metric(d: _Distances, n_boot: int, seed: int) -> Metric:
    value, ci, median_syn, median_hold = nndr_ratio(d.st, d.ht, n_boot=n_boot, seed=seed)
    return Metric(
        name="privacy.nndr_ratio",
        value=value,
        ci=ci,
        better="higher",
        ideal=1.0,
        threat_model=DCR_THREAT,
        passing=(
            "About 1 or above: a synthetic row's closest training row stands out from its second "
            "closest no more than for fresh real rows; well below 1 singles out training records."
        ),
        details={
            **d.sizes, "median_nndr_synthetic": median_syn, "median_nndr_holdout": median_hold,
            **d.sampling(("synthetic", "holdout"), ("train",)),
        },
    )


def _nnaa_metrics(d: _Distances, n_boot: int, seed: int) -> list[Metric]:
    """nnaa (against training) and nnaa_privacy_loss (holdout's AA minus training's)."""
    aa_t = adversarial_accuracy(d.ts, d.tt, d.st[:, 0], d.ss)
    aa_h = adversarial_accuracy(d.hs, d.hh, d.sh, d.ss)
    loss, loss_ci, aa_t_ci, aa_h_ci = nnaa_privacy_loss(aa_t, aa_h, n_boot=n_boot, seed=seed)
    every = ("train", "holdout", "synthetic")
    return [
        Metric(
            name="privacy.nnaa",
            value=aa_t.value,
            ci=aa_t_ci,
            better="closer",
            ideal=0.5,
            threat_model=NNAA_THREAT,
            passing=(
                "About 0.5: a 1-nearest-neighbour classifier cannot tell training rows from synthetic "
                "rows; near 0 means synthetic rows sit on training rows, near 1 that they are far off."
            ),
            details={
                **d.sizes,
                "aa_train": aa_t.value,
                "aa_holdout": aa_h.value,
                "aa_holdout_ci": aa_h_ci.to_dict(),
                "train_term": float(aa_t.real_term.mean()),
                "synthetic_vs_train_term": float(aa_t.synthetic_term.mean()),
                "holdout_term": float(aa_h.real_term.mean()),
                "synthetic_vs_holdout_term": float(aa_h.synthetic_term.mean()),
                **d.sampling(every, every),
            },
        ),
        Metric(
            name="privacy.nnaa_privacy_loss",
            value=loss,
            ci=loss_ci,
            better="lower",
            ideal=0.0,
            threat_model=NNAA_THREAT,
            passing=(
                "About 0: adversarial accuracy against training rows equals that against holdout "
                "rows; above 0 means the synthetic data is more like the training records."
            ),
            details={**d.sizes, "aa_train": aa_t.value, "aa_holdout": aa_h.value, **d.sampling(every, every)},
        ),
    ]


def _query_rows(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Row positions that serve as queries: all ``n`` rows, or a sorted uniform sample of ``cap``."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def _sampling_note(used: dict[str, int], full: dict[str, int], cap: int) -> str:
    sampled = [f"{used[r]} of {full[r]} {r}" for r in ("synthetic", "train", "holdout") if used[r] < full[r]]
    if not sampled:
        return "Every row of every table served as a query (no query sampling)."
    return (
        f"Queries sampled (max_query_rows = {cap}): {', '.join(sampled)} rows, drawn at random, each compared "
        "with every row of the reference tables; exact copies are counted on all rows. The intervals of the "
        "distance metrics include this sampling uncertainty."
    )


def _summary(k_train: int, k_hold: int, n_s: int, share: float, share_high: float) -> str:
    return (
        f"{k_train} of {n_s} synthetic rows are exact copies of a training row ({k_hold} equal a holdout "
        f"row). Equal-size share of synthetic rows closest to training rather than holdout: "
        f"{share:.3f} (upper 95% bound {share_high:.3f}; 0.5 expected without memorisation)."
    )


def _dcr_figure(
    d_syn_train: np.ndarray, d_syn_hold: np.ndarray, d_hold_train: np.ndarray,
    bins: int, metric: str, n_t: int, n_h: int,
) -> Figure:
    pooled = np.concatenate([d_syn_train, d_syn_hold, d_hold_train])
    pooled = pooled[np.isfinite(pooled)]
    top = float(np.quantile(pooled, 0.99)) if pooled.size else 1.0
    if not top > 0:
        top = float(pooled.max()) if pooled.size and pooled.max() > 0 else 1.0
    edges = np.linspace(0.0, top, bins + 1)

    def shares(d: np.ndarray) -> list[float]:
        counts, _ = np.histogram(np.clip(d[np.isfinite(d)], 0.0, top), bins=edges)
        return (counts / max(d.size, 1)).tolist()

    return Figure(
        id="memorization-dcr",
        title="Distance to closest record",
        kind="histograms",
        data={
            "x_label": f"distance to closest record ({metric}, encoded)",
            "series": [
                {"label": "synthetic → training", "edges": edges.tolist(), "counts": shares(d_syn_train)},
                {"label": "synthetic → holdout", "edges": edges.tolist(), "counts": shares(d_syn_hold)},
                {"label": "holdout → training (reference)", "edges": edges.tolist(), "counts": shares(d_hold_train)},
            ],
        },
        caption=(
            "Share of rows per distance bin (values above the 99th percentile are put in the last bin). "
            "Synthetic → training should look like holdout → training (same reference set); a spike at 0 "
            f"means copies. Synthetic → holdout runs against {n_h} rows instead of {n_t}, so it sits a "
            "little further out even without memorisation."
        ),
    )


def _exposed_records_table(train: pd.DataFrame, r: ExposureRanking) -> TableBlock:
    """The raw values of the most exposed training records.

    Only built when the config sets ``audit.include_real_records: true``: a data steward
    may need to see which patients are at risk, but the report then holds real records.
    """
    records = train.loc[list(r.labels)]
    rows = tuple(
        (label, *("" if pd.isna(v) else str(v) for v in values))
        for label, values in zip(r.labels, records.itertuples(index=False, name=None))
    )
    return TableBlock(
        title="Most exposed training records: their values (real records)",
        columns=("training row", *map(str, train.columns)),
        rows=rows,
        caption="Shown because the config sets audit.include_real_records: true. This report contains real "
        "patient records: handle it like the training data.",
        per_record=True,
    )


def _ranking_table(r: ExposureRanking, n_train: int, excess: ExposureExcess) -> TableBlock:
    def num(x: float) -> float:
        return float(x) if math.isfinite(x) else float("inf")

    rows = tuple(
        (i + 1, label, num(ratio), num(ds), num(dt))
        for i, (label, ratio, ds, dt) in enumerate(zip(r.labels, r.ratios, r.d_to_synthetic, r.d_to_other_train))
    )
    return TableBlock(
        title="Most exposed training records (by row index)",
        columns=("rank", "training row", "exposure ratio", "distance to closest synthetic row",
                 "distance to closest record of another person"),
        rows=rows,
        caption=(
            "Exposure ratio = distance to the closest synthetic row / distance to the closest record of another real "
            f"person (training or holdout); below {excess.threshold} a synthetic row points at that record. "
            f"Baseline: {excess.exposed_train} of {excess.n_train} training and {excess.exposed_holdout} of "
            f"{excess.n_holdout} holdout persons are below {excess.threshold} (holdout persons were never shown to the "
            f"generator). {r.n_below_one} of {r.n_records} training records are below 1; {r.n_exact_unique} have an "
            "exact synthetic copy and no exact twin held by another person. "
            + (f"The ranking covers a random sample of {r.n_records} of the {n_train} training rows "
               "(max_query_rows). " if r.n_records < n_train else "")
            + "Rows are named by index label only, never by their values."
        ),
        per_record=True,  # row indices of at-risk records: an attacker's oracle if published
    )
