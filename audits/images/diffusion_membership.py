"""Membership inference against the diffusion model itself (white box): was this image in the training set?

Members are training images, non-members an equal number of holdout images (same
population, never shown to the model), each conditioned on its own prompt and view as in
training. Two attacks, each a score per image (higher = "member"):

- **loss** (Matsumoto et al. 2023; Carlini et al. 2023): minus the denoising error
  ``|| eps - eps_theta(sqrt(a_t) x0 + sqrt(1 - a_t) eps, t, c) ||^2`` per pixel, averaged over
  the chosen timesteps and ``n_noise`` noise draws (the same draws for every image). A
  model fits its training images better, most visibly at small t.
- **PIA** (Kong et al., ICLR 2024, proximal initialization): the model's own noise estimate
  at t = 0, ``eps_0 = eps_theta(x0, 0, c)``, is used as the noise to reach ``x_t``, and the
  score is minus ``|| eps_0 - eps_theta(x_t, t, c) ||_p`` (mean of the p-th powers, p = 4 as
  in the paper): on a training image the model's trajectory is self-consistent. Two model
  calls per image, no randomness.

:mod:`synth.stats.roc` turns each attack's scores into AUC (DeLong
interval), TPR at 1 % and 0.1 % FPR (interval on the true-positive count) and the
empirical epsilon lower bound (one-sided, simultaneous over thresholds); the headline
``membership.diffusion.auc`` is the stronger attack's AUC.

Several images of one patient (a group column such as ``subject_id``: the inputs'
``train_groups`` / ``holdout_groups``) are not independent draws: they look alike and
score alike. The AUC interval then counts a patient as one unit (Obuchowski's clustered
DeLong estimate, :func:`synth.stats.roc.auc_interval` with ``clusters``), so a patient with
many studies does not shrink it. The TPR-at-FPR intervals and the epsilon bound still
treat images as independent (the details say so).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Interval, Metric, TableBlock, ThreatModel
from synth.audits.images import denoiser
from synth.audits.images.image_sets import IMAGE_ONLY, load_set
from synth.audits.param_checks import check_int
from synth.errors import ConfigError
from synth.generators.base import DiffusionInternals
from synth.neighbors.persons import persons
from synth.stats import roc

LEVEL = 0.95
ATTACKS = ("loss", "pia")
_LOW_FPRS = ((0.01, "tpr_at_1pct_fpr", "1 %"), (0.001, "tpr_at_0.1pct_fpr", "0.1 %"))
THREAT_MODELS = {
    "loss": ThreatModel(
        attack="loss threshold (white box)",
        attacker_has=("the model's weights", "the candidate image with its report text"),
        description="An attacker who holds the released model scores how well it denoises a patient's radiograph; "
                    "unusually good fits reveal that the radiograph was in the training set."),
    "pia": ThreatModel(
        attack="proximal initialization (PIA, white box)",
        attacker_has=("the model's weights", "the candidate image with its report text"),
        description="An attacker who holds the released model checks whether the model's own noise estimate at t = 0 "
                    "leads to a self-consistent prediction at t; training images are self-consistent."),
}


@dataclass(frozen=True)
class AttackScores:
    name: str
    scores: np.ndarray  # (2m,) members first
    labels: np.ndarray  # (2m,) 1 member, 0 non-member
    clusters: np.ndarray | None = None  # (2m,) int patient of each image, or None: every image its own


def loss_scores(m: DiffusionInternals, x0: torch.Tensor, prompts: list[str], views: Sequence[object] | None, *,
                timesteps: Sequence[int], n_noise: int, seed: int, batch_size: int = 16) -> np.ndarray:
    """Minus the mean denoising error per pixel of each image (n,) (see the module docstring)."""
    gen = torch.Generator().manual_seed(seed)
    noises = torch.randn((n_noise, len(timesteps), *x0.shape[1:]), generator=gen)
    out = np.empty(len(x0))
    with torch.no_grad():
        for rows, xb, cond in _conditioned_batches(m, x0, prompts, views, batch_size):
            b = len(xb)
            total = torch.zeros(b)
            for j in range(n_noise):
                for k, step in enumerate(timesteps):
                    eps = noises[j, k].expand(b, -1, -1, -1)
                    t = torch.full((b,), int(step), dtype=torch.long)
                    pred = denoiser.predict_noise(m, denoiser.add_noise(m, xb, eps, t), t, cond).cpu()
                    total += (pred - eps).pow(2).flatten(1).mean(dim=1)
            out[rows] = -(total / (n_noise * len(timesteps))).numpy()
    return out


def pia_scores(m: DiffusionInternals, x0: torch.Tensor, prompts: list[str], views: Sequence[object] | None, *,
               timestep: int, norm: float, batch_size: int = 16) -> np.ndarray:
    """Minus PIA's ``|| eps_0 - eps_theta(x_t, t) ||_p`` of each image (n,) (see the module docstring)."""
    out = np.empty(len(x0))
    with torch.no_grad():
        for rows, xb, cond in _conditioned_batches(m, x0, prompts, views, batch_size):
            b = len(xb)
            eps0 = denoiser.predict_noise(m, xb, torch.zeros(b, dtype=torch.long), cond).cpu()
            t = torch.full((b,), int(timestep), dtype=torch.long)
            pred = denoiser.predict_noise(m, denoiser.add_noise(m, xb, eps0, t), t, cond).cpu()
            out[rows] = -(pred - eps0).abs().pow(norm).flatten(1).mean(dim=1).pow(1.0 / norm).numpy()
    return out


