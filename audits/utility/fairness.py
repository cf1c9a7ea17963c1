"""Fairness audit: subgroup representation, downstream-model fairness, bias amplification.

For each sensitive attribute (``schema.sensitive``) and, when there are two or more, their
intersection (one combined column named ``"a|b"`` whose groups read ``"F|black"``):

1. **Representation** — each subgroup's share of the real training rows vs of the
   synthetic rows; ``fairness.representation_tvd_max`` is the largest total variation
   distance (half the sum of absolute share differences) over the attributes.
2. **Downstream fairness** (binary targets only) — one model (``model``) trained on the
   real training rows and one on the synthetic rows, both predicting the real holdout
   (positive when the positive-class probability is at least ``threshold``). Demographic
   parity difference and ratio and equalized odds difference are computed with fairlearn
   for each model; ``*_increase`` is synthetic-trained minus real-trained. Headlines are
   the **maximum over attributes** (the worst attribute; for the increases, the largest
   per-attribute increase). Intervals: a paired bootstrap over holdout rows (predictions
   are resampled, models are not refitted); the headline interval is that of the
   maximum, recomputed on every resample. ``fairness.subgroup_tpr_drop_max`` is the
   largest drop, over eligible subgroups of every attribute, in the true-positive rate
   (recall: the share of positive cases the model flags) from the real-trained to the
   synthetic-trained model; its reference is 0 (a model trained on real data loses
   nothing against itself), and a value well above 0 means the synthetic data teaches a
   model to miss patients in some group.
3. **Bias amplification** (binary targets only) — for each attribute the label-rate gap
   ``max_g P(y=positive | g) - min_g P(y=positive | g)`` in the synthetic rows minus the
   same gap in the real training rows; ``fairness.bias_amplification`` is the maximum over
   attributes (0 = no amplification, above 0 = the synthetic data ties the outcome to the
   attribute more strongly). Interval: a two-sample bootstrap (real and synthetic rows are
   resampled independently).

Small subgroups: a group with fewer than ``min_group_rows`` holdout rows is reported but
left out of the parity and odds differences; for bias amplification a group needs that
many rows in both the real training and the synthetic data. Tables hold per-group
aggregates only (counts, shares, rates), never records; groups held by fewer than
``inputs.rare_level_k`` training rows are pooled into one "other (rare)" group and never
named (the k-rule of :mod:`synth.disclosure`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Interval, Metric, TableBlock
from synth.audits.param_checks import check_int
from synth.audits.utility.downstream_models import (
    FEW_VALUES,
    MISSING_LEVEL,
    NoTaskError,
    Task,
    cap_rows,
    check_columns,
    check_model_names,
    detect_task,
    feature_columns,
    feature_frame,
    fit_models,
    format_estimate,
    label_keys,
    predict_scores,
    resamples,
)
from synth.disclosure import RARE_LABEL, nameable
from synth.errors import ConfigError
from synth.schema import ColumnSpec, Schema
from synth.stats.intervals import percentile_interval

_KEY = "audit.params.fairness"
_CHUNK = 64  # bootstrap replicates per weight matrix: bounds memory at 64 x n_rows floats
_FAIRNESS_MEASURES = ("dp_diff", "dp_ratio", "eo_diff")


def _quiet() -> warnings.catch_warnings:
    """Silence numpy's "All-NaN slice" warnings: an all-NaN row is a legitimate NaN result here."""
    return warnings.catch_warnings(action="ignore", category=RuntimeWarning)



