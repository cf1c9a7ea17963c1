"""Prompt and token memorization: which training prompts make the model reproduce an image, and which words drive it.

Wen et al. (ICLR 2024, "Detecting, Explaining, and Mitigating Memorization in Diffusion
Models"): when a prompt is memorized, the text-conditional noise prediction departs
strongly from the unconditional one from the very first denoising step, because the
prompt pulls every starting noise towards one image. Per prompt ``p`` the audit computes

    d(p) = mean over noise draws and the first ``steps`` sampler timesteps t of
           || eps(x_t, t, c_p) - eps(x_t, t, c_empty) ||_2 / sqrt(pixels)

from the sampler's first timestep ``T`` (``n_noise`` starting noises x_T, the same draws for
every prompt), with ``c_empty`` the empty prompt and unknown view that classifier-free
guidance uses; x_t then follows the prompt's own deterministic DDIM path (x0 estimate
clipped to the image range, as the sampler does). Wen et al. average the norm over the
sampling steps and note that the first alone already detects; a few steps separate more,
because the memorized image takes shape along the path while an unmemorized prompt's
prediction stays near the unconditional one. On the known-answer model of the tests (three
images duplicated 20 times under marker prompts among 190 single images, 2,400 steps), the
marker prompts ranked 1, 3 and 4 of 193 on the first step alone and 1, 2 and 3, above every
unseen prompt, with 3 steps. Training prompts are ranked by ``d``.

Calibration: prompts the model never saw (holdout prompts whose text differs from every
training prompt) give the null distribution. They are split at random in two halves: the
``1 - fpr`` quantile of one half is the flagging threshold, and the share of the other half
above it is the baseline. ``privacy.prompt_memorization_rate`` is the share of distinct
training prompts flagged, ``privacy.prompt_memorization_excess`` that share minus the
baseline (Newcombe interval).

Token attribution (Wen et al.'s significance score): for the ``top_prompts`` highest-ranked
prompts, the gradient of ``|| eps(x_T, c_p) - eps(x_T, c_empty) ||^2`` with respect to each
input token embedding; a token's score is the gradient's norm, a word's the sum over its
tokens, as a share of the prompt's total. Words are ranked by their mean share over the
top prompts (0 where a word is absent), so a word that carries memorization in many
prompts (e.g. a de-identification marker such as ``___``) rises to the top.

Privacy of the output: prompts are listed by rank, image count and score; their text only
with ``audit.include_real_records: true``. A word is named only when it occurs in the
prompts of at least ``min_word_people`` people (distinct groups, or distinct training
images without a group column); rarer words are counted as "(rare word)".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from synth.audits.base import Audit, AuditInputs, AuditSection, Figure, Metric, TableBlock, ThreatModel
from synth.audits.images import denoiser
from synth.audits.images.image_sets import IMAGE_ONLY
from synth.audits.param_checks import check_int
from synth.errors import ConfigError
from synth.generators.base import DiffusionInternals
from synth.stats.intervals import newcombe_difference, wilson

RARE_WORD = "(rare word)"
THREAT_MODEL = ThreatModel(
    attack="prompt-driven extraction (Wen et al. 2024)",
    attacker_has=("the model (white box)", "candidate prompts, e.g. report text with de-identification traces"),
    description="Whoever can prompt the model with a training report's text gets the training image back when that "
                "prompt is memorized; the noise-prediction norm over the first denoising steps finds such prompts "
                "without sampling whole images.",
)


@dataclass(frozen=True)
class DistinctPrompts:
    """Distinct prompts, the view each is evaluated with, and how many images carry it (n,)."""

    prompts: list[str]
    views: list[object] | None
    image_counts: np.ndarray

    def __len__(self) -> int:
        return len(self.prompts)


def trajectory_timesteps(m: DiffusionInternals, steps: int) -> list[int]:
    """The first ``steps`` timesteps of the model's sampler (only the first when it does not list them)."""
    return list(m.sampler_timesteps[:steps]) if m.sampler_timesteps else [m.first_timestep]


