"""White-box calls into a fitted text-conditioned diffusion model (:class:`~synth.generators.base.DiffusionInternals`).

Shared by the prompt-memorization and diffusion membership audits: prompt conditioning
(as the model saw it in training), the unconditional branch of classifier-free guidance,
the noise prediction (epsilon, converted from v when the model predicts v), and prompt
token embeddings with their word spans, for gradient attribution.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from synth.audits.base import AuditInputs
from synth.generators.base import DiffusionInternals

_EDGE_PUNCTUATION = ".,;:!?()[]\"'"


NO_MODEL = ("needs the fitted diffusion model (white box): it runs inside `synth generate` with a diffusion "
            "generator, or `synth.audit(..., generator=fitted)`.")


def internals(inputs: AuditInputs) -> DiffusionInternals | None:
    """The fitted generator's diffusion internals, or None (no generator, or not a diffusion model)."""
    return inputs.generator.diffusion_internals() if inputs.generator is not None else None


@dataclass
class Conditioning:
    """Model inputs for a batch of prompts: hidden (b, L, D) float32, mask (b, L) bool, views (b,) int64 or None."""

    hidden: torch.Tensor
    mask: torch.Tensor
    views: torch.Tensor | None


@dataclass
class TokenEmbeddings:
    """Input token embeddings of prompts (b, L, E), a leaf tensor that collects gradients; mask (b, L) bool;
    ``words[i]`` lists, per token position of prompt i, the index of its whitespace-delimited word (-1: special/pad);
    ``word_text[i]`` the words themselves."""

    embeddings: torch.Tensor
    mask: torch.Tensor
    words: list[list[int]]
    word_text: list[list[str]]


def _tokens(m: DiffusionInternals, prompts: list[str], offsets: bool = False) -> Any:
    return m.tokenizer(prompts, padding="max_length", truncation=True, max_length=m.prompt_tokens,
                       return_tensors="pt", return_offsets_mapping=offsets)


def _views(m: DiffusionInternals, views: Sequence[Any] | None, n: int) -> torch.Tensor | None:
    if m.view_labels is None:
        return None
    if views is None:
        return torch.full((n,), int(m.unknown_view or 0), dtype=torch.long)
    return torch.as_tensor(m.view_labels(list(views)), dtype=torch.long)


@torch.no_grad()
def condition(m: DiffusionInternals, prompts: list[str], views: Sequence[Any] | None) -> Conditioning:
    """Conditioning on ``prompts`` (already prepared, see ``m.prepare_prompts``) and view cells."""
    tok = _tokens(m, prompts).to(m.device)
    out = m.text_encoder(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
    return Conditioning(out.last_hidden_state.float(), tok["attention_mask"].bool(), _views(m, views, len(prompts)))


def unconditional(m: DiffusionInternals, n: int) -> Conditioning:
    """The empty prompt and the unknown view: the unconditional branch of classifier-free guidance."""
    null = condition(m, [""], None)
    views = None if m.view_labels is None else torch.full((n,), int(m.unknown_view or 0), dtype=torch.long)
    return Conditioning(null.hidden.expand(n, -1, -1), null.mask.expand(n, -1), views)


def predict_noise(m: DiffusionInternals, x_t: torch.Tensor, t: torch.Tensor, c: Conditioning) -> torch.Tensor:
    """The model's noise estimate epsilon(x_t, t, c), (b, C, H, W) float32 (differentiable)."""
    device = m.device
    out = m.unet(x_t.to(device), t.to(device), encoder_hidden_states=c.hidden.to(device),
                 encoder_attention_mask=c.mask.to(device),
                 class_labels=None if c.views is None else c.views.to(device)).sample.float()
    if m.noise_scheduler.config.prediction_type == "v_prediction":
        a = _alpha_bar(m, t).to(out.device)
        out = a.sqrt() * out + (1 - a).sqrt() * x_t.to(out.device)  # eps = sqrt(a) v + sqrt(1 - a) x_t
    return out


def _alpha_bar(m: DiffusionInternals, t: torch.Tensor) -> torch.Tensor:
    return m.noise_scheduler.alphas_cumprod.to(torch.float32)[t.cpu()].reshape(-1, 1, 1, 1)


def add_noise(m: DiffusionInternals, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``sqrt(a_t) x0 + sqrt(1 - a_t) noise`` with the training schedule's cumulative alphas."""
    a = _alpha_bar(m, t)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def ddim_step(m: DiffusionInternals, x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor,
              t_next: torch.Tensor) -> torch.Tensor:
    """Deterministic DDIM step (eta 0) from ``t`` to ``t_next`` given the noise estimate ``eps``:
    the x0 estimate, clipped to the image range as the sampler clips it, noised again with ``eps``."""
    a = _alpha_bar(m, t).to(x_t.device)
    x0 = ((x_t - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
    return add_noise(m, x0, eps, t_next).to(x_t.device)


def token_embeddings(m: DiffusionInternals, prompts: list[str]) -> TokenEmbeddings:
    """Input embeddings of ``prompts`` as a gradient-collecting leaf, with each token's word."""
    tok = _tokens(m, prompts, offsets=True)
    ids = tok["input_ids"].to(m.device)
    with torch.no_grad():
        emb = m.text_encoder.get_input_embeddings()(ids).float()
    emb.requires_grad_(True)
    words, texts = [], []
    for i, prompt in enumerate(prompts):
        spans = [(s.start(), s.end()) for s in re.finditer(r"\S+", prompt)]
        token_word = []
        for start, end in tok["offset_mapping"][i].tolist():
            if end <= start:
                token_word.append(-1)  # [CLS], [SEP], padding
                continue
            token_word.append(next((w for w, (a, b) in enumerate(spans) if a <= start < b), -1))
        words.append(token_word)
        texts.append([prompt[a:b].strip(_EDGE_PUNCTUATION).lower() or prompt[a:b] for a, b in spans])
    return TokenEmbeddings(emb, tok["attention_mask"].bool().to(m.device), words, texts)


def condition_from_embeddings(m: DiffusionInternals, tokens: TokenEmbeddings, views: Sequence[Any] | None) -> Conditioning:
    """Conditioning computed from (differentiable) input embeddings."""
    out = m.text_encoder(inputs_embeds=tokens.embeddings, attention_mask=tokens.mask.long())
    return Conditioning(out.last_hidden_state.float(), tokens.mask, _views(m, views, tokens.embeddings.shape[0]))


def model_images(images: np.ndarray) -> torch.Tensor:
    """Images (n, 1, H, W) in [0, 1] -> model space [-1, 1], float32."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32)) * 2.0 - 1.0
