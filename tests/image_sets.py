"""Image data for the image-audit tests: phantom radiographs and numpy image sets turned into AuditInputs.

``phantom_table`` reads a phantom set (synth's own in-silico CXR generator) at a small
size; ``inputs_from_arrays`` writes numpy images as PNG files and builds the three
tables an image audit reads, so a test controls exactly which generated image copies
which training image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from synth.audits.base import AuditInputs
from synth.data.images.io import to_uint8, write_png
from synth.data.images.mimic_cxr import load_mimic_cxr
from synth.data.images.phantom import make_cxr_phantom
from synth.schema import ColumnKind, ColumnSpec, Role, Schema

FINDINGS = ("cardiomegaly", "pleural_effusion", "pneumothorax", "support_devices")


def phantom_table(root: Path, n: int, *, seed: int, size: int = 32) -> pd.DataFrame:
    """A phantom set of ``n`` images at ``size`` px (written once under ``root``), paths absolute."""
    make_cxr_phantom(root, n, seed=seed, size=size)
    table = load_mimic_cxr(root, views=None)
    table["image"] = [str(root / p) for p in table["image"]]
    return table.reset_index(drop=True)


def image_schema(columns: list[str], prompt: str | None = "prompt") -> Schema:
    """Schema of an image table: ``image`` (image), ``prompt`` (text, prompt role), the rest categorical."""
    specs = []
    for c in columns:
        if c == "image":
            specs.append(ColumnSpec(c, ColumnKind.IMAGE))
        elif c == prompt:
            specs.append(ColumnSpec(c, ColumnKind.TEXT, roles=frozenset({Role.PROMPT})))
        else:
            specs.append(ColumnSpec(c, ColumnKind.CATEGORICAL))
    return Schema(tuple(specs))


def write_images(images: np.ndarray, folder: Path) -> list[str]:
    """Write images (n, 1, s, s) or (n, s, s) in [0, 1] as PNG files; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(np.asarray(images)):
        path = folder / f"{i:05d}.png"
        write_png(to_uint8(image.reshape(image.shape[-2:])), path)
        paths.append(str(path))
    return paths


def inputs_from_arrays(tmp: Path, train: np.ndarray, holdout: np.ndarray, synthetic: np.ndarray, *,
                       labels: dict[str, dict[str, np.ndarray]] | None = None, prompts: dict[str, list[str]] | None = None,
                       include_real_records: bool = False, seed: int = 0) -> AuditInputs:
    """AuditInputs over the three image arrays written as PNGs, with optional label columns and prompts per set."""
    frames = {}
    for name, images in (("train", train), ("holdout", holdout), ("synthetic", synthetic)):
        frame = pd.DataFrame({"image": write_images(images, tmp / name)})
        if prompts is not None:
            frame["prompt"] = prompts[name]
        for column, values in (labels or {}).get(name, {}).items():
            frame[column] = values
        frames[name] = frame
    schema = image_schema(list(frames["train"].columns), "prompt" if prompts is not None else None)
    return AuditInputs(train=frames["train"], holdout=frames["holdout"], synthetic=frames["synthetic"], schema=schema,
                       seed=seed, include_real_records=include_real_records, n_jobs=1)


def smooth_images(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random smooth grayscale images (n, 1, size, size) in [0, 1]: sums of a few Gaussian blobs."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, 1, size, size), dtype=np.float32)
    for i in range(n):
        img = np.zeros((size, size))
        for _ in range(6):
            cx, cy, w, a = rng.random(), rng.random(), 0.05 + 0.2 * rng.random(), rng.normal()
            img += a * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * w * w))
        out[i, 0] = (img - img.min()) / (np.ptp(img) + 1e-9)
    return out