def noise_prediction_norms(m: DiffusionInternals, prompts: list[str], views: list[object] | None, *, n_noise: int,
                           seed: int, steps: int = 1, batch_size: int = 16) -> np.ndarray:
    """d(p) of every prompt (see the module docstring), float64 (n,)."""
    size = m.resolution
    noise = torch.randn((n_noise, 1, size, size), generator=torch.Generator().manual_seed(seed))
    times = trajectory_timesteps(m, steps)
    out = np.empty(len(prompts))
    with torch.no_grad():
        # the first step's unconditional prediction depends on the starting noise only: once, not per prompt
        first_uncond = denoiser.predict_noise(m, noise, torch.full((n_noise,), times[0], dtype=torch.long),
                                              denoiser.unconditional(m, n_noise))
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start:start + batch_size]
            b = len(chunk)
            cond = denoiser.condition(m, chunk, None if views is None else views[start:start + b])
            uncond = denoiser.unconditional(m, b)
            total = torch.zeros(b)
            for j in range(n_noise):
                x = noise[j:j + 1].expand(b, -1, -1, -1).to(m.device)
                for k, t_value in enumerate(times):
                    t = torch.full((b,), t_value, dtype=torch.long)
                    eps = denoiser.predict_noise(m, x, t, cond)
                    eps_u = first_uncond[j:j + 1].to(eps.device) if k == 0 else denoiser.predict_noise(m, x, t, uncond)
                    diff = eps - eps_u
                    total += diff.flatten(1).norm(dim=1).cpu() / np.sqrt(diff[0].numel())
                    if k + 1 < len(times):  # on to the next timestep along the prompt's own deterministic path
                        x = denoiser.ddim_step(m, x, eps, t, torch.full((b,), times[k + 1], dtype=torch.long))
            out[start:start + b] = (total / (n_noise * len(times))).numpy()
    return out


def word_attributions(m: DiffusionInternals, prompts: list[str], views: list[object] | None, *, n_noise: int,
                      seed: int) -> list[dict[str, float]]:
    """Per prompt, each word's share of the gradient-norm attribution (shares sum to 1 over its words)."""
    size = m.resolution
    noise = torch.randn((n_noise, 1, size, size), generator=torch.Generator().manual_seed(seed))
    t = torch.full((n_noise,), m.first_timestep, dtype=torch.long)
    uncond = denoiser.unconditional(m, n_noise)
    with torch.no_grad():
        eps_u = denoiser.predict_noise(m, noise, t, uncond)
    result = []
    for i, prompt in enumerate(prompts):
        tokens = denoiser.token_embeddings(m, [prompt])
        cond = denoiser.condition_from_embeddings(m, tokens, None if views is None else [views[i]])
        cond = denoiser.Conditioning(cond.hidden.expand(n_noise, -1, -1), cond.mask.expand(n_noise, -1),
                                     None if cond.views is None else cond.views.expand(n_noise))
        loss = (denoiser.predict_noise(m, noise, t, cond) - eps_u).pow(2).sum() / n_noise
        (grad,) = torch.autograd.grad(loss, tokens.embeddings)
        per_token = grad[0].norm(dim=-1).detach().cpu().numpy()
        words: dict[str, float] = defaultdict(float)
        for position, w in enumerate(tokens.words[0]):
            if w >= 0:
                words[tokens.word_text[0][w]] += float(per_token[position])
        total = sum(words.values())
        result.append({w: v / total for w, v in words.items()} if total > 0 else dict(words))
    return result


