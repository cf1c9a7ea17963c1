"""Thumbnails for the report's opt-in gallery of generated / training image pairs.

A gallery shows training images, so an audit builds one only when the config sets
``audit.include_real_records: true``; otherwise it adds a note that it was withheld.
Figure data (kind ``"gallery"``)::

    {"pairs": [{"caption": str, "images": [{"label": str, "png": base64 PNG}, ...]}, ...]}
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from synth.audits.base import Figure
from synth.data.images.io import to_uint8

THUMBNAIL_PX = 96  # side of each thumbnail, pixels


def png_base64(image: np.ndarray, size: int = THUMBNAIL_PX) -> str:
    """One grayscale image (1, H, W) or (H, W) in [0, 1] as a ``size`` px PNG, base64 (ASCII)."""
    array = to_uint8(np.asarray(image).reshape(np.asarray(image).shape[-2:]))
    thumb = Image.fromarray(array, mode="L").resize((size, size), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    thumb.save(buffer, format="PNG", optimize=False, compress_level=6)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def pair_gallery(figure_id: str, title: str, pairs: list[tuple[np.ndarray, np.ndarray, str]], caption: str) -> Figure:
    """A gallery figure of (generated image, training image, caption) pairs."""
    return Figure(id=figure_id, title=title, kind="gallery", caption=caption, per_record=True, data={"pairs": [
        {"caption": text, "images": [{"label": "generated", "png": png_base64(generated)},
                                     {"label": "nearest training image", "png": png_base64(training)}]}
        for generated, training, text in pairs]})
