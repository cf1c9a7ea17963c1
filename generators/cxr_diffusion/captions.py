"""Prompt handling at training time: de-identification-marker stripping and caption randomisation.

Both are memorization mitigations ("The Devil is in the Prompts", 2025: prompts that
carry de-identification traces are memorised more). Caption randomisation shows the
model a prompt whose sentences are shuffled and thinned (each dropped with probability
0.3, at least one kept), so no exact report string is tied to one image.
"""

from __future__ import annotations

import re

import numpy as np

from synth.data.images.reports import strip_deid_markers

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def clean_prompt(text: object, *, strip_markers: bool) -> str:
    """The prompt as a string ('' for missing), with de-identification markers removed if asked."""
    if not isinstance(text, str):
        return ""
    return strip_deid_markers(text) if strip_markers else " ".join(text.split())


def randomize_caption(text: str, rng: np.random.Generator) -> str:
    """``text`` with its sentences shuffled and thinned (see the module docstring)."""
    sentences = [s for s in _SENTENCE.split(text) if s]
    if len(sentences) < 2:
        return text
    keep = [s for s in sentences if rng.random() >= 0.3] or [sentences[int(rng.integers(len(sentences)))]]
    order = rng.permutation(len(keep))
    return " ".join(keep[i] for i in order)