class PromptMemorizationAudit(Audit):
    """Wen et al.'s noise-prediction norm per training prompt, calibrated on unseen prompts, and token attribution.

    Args:
        max_prompts: distinct training prompts scored, at most (random, seeded).
        max_holdout_prompts: unseen holdout prompts scored for the null, at most.
        n_noise: starting noises per prompt.
        steps: sampler timesteps the norm is averaged over (each costs two model calls per prompt and noise).
        fpr: share of unseen prompts allowed above the flagging threshold.
        top_prompts: highest-ranked prompts whose tokens are attributed.
        min_word_people: people whose prompts must contain a word before it is named.
    """

    name = "prompt_memorization"
    family = "privacy"
    title = "Prompt and token memorization"
    provides = ("privacy.prompt_memorization_rate", "privacy.prompt_memorization_excess")
    data_kinds = IMAGE_ONLY
    needs_generator = True

    def __init__(self, *, max_prompts: int = 300, max_holdout_prompts: int = 300, n_noise: int = 4, steps: int = 3,
                 fpr: float = 0.01, top_prompts: int = 20, min_word_people: int = 5) -> None:
        if isinstance(fpr, bool) or not isinstance(fpr, (int, float)) or not 0 < fpr < 0.5:
            raise ConfigError(f"audit.params.{self.name}.fpr: expected a share in (0, 0.5), got {fpr!r}; e.g. fpr: 0.01.")
        super().__init__(
            max_prompts=check_int(self.name, "max_prompts", max_prompts, 2),
            max_holdout_prompts=check_int(self.name, "max_holdout_prompts", max_holdout_prompts, 4),
            n_noise=check_int(self.name, "n_noise", n_noise, 1), steps=check_int(self.name, "steps", steps, 1),
            fpr=float(fpr),
            top_prompts=check_int(self.name, "top_prompts", top_prompts, 0),
            min_word_people=check_int(self.name, "min_word_people", min_word_people, 1))

    def run(self, inputs: AuditInputs) -> AuditSection:
        p = self.params
        m = denoiser.internals(inputs)
        if m is None:
            return self.skip(denoiser.NO_MODEL)
        train_prompts = m.prepare_prompts(inputs.train[m.prompt_column].tolist())
        hold_prompts = m.prepare_prompts(inputs.holdout[m.prompt_column].tolist())
        train = _distinct(train_prompts, inputs.train, m, p["max_prompts"], inputs.seed)
        seen = set(train_prompts)
        unseen = _distinct(hold_prompts, inputs.holdout, m, p["max_holdout_prompts"], inputs.seed + 1, exclude=seen)
        if len(unseen) < 4:
            return self.skip(f"only {len(unseen)} holdout prompts differ from every training prompt; the null "
                             "distribution needs at least 4.")
        norms = dict(n_noise=p["n_noise"], steps=p["steps"], seed=inputs.seed)
        train_scores = noise_prediction_norms(m, train.prompts, train.views, **norms)
        null_scores = noise_prediction_norms(m, unseen.prompts, unseen.views, **norms)
        order = np.random.default_rng(inputs.seed + 2).permutation(len(null_scores))
        calibration, baseline = null_scores[order[: len(order) // 2]], null_scores[order[len(order) // 2:]]
        threshold = float(np.quantile(calibration, 1 - p["fpr"], method="higher"))
        flagged = train_scores > threshold
        k, n = int(flagged.sum()), len(train_scores)
        kb, nb = int((baseline > threshold).sum()), len(baseline)
        counts = {"flagged_prompts": k, "training_prompts": n, "baseline_flagged": kb, "baseline_prompts": nb,
                  "baseline_rate": kb / nb, "threshold": threshold, "calibration_prompts": len(calibration)}
        section = AuditSection(audit=self.name, family=self.family, title=self.title)
        section.metrics += [
            Metric(name="privacy.prompt_memorization_rate", value=k / n, ci=wilson(k, n), better="lower",
                   ideal=kb / nb, threat_model=THREAT_MODEL, details=counts,
                   passing="At or below the unseen-prompt baseline: no training prompt pulls the model's first "
                           "denoising steps further than prompts it never saw."),
            Metric(name="privacy.prompt_memorization_excess", value=k / n - kb / nb,
                   ci=newcombe_difference(k, n, kb, nb), better="lower", ideal=0.0, threat_model=THREAT_MODEL,
                   details=counts,
                   passing="Lower bound at or below 0: training prompts are flagged no more often than unseen ones."),
        ]
        ranking = np.argsort(-train_scores, kind="stable")
        top = ranking[: p["top_prompts"]]
        shares = word_attributions(m, [train.prompts[i] for i in top],
                                   None if train.views is None else [train.views[i] for i in top],
                                   n_noise=p["n_noise"], seed=inputs.seed) if len(top) else []
        common = _common_words(train_prompts, inputs.train_groups, p["min_word_people"])
        show_text = inputs.include_real_records
        section.tables.append(_prompt_table(train, train_scores, ranking[:15], flagged, shares, common, show_text))
        words = _word_ranking(shares, common, show_text)
        if words:
            section.tables.append(TableBlock(
                title="Words that drive the top prompts' noise prediction",
                columns=("word", "mean attribution share", "in top prompts"),
                rows=tuple((w, round(s, 4), c) for w, s, c in words[:15]),
                caption=f"Mean share of the gradient-norm attribution over the {len(top)} highest-ranked prompts (0 where "
                        f"absent). Words found in fewer than {p['min_word_people']} people's prompts are pooled as "
                        f"'{RARE_WORD}'."))
        section.figures.append(_histogram(train_scores, null_scores, threshold))
        times = trajectory_timesteps(m, p["steps"])
        section.summary = (
            f"{k} of {n} distinct training prompts ({k / n:.1%}) push the first denoising steps beyond the {1 - p['fpr']:.0%} "
            f"quantile of unseen prompts (baseline {kb} of {nb}); "
            + (f"top attributed word: '{words[0][0]}'." if words else "no words attributed."))
        section.notes += [
            f"Noise-prediction norm averaged over the sampler's first {len(times)} timestep(s) "
            f"(t = {', '.join(str(t) for t in times)}) on each prompt's deterministic path, {p['n_noise']} starting "
            f"noises per prompt (the same for every prompt); null: {len(null_scores)} holdout prompts whose text differs "
            f"from every training prompt, half to set the threshold ({threshold:.4g}), half for the baseline.",
            "Prompt text is " + ("shown (audit.include_real_records is true)." if show_text else
                                 "withheld (set audit.include_real_records: true to show it); prompts are identified by rank."),
        ]
        return section


def _distinct(prompts: list[str], frame: pd.DataFrame, m: DiffusionInternals, limit: int, seed: int,
              exclude: set[str] | None = None) -> DistinctPrompts:
    """Distinct prompts (first occurrence's view), random subset of at most ``limit``, with image counts in ``views``."""
    first: dict[str, int] = {}
    for i, text in enumerate(prompts):
        if text and (exclude is None or text not in exclude):
            first.setdefault(text, i)
    texts = list(first)
    if len(texts) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(texts), limit, replace=False))
        texts = [texts[i] for i in keep]
    views = None
    if m.view_column is not None and m.view_labels is not None:
        views = [frame[m.view_column].iloc[first[t]] for t in texts]
    counts = pd.Series(prompts).value_counts()
    return DistinctPrompts(texts, views, np.array([int(counts.get(t, 0)) for t in texts]))


