"""Label consistency: does a generated image show the findings its prompt asked for?

The audit trains a findings classifier (:class:`synth.vision.FindingsClassifier`) on the
real training images and their CheXpert labels, then scores the generated images. Per
finding, the AUROC of the classifier's score against the finding the generated image was
prompted with (its label in the synthetic table: 1 positive, else negative; uncertain -1
left out) says how well the image carries the finding: 0.5 = the finding is not rendered.

Beside each value stands the classifier's AUROC on the holdout images (real, unseen): the
most a generated set can reach with this classifier. Intervals: stratified bootstrap of
the AUROC (:func:`synth.stats.roc.auc_interval`). The headline is the mean over the
findings with at least ``min_positives`` prompted positives and negatives, with a
bootstrap interval that resamples generated images.
"""

from __future__ import annotations

import numpy as np

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Metric, TableBlock
from synth.audits.images.features import trained_classifier
from synth.audits.images.image_sets import IMAGE_ONLY, finding_columns, finding_labels, load_set, training_and_synthetic
from synth.audits.param_checks import check_int
from synth.data.images.labels import LABEL_COLUMNS
from synth.stats import roc
from synth.stats.intervals import percentile_interval


def _auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    keep = labels != -1
    y = (labels[keep] == 1).astype(int)
    return roc.auc(scores[keep], y) if 0 < y.sum() < y.size else float("nan")