def _conditioned_batches(m: DiffusionInternals, x0: torch.Tensor, prompts: list[str], views: Sequence[object] | None,
                         batch_size: int) -> Iterator[tuple[slice, torch.Tensor, denoiser.Conditioning]]:
    """(rows, images (b, 1, s, s), the model's conditioning of their prompts and views) per batch of ``x0``."""
    for start in range(0, len(x0), batch_size):
        rows = slice(start, min(start + batch_size, len(x0)))
        yield rows, x0[rows], denoiser.condition(m, prompts[rows], None if views is None else list(views[rows]))


def patient_clusters(inputs: AuditInputs, member_rows: np.ndarray, nonmember_rows: np.ndarray) -> np.ndarray | None:
    """The patient of each scored image (members first) as int codes (2m,), or None without a group column.

    ``member_rows`` / ``nonmember_rows``: positions in ``inputs.train`` / ``inputs.holdout``.
    """
    who = persons(inputs.train_groups, inputs.holdout_groups, len(inputs.train), len(inputs.holdout))
    if not who.grouped:
        return None
    return np.r_[who.train[member_rows], who.holdout[nonmember_rows]]


class DiffusionMembershipAudit(Audit):
    """Loss and PIA membership-inference attacks on the fitted diffusion model.

    Args:
        attacks: any of ``"loss"``, ``"pia"``.
        max_images: members and non-members per side, at most (equal counts, random, seeded).
        timesteps: timesteps of the loss attack (of the model's ``num_train_timesteps``).
        n_noise: noise draws per timestep in the loss attack.
        pia_timestep: PIA's timestep; ``pia_norm``: its p.

    The AUC's interval is DeLong's (:func:`synth.stats.roc.auc_interval`), like the tabular
    membership audit's, clustered by patient when the inputs carry a group column.
    """

    name = "diffusion_membership"
    family = "membership"
    title = "Membership inference on the diffusion model"
    provides = ("membership.diffusion.auc",) + tuple(
        f"membership.diffusion_{a}.{s}" for a in ATTACKS
        for s in ("auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr", "epsilon_lower_bound"))
    data_kinds = IMAGE_ONLY
    needs_generator = True

    def __init__(self, *, attacks: Sequence[str] = ATTACKS, max_images: int = 300, timesteps: Sequence[int] = (100, 200),
                 n_noise: int = 4, pia_timestep: int = 200, pia_norm: float = 4.0) -> None:
        key = f"audit.params.{self.name}"
        if isinstance(attacks, str) or not attacks or any(a not in ATTACKS for a in attacks) or len(set(attacks)) != len(attacks):
            raise ConfigError(f"{key}.attacks: expected a non-empty list of distinct names from {list(ATTACKS)}, got "
                              f"{attacks!r}; e.g. attacks: [loss, pia].")
        if isinstance(timesteps, (str, int)) or not timesteps or any(
                isinstance(t, bool) or not isinstance(t, int) or t < 0 for t in timesteps):
            raise ConfigError(f"{key}.timesteps: expected a non-empty list of whole timesteps >= 0, got {timesteps!r}; "
                              "e.g. timesteps: [100, 200].")
        if isinstance(pia_norm, bool) or not isinstance(pia_norm, (int, float)) or pia_norm < 1:
            raise ConfigError(f"{key}.pia_norm: expected a number >= 1, got {pia_norm!r}; e.g. pia_norm: 4.")
        super().__init__(attacks=list(attacks), max_images=check_int(self.name, "max_images", max_images, 10),
                         timesteps=[int(t) for t in timesteps], n_noise=check_int(self.name, "n_noise", n_noise, 1),
                         pia_timestep=check_int(self.name, "pia_timestep", pia_timestep, 1), pia_norm=float(pia_norm))

    def run(self, inputs: AuditInputs) -> AuditSection:
        p = self.params
        m = denoiser.internals(inputs)
        if m is None:
            return self.skip(denoiser.NO_MODEL)
        steps = int(m.noise_scheduler.config.num_train_timesteps)
        too_late = [t for t in [*p["timesteps"], p["pia_timestep"]] if t >= steps]
        if too_late:
            raise ConfigError(f"audit.params.{self.name}: timestep(s) {too_late} are not below the model's "
                              f"{steps} training timesteps.")
        n = min(p["max_images"], len(inputs.train), len(inputs.holdout))
        if n < 10:
            return self.skip(f"membership inference needs at least 10 training and 10 holdout images (got "
                             f"{len(inputs.train)} and {len(inputs.holdout)}).")
        members = load_set(inputs.train, m.image_column, m.resolution, max_images=n, seed=inputs.seed, n_jobs=inputs.n_jobs)
        others = load_set(inputs.holdout, m.image_column, m.resolution, max_images=n, seed=inputs.seed + 1,
                          n_jobs=inputs.n_jobs)
        x0 = denoiser.model_images(np.concatenate([members.images, others.images]))
        rows = [members.rows, others.rows]
        prompts = m.prepare_prompts([v for r in rows for v in r[m.prompt_column].tolist()])
        views = [v for r in rows for v in r[m.view_column].tolist()] if m.view_column and m.view_labels else None
        labels = np.r_[np.ones(n, dtype=int), np.zeros(n, dtype=int)]
        clusters = patient_clusters(inputs, members.positions, others.positions)
        runs = []
        if "loss" in p["attacks"]:
            runs.append(AttackScores("loss", loss_scores(m, x0, prompts, views, timesteps=p["timesteps"],
                                                         n_noise=p["n_noise"], seed=inputs.seed), labels, clusters))
        if "pia" in p["attacks"]:
            runs.append(AttackScores("pia", pia_scores(m, x0, prompts, views, timestep=p["pia_timestep"],
                                                       norm=p["pia_norm"]), labels, clusters))
        return self._section(runs, n)

    def _section(self, runs: list[AttackScores], n: int) -> AuditSection:
        p = self.params
        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        rows, curves = [], []
        for i, run in enumerate(runs):
            metrics = attack_metrics(run)
            section.metrics += metrics
            auc, tpr1, eps = metrics[0], metrics[1], metrics[3]
            rows.append((run.name, _fmt(auc.value, auc.ci), _fmt(tpr1.value, tpr1.ci), f"{eps.value:.3f}"))
            fpr, tpr = roc.roc_curve(run.scores, run.labels, max_points=200)
            curves.append({"label": run.name, "fpr": fpr, "tpr": tpr, "auc": auc.value})
        best = max(runs, key=lambda r: section.metric(f"membership.diffusion_{r.name}.auc").value)
        best_auc = section.metric(f"membership.diffusion_{best.name}.auc")
        section.metrics.insert(0, Metric(
            name="membership.diffusion.auc", value=best_auc.value, ci=best_auc.ci, better="lower", ideal=0.5,
            threat_model=THREAT_MODELS[best.name],
            passing="AUC near 0.5: even the stronger white-box attack cannot tell training images from unseen ones.",
            details={"attack": best.name, "n_members": n, "n_nonmembers": n,
                     "per_attack_auc": {r.name: section.metric(f"membership.diffusion_{r.name}.auc").value for r in runs}}))
        section.figures.append(Figure(id="diffusion_membership_roc", title="Diffusion membership-inference ROC curves",
                                      kind="roc", data={"curves": curves},
                                      caption=f"{n} training images (members) against {n} holdout images; the diagonal "
                                              "is chance."))
        section.tables.append(TableBlock(
            title="Attacks on the diffusion model",
            columns=("attack", "AUC [95% CI]", "TPR at 1% FPR [95% CI]", "epsilon lower bound (95%)"), rows=tuple(rows),
            caption="AUC 0.5, TPR equal to the FPR and epsilon bound 0 are what an attacker without a leak achieves."))
        section.summary = (f"Stronger attack: {best.name}, AUC {best_auc.value:.3f} [{best_auc.ci.low:.3f}, "
                           f"{best_auc.ci.high:.3f}] on {n} training vs {n} holdout images (0.5 = chance).")
        section.notes.append(
            f"Loss attack at timesteps {p['timesteps']} with {p['n_noise']} noise draws each; PIA at t = "
            f"{p['pia_timestep']} with p = {p['pia_norm']:g}. Every image is conditioned on its own prompt and view. "
            "TPR at 0.1 % FPR is coarse unless there are well over 10,000 non-members.")
        clusters = runs[0].clusters
        if clusters is not None:
            section.notes.append(
                f"The {2 * n} images belong to {np.unique(clusters).size} patients; the AUC intervals count a patient as "
                "one unit (clustered DeLong, Obuchowski 1997), the TPR intervals and epsilon bounds count images.")
        return section


