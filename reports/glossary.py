"""Plain-language names and explanations of metrics, for readers who do not know the ids.

Every metric id in the report gets a short label beside it (``fidelity.detection_auc`` ->
"detection AUC"), a glossary entry, and, when it is far from its real-vs-real reference, a
finding written as a sentence. Entries are looked up by exact id, then by the id's last
part (``membership.<attack>.auc``: any attack's AUC), and fall back to a label made from
the id and the metric's own ``passing`` sentence, so metrics this table does not know (a
plugin's, or a family rebuilt later) still read well.

``bounds`` is the range the metric can take; findings measure how far a value moved from
its reference as a share of the way to the end of that range (see
:mod:`synth.reports.findings`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

UNIT = (0.0, 1.0)


@dataclass(frozen=True)
class Entry:
    """One metric's plain-language description.

    ``finding`` is a sentence template filled with ``{value}``, ``{reference}`` (numbers as
    the report writes them), ``{value_pct}``, ``{reference_pct}`` (as percentages) and, where
    an entry says so, fields of the metric's ``details``.
    """

    label: str
    explanation: str
    finding: str | None = None
    bounds: tuple[float, float] | None = UNIT


_EXACT: dict[str, Entry] = {
    # -- fidelity ------------------------------------------------------------------------
    "fidelity.ks_mean": Entry(
        "numeric columns: mean distribution distance",
        "Mean Kolmogorov-Smirnov distance between each numeric column's real and synthetic distribution "
        "(0 = identical, 1 = no overlap).",
        "The numeric columns' distributions differ from the real ones by a mean distance (KS) of {value}; "
        "between two real samples it is {reference}.",
    ),
    "fidelity.tvd_mean": Entry(
        "categorical columns: mean share difference",
        "Mean total variation distance between each categorical column's real and synthetic category shares "
        "(0 = identical shares, 1 = no category in common).",
        "The categorical columns' category shares differ from the real ones by a mean distance (TVD) of {value}; "
        "between two real samples it is {reference}.",
    ),
    "fidelity.marginal_score": Entry(
        "column-by-column similarity",
        "One minus the mean per-column distance (KS or TVD): 1 means every column's distribution matches the real one.",
        "Column by column the synthetic data scores {value} for similarity to the real data (1 = identical); a second "
        "real sample scores {reference}.",
    ),
    "fidelity.missing_rate_diff_max": Entry(
        "largest difference in missing values",
        "The largest difference, over columns, between the real and the synthetic share of missing values.",
        "In the worst column the share of missing values differs by {value_pct} from the real data; between two real "
        "samples by {reference_pct}.",
    ),
    "fidelity.pairwise_corr_diff_mean": Entry(
        "mean change in pairwise association",
        "Mean absolute difference between the real and the synthetic association (correlation, correlation ratio or "
        "Cramér's V) of every pair of columns.",
        "The association between pairs of columns changes by {value} on average (on a 0-1 scale); between two real "
        "samples by {reference}.",
    ),
    "fidelity.contingency_similarity_mean": Entry(
        "joint shares of category pairs",
        "One minus the mean total variation distance between the real and synthetic joint distribution of each pair "
        "of categorical columns (1 = identical).",
        "Pairs of categorical columns score {value} for similarity of their joint shares (1 = identical); a second "
        "real sample scores {reference}.",
    ),
    "fidelity.association_diff_max": Entry(
        "largest change in a pairwise association",
        "The largest absolute difference, over all pairs of columns, between the real and the synthetic association "
        "(correlation, correlation ratio or Cramér's V).",
        "The association between {column_a} and {column_b} is {real_association} in the real data and "
        "{synthetic_association} in the synthetic data; between two real samples no pair changes by more than "
        "{reference}.",
    ),
    "fidelity.detection_auc": Entry(
        "detection AUC: can a classifier tell synthetic from real?",
        "A classifier is trained to tell real rows from synthetic ones; its AUC is the chance that it scores a random "
        "synthetic row above a random real one. 0.5 is chance (indistinguishable), 1 means every synthetic row is "
        "recognisable.",
        "Shown one real and one synthetic row, a classifier picks out the synthetic one {value_pct} of the time; "
        "between two real samples it manages {reference_pct} (chance is 50\u00a0%).",
    ),
    "fidelity.precision": Entry(
        "precision: synthetic rows where real data lies",
        "Share of synthetic rows that fall inside the real data's neighbourhoods (k nearest neighbours).",
        "Only {value_pct} of the synthetic rows fall where real data lies; for a second real sample "
        "{reference_pct} do.",
    ),
    "fidelity.recall": Entry(
        "recall: real data covered by synthetic rows",
        "Share of real rows that fall inside the synthetic data's neighbourhoods.",
        "{value_pct} of the real rows lie where synthetic data lies; for a second real sample {reference_pct} do.",
    ),
    "fidelity.density": Entry(
        "density of synthetic rows near real ones",
        "How many real neighbourhoods contain each synthetic row, on average, relative to real data (1 = as dense as "
        "real data).",
        "Synthetic rows sit in real neighbourhoods with a density of {value}; a second real sample has {reference}.",
        (0.0, 2.0),
    ),
    "fidelity.coverage": Entry(
        "coverage of the real data",
        "Share of real rows whose neighbourhood contains at least one synthetic row.",
        "Synthetic rows cover {value_pct} of the real rows' neighbourhoods; a second real sample covers "
        "{reference_pct}.",
    ),
    "fidelity.subgroup_worst_marginal_score": Entry(
        "worst subgroup's column similarity",
        "The column-by-column similarity computed within each sensitive subgroup; this is the worst subgroup's.",
        "In the worst-matched sensitive subgroup the columns score {value} for similarity to the real data; the "
        "holdout's rows of that subgroup score {reference}.",
    ),
    # -- utility -------------------------------------------------------------------------
    "utility.auroc_trtr": Entry(
        "AUROC of a model trained on real data",
        "How well a model trained on the real training data predicts the target on real holdout patients (AUROC; 0.5 "
        "is chance, 1 perfect). The reference for the synthetic-trained model.",
        None, (0.5, 1.0),
    ),
    "utility.auroc_tstr": Entry(
        "AUROC of a model trained on synthetic data",
        "How well the same model, trained on synthetic data instead, predicts the target on real holdout patients.",
        None, (0.5, 1.0),
    ),
    "utility.auroc_gap": Entry(
        "AUROC lost by training on synthetic data",
        "Real-trained minus synthetic-trained AUROC on the real holdout (0 = nothing lost).",
        "A model trained on synthetic data reaches AUROC {tstr} on real patients; trained on real data it reaches "
        "{trtr} (0.5 is chance).",
        (-0.5, 0.5),
    ),
    "utility.auprc_gap": Entry(
        "precision-recall area lost by training on synthetic data",
        "Real-trained minus synthetic-trained area under the precision-recall curve on the real holdout (0 = nothing "
        "lost); it weighs the rarer, positive class more than AUROC does.",
        "Trained on synthetic data, a model's area under the precision-recall curve on real patients is {tstr}; "
        "trained on real data it is {trtr}.",
        (-1.0, 1.0),
    ),
    "utility.r2_trtr": Entry("R² of a model trained on real data",
                             "Share of the target's variance a model trained on real data explains on the real "
                             "holdout.",
                             None, (0.0, 1.0)),
    "utility.r2_tstr": Entry(
        "R² of a model trained on synthetic data",
        "Share of the target's variance the same model, trained on synthetic data, explains on the real holdout.",
        None,
    ),
    "utility.r2_gap": Entry("R² lost by training on synthetic data",
                            "Real-trained minus synthetic-trained R² on the real holdout (0 = nothing lost).",
                            "A model trained on synthetic data explains {tstr_pct} of the target's variance on "
                            "real patients; trained on real data it explains {trtr_pct}.", (-1.0, 1.0)),
    "utility.mae_ratio": Entry(
        "prediction error, synthetic- over real-trained",
        "Mean absolute error on the real holdout of the synthetic-trained model divided by that of the real-trained "
        "one (1 = equal, above 1 = worse).",
        "A model trained on synthetic data makes errors {value} times as large as one trained on real data.",
        None,
    ),
    "utility.feature_importance_rank_corr": Entry(
        "agreement on which features matter",
        "Rank correlation of the features' importances between the real-trained and synthetic-trained model (1 = "
        "same order).",
        None, (-1.0, 1.0),
    ),
    # -- fairness ------------------------------------------------------------------------
    "fairness.representation_tvd_max": Entry(
        "subgroup shares kept",
        "Largest total variation distance between the real and synthetic shares of the sensitive subgroups (0 = every "
        "subgroup keeps its share).",
        "Sensitive subgroups' shares differ from the real ones by up to {value} (total variation distance).",
    ),
    "fairness.subgroup_tpr_drop_max": Entry(
        "recall lost in the worst subgroup",
        "The largest drop, over sensitive subgroups, in the share of positive cases a model catches (true-positive "
        "rate, recall) when it is trained on synthetic instead of real data.",
        "In the worst subgroup a model trained on synthetic data catches {synthetic_tpr_pct} of the positive cases; "
        "trained on real data it catches {real_tpr_pct}.",
        (-1.0, 1.0),
    ),
    "fairness.dp_diff_real": Entry("parity gap of a real-trained model",
                                   "Largest gap in positive-prediction rates between subgroups, model trained on real "
                                   "data: the reference."),
    "fairness.dp_diff_synthetic": Entry("parity gap of a synthetic-trained model",
                                        "Largest gap in positive-prediction rates between subgroups, model trained on "
                                        "synthetic data."),
    "fairness.dp_diff_increase": Entry(
        "parity gap added by synthetic data",
        "How much the gap in positive-prediction rates between subgroups grows when the model is trained on synthetic "
        "instead of real data (0 or less = no added disparity).",
        "Training on synthetic data widens the gap in positive-prediction rates between subgroups by {value}.",
        (-1.0, 1.0),
    ),
    "fairness.dp_ratio_synthetic": Entry("parity ratio of a synthetic-trained model",
                                         "Lowest over highest subgroup positive-prediction rate (1 = parity; the "
                                         "four-fifths rule asks for 0.8)."),
    "fairness.eo_diff_real": Entry("equalized-odds gap of a real-trained model",
                                   "Worst gap in true- or false-positive rate between subgroups, model trained on real "
                                   "data: the reference."),
    "fairness.eo_diff_synthetic": Entry("equalized-odds gap of a synthetic-trained model",
                                        "Worst gap in true- or false-positive rate between subgroups, model trained on "
                                        "synthetic data."),
    "fairness.eo_diff_increase": Entry(
        "equalized-odds gap added by synthetic data",
        "How much the worst gap in true- or false-positive rate between subgroups grows when training on synthetic "
        "instead of real data (0 or less = no added disparity).",
        "Training on synthetic data widens the gap in error rates between subgroups by {value}.",
        (-1.0, 1.0),
    ),
    "fairness.bias_amplification": Entry(
        "outcome gap amplified",
        "How much more the outcome rate differs between subgroups in the synthetic data than in the real data "
        "(0 or less = not amplified).",
        "The gap in outcome rates between subgroups is {value} wider in the synthetic data than in the real data.",
        (-1.0, 1.0),
    ),
    # -- privacy -------------------------------------------------------------------------
    "privacy.exact_copy_rate": Entry("exact copies of training rows",
                                     "Share of synthetic rows identical to a training row."),
    "privacy.exact_copy_rate_holdout": Entry("exact matches of holdout rows",
                                             "Share of synthetic rows identical to a holdout row (records the "
                                             "generator never saw): what chance alone produces."),
    "privacy.exact_copy_excess": Entry("copies beyond chance",
                                       "How much more often synthetic rows copy training rows than an independent "
                                       "sample of the population would (0 = no more than chance)."),
    "privacy.exposure_excess": Entry("persons singled out beyond chance",
                                     "Share of training persons that some synthetic row points at (ten times closer "
                                     "to their record than any other real person's record) minus the same share of "
                                     "holdout persons, whom the generator never saw (0 = no more than chance).",
                                     None, (-1.0, 1.0)),
    "privacy.dcr_share": Entry("closer to training than to fresh data",
                               "Share of synthetic rows whose nearest real record is a training row rather than a "
                               "holdout row, corrected for the sizes (0.5 = no preference for training records)."),
    "privacy.dcr_baseline_ratio": Entry("distance to closest record vs a fresh sample",
                                        "Median distance from synthetic rows to their closest training row over the "
                                        "same for holdout rows (1 = as far as fresh real records; below 1 = closer).",
                                        None, None),
    "privacy.nndr_ratio": Entry("nearest-neighbour distance ratio vs a fresh sample",
                                "How distinctly each synthetic row's nearest training row stands out from the "
                                "second nearest, relative to holdout rows (1 = like fresh real records).", None, None),
    "privacy.nnaa": Entry("nearest-neighbour adversarial accuracy",
                          "How well a nearest-neighbour rule tells synthetic from real rows (0.5 = not at all)."),
    "privacy.nnaa_privacy_loss": Entry("nearest-neighbour privacy loss",
                                       "Adversarial accuracy against the holdout minus against the training data "
                                       "(0 = training records are no easier to pick out).", None, (-1.0, 1.0)),
    "privacy.singling_out_risk": Entry("singling-out risk (anonymeter)",
                                       "Excess success of an attacker who uses the synthetic data to single out one "
                                       "training record, over the same attack on records the generator never saw."),
    "privacy.linkability_risk": Entry("linkability risk (anonymeter)",
                                      "Excess success of an attacker linking two halves of a training record through "
                                      "the synthetic data, over the same attack on unseen records."),
    "privacy.inference_risk": Entry("attribute inference risk (anonymeter)",
                                    "Excess success of an attacker guessing a secret column of a training record from "
                                    "the synthetic data, over the same attack on unseen records."),
    # -- images (audits/images) ----------------------------------------------------------
    "fidelity.fid": Entry(
        "image distribution distance (FID)",
        "Fréchet distance between the embeddings of the generated and the training images (bias-corrected; the "
        "encoder sets the scale, so read it beside the holdout floor: what unseen real images reach).",
        "The generated images are at an FID of {value} from the training images; unseen real images are at {reference}.",
        None,
    ),
    "fidelity.kid": Entry(
        "image distribution distance (KID)",
        "Kernel inception distance (unbiased polynomial-kernel MMD) between the embeddings of the generated and the "
        "training images; 0 means indistinguishable.",
        "The generated images are at a KID of {value} from the training images; unseen real images are at {reference}.",
        None,
    ),
    "fidelity.intra_prompt_ms_ssim": Entry(
        "similarity of images from one prompt",
        "Mean MS-SSIM between pairs of images generated from the same prompt (1 = identical images, so no variety); "
        "the reference is real radiographs that share their findings.",
        "Images generated from one prompt have a mean MS-SSIM of {value}; real images with the same findings {reference} "
        "(nearer 1 means less variety).",
    ),
    "fidelity.label_consistency_auroc": Entry(
        "prompted findings recognised in generated images",
        "Mean AUROC, over findings, of a classifier trained on the real training images at telling generated images "
        "prompted with a finding from those prompted without it (0.5 = the finding is not rendered); the reference is "
        "the same classifier on real holdout images.",
        "A classifier recognises the prompted findings in generated images with a mean AUROC of {value}; on real "
        "holdout images {reference}.",
        (0.5, 1.0),
    ),
    "privacy.image_copy_rate": Entry(
        "generated images that copy a training image",
        "Share of generated images whose calibrated nearest-neighbour distance (Carlini et al., 2023) to a training "
        "image is below the copy threshold; the holdout images' share is the chance level."),
    "privacy.image_copy_excess": Entry(
        "image copies beyond chance",
        "Share of generated images flagged as copies minus the share of unseen real (holdout) images flagged by the "
        "same search (0 = no more copies than chance).", None, (-1.0, 1.0)),
    "privacy.prompt_memorization_rate": Entry(
        "training prompts the model memorized",
        "Share of distinct training prompts whose text-conditional noise-prediction norm (Wen et al., 2024) exceeds "
        "the level of unseen prompts."),
    "privacy.prompt_memorization_excess": Entry(
        "memorized prompts beyond chance",
        "Share of training prompts flagged minus the share of unseen prompts flagged by the same threshold "
        "(0 = no more than chance).", None, (-1.0, 1.0)),
    "membership.diffusion.auc": Entry(
        "membership attack AUC on the diffusion model (stronger attack)",
        "AUC of the stronger white-box attack (denoising loss or PIA) that tells training images from unseen ones "
        "(0.5 = coin flip)."),
    "membership.auc": Entry("membership attack AUC (strongest attack)",
                            "AUC of the strongest attack that guesses whether a person's record was used for training "
                            "(0.5 = coin flip)."),
    "membership.epsilon_lower_bound": Entry("empirical privacy loss (largest over attacks)",
                                            "The largest differential-privacy epsilon lower bound over the attacks, "
                                            "corrected for their number: any formal guarantee must be at least this "
                                            "(0 = no attack shows a leak).", None, None),
}

_EXACT["privacy.image_copy_rate_embedding"] = Entry(
    "generated images that copy a training image (embedding space)",
    _EXACT["privacy.image_copy_rate"].explanation.replace("nearest-neighbour", "nearest-neighbour (embedding-space)"))
_EXACT["privacy.image_copy_excess_embedding"] = Entry(
    "image copies beyond chance (embedding space)", _EXACT["privacy.image_copy_excess"].explanation, None, (-1.0, 1.0))

# By the start of the id, for families with one metric per item: ``fidelity.label_auroc.<finding>``.
_PREFIX: dict[str, Entry] = {
    "fidelity.label_auroc.": Entry(
        "prompted {item} recognised in generated images",
        "AUROC of a classifier trained on the real training images at telling generated images prompted with this "
        "finding from those prompted without it (0.5 = not rendered); the reference is the same classifier on real "
        "holdout images.",
        "Generated images prompted with {item} show it with an AUROC of {value}; real holdout images {reference}.",
        (0.5, 1.0),
    ),
}

# By the last part of the id: ``membership.<attack>.<measure>`` and the like.
_SUFFIX: dict[str, Entry] = {
    "auc": Entry("attack AUC", "Chance that the attack scores a training record above a record the generator never "
                 "saw (0.5 = coin flip)."),
    "tpr_at_1pct_fpr": Entry("attack hit rate at 1\u00a0% false alarms",
                             "Share of training records the attack flags when it may wrongly flag 1\u00a0% of unseen "
                             "records (0.01 = no better than chance)."),
    "tpr_at_0.1pct_fpr": Entry("attack hit rate at 0.1\u00a0% false alarms",
                               "Share of training records the attack flags when it may wrongly flag 0.1\u00a0% of "
                               "unseen "
                               "records (0.001 = no better than chance)."),
    "advantage": Entry("attack advantage", "Largest difference between the attack's hit rate on training records and "
                       "its false-alarm rate on unseen records (0 = no advantage)."),
    "epsilon_lower_bound": Entry("empirical privacy loss (epsilon lower bound)",
                                 "The smallest differential-privacy epsilon consistent with the attack's success: any "
                                 "formal guarantee must be at least this (0 = the attack shows no leak).", None, None),
}

_WORDS = {"auc": "AUC", "tpr": "TPR", "fpr": "FPR", "dcr": "DCR", "nndr": "NNDR", "ks": "KS", "tvd": "TVD",
          "nnaa": "NNAA", "dp": "DP", "eo": "EO", "mae": "MAE", "r2": "R²", "auroc": "AUROC", "auprc": "AUPRC",
          "ci": "CI", "pct": "%", "trtr": "TRTR", "tstr": "TSTR"}


def entry(name: str, metric: Mapping[str, Any] | None = None) -> Entry:
    """The glossary entry of metric ``name``; ``metric`` (its result.json dict) fills the fallback.

    A metric's own ``label`` (set by its audit) wins over this table's label.
    """
    found = _EXACT.get(name)
    for prefix, base in _PREFIX.items():
        if found is None and name.startswith(prefix) and len(name) > len(prefix):
            item = name[len(prefix):].replace("_", " ")
            found = Entry(base.label.format(item=item), base.explanation,
                          base.finding.replace("{item}", item) if base.finding else None, base.bounds)
    if found is None:
        family, _, rest = name.partition(".")
        last = _last_part(rest)
        base = _SUFFIX.get(last)
        if base is not None and last != rest:
            prefix = rest[: -len(last)].strip(".").replace("_", " ").replace(".", " · ")
            label = f"{prefix}: {base.label}" if prefix else base.label
            found = Entry(label, base.explanation, base.finding, base.bounds)
        else:
            passing = str(metric.get("passing") or "") if metric else ""
            found = Entry(humanize(name), passing or "No description was recorded for this metric.", None, None)
    own = str(metric.get("label") or "") if metric else ""
    if own:
        found = Entry(own, found.explanation, found.finding, found.bounds)
    return found


def _last_part(rest: str) -> str:
    """The last dotted part of ``rest``, keeping dots inside numbers (``shadow.tpr_at_0.1pct_fpr``)."""
    parts = re.split(r"(?<!\d)\.|\.(?!\d)", rest)
    return parts[-1]


def humanize(name: str) -> str:
    """A readable label made from a metric id: ``membership.shadow.tpr_at_1pct_fpr`` -> ``shadow · TPR at 1 % FPR``."""
    _, _, rest = name.partition(".")
    rest = rest or name
    parts = re.split(r"(?<!\d)\.|\.(?!\d)", rest)
    words = []
    for part in parts:
        tokens = []
        for token in part.split("_"):
            m = re.fullmatch(r"(\d+(?:\.\d+)?)pct", token)
            tokens.append(f"{m.group(1)} %" if m else _WORDS.get(token.lower(), token))
        words.append(" ".join(t for t in tokens if t))
    text = " · ".join(w for w in words if w)
    return text[:1].upper() + text[1:] if text else name