class FairnessAudit(Audit):
    """Representation, downstream-model fairness and bias amplification per sensitive attribute.

    Parameters:
        model: the downstream model, ``gradient_boosting`` or ``logistic``.
        n_boot: bootstrap resamples for every interval.
        min_group_rows: subgroups with fewer rows (see the module docstring) are reported
            but left out of the maxima.
        threshold: a prediction is positive when the positive-class probability is at
            least this (0 < threshold < 1), or ``"prevalence"``: each model flags the same
            share of the holdout as the positive share of its own training data.
        max_train_rows: real and synthetic training rows are each capped at this many.
        positive_class: the positive class of a binary target (default: the class that
            reads as 1/true/yes, else the second in sorted order).
    """

    name = "fairness"
    family = "fairness"
    title = "Fairness: representation, downstream parity and bias amplification"
    provides = (
        "fairness.representation_tvd_max",
        "fairness.dp_diff_real",
        "fairness.dp_diff_synthetic",
        "fairness.dp_diff_increase",
        "fairness.dp_ratio_synthetic",
        "fairness.eo_diff_real",
        "fairness.eo_diff_synthetic",
        "fairness.eo_diff_increase",
        "fairness.subgroup_tpr_drop_max",
        "fairness.bias_amplification",
    )
    needs_target = True

    def __init__(
        self,
        model: str = "gradient_boosting",
        n_boot: int = 200,
        min_group_rows: int = 20,
        threshold: float | str = 0.5,
        max_train_rows: int = 50_000,
        positive_class: str | int | bool | None = None,
    ) -> None:
        if not isinstance(model, str):
            raise ConfigError(f"{_KEY}.model: expected one model name (gradient_boosting or logistic); got {model!r}.")
        self.model = check_model_names([model], f"{_KEY}.model")[0]
        self.n_boot = check_int(self.name, "n_boot", n_boot, 20, maximum=100_000)
        self.min_group_rows = check_int(self.name, "min_group_rows", min_group_rows, 1, maximum=1_000_000)
        if threshold != "prevalence" and (
            isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold < 1
        ):
            raise ConfigError(f"{_KEY}.threshold: expected a probability strictly between 0 and 1, or 'prevalence'; "
                              f"got {threshold!r}.")
        self.threshold = threshold
        self.max_train_rows = check_int(self.name, "max_train_rows", max_train_rows, 50, maximum=200_000)
        self.positive_class = positive_class
        super().__init__(model=self.model, n_boot=self.n_boot, min_group_rows=self.min_group_rows, threshold=threshold,
                         max_train_rows=self.max_train_rows, positive_class=positive_class)

    def run(self, inputs: AuditInputs) -> AuditSection:
        started = time.perf_counter()
        schema = inputs.schema
        if schema.target is None:
            return self.skip("No target column: the fairness audit needs a column with the role 'target'.")
        sensitive = [s for s in schema.sensitive if s != schema.target]
        if not sensitive:
            return self.skip("No sensitive attribute: give at least one column the role 'sensitive' (e.g. sex, race).")
        check_columns(inputs.synthetic, sensitive + [schema.target], "synthetic data")
        for what, frame in (("real training data", inputs.train), ("real holdout", inputs.holdout)):
            check_columns(frame, sensitive, what)

        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        notes = section.notes
        attributes = _attributes(schema, sensitive, inputs.train, inputs.synthetic, inputs.holdout,
                                 inputs.rare_level_k)
        for a in attributes:
            if a.binned:
                notes.append(f"'{a.name}' is numeric: its subgroups are the quartiles of the real training data.")
        if len(attributes) > 1:
            notes.append(f"'{attributes[-1].name}' is the intersection of {', '.join(sensitive)}.")

        self._representation(section, attributes)
        try:
            task = detect_task(schema, inputs.train, inputs.holdout, positive_class=self.positive_class,
                               key=f"{_KEY}.positive_class")
        except NoTaskError as exc:
            notes.append(f"No prediction task ({exc}): downstream fairness and bias amplification are not computed.")
            task = None
        if task is not None and task.kind != "binary":
            notes.append(f"The task is {task.describe()}: demographic parity, equalized odds and bias amplification "
                         "are defined here for binary targets only, so they are not computed.")
        elif task is not None:
            notes.append(f"Task: {task.describe()}.")
            self._downstream(section, inputs, schema, task, attributes)
            self._amplification(section, inputs, task, attributes)
        section.summary = _summary(section)
        section.seconds = time.perf_counter() - started
        return section

    # -- 1. representation ------------------------------------------------------------------
    def _representation(self, section: AuditSection, attributes: list[_Attribute]) -> None:
        rows, tvds = [], {}
        for a in attributes:
            real = pd.Series(a.train).value_counts()
            syn = pd.Series(a.synthetic).value_counts()
            groups = a.groups
            p = np.array([real.get(g, 0) for g in groups], dtype=float) / max(len(a.train), 1)
            q = np.array([syn.get(g, 0) for g in groups], dtype=float) / max(len(a.synthetic), 1)
            tvds[a.name] = float(0.5 * np.abs(p - q).sum())
            rows += [(a.name, g, float(p[i]), float(q[i]), int(real.get(g, 0)), int(syn.get(g, 0)))
                     for i, g in enumerate(groups)]
            section.figures.append(Figure(
                f"fairness-representation-{a.slug}", f"Subgroup shares: {a.name}", "bars",
                {"y_label": "share of rows", "categories": groups,
                 "series": [{"label": "real train", "values": p.tolist()}, {"label": "synthetic", "values": q.tolist()}]},
                caption=f"Total variation distance {tvds[a.name]:.3f}.",
            ))
        worst = max(tvds, key=tvds.get)
        section.metrics.append(Metric(
            "fairness.representation_tvd_max", tvds[worst],
            "Largest total variation distance between real-train and synthetic subgroup shares over the sensitive "
            "attributes (and their intersection); 0 means every subgroup keeps its share (say below 0.05).",
            None, "lower", 0.0, details={"per_attribute": tvds, "worst_attribute": worst},
        ))
        section.tables.append(TableBlock(
            "Subgroup representation", ("attribute", "group", "real share", "synthetic share", "real n", "synthetic n"),
            tuple(rows), caption="Shares of the real training rows and of the synthetic rows.",
        ))
        section.notes.append("The representation distance has no interval: it is a plug-in distance between two samples.")

    # -- 2. downstream fairness -------------------------------------------------------------
    def _downstream(self, section: AuditSection, inputs: AuditInputs, schema: Schema, task: Task,
                    attributes: list[_Attribute]) -> None:
        notes = section.notes
        columns = feature_columns(schema, task.target)
        check_columns(inputs.synthetic, columns, "synthetic data")
        train = cap_rows(inputs.train, self.max_train_rows, inputs.seed)
        synthetic = cap_rows(inputs.synthetic, self.max_train_rows, inputs.seed + 1)
        for what, full, used in (("real training", inputs.train, train), ("synthetic", inputs.synthetic, synthetic)):
            if len(used) < len(full):
                notes.append(f"The {what} data was subsampled to {len(used)} of {len(full)} rows (max_train_rows).")
        y_hold = task.labels(inputs.holdout)
        usable = y_hold >= 0
        if usable.sum() < 2 * self.min_group_rows:
            notes.append(f"Only {int(usable.sum())} holdout rows have a usable target: downstream fairness is not computed.")
            return
        try:
            models = fit_models([(self.model, task, schema, columns, frame, inputs.seed, what)
                                 for frame, what in ((train, "real training"), (synthetic, "synthetic"))], inputs.n_jobs)
        except NoTaskError as exc:
            notes.append(f"Downstream fairness is not computed: {exc}.")
            return
        X_hold = feature_frame(inputs.holdout.loc[usable], schema, columns)
        truth = (y_hold[usable] == task.positive).astype(float)
        predictions = []
        for model, frame in zip(models, (train, synthetic)):
            if model.degenerate:
                notes.append(f"{model.label}: {model.degenerate}; it predicts one class for everyone.")
            p_pos = predict_scores(model, X_hold, task)[:, task.positive]
            predictions.append(self._predict(p_pos, task, frame))
        share = [float(p.mean()) for p in predictions]
        if self.threshold != "prevalence" and min(share) < 0.01:
            notes.append(f"At threshold {self.threshold} the models flag {share[0]:.1%} (real-trained) and {share[1]:.1%} "
                         "(synthetic-trained) of the holdout; with so few positives parity gaps are small by construction. "
                         "Set threshold: prevalence to compare models at the base rate.")

        per_attr: dict[str, dict[str, Any]] = {}
        reps = {m: [] for m in _FAIRNESS_MEASURES}  # measure -> one (n_boot, 2) array per attribute
        drops: list[_TprDrop] = []  # one per attribute with an eligible group holding positives
        group_rows = []
        for a in attributes:
            groups = a.holdout[usable]
            codes, names = pd.factorize(groups, sort=True)
            counts = np.bincount(codes, minlength=len(names))
            eligible = counts >= self.min_group_rows
            for model, pred, trained_on in zip(models, predictions, ("real", "synthetic")):
                group_rows += _group_rows(a.name, f"{model.label} ({trained_on})", truth, pred, groups,
                                          dict(zip(names, eligible)))
            small = [str(g) for g, ok in zip(names, eligible) if not ok]
            if small:
                notes.append(f"{a.name}: group(s) {', '.join(small)} have fewer than {self.min_group_rows} holdout rows; "
                             "reported but left out of the parity and odds differences.")
            if eligible.sum() < 2:
                notes.append(f"{a.name}: fewer than two groups have {self.min_group_rows} holdout rows; "
                             "no difference is computed.")
                per_attr[a.name] = {m: (float("nan"), float("nan")) for m in _FAIRNESS_MEASURES}
                for m in _FAIRNESS_MEASURES:
                    reps[m].append(np.full((self.n_boot, 2), np.nan))
                continue
            keep = eligible[codes]
            point = {m: [] for m in _FAIRNESS_MEASURES}
            for pred in predictions:
                t, p, g, w = _cells(truth[keep], pred[keep], groups[keep])
                kw = {"sensitive_features": g, "sample_weight": w}
                point["dp_diff"].append(float(demographic_parity_difference(t, p, **kw)))
                point["dp_ratio"].append(float(demographic_parity_ratio(t, p, **kw)))
                point["eo_diff"].append(float(equalized_odds_difference(t, p, **kw)))
            per_attr[a.name] = {m: tuple(v) for m, v in point.items()}
            onehot = np.eye(len(names))[codes][:, eligible]
            boot = _bootstrap_parity(onehot, truth, predictions, self.n_boot, inputs.seed)
            for m in _FAIRNESS_MEASURES:
                reps[m].append(boot[m])
            drop = _tpr_drop(a.name, [str(g) for g in np.asarray(names)[eligible]], onehot, truth, predictions,
                             self.n_boot, inputs.seed)
            if drop is not None:
                drops.append(drop)

        self._downstream_metrics(section, per_attr, reps, models)
        if drops:
            section.metrics.append(_tpr_drop_metric(drops, self.n_boot))
        section.tables.append(TableBlock(
            "Downstream model by subgroup (real holdout)",
            ("attribute", "group", "model", "holdout n", "selection rate", "TPR", "FPR", "in max"),
            tuple(group_rows),
            caption=f"{models[0].label} trained on real vs synthetic data; positive prediction at "
            f"{'the training prevalence' if self.threshold == 'prevalence' else f'probability >= {self.threshold}'}.",
        ))

    def _predict(self, p_pos: np.ndarray, task: Task, frame: pd.DataFrame) -> np.ndarray:
        """0/1 predictions from positive-class probabilities ``(n,)`` at the configured threshold."""
        if self.threshold != "prevalence":
            return (p_pos >= self.threshold).astype(float)
        labels = task.labels(frame)
        prevalence = float(np.mean(labels[labels >= 0] == task.positive))
        cut = np.quantile(p_pos, 1 - prevalence)
        # Tied scores are flagged together (never split at random); of ">= cut" and "> cut"
        # keep the one whose flagged share is closer to the training prevalence.
        at_least, above = p_pos >= cut, p_pos > cut
        closer = abs(at_least.mean() - prevalence) <= abs(above.mean() - prevalence)
        return (at_least if closer else above).astype(float)

    def _downstream_metrics(self, section: AuditSection, per_attr: dict[str, dict[str, Any]],
                            reps: dict[str, list[np.ndarray]], models: list[Any]) -> None:
        names = list(per_attr)
        method = f"paired bootstrap over holdout rows (n={self.n_boot})"
        table = []
        for i, a in enumerate(names):
            cells = []
            for m in _FAIRNESS_MEASURES:
                real, syn = per_attr[a][m]
                r = reps[m][i]
                cells += [format_estimate(real, percentile_interval(r[:, 0], method)),
                          format_estimate(syn, percentile_interval(r[:, 1], method))]
                if m != "dp_ratio":
                    cells.append(format_estimate(syn - real, percentile_interval(r[:, 1] - r[:, 0], method)))
            table.append((a, *cells))
        section.tables.append(TableBlock(
            "Downstream fairness per attribute",
            ("attribute", "DP diff real", "DP diff synthetic", "DP diff increase", "DP ratio real", "DP ratio synthetic",
             "EO diff real", "EO diff synthetic", "EO diff increase"),
            tuple(table),
            caption="DP: demographic parity; EO: equalized odds (fairlearn, between groups). Real/synthetic: the model was "
            "trained on real/synthetic data; all are measured on the real holdout. 95% paired bootstrap intervals.",
        ))
        section.figures.append(Figure(
            "fairness-downstream", "Downstream parity gaps on the real holdout", "bars",
            {"y_label": "difference between groups", "categories": names,
             "series": [{"label": f"{label} ({which})", "values": [_json(per_attr[a][m][k]) for a in names]}
                        for m, label in (("dp_diff", "DP diff"), ("eo_diff", "EO diff"))
                        for k, which in ((0, "real-trained"), (1, "synthetic-trained"))]},
            caption=f"{models[0].label} trained on real vs synthetic data.",
        ))
        details = {"per_attribute": {a: {m: [_json(v) for v in per_attr[a][m]] for m in _FAIRNESS_MEASURES} for a in names},
                   "model": models[0].name, "threshold": self.threshold}

        def worst(m: str, k: int | None, reduce: str = "max") -> tuple[float, Interval]:
            # k = 0 real, 1 synthetic, None = synthetic minus real; the max (or min) over attributes.
            values = np.array([per_attr[a][m][1] - per_attr[a][m][0] if k is None else per_attr[a][m][k] for a in names])
            stacked = np.stack([(r[:, 1] - r[:, 0]) if k is None else r[:, k] for r in reps[m]], axis=1)
            pick = np.nanmax if reduce == "max" else np.nanmin
            with np.errstate(all="ignore"), _quiet():
                value = float(pick(values)) if np.isfinite(values).any() else float("nan")
                boot = pick(stacked, axis=1)
            return value, percentile_interval(boot, method)

        specs = [
            ("dp_diff_real", "dp_diff", 0, "max", "lower", 0.0,
             "Largest demographic parity difference (gap in positive-prediction rates between subgroups) over the "
             "attributes, model trained on real data: the reference."),
            ("dp_diff_synthetic", "dp_diff", 1, "max", "lower", 0.0,
             "The same for the model trained on synthetic data; compare with dp_diff_real."),
            ("dp_diff_increase", "dp_diff", None, "max", "lower", 0.0,
             "Largest per-attribute increase of the demographic parity difference when the model is trained on synthetic "
             "instead of real data; at most 0 (say below 0.05) means the synthetic data adds no disparity."),
            ("dp_ratio_synthetic", "dp_ratio", 1, "min", "higher", 1.0,
             "Smallest demographic parity ratio (lowest over highest subgroup positive-prediction rate) of the "
             "synthetic-trained model; 1 is parity, the four-fifths rule asks for at least 0.8."),
            ("eo_diff_real", "eo_diff", 0, "max", "lower", 0.0,
             "Largest equalized odds difference (worst gap in true- or false-positive rate between subgroups), "
             "model trained on real data: the reference."),
            ("eo_diff_synthetic", "eo_diff", 1, "max", "lower", 0.0,
             "The same for the model trained on synthetic data; compare with eo_diff_real."),
            ("eo_diff_increase", "eo_diff", None, "max", "lower", 0.0,
             "Largest per-attribute increase of the equalized odds difference when training on synthetic instead of "
             "real data; at most 0 (say below 0.05) is good."),
        ]
        for name, m, k, reduce, better, ideal, passing in specs:
            value, ci = worst(m, k, reduce)
            section.metrics.append(Metric(f"fairness.{name}", value, passing, ci, better, ideal,
                                          details=details if name == "dp_diff_real" else {}))

    # -- 3. bias amplification ----------------------------------------------------------------
    def _amplification(self, section: AuditSection, inputs: AuditInputs, task: Task, attributes: list[_Attribute]) -> None:
        y_real = task.labels(inputs.train)
        y_syn = task.labels(inputs.synthetic)
        ok_real, ok_syn = y_real >= 0, y_syn >= 0
        if ok_syn.sum() == 0:
            section.notes.append("No synthetic row has a usable target: bias amplification is not computed.")
            return
        pos_real = (y_real[ok_real] == task.positive).astype(float)
        pos_syn = (y_syn[ok_syn] == task.positive).astype(float)
        method = f"bootstrap of real and synthetic rows (n={self.n_boot})"
        rows, per_attr, boots = [], {}, []
        for a in attributes:
            g_real, g_syn = a.train[ok_real], a.synthetic[ok_syn]
            groups = a.groups
            n_real = np.array([(g_real == g).sum() for g in groups])
            n_syn = np.array([(g_syn == g).sum() for g in groups])
            eligible = (n_real >= self.min_group_rows) & (n_syn >= self.min_group_rows)
            rate_real = np.array([pos_real[g_real == g].mean() if n else np.nan for g, n in zip(groups, n_real)])
            rate_syn = np.array([pos_syn[g_syn == g].mean() if n else np.nan for g, n in zip(groups, n_syn)])
            rows += [(a.name, g, int(n_real[i]), _json(rate_real[i]), int(n_syn[i]), _json(rate_syn[i]),
                      "yes" if eligible[i] else "no") for i, g in enumerate(groups)]
            if eligible.sum() < 2:
                section.notes.append(f"{a.name}: fewer than two groups have {self.min_group_rows} rows in both the real "
                                     "training and the synthetic data; no label-rate gap is computed.")
                per_attr[a.name] = (float("nan"), float("nan"))
                boots.append(np.full(self.n_boot, np.nan))
                continue
            if not eligible.all():
                small = ", ".join(str(g) for g, ok in zip(groups, eligible) if not ok)
                section.notes.append(f"{a.name}: group(s) {small} have fewer than {self.min_group_rows} real-training or "
                                     "synthetic rows; reported but left out of the label-rate gap.")
            gap_real = float(np.ptp(rate_real[eligible]))
            gap_syn = float(np.ptp(rate_syn[eligible]))
            per_attr[a.name] = (gap_real, gap_syn)
            kept = [g for g, ok in zip(groups, eligible) if ok]
            b_real = _bootstrap_rate_gap(_onehot(g_real, kept), pos_real, self.n_boot, inputs.seed)
            b_syn = _bootstrap_rate_gap(_onehot(g_syn, kept), pos_syn, self.n_boot, inputs.seed + 1)
            boots.append(b_syn - b_real)
        names = list(per_attr)
        diffs = np.array([per_attr[a][1] - per_attr[a][0] for a in names])
        stacked = np.stack(boots, axis=1)
        with np.errstate(all="ignore"), _quiet():
            value = float(np.nanmax(diffs)) if np.isfinite(diffs).any() else float("nan")
            boot_max = np.nanmax(stacked, axis=1)
        per_ci = {a: percentile_interval(boots[i], method) for i, a in enumerate(names)}
        section.metrics.append(Metric(
            "fairness.bias_amplification", value,
            "Largest increase over the attributes of the outcome-rate gap between subgroups (max minus min of "
            "P(outcome | subgroup)), synthetic minus real training data; 0 means no amplification, above 0 means the "
            "synthetic data ties the outcome more strongly to the attribute (say below 0.05).",
            percentile_interval(boot_max, method), "lower", 0.0,
            details={"per_attribute": {a: {"gap_real": _json(per_attr[a][0]), "gap_synthetic": _json(per_attr[a][1]),
                                           "ci": per_ci[a].to_dict()} for a in names}},
        ))
        section.tables.append(TableBlock(
            "Outcome rate by subgroup (bias amplification)",
            ("attribute", "group", "real n", "real outcome rate", "synthetic n", "synthetic outcome rate", "in gap"),
            tuple(rows), caption=f"Outcome = target is {task.classes[task.positive]}. Rates over the real training rows "
            "and the synthetic rows.",
        ))
        section.tables.append(TableBlock(
            "Outcome-rate gap per attribute",
            ("attribute", "real gap", "synthetic gap", "amplification [95% CI]"),
            tuple((a, _json(per_attr[a][0]), _json(per_attr[a][1]),
                   format_estimate(per_attr[a][1] - per_attr[a][0], per_ci[a])) for a in names),
        ))
        section.figures.append(Figure(
            "fairness-outcome-gap", "Outcome-rate gap between subgroups", "bars",
            {"y_label": "max - min outcome rate", "categories": names,
             "series": [{"label": "real train", "values": [_json(per_attr[a][0]) for a in names]},
                        {"label": "synthetic", "values": [_json(per_attr[a][1]) for a in names]}]},
            caption="A taller synthetic bar means the synthetic data ties the outcome more strongly to the attribute.",
        ))


