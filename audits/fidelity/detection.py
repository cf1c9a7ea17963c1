"""Detection: can a classifier tell synthetic rows from real ones? (classifier two-sample test)

Real training rows are labelled 0 and synthetic rows 1, in equal numbers (the smaller
table's size, at most ``max_rows_per_side`` each, random subsets). A gradient-boosted
tree classifier (scikit-learn's ``HistGradientBoostingClassifier``, native categorical
splits and missing values) is cross-validated with ``n_folds`` stratified folds and its
out-of-fold probabilities scored by ROC AUC:

- ``fidelity.detection_auc``: 0.5 means the classifier cannot tell synthetic from real;
  1.0 means every synthetic row is recognisable. The interval is a percentile bootstrap
  over the out-of-fold predictions (rows resampled, no retraining), so it reflects the
  finite test set, not the variability of the fitted classifier.

The same test of holdout against training rows (two real samples) is reported in the
details as the reference: what a generator drawing fresh real records would score.

Encoding: numeric, integer and datetime columns as floats (datetimes in ns); categorical
and boolean columns as codes over the union of the levels of both tables (an invented
level is itself a give-away the classifier should be able to use). Columns with more
levels than the tree's bins (255) are given as ordered codes instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_curve
from sklearn.model_selection import StratifiedKFold

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Interval, Metric
from synth.audits.fidelity.column_stats import compared_columns, level_codes, numeric_values
from synth.audits.param_checks import check_int
from synth.cpus import map_single_threaded
from synth.schema import ColumnKind
from synth.stats.intervals import percentile_interval

_MAX_NATIVE_LEVELS = 254  # HistGradientBoosting: categories must be < max_bins (255)
_ROC_POINTS = 200


class DetectionAudit(Audit):
    """Classifier two-sample test; see the module docstring.

    Args:
        max_rows_per_side: most real and most synthetic rows used (>= 20).
        n_folds: stratified cross-validation folds (>= 2).
        n_boot: bootstrap replicates of the AUC interval (>= 10).
    """

    name = "detection"
    family = "fidelity"
    title = "Detection (can a classifier tell synthetic from real?)"
    provides = ("fidelity.detection_auc",)

    def __init__(self, max_rows_per_side: int = 20_000, n_folds: int = 5, n_boot: int = 200) -> None:
        self.max_rows_per_side = check_int(self.name, "max_rows_per_side", max_rows_per_side, 20, 20_000)
        self.n_folds = check_int(self.name, "n_folds", n_folds, 2, 5)
        self.n_boot = check_int(self.name, "n_boot", n_boot, 10, 200)
        super().__init__(max_rows_per_side=self.max_rows_per_side, n_folds=self.n_folds, n_boot=self.n_boot)

    def run(self, inputs: AuditInputs) -> AuditSection:
        kinds, absent = compared_columns(inputs.schema, inputs.train, inputs.synthetic)
        if not kinds:
            return self.skip("no modelled column is present in both the real and the synthetic table")
        n_side = min(len(inputs.train), len(inputs.synthetic), self.max_rows_per_side)
        if n_side < 2 * self.n_folds:
            return self.skip(
                f"too few rows for {self.n_folds}-fold detection ({n_side} per side; need {2 * self.n_folds})"
            )
        rng = np.random.default_rng([inputs.seed, 303])
        main = self._test(inputs.train, inputs.synthetic, kinds, n_side, rng, inputs.seed, inputs.n_jobs)

        reference = None
        n_ref = min(len(inputs.train), len(inputs.holdout), self.max_rows_per_side)
        if n_ref >= 2 * self.n_folds and all(c in inputs.holdout.columns for c in kinds):
            reference = self._test(inputs.train, inputs.holdout, kinds, n_ref, rng, inputs.seed, inputs.n_jobs)

        details: dict[str, object] = {"rows_per_side": n_side, "n_folds": self.n_folds, "columns": list(kinds)}
        if reference is not None:
            details["holdout_reference"] = {
                "auc": reference.auc,
                "ci": reference.ci.to_dict(),
                "rows_per_side": n_ref,
            }
        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        section.metrics.append(
            Metric(
                name="fidelity.detection_auc",
                value=main.auc,
                passing="0.5 means the classifier cannot tell synthetic from real rows; 1.0 means every synthetic "
                "row is recognisable. Compare with the holdout reference (two real samples) in the details.",
                ci=main.ci,
                better="closer",
                ideal=0.5,
                details=details,
                reference=reference.auc if reference is not None else None,
            )
        )
        curves = [_roc_curve("synthetic vs real", main)]
        if reference is not None:
            curves.append(_roc_curve("holdout vs real (reference)", reference))
        section.figures.append(
            Figure(
                id="detection.roc",
                title="ROC of the real-vs-synthetic classifier (out-of-fold)",
                kind="roc",
                data={"curves": curves},
                caption="A curve on the diagonal (AUC 0.5) means the synthetic rows are indistinguishable from real "
                "ones; the holdout curve shows the same test between two real samples.",
            )
        )
        if n_side < max(len(inputs.train), len(inputs.synthetic)):
            section.notes.append(
                f"Computed on random subsets of {n_side} training and {n_side} synthetic rows (max_rows_per_side; "
                f"of {len(inputs.train)} and {len(inputs.synthetic)}); the interval is that of these rows."
            )
        if main.ci.high < 0.5:
            section.notes.append(
                "The AUC is clearly below 0.5: the classifier does worse than chance, which happens when synthetic "
                "rows duplicate real ones (each copy is learnt with the opposite label). Check the privacy audits."
            )
        section.summary = f"Detection AUC {main.auc:.3f} [{main.ci.low:.3f}, {main.ci.high:.3f}]" + (
            f"; holdout reference {reference.auc:.3f}." if reference is not None else "."
        )
        if absent:
            section.notes.append(f"Not used (absent from a table): {', '.join(absent)}.")
        if reference is None:
            section.notes.append("Holdout too small or missing columns: no real-vs-real reference.")
        return section

    def _test(
        self,
        real: pd.DataFrame,
        other: pd.DataFrame,
        kinds: dict[str, ColumnKind],
        n_side: int,
        rng: np.random.Generator,
        seed: int,
        n_jobs: int,
    ) -> _Outcome:
        """Cross-validated detection of ``other`` (label 1) against ``real`` (label 0)."""
        r = real.iloc[np.sort(rng.choice(len(real), n_side, replace=False))]
        o = other.iloc[np.sort(rng.choice(len(other), n_side, replace=False))]
        x, categorical = _encode(r, o, kinds)
        y = np.r_[np.zeros(n_side, dtype=int), np.ones(n_side, dtype=int)]
        scores = np.empty(len(y))
        folds = list(StratifiedKFold(n_splits=self.n_folds, shuffle=True, random_state=seed).split(x, y))

        def fold(split: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
            fit_idx, test_idx = split
            clf = HistGradientBoostingClassifier(
                categorical_features=categorical if categorical.any() else None, random_state=seed
            )
            return clf.fit(x[fit_idx], y[fit_idx]).predict_proba(x[test_idx])[:, 1]

        # Folds fitted side by side, each single-threaded: the trees' OpenMP threads wait for
        # each other at every barrier, which on a busy machine slows boosting a hundredfold.
        for (_, test_idx), fold_scores in zip(folds, map_single_threaded(fold, folds, n_jobs), strict=True):
            scores[test_idx] = fold_scores
        auc = float(weighted_auc(scores, y, np.ones((1, len(y))))[0])
        reps = np.concatenate(
            [
                weighted_auc(scores, y, _bootstrap_weights(rng, len(y), b))
                for b in _chunk_sizes(self.n_boot, max(1, 2_000_000 // len(y)))
            ]
        )
        return _Outcome(auc=auc, ci=percentile_interval(reps, f"bootstrap (n={self.n_boot})"), scores=scores, labels=y)


@dataclass(frozen=True)
class _Outcome:
    """One detection test: AUC and its interval, the out-of-fold scores (2n,) and labels (2n,)."""

    auc: float
    ci: Interval
    scores: np.ndarray
    labels: np.ndarray


def _encode(real: pd.DataFrame, other: pd.DataFrame, kinds: dict[str, ColumnKind]) -> tuple[np.ndarray, np.ndarray]:
    """Stack both tables into a float matrix (2n, p) with NaN for missing, and the categorical mask (p,)."""
    cols = []
    categorical = []
    for name, kind in kinds.items():
        if kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
            rc, rk = level_codes(real[name])
            oc, ok = level_codes(other[name])
            keys = sorted(set(rk) | set(ok))
            pos = {k: i for i, k in enumerate(keys)}
            r_map = np.array([pos[k] for k in rk] + [-1])
            o_map = np.array([pos[k] for k in ok] + [-1])
            codes = np.r_[r_map[rc], o_map[oc]].astype(float)
            codes[codes < 0] = np.nan
            cols.append(codes)
            categorical.append(len(keys) <= _MAX_NATIVE_LEVELS)
        else:
            cols.append(np.r_[numeric_values(real[name], kind), numeric_values(other[name], kind)])
            categorical.append(False)
    return np.column_stack(cols), np.array(categorical, dtype=bool)


def weighted_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``scores`` for binary ``labels`` (n,) under row weights (b, n) -> (b,).

    The Mann-Whitney form with ties counted half: for each positive row, the weight of
    negatives scored below it plus half the weight of negatives tied with it. Bootstrap
    resamples are row multiplicities, so all replicates share one sort. NaN for a
    replicate without both classes.
    """
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    pos = labels[order] == 1
    w = weights[:, order]
    neg_w = np.where(pos, 0.0, w)
    pos_w = np.where(pos, w, 0.0)
    # tie groups: every row gets the negative weight strictly below its score and within its tie group
    starts = np.r_[True, s[1:] != s[:-1]]
    group = np.cumsum(starts) - 1
    neg_cum = np.cumsum(neg_w, axis=1)
    group_end = np.r_[np.nonzero(starts)[0][1:], len(s)] - 1
    group_start = np.nonzero(starts)[0]
    below = np.where(group_start[None, :] > 0, neg_cum[:, np.maximum(group_start - 1, 0)], 0.0)
    tied = neg_cum[:, group_end] - below
    credit = (pos_w * (below[:, group] + 0.5 * tied[:, group])).sum(axis=1)
    total = pos_w.sum(axis=1) * neg_w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, credit / total, np.nan)


def _bootstrap_weights(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    """(b, n) multiplicities of rows in b with-replacement resamples of n rows."""
    idx = rng.integers(0, n, (b, n)) + (np.arange(b) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(float)


def _chunk_sizes(total: int, chunk: int) -> list[int]:
    return [min(chunk, total - s) for s in range(0, total, chunk)]


def _roc_curve(label: str, outcome: _Outcome) -> dict[str, object]:
    fpr, tpr, _ = roc_curve(outcome.labels, outcome.scores)
    if len(fpr) > _ROC_POINTS:  # thin the curve for the report; the AUC is computed on all points
        keep = np.unique(np.r_[np.linspace(0, len(fpr) - 1, _ROC_POINTS).round().astype(int)])
        fpr, tpr = fpr[keep], tpr[keep]
    return {"label": label, "fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr], "auc": outcome.auc}
