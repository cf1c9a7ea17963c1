"""The image sets an image audit reads: training, holdout and synthetic images at one size.

Images are float32 arrays (n, 1, size, size) in [0, 1] (:func:`synth.data.images.io.load_images`).
The size defaults to the synthetic images' own size (what the generator produced), and
real images are resized to it, so every comparison is at the generator's resolution.
Sets larger than ``max_images`` are subsampled at random (seeded), and the rows kept are
returned so audits can read each kept image's labels and prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.audits.base import AuditInputs
from synth.data.images.io import load_images, read_image
from synth.data.images.labels import LABEL_COLUMNS, NO_FINDING, column_name
from synth.errors import DataError
from synth.schema import DataKind

IMAGE_ONLY = frozenset({DataKind.IMAGE})  # the data kinds every image audit applies to


@dataclass(frozen=True)
class ImageSet:
    """Images (n, 1, s, s) float32 in [0, 1], the table rows they came from (same order) and those rows'
    positions (n,) int64 in the table (e.g. to look up each image's patient in ``AuditInputs.train_groups``)."""

    images: np.ndarray
    rows: pd.DataFrame
    positions: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def image_column(inputs: AuditInputs) -> str:
    """The schema's image column (the first one); a DataError when there is none."""
    columns = inputs.schema.images
    if not columns:
        raise DataError("This image audit needs an image column (a column of kind 'image'); the data has none.")
    return columns[0]


def synthetic_size(inputs: AuditInputs, size: int | None) -> int:
    """``size`` when given, else the side of the first synthetic image (its larger side)."""
    if size is not None:
        return int(size)
    column = image_column(inputs)
    if len(inputs.synthetic) == 0:
        raise DataError("There are no synthetic images to audit.")
    return int(max(read_image(inputs.synthetic[column].iloc[0]).shape))


def load_set(frame: pd.DataFrame, column: str, size: int, *, max_images: int | None, seed: int,
             n_jobs: int | None = None) -> ImageSet:
    """Read (a seeded random subsample of at most ``max_images``) rows' images at ``size`` pixels."""
    keep = np.arange(len(frame), dtype=np.int64)
    if max_images is not None and len(frame) > max_images:
        keep = np.sort(np.random.default_rng(seed).choice(len(frame), max_images, replace=False))
    rows = frame.iloc[keep]
    images = load_images(rows[column].tolist(), size=size, n_jobs=n_jobs)
    return ImageSet(images, rows, keep)


def finding_columns(frame: pd.DataFrame) -> list[str]:
    """The CheXpert finding columns present in ``frame`` (snake case), in CheXpert order, without "No Finding"."""
    return [c for c in LABEL_COLUMNS if c in frame.columns and c != column_name(NO_FINDING)]


def finding_labels(rows: pd.DataFrame, findings: list[str]) -> np.ndarray:
    """Labels (n, k) float: 1 positive, 0 negative or not mentioned, -1 uncertain (CheXpert's U-ignore reads -1)."""
    if not findings:
        return np.zeros((len(rows), 0))
    values = rows[findings].astype(object).apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return np.where(np.isnan(values), 0.0, values)


def training_and_synthetic(inputs: AuditInputs, size: int | None, *, max_train: int | None,
                           max_synthetic: int | None) -> tuple[str, int, ImageSet, ImageSet]:
    """(image column, size used, training set, synthetic set) read at ``size`` (default: the synthetic images' size)."""
    column = image_column(inputs)
    size = synthetic_size(inputs, size)
    train = load_set(inputs.train, column, size, max_images=max_train, seed=inputs.seed, n_jobs=inputs.n_jobs)
    synthetic = load_set(inputs.synthetic, column, size, max_images=max_synthetic, seed=inputs.seed + 1,
                         n_jobs=inputs.n_jobs)
    return column, size, train, synthetic
