"""What the UNet is conditioned on, per image: prompt token states, their mask, and the view class."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from synth.generators.cxr_diffusion.captions import randomize_caption
from synth.generators.cxr_diffusion.text_encoder import PromptEncoder, unique_index

# above this many bytes of cached prompt states, prompts are encoded batch by batch instead
MAX_CACHE_BYTES = 2 * 1024**3


@dataclass
class Conditioning:
    """Prompt states of a set of images; ``for_batch`` gives a batch's (hidden, mask)."""

    encoder: PromptEncoder
    prompts: list[str]
    width: int
    caption_randomization: float = 0.0
    truncated: int = 0

    def __post_init__(self) -> None:
        distinct, self.index = unique_index(self.prompts)
        lengths = np.array([len(ids) for ids in self.encoder.tokenizer(distinct)["input_ids"]], dtype=np.int64)
        self.truncated = int((lengths[self.index] > self.width).sum()) if len(distinct) else 0
        size = len(distinct) * self.width * self.encoder.dim * 4
        self.cache = self.encoder.encode(distinct, width=self.width) if size <= MAX_CACHE_BYTES else None
        null = self.encoder.encode([""], width=self.width)
        self.null_hidden, self.null_mask = null.hidden, null.mask

    def for_batch(self, rows: np.ndarray, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(hidden (b, L, D), mask (b, L)) for training rows ``rows``, captions randomised as configured."""
        if self.caption_randomization > 0:
            texts = [randomize_caption(self.prompts[i], rng) if rng.random() < self.caption_randomization
                     else self.prompts[i] for i in rows]
            enc = self.encoder.encode(texts, width=self.width)
            return enc.hidden, enc.mask
        if self.cache is not None:
            idx = torch.from_numpy(self.index[rows])
            return self.cache.hidden[idx], self.cache.mask[idx]
        enc = self.encoder.encode([self.prompts[i] for i in rows], width=self.width)
        return enc.hidden, enc.mask


def prompt_width(encoder: PromptEncoder, prompts: list[str]) -> int:
    """Token positions the model uses: the longest prompt's, capped at the encoder's ``max_tokens``."""
    distinct, _ = unique_index(prompts)
    longest = max((len(ids) for ids in encoder.tokenizer(distinct)["input_ids"]), default=2)
    return max(2, min(encoder.max_tokens, longest))