def attack_metrics(run: AttackScores) -> list[Metric]:
    """AUC, TPR at 1 % and 0.1 % FPR, and the epsilon lower bound of one attack (in that order)."""
    s, y = run.scores, run.labels
    prefix = f"membership.diffusion_{run.name}"
    threat = THREAT_MODELS[run.name]
    counts = {"n_members": int(y.sum()), "n_nonmembers": int(y.size - y.sum())}
    if run.clusters is not None:
        counts["n_patients"] = int(np.unique(run.clusters).size)
    metrics = [Metric(name=f"{prefix}.auc", value=roc.auc(s, y), ci=roc.auc_interval(s, y, level=LEVEL,
                                                                                       clusters=run.clusters),
                      better="lower", ideal=0.5, threat_model=threat, details=dict(counts),
                      passing="AUC near 0.5: the attack cannot tell training images from unseen images.")]
    for target, suffix, label in _LOW_FPRS:
        r = roc.tpr_at_fpr(s, y, target, level=LEVEL)
        details = {**counts, "target_fpr": target, "achieved_fpr": r.achieved_fpr, "true_positives": r.true_positives,
                   "allowed_false_positives": r.allowed_false_positives}
        if run.clusters is not None:
            details["interval_unit"] = "image (patients with several images make it too narrow; the AUC's is per patient)"
        if not r.reliable:
            details["caution"] = (f"coarse: with {counts['n_nonmembers']} non-members an FPR of {label} allows "
                                  f"{r.allowed_false_positives} false positive(s)")
        metrics.append(Metric(name=f"{prefix}.{suffix}", value=r.tpr, ci=r.interval, better="lower", ideal=target,
                              threat_model=threat, details=details,
                              passing=f"TPR near {label}: at a {label} false-alarm rate the attack flags no more "
                                      "training images than chance."))
    eps = roc.epsilon_lower_bound(s, y, level=LEVEL)
    metrics.append(Metric(
        name=f"{prefix}.epsilon_lower_bound", value=eps.epsilon, better="lower", ideal=0.0, threat_model=threat,
        ci=Interval(eps.epsilon, float("inf"), f"clopper-pearson, one-sided, Bonferroni over {eps.n_thresholds} "
                                                "thresholds", LEVEL),
        details={**counts, "confidence": LEVEL, "thresholds_tried": eps.n_thresholds, "inequality": eps.direction},
        passing="0 = no evidence of leakage at 95 % confidence (never a proof of privacy)."))
    return metrics


def _fmt(value: float, ci: Interval | None) -> str:
    return f"{value:.3f}" if ci is None else f"{value:.3f} [{ci.low:.3f}, {ci.high:.3f}]"
