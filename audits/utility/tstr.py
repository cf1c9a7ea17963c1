"""Utility audit: train on synthetic, test on real (TSTR) against train on real (TRTR).

Each downstream model (see :mod:`synth.audits.utility.downstream_models`) is fitted twice, once on
the real training rows and once on the synthetic rows, and both fits are scored on the
real holdout, which neither the generator nor the models saw. The gap ``TRTR - TSTR`` is
how much predictive value is lost by training on synthetic instead of real data.

Intervals: a bootstrap over holdout rows (the fitted models' predictions are resampled;
no model is refitted, so the interval covers evaluation noise, not training noise). The
gap's interval is a *paired* bootstrap: TRTR and TSTR are scored on the same resamples.

Headline metrics are those of the **best model**, the one with the highest TRTR score
(AUROC, or R² for regression): the question a data user asks is "how much of what the real
data supports can I still reach with the synthetic data?". Every model's values are in the
table and in ``details``, including the largest gap over models.

A synthetic target with a single class cannot train a classifier: ``auroc_tstr`` is then
NaN, and the gap is taken against the constant scorer the synthetic data supports
(AUROC 0.5, chance), so ``auroc_gap = auroc_trtr - 0.5`` and the gate on it fails.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_curve

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Interval, Metric, TableBlock
from synth.audits.param_checks import check_int
from synth.audits.utility.downstream_models import (
    FittedModel,
    NoTaskError,
    ResampledMetrics,
    Task,
    auprc,
    auroc,
    cap_rows,
    check_columns,
    check_model_names,
    detect_task,
    feature_columns,
    feature_frame,
    fit_models,
    format_estimate,
    mae,
    predict_scores,
    r2,
    resample_weights,
)
from synth.disclosure import nameable
from synth.stats.intervals import percentile_interval

_KEY = "audit.params.utility"
_MAX_ROC_POINTS = 201
_MAX_IMPORTANCE_ROWS = 5000
_MIN_HOLDOUT_ROWS = 20



class UtilityAudit(Audit):
    """TSTR vs TRTR on the real holdout, with bootstrap intervals over holdout rows.

    Parameters:
        models: model names from ``logistic`` (``linear``) and ``gradient_boosting``.
        n_boot: bootstrap resamples of the holdout for every interval.
        max_train_rows: real and synthetic training rows are each capped at this many
            (a uniform sample) to bound the fitting time; at most 200 000.
        importance_repeats: permutations per feature for the importance rank correlation.
        positive_class: the positive class of a binary target (default: the class that
            reads as 1/true/yes, else the second in sorted order); only AUPRC depends on it.
    """

    name = "utility"
    family = "utility"
    title = "Utility: train on synthetic, test on real"
    provides = (
        "utility.auroc_tstr",
        "utility.auroc_trtr",
        "utility.auroc_gap",
        "utility.auprc_gap",
        "utility.r2_tstr",
        "utility.r2_trtr",
        "utility.r2_gap",
        "utility.mae_ratio",
        "utility.feature_importance_rank_corr",
    )
    needs_target = True

    def __init__(
        self,
        models: list[str] | tuple[str, ...] = ("logistic", "gradient_boosting"),
        n_boot: int = 200,
        max_train_rows: int = 50_000,
        importance_repeats: int = 3,
        positive_class: str | int | bool | None = None,
    ) -> None:
        self.models = check_model_names(models, f"{_KEY}.models")
        self.n_boot = check_int(self.name, "n_boot", n_boot, 20, maximum=100_000)
        self.max_train_rows = check_int(self.name, "max_train_rows", max_train_rows, 50, maximum=200_000)
        self.importance_repeats = check_int(self.name, "importance_repeats", importance_repeats, 1, maximum=50)
        self.positive_class = positive_class
        super().__init__(
            models=list(self.models), n_boot=self.n_boot, max_train_rows=self.max_train_rows,
            importance_repeats=self.importance_repeats, positive_class=positive_class,
        )

    # -- run ------------------------------------------------------------------------------
    def run(self, inputs: AuditInputs) -> AuditSection:
        started = time.perf_counter()
        schema = inputs.schema
        if schema.target is None:
            return self.skip("No target column: the utility audit needs a column with the role 'target'.")
        try:
            task = detect_task(schema, inputs.train, inputs.holdout, positive_class=self.positive_class,
                               key=f"{_KEY}.positive_class")
        except NoTaskError as exc:
            return self.skip(f"No prediction task: {exc}.")
        columns = feature_columns(schema, task.target)
        check_columns(inputs.synthetic, columns + [task.target], "synthetic data")
        if not columns:
            return self.skip(f"No feature columns besides the target '{task.target}'.")
        notes: list[str] = [f"Task: {task.describe()}."]

        train = cap_rows(inputs.train, self.max_train_rows, inputs.seed)
        synthetic = cap_rows(inputs.synthetic, self.max_train_rows, inputs.seed + 1)
        for what, full, used in (("real training", inputs.train, train), ("synthetic", inputs.synthetic, synthetic)):
            if len(used) < len(full):
                notes.append(f"The {what} data was subsampled to {len(used)} of {len(full)} rows (max_train_rows).")

        y_hold = task.labels(inputs.holdout)
        usable = (y_hold >= 0) if task.is_classification else np.isfinite(y_hold)
        if usable.sum() < _MIN_HOLDOUT_ROWS:
            return self.skip(f"Only {int(usable.sum())} holdout rows have a usable target; "
                             f"at least {_MIN_HOLDOUT_ROWS} are needed.")
        if not usable.all():
            notes.append(f"{int((~usable).sum())} holdout rows with a missing or unknown target were left out of scoring.")
        X_hold = feature_frame(inputs.holdout.loc[usable], schema, columns)
        y_hold = y_hold[usable]
        notes.extend(_label_notes(task, train, synthetic, y_hold, inputs.rare_level_k))

        try:
            fitted = fit_models(
                [(m, task, schema, columns, frame, inputs.seed, what)
                 for m in self.models for frame, what in ((train, "real training"), (synthetic, "synthetic"))],
                inputs.n_jobs,
            )
            fits = [(fitted[2 * i], fitted[2 * i + 1]) for i in range(len(self.models))]
        except NoTaskError as exc:
            return self.skip(f"Cannot train the downstream models: {exc}.")
        scores = [(predict_scores(real, X_hold, task), predict_scores(syn, X_hold, task)) for real, syn in fits]

        evaluation = _Evaluation(task, y_hold, scores, self.n_boot, inputs.seed)
        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        best = evaluation.best_model()
        self._add_headlines(section, evaluation, fits, best, notes)
        section.metrics.append(self._importance_metric(task, fits, X_hold, y_hold, inputs, notes))
        section.tables.append(_model_table(evaluation, fits))
        section.figures.extend(_figures(evaluation, fits, y_hold, best))
        if task.kind != "binary":
            notes.append("ROC curves are drawn for binary targets only.")
        for real, syn in fits:
            for model in (real, syn):
                if model.degenerate:
                    notes.append(f"{model.label}: {model.degenerate}; it was replaced by a constant scorer (chance level).")
        section.notes = notes
        section.summary = _summary(section, task, fits, best)
        section.seconds = time.perf_counter() - started
        return section

    # -- headline metrics -------------------------------------------------------------------
    def _add_headlines(
        self, section: AuditSection, ev: _Evaluation, fits: list[tuple[FittedModel, FittedModel]],
        best: int | None, notes: list[str],
    ) -> None:
        names = [real.name for real, _ in fits]
        gaps = ev.gap_point()
        per_model = {names[i]: {m: {"trtr": ev.point[i, j, 0], "tstr": ev.point[i, j, 1], "gap": gaps[i, j]}
                                for j, m in enumerate(ev.metric_names)} for i in range(len(fits))}
        details = {"best_model": names[best] if best is not None else None, "per_model": _json(per_model),
                   "max_gap_over_models": _json(float(np.nanmax(gaps[:, 0])) if np.isfinite(gaps[:, 0]).any() else np.nan),
                   "n_holdout": int(ev.y.size)}
        if best is None:
            notes.append("No model has a defined TRTR score on the holdout (it may hold a single class); "
                         "headline metrics are NaN.")
        else:
            notes.append(f"Headline metrics are those of the best model by TRTR {ev.metric_names[0]}: "
                         f"{fits[best][0].label}.")
        trtr, tstr, gap = (ev.headline(best, 0, k) for k in ("trtr", "tstr", "gap"))

        if ev.task.is_classification:
            degenerate = best is not None and fits[best][1].degenerate is not None
            if degenerate:  # no synthetic-trained classifier exists; the gap is taken against chance
                tstr = (float("nan"), None)
            chance = " TSTR is taken as chance (0.5): the synthetic target has a single class." if degenerate else ""
            section.metrics += [
                _metric("utility.auroc_trtr", trtr,
                       "AUROC on the real holdout of the best model trained on real data: the reference.",
                       better="higher", ideal=1.0, details=details),
                _metric("utility.auroc_tstr", tstr,
                       "AUROC on the real holdout of the same model trained on synthetic data; close to auroc_trtr is "
                       "good." + (" NaN: the synthetic target has a single class." if degenerate else ""),
                       better="higher", ideal=1.0),
                _metric("utility.auroc_gap", gap,
                       "TRTR minus TSTR AUROC of the best model; near 0 (say below 0.05) means training on synthetic "
                       "data loses little discrimination." + chance,
                       better="lower", ideal=0.0, reference=0.0,
                       details={"per_model_gap": _json(dict(zip(names, gaps[:, 0]))), **_pair(trtr, tstr)}),
                _metric("utility.auprc_gap", ev.headline(best, 1, "gap"),
                       "TRTR minus TSTR area under the precision-recall curve of the best model (macro over classes "
                       "when multiclass); near 0 is good." + chance,
                       better="lower", ideal=0.0, reference=0.0,
                       details={"per_model_gap": _json(dict(zip(names, gaps[:, 1]))),
                                **_pair(ev.headline(best, 1, "trtr"), ev.headline(best, 1, "tstr"))}),
            ]
        else:
            section.metrics += [
                _metric("utility.r2_trtr", trtr,
                       "R² on the real holdout of the best model trained on real data: the reference.",
                       better="higher", ideal=1.0, details=details),
                _metric("utility.r2_tstr", tstr,
                       "R² on the real holdout of the same model trained on synthetic data; close to r2_trtr is good.",
                       better="higher", ideal=1.0),
                _metric("utility.r2_gap", gap,
                       "TRTR minus TSTR R² of the best model; near 0 (say below 0.05) means training on synthetic "
                       "data loses little.",
                       better="lower", ideal=0.0, reference=0.0,
                       details={"per_model_gap": _json(dict(zip(names, gaps[:, 0]))), **_pair(trtr, tstr)}),
                _metric("utility.mae_ratio", ev.headline(best, 1, "ratio"),
                       "Holdout mean absolute error of the synthetic-trained model over that of the real-trained one "
                       "(best model); 1 means equal, above 1 means worse (say at most 1.1).",
                       better="lower", ideal=1.0, reference=1.0),
            ]

    def _importance_metric(
        self, task: Task, fits: list[tuple[FittedModel, FittedModel]], X_hold: pd.DataFrame, y_hold: np.ndarray,
        inputs: AuditInputs, notes: list[str],
    ) -> Metric:
        names = [f[0].name for f in fits]
        pick = names.index("gradient_boosting") if "gradient_boosting" in names else 0
        real, syn = fits[pick]
        passing = ("Spearman rank correlation of the features' permutation importances on the holdout between the "
                   f"{real.label} trained on real data and on synthetic data; near 1 means the synthetic data teaches "
                   "the same features as the real data. No interval: importances are averaged over permutations.")
        name = "utility.feature_importance_rank_corr"
        if real.degenerate or syn.degenerate:
            notes.append("Feature importance rank correlation is NaN: one of the models is a constant scorer.")
            return Metric(name, float("nan"), passing, None, "higher", 1.0)
        if X_hold.shape[1] < 3:
            notes.append("Feature importance rank correlation is NaN: it needs at least three features.")
            return Metric(name, float("nan"), passing, None, "higher", 1.0)
        rows = np.arange(len(X_hold))
        if rows.size > _MAX_IMPORTANCE_ROWS:
            rows = np.sort(np.random.default_rng(inputs.seed).choice(rows, _MAX_IMPORTANCE_ROWS, replace=False))
        X, y = X_hold.iloc[rows], y_hold[rows]
        metric_fn = auroc if task.is_classification else r2
        # Parallel workers cost more to start than a few thousand predictions take.
        n_jobs = inputs.n_jobs if len(rows) * X.shape[1] > 200_000 else 1
        importances = []
        for model in (real, syn):
            def scorer(estimator: Any, X_: pd.DataFrame, y_: np.ndarray, model: FittedModel = model) -> float:
                return metric_fn(y_, predict_scores(model, X_, task), task)

            result = permutation_importance(model.estimator, X, y, scoring=scorer,
                                            n_repeats=self.importance_repeats, random_state=inputs.seed, n_jobs=n_jobs)
            importances.append(result.importances_mean)
        imp_real, imp_syn = importances
        details = {
            "model": real.name,
            "importance_real": _json(dict(zip(X.columns, imp_real))),
            "importance_synthetic": _json(dict(zip(X.columns, imp_syn))),
            "n_repeats": self.importance_repeats,
            "n_rows": int(len(rows)),
        }
        if np.ptp(imp_real) == 0 or np.ptp(imp_syn) == 0 or not (np.isfinite(imp_real).all() and np.isfinite(imp_syn).all()):
            notes.append("Feature importance rank correlation is NaN: one model's importances are all equal.")
            return Metric(name, float("nan"), passing, None, "higher", 1.0, details=details)
        rho = float(stats.spearmanr(imp_real, imp_syn).statistic)
        notes.append(
            f"Permutation importances ({self.importance_repeats} repeats, holdout {_primary_metric(task)}) of the "
            f"{real.label}; the rank correlation has no interval."
        )
        return Metric(name, rho, passing, None, "higher", 1.0, details=details)


def _metric(name: str, estimate: tuple[float, Interval | None], passing: str, **fields: Any) -> Metric:
    """A :class:`Metric` from a ``(value, interval)`` pair."""
    return Metric(name, estimate[0], passing, estimate[1], **fields)


def _pair(trtr: tuple[float, Interval | None], tstr: tuple[float, Interval | None]) -> dict[str, Any]:
    """The two scores behind a gap, for its details (the report's findings quote them)."""
    return {"trtr": _json(float(trtr[0])), "tstr": _json(float(tstr[0]))}


def _primary_metric(task: Task) -> str:
    return "AUROC" if task.is_classification else "R²"


class _Evaluation:
    """Point values and paired bootstrap replicates of every (model, metric, TRTR/TSTR).

    ``point``: ``(n_models, n_metrics, 2)``; ``reps``: ``(n_boot, n_models, n_metrics, 2)``;
    index 0 of the last axis is TRTR, 1 is TSTR. Metric 0 is the primary one (AUROC or R²).
    """

    def __init__(
        self, task: Task, y: np.ndarray, scores: list[tuple[np.ndarray, np.ndarray]], n_boot: int, seed: int
    ) -> None:
        self.task, self.y, self.scores, self.n_boot = task, y, scores, n_boot
        if task.is_classification:
            self.metric_names, self.fns, self.higher = ("AUROC", "AUPRC"), (auroc, auprc), (True, True)
        else:
            self.metric_names, self.fns, self.higher = ("R²", "MAE"), (r2, mae), (True, False)
        self.point = self._evaluate(np.arange(y.size))
        # Replicates from row multiplicities: each score vector is sorted once, not once per resample.
        metrics = [[ResampledMetrics(y, s, task) for s in pair] for pair in scores]
        self.reps = np.stack([
            np.array([[m.values(w) for m in pair] for pair in metrics], dtype=float).transpose(0, 2, 1)
            for w in resample_weights(y.size, n_boot, seed)
        ])

    def _evaluate(self, idx: np.ndarray) -> np.ndarray:
        y = self.y[idx]
        return np.array([[[fn(y, s[idx], self.task) for s in pair] for fn in self.fns] for pair in self.scores], dtype=float)

    def _gap(self, values: np.ndarray) -> np.ndarray:
        # Gap = how much worse the synthetic-trained model is: TRTR - TSTR for scores, TSTR - TRTR for errors.
        sign = np.array([1.0 if h else -1.0 for h in self.higher])
        return (values[..., 0] - values[..., 1]) * sign

    def gap_point(self) -> np.ndarray:
        return self._gap(self.point)

    def gap_reps(self) -> np.ndarray:
        return self._gap(self.reps)

    def headline(self, model: int | None, metric: int, which: str) -> tuple[float, Interval | None]:
        """``(value, interval)`` of ``which`` in ``trtr``, ``tstr``, ``gap`` or ``ratio`` (TSTR / TRTR)
        for one model and metric; ``(NaN, None)`` when ``model`` is None."""
        if model is None:
            return float("nan"), None
        if which in ("trtr", "tstr"):
            k = 0 if which == "trtr" else 1
            return (float(self.point[model, metric, k]),
                    percentile_interval(self.reps[:, model, metric, k], f"bootstrap over holdout rows (n={self.n_boot})"))
        paired = f"paired bootstrap over holdout rows (n={self.n_boot})"
        if which == "gap":
            return float(self.gap_point()[model, metric]), percentile_interval(self.gap_reps()[:, model, metric], paired)
        with np.errstate(divide="ignore", invalid="ignore"):
            point = self.point[model, metric, 1] / self.point[model, metric, 0]
            reps = self.reps[:, model, metric, 1] / self.reps[:, model, metric, 0]
        return float(point), percentile_interval(reps, paired)

    def best_model(self) -> int | None:
        primary = self.point[:, 0, 0]
        return int(np.nanargmax(primary)) if np.isfinite(primary).any() else None


def _label_notes(task: Task, train: pd.DataFrame, synthetic: pd.DataFrame, y_hold: np.ndarray, k: int) -> list[str]:
    notes = []
    if not task.is_classification:
        return notes
    y_syn = task.labels(synthetic)
    unknown = int(((y_syn < 0) & synthetic[task.target].notna().to_numpy()).sum())
    if unknown:
        notes.append(f"{unknown} synthetic rows have a target value that is not a real class; "
                     "they were left out of training.")
    in_holdout, hold_counts = np.unique(y_hold, return_counts=True)
    held = dict(zip(in_holdout.tolist(), hold_counts.tolist()))
    for what, y in (("real training", task.labels(train)), ("synthetic", y_syn)):
        unseen = sorted(set(held) - set(np.unique(y[y >= 0])))
        if unseen:
            # a class held by fewer than k records is not named (the k-rule, synth.disclosure)
            named = [task.classes[c] for c in unseen if c >= 0 and nameable(held[c], k)]
            rare = len(unseen) - len(named)
            names = ", ".join(named + ([f"{rare} rare class(es)"] if rare else []))
            notes.append(f"Holdout class(es) {names} never occur in the {what} data; its model gives them probability 0.")
    return notes


def _model_table(ev: _Evaluation, fits: list[tuple[FittedModel, FittedModel]]) -> TableBlock:
    method = f"bootstrap (n={ev.n_boot})"
    gap_reps = ev.gap_reps()
    gaps = ev.gap_point()
    rows = []
    for i, (real, syn) in enumerate(fits):
        for j, metric in enumerate(ev.metric_names):
            cells = []
            for which, model in ((0, real), (1, syn)):
                if model.degenerate:
                    cells.append("n/a (one class)")
                else:
                    ci = percentile_interval(ev.reps[:, i, j, which], method)
                    cells.append(format_estimate(ev.point[i, j, which], ci))
            gap = format_estimate(gaps[i, j], percentile_interval(gap_reps[:, i, j], method))
            rows.append((real.label, metric, *cells, gap))
    return TableBlock(
        "TRTR vs TSTR per model (real holdout)",
        ("model", "metric", "TRTR [95% CI]", "TSTR [95% CI]", "gap [95% CI]"),
        tuple(rows),
        caption="TRTR: trained on real training data; TSTR: trained on synthetic data; both scored on the real holdout. "
        "Gap: how much worse TSTR is (TRTR - TSTR for AUROC/AUPRC/R², TSTR - TRTR for MAE), paired bootstrap over "
        "holdout rows.",
    )


def _figures(ev: _Evaluation, fits: list[tuple[FittedModel, FittedModel]], y: np.ndarray, best: int | None) -> list[Figure]:
    metric = ev.metric_names[0]
    figures = [
        Figure(
            "utility-bars",
            f"Holdout {metric}: trained on real vs on synthetic",
            "bars",
            {
                "y_label": f"holdout {metric}",
                "categories": [real.label for real, _ in fits],
                "series": [
                    {"label": "TRTR (real-trained)", "values": [_json(float(v)) for v in ev.point[:, 0, 0]]},
                    {"label": "TSTR (synthetic-trained)", "values": [_json(float(v)) for v in ev.point[:, 0, 1]]},
                ],
            },
            caption="Each model trained once on real training data and once on synthetic data, scored on the real holdout.",
        )
    ]
    task = ev.task
    if task.kind == "binary" and best is not None:
        truth = y == task.positive
        curves = []
        for which, label in ((0, "TRTR (real-trained)"), (1, "TSTR (synthetic-trained)")):
            fpr, tpr, _ = roc_curve(truth, ev.scores[best][which][:, task.positive])
            if fpr.size > _MAX_ROC_POINTS:
                keep = np.unique(np.linspace(0, fpr.size - 1, _MAX_ROC_POINTS).round().astype(int))
                fpr, tpr = fpr[keep], tpr[keep]
            curves.append({"label": label, "fpr": fpr.tolist(), "tpr": tpr.tolist(),
                           "auc": _json(float(ev.point[best, 0, which]))})
        figures.append(Figure("utility-roc", f"ROC on the real holdout: {fits[best][0].label}", "roc", {"curves": curves},
                              caption="The best model by TRTR AUROC, trained on real vs on synthetic data."))
    return figures


def _summary(section: AuditSection, task: Task, fits: list[tuple[FittedModel, FittedModel]], best: int | None) -> str:
    if best is None:
        return "No model could be scored on the holdout."
    prefix = "auroc" if task.is_classification else "r2"
    trtr = section.metric(f"utility.{prefix}_trtr").value
    tstr = section.metric(f"utility.{prefix}_tstr").value
    gap = section.metric(f"utility.{prefix}_gap")
    ci = f" (95% CI {gap.ci.low:.3f} to {gap.ci.high:.3f})" if gap.ci and np.isfinite(gap.ci.low) else ""
    return (f"{fits[best][0].label}: holdout {prefix.upper()} {trtr:.3f} trained on real vs {tstr:.3f} trained on "
            f"synthetic; gap {gap.value:.3f}{ci}.")


def _json(value: Any) -> Any:
    """Floats (and dicts of floats) with NaN as None, for ``details``."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value