class LabelConsistencyAudit(Audit):
    """Per-finding AUROC of a classifier trained on real images, applied to generated images.

    Args:
        size: side in pixels (default: the synthetic images' size).
        max_images: images per set, at most.
        epochs: classifier training epochs.
        min_positives: prompted positives (and negatives) a finding needs to be scored.
        n_boot: bootstrap replicates.
    """

    name = "image_label_consistency"
    family = "fidelity"
    title = "Label consistency of generated images"
    provides = ("fidelity.label_consistency_auroc",) + tuple(f"fidelity.label_auroc.{c}" for c in LABEL_COLUMNS
                                                              if c != "no_finding")
    data_kinds = IMAGE_ONLY

    def __init__(self, *, size: int | None = None, max_images: int = 2000, epochs: int = 12, min_positives: int = 5,
                 n_boot: int = 200) -> None:
        super().__init__(size=None if size is None else check_int(self.name, "size", size, 16, 64, maximum=1024),
                         max_images=check_int(self.name, "max_images", max_images, 10),
                         epochs=check_int(self.name, "epochs", epochs, 1),
                         min_positives=check_int(self.name, "min_positives", min_positives, 1),
                         n_boot=check_int(self.name, "n_boot", n_boot, 20))

    def run(self, inputs: AuditInputs) -> AuditSection:
        p = self.params
        findings = [f for f in finding_columns(inputs.train) if f in inputs.synthetic.columns]
        if not findings:
            return self.skip("the training and synthetic tables share no CheXpert finding columns to check.")
        column, size, train, synthetic = training_and_synthetic(inputs, p["size"], max_train=p["max_images"],
                                                                max_synthetic=p["max_images"])
        classifier = trained_classifier(train, finding_columns(inputs.train), seed=inputs.seed, epochs=p["epochs"])
        order = [finding_columns(inputs.train).index(f) for f in findings]
        syn_scores = classifier.predict_proba(synthetic.images)[:, order]
        syn_labels = finding_labels(synthetic.rows, findings)
        hold_auc = {}
        if len(inputs.holdout) >= 10:
            holdout = load_set(inputs.holdout, column, size, max_images=p["max_images"], seed=inputs.seed + 2,
                               n_jobs=inputs.n_jobs)
            hold_scores = classifier.predict_proba(holdout.images)[:, order]
            hold_labels = finding_labels(holdout.rows, findings)
            hold_auc = {f: _auroc(hold_scores[:, j], hold_labels[:, j]) for j, f in enumerate(findings)}
        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        scored, rows = [], []
        for j, f in enumerate(findings):
            y = syn_labels[:, j]
            pos, neg = int((y == 1).sum()), int((y == 0).sum())
            if min(pos, neg) < p["min_positives"]:
                rows.append((f, pos, "not scored (too few prompted positives or negatives)", _num(hold_auc.get(f))))
                continue
            keep = y != -1
            value = _auroc(syn_scores[:, j], y)
            ci = roc.auc_interval(syn_scores[keep, j], (y[keep] == 1).astype(int))  # DeLong
            scored.append(j)
            section.metrics.append(Metric(
                name=f"fidelity.label_auroc.{f}", value=value, ci=ci, better="higher", ideal=hold_auc.get(f), reference=hold_auc.get(f),
                details={"prompted_positive": pos, "prompted_negative": neg, "holdout_auroc": hold_auc.get(f)},
                passing=f"Near the holdout AUROC: generated images prompted with {f.replace('_', ' ')} show it as "
                        "clearly as real images do (0.5: not rendered)."))
            rows.append((f, pos, f"{value:.3f} [{ci.low:.3f}, {ci.high:.3f}]", _num(hold_auc.get(f))))
        if not scored:
            section.skipped = (f"no finding has at least {p['min_positives']} prompted positives and negatives among "
                               f"{len(synthetic)} generated images.")
            section.tables.append(_table(rows))
            return section
        rng = np.random.default_rng(inputs.seed)
        mean = float(np.mean([_auroc(syn_scores[:, j], syn_labels[:, j]) for j in scored]))
        reps = []
        for _ in range(p["n_boot"]):
            idx = rng.integers(0, len(syn_scores), len(syn_scores))
            reps.append(np.nanmean([_auroc(syn_scores[idx, j], syn_labels[idx, j]) for j in scored]))
        ceiling = [hold_auc.get(findings[j]) for j in scored]
        ceiling_mean = float(np.nanmean(ceiling)) if ceiling and all(c is not None for c in ceiling) else None
        section.metrics.insert(0, Metric(
            name="fidelity.label_consistency_auroc", value=mean,
            ci=percentile_interval(np.array(reps), f"bootstrap over generated images (n={p['n_boot']})"),
            better="higher", ideal=ceiling_mean, reference=ceiling_mean,
            details={"findings": [findings[j] for j in scored], "holdout_auroc_mean": ceiling_mean,
                     "n_synthetic": len(synthetic), "n_train": len(train)},
            passing="Near the classifier's holdout AUROC: generated images carry their prompted findings."))
        section.summary = (f"Mean AUROC {mean:.3f} over {len(scored)} findings for {len(synthetic)} generated images "
                           + (f"(classifier on real holdout images: {ceiling_mean:.3f})." if ceiling_mean else "."))
        section.tables.append(_table(rows))
        section.figures.append(Figure(
            id="label_consistency", title="AUROC per finding", kind="bars",
            data={"y_label": "AUROC", "categories": [findings[j] for j in scored],
                  "series": [{"label": "generated (prompted finding)",
                              "values": [section.metric(f"fidelity.label_auroc.{findings[j]}").value for j in scored]},
                             {"label": "real holdout", "values": [hold_auc.get(findings[j]) or 0.0 for j in scored]}]},
            caption="0.5 = the classifier cannot see the prompted finding."))
        section.notes.append(f"Classifier: {classifier.epochs} epochs on {len(train)} training images at {size} px "
                             f"({len(finding_columns(inputs.train))} findings, uncertain labels ignored).")
        return section


def _num(value: float | None) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _table(rows: list) -> TableBlock:
    return TableBlock(title="Per-finding AUROC", columns=("finding", "prompted positives", "generated AUROC [95% CI]",
                                                          "holdout AUROC"),
                      rows=tuple(rows), caption="Generated: against the prompted label; holdout: real images against "
                                                "their labels (the classifier's ceiling).")