def _cells(truth: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, ...]:
    """The distinct (truth, prediction, group) combinations of the rows and how many rows each is.

    Returns ``(truth, pred, groups, weights)``, one entry per combination (at most 4 per
    group). Every fairlearn measure used here is a ratio of (weighted) row counts, so on these
    cells with their counts as ``sample_weight`` it is the same number as on the rows --
    exactly, since the weighted sums are sums of whole numbers -- while fairlearn's per-row
    conversions (element by element) then cost O(groups) instead of O(rows).
    """
    codes, names = pd.factorize(np.asarray(groups, dtype=object), sort=True)
    key = (codes * 2 + (truth > 0)) * 2 + (pred > 0)
    cells, weights = np.unique(key, return_counts=True)
    return ((cells // 2 % 2).astype(float), (cells % 2).astype(float), np.asarray(names, dtype=object)[cells // 4],
            weights.astype(float))


def _weighted_count(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    """Rows a group stands for (fairlearn's ``count`` ignores weights)."""
    return float(np.sum(sample_weight))


def _group_rows(attribute: str, model: str, truth: np.ndarray, pred: np.ndarray, groups: np.ndarray,
                eligible: dict[str, bool]) -> list[tuple[Any, ...]]:
    """Per-group table rows (fairlearn MetricFrame): n, selection rate, TPR, FPR, and whether the group counts."""
    t, p, g, w = _cells(truth, pred, groups)
    metrics = {"n": _weighted_count, "selection rate": selection_rate, "TPR": true_positive_rate,
               "FPR": false_positive_rate}
    by_group = MetricFrame(
        metrics=metrics, y_true=t, y_pred=p, sensitive_features=g,
        sample_params={name: {"sample_weight": w} for name in metrics},
    ).by_group
    return [(attribute, g, model, int(row["n"]), float(row["selection rate"]), float(row["TPR"]), float(row["FPR"]),
             "yes" if eligible[g] else "no") for g, row in by_group.iterrows()]


# -- subgroups ------------------------------------------------------------------------------


@dataclass
class _Attribute:
    """Subgroup labels (object arrays of strings) of one attribute in each data set."""

    name: str
    train: np.ndarray
    synthetic: np.ndarray
    holdout: np.ndarray
    binned: bool = False
    groups: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return "".join(ch if ch.isalnum() else "-" for ch in self.name.lower())


def _attributes(schema: Schema, sensitive: list[str], train: pd.DataFrame, synthetic: pd.DataFrame,
                holdout: pd.DataFrame, k: int) -> list[_Attribute]:
    """One :class:`_Attribute` per sensitive column, plus their intersection when there are two or more.

    Groups held by fewer than ``k`` training rows are pooled into one "other (rare)" group
    (the k-rule of :mod:`synth.disclosure`), so no table, figure or note names them.
    """
    out = []
    for name in sensitive:
        spec = schema.column(name)
        edges = _quartile_edges(spec, train[name])
        labels = (_labels(f[name], spec, edges) for f in (train, synthetic, holdout))
        out.append(_pool_rare_groups(_Attribute(name, *labels, binned=edges is not None), k))
    if len(out) > 1:
        joined = [np.array(["|".join(parts) for parts in zip(*(getattr(a, part) for a in out))], dtype=object)
                  for part in ("train", "synthetic", "holdout")]
        out.append(_pool_rare_groups(_Attribute("|".join(sensitive), *joined), k))
    for a in out:
        a.groups = sorted(set(a.train) | set(a.synthetic) | set(a.holdout))
    return out


def _pool_rare_groups(a: _Attribute, k: int) -> _Attribute:
    """``a`` with every group of fewer than ``k`` training rows relabelled :data:`RARE_LABEL`."""
    counts = pd.Series(a.train).value_counts()
    labels = set(a.train) | set(a.synthetic) | set(a.holdout)
    rare = {g for g in labels if not nameable(int(counts.get(g, 0)), k)}
    if not rare:
        return a
    for part in ("train", "synthetic", "holdout"):
        values = getattr(a, part)
        setattr(a, part, np.array([RARE_LABEL if v in rare else v for v in values], dtype=object))
    return a


def _quartile_edges(spec: ColumnSpec, real: pd.Series) -> np.ndarray | None:
    """Inner cut points of the real training quartiles for a numeric column with many values."""
    if not spec.is_numeric:
        return None
    x = _numeric(real, spec)
    x = x[np.isfinite(x)]
    if np.unique(x).size <= FEW_VALUES:
        return None
    return np.unique(np.quantile(x, [0.25, 0.5, 0.75]))


def _numeric(series: pd.Series, spec: ColumnSpec) -> np.ndarray:
    if spec.kind.value == "datetime":
        stamps = pd.to_datetime(series, errors="coerce")
        return np.where(stamps.isna(), np.nan, stamps.astype("int64").astype(float))
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _labels(series: pd.Series, spec: ColumnSpec, edges: np.ndarray | None) -> np.ndarray:
    if edges is None:
        return np.array([MISSING_LEVEL if k is None else k for k in label_keys(series)], dtype=object)
    x = _numeric(series, spec)
    names = [f"< {edges[0]:g}"] + [f"[{lo:g}, {hi:g})" for lo, hi in zip(edges[:-1], edges[1:])] + [f">= {edges[-1]:g}"]
    bins = np.searchsorted(edges, x, side="right")
    return np.array([MISSING_LEVEL if not np.isfinite(v) else names[b] for v, b in zip(x, bins)], dtype=object)


def _onehot(labels: np.ndarray, groups: list[str]) -> np.ndarray:
    """``(n_rows, len(groups))`` indicator matrix; rows in no listed group are all zero."""
    return np.stack([labels == g for g in groups], axis=1).astype(float)


# -- recall lost per subgroup ------------------------------------------------------------------


@dataclass(frozen=True)
class _TprDrop:
    """Recall of the real- and synthetic-trained model in the worst group of one attribute,
    and ``(n_boot,)`` replicates of the largest drop over that attribute's groups."""

    attribute: str
    group: str
    real_tpr: float
    synthetic_tpr: float
    positives: int
    replicates: np.ndarray


def _tpr_drop(attribute: str, groups: list[str], onehot: np.ndarray, truth: np.ndarray,
              predictions: list[np.ndarray], n_boot: int, seed: int) -> _TprDrop | None:
    """The group of ``onehot`` (n, k) whose true-positive rate drops most from the real-trained
    to the synthetic-trained model; None when no group holds a positive case."""
    positives = onehot * truth[:, None]
    n_pos = positives.sum(axis=0)
    if not (n_pos > 0).any():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = [(positives * pred[:, None]).sum(axis=0) / n_pos for pred in predictions]
    drop = np.where(n_pos > 0, tpr[0] - tpr[1], -np.inf)
    worst = int(np.argmax(drop))
    reps = []
    for w in _weight_chunks(truth.size, n_boot, seed):
        real, syn = (_rates(w, positives, pred) for pred in predictions)
        with np.errstate(all="ignore"), _quiet():
            reps.append(np.nanmax(real - syn, axis=1))
    return _TprDrop(attribute, groups[worst], float(tpr[0][worst]), float(tpr[1][worst]), int(n_pos[worst]),
                    np.concatenate(reps))


def _tpr_drop_metric(drops: list[_TprDrop], n_boot: int) -> Metric:
    worst = max(drops, key=lambda d: d.real_tpr - d.synthetic_tpr)
    with np.errstate(all="ignore"), _quiet():
        boot = np.nanmax(np.stack([d.replicates for d in drops], axis=1), axis=1)
    return Metric(
        "fairness.subgroup_tpr_drop_max", worst.real_tpr - worst.synthetic_tpr,
        "Largest drop, over sensitive subgroups, in the share of positive holdout cases the model catches "
        "(true-positive rate) when it is trained on synthetic instead of real data; 0 means no group loses recall "
        "(say below 0.05).",
        percentile_interval(boot, f"paired bootstrap over holdout rows (n={n_boot})"), "lower", 0.0,
        details={"attribute": worst.attribute, "group": worst.group, "real_tpr": worst.real_tpr,
                 "synthetic_tpr": worst.synthetic_tpr, "positives_in_group": worst.positives,
                 "per_attribute": {d.attribute: _json(d.real_tpr - d.synthetic_tpr) for d in drops}},
        reference=0.0,
    )


# -- vectorised bootstrap of group rates --------------------------------------------------------


def _weight_chunks(n_items: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap resamples as ``(chunk, n_items)`` multiplicity matrices (same resamples as
    :func:`~synth.audits.utility.downstream_models.resamples` with the same seed)."""
    rows = []
    for idx in resamples(n_items, n_boot, seed):
        rows.append(np.bincount(idx, minlength=n_items).astype(float))
        if len(rows) == _CHUNK:
            yield np.stack(rows)
            rows = []
    if rows:
        yield np.stack(rows)


def _rates(weights: np.ndarray, members: np.ndarray, hits: np.ndarray) -> np.ndarray:
    """Weighted share of ``hits`` (0/1, ``(n,)``) within each group: ``(b, k)``, NaN for empty groups."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ (members * hits[:, None])) / (weights @ members)


def _spread(rates: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"), _quiet():
        spread = np.nanmax(rates, axis=1) - np.nanmin(rates, axis=1)
    spread[np.isfinite(rates).sum(axis=1) < 2] = np.nan
    return spread


def _bootstrap_parity(onehot: np.ndarray, truth: np.ndarray, predictions: list[np.ndarray], n_boot: int,
                      seed: int) -> dict[str, np.ndarray]:
    """Bootstrap replicates ``(n_boot, 2)`` (real-trained, synthetic-trained) of the demographic
    parity difference and ratio and the equalized odds difference over the groups of ``onehot``.

    Same definitions as fairlearn (between groups, worst case), on weighted resamples.
    """
    out = {m: [] for m in _FAIRNESS_MEASURES}
    positives, negatives = onehot * truth[:, None], onehot * (1 - truth)[:, None]
    for w in _weight_chunks(truth.size, n_boot, seed):
        per_model = {m: [] for m in _FAIRNESS_MEASURES}
        for pred in predictions:
            sel = _rates(w, onehot, pred)
            with np.errstate(all="ignore"), _quiet():
                ratio = np.nanmin(sel, axis=1) / np.nanmax(sel, axis=1)
            tpr_gap = _spread(_rates(w, positives, pred))
            fpr_gap = _spread(_rates(w, negatives, pred))
            per_model["dp_diff"].append(_spread(sel))
            per_model["dp_ratio"].append(ratio)
            per_model["eo_diff"].append(np.fmax(tpr_gap, fpr_gap))
        for m in _FAIRNESS_MEASURES:
            out[m].append(np.stack(per_model[m], axis=1))
    return {m: np.concatenate(v) for m, v in out.items()}


def _bootstrap_rate_gap(onehot: np.ndarray, positive: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot,)`` replicates of max - min of the positive rate over the groups of ``onehot``."""
    return np.concatenate([_spread(_rates(w, onehot, positive)) for w in _weight_chunks(positive.size, n_boot, seed)])


def _summary(section: AuditSection) -> str:
    parts = [f"representation TVD {section.metric('fairness.representation_tvd_max').value:.3f}"]
    for name, label in (("fairness.dp_diff_increase", "parity-gap increase"),
                        ("fairness.bias_amplification", "bias amplification")):
        try:
            parts.append(f"{label} {section.metric(name).value:.3f}")
        except KeyError:
            pass
    return "Worst over sensitive attributes: " + ", ".join(parts) + "."


def _json(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value