def _common_words(prompts: list[str], groups: np.ndarray | None, min_people: int) -> set[str]:
    """Words (lower case, edge punctuation stripped) found in the prompts of at least ``min_people`` people."""
    people: dict[str, set] = defaultdict(set)
    owners = groups if groups is not None else np.arange(len(prompts))
    for owner, text in zip(owners, prompts):
        for word in text.split():
            people[word.strip(denoiser._EDGE_PUNCTUATION).lower() or word].add(owner)
    return {w for w, who in people.items() if len(who) >= min_people}


def _shown(word: str, common: set[str], show_text: bool) -> str:
    return word if show_text or word in common else RARE_WORD


def _word_ranking(shares: list[dict[str, float]], common: set[str], show_text: bool) -> list[tuple[str, float, int]]:
    if not shares:
        return []
    total: dict[str, float] = defaultdict(float)
    present: dict[str, int] = defaultdict(int)
    for prompt in shares:
        merged: dict[str, float] = defaultdict(float)
        for w, s in prompt.items():
            merged[_shown(w, common, show_text)] += s
        for w, s in merged.items():
            total[w] += s
            present[w] += 1
    ranked = sorted(((w, total[w] / len(shares), present[w]) for w in total), key=lambda r: (-r[1], r[0]))
    return ranked


def _prompt_table(train: DistinctPrompts, scores: np.ndarray, rows: np.ndarray, flagged: np.ndarray,
                  shares: list[dict[str, float]], common: set[str], show_text: bool) -> TableBlock:
    out = []
    for rank, i in enumerate(rows, start=1):
        top_words = ""
        if rank <= len(shares):
            merged: dict[str, float] = defaultdict(float)
            for w, s in shares[rank - 1].items():
                merged[_shown(w, common, show_text)] += s
            top_words = ", ".join(f"{w} ({s:.2f})" for w, s in sorted(merged.items(), key=lambda kv: -kv[1])[:3])
        row = [rank, int(train.image_counts[i]), round(float(scores[i]), 5), "yes" if flagged[i] else "no", top_words]
        if show_text:
            row.append(train.prompts[i])
        out.append(tuple(row))
    columns = ("rank", "training images with this prompt", "noise-prediction norm", "flagged", "top words (share)")
    return TableBlock(title="Training prompts ranked by noise-prediction norm",
                      columns=columns + (("prompt",) if show_text else ()), rows=tuple(out),
                      caption="Highest first. 'flagged': above the unseen-prompt threshold.", per_record=True)


def _histogram(train: np.ndarray, null: np.ndarray, threshold: float) -> Figure:
    top = float(max(np.max(train), np.max(null), threshold) * 1.05 or 1.0)
    edges = np.linspace(0.0, top, 31)
    series = []
    for label, values in (("training prompts", train), ("unseen prompts (null)", null)):
        counts, _ = np.histogram(values, bins=edges)
        series.append({"label": label, "edges": edges.tolist(), "counts": (counts / max(1, counts.sum())).tolist()})
    return Figure(id="prompt_norms", title="First-step noise-prediction norm per prompt", kind="histograms",
                  data={"x_label": "|| eps(prompt) - eps(empty) || per pixel", "series": series},
                  caption=f"Share of prompts per bin; prompts above {threshold:.3g} are flagged. Memorized prompts form a "
                          "tail to the right that unseen prompts do not have.")
