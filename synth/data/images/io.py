"""Read image files into arrays and write arrays as PNG files.

One convention for every image in synth: grayscale, 8 bits per pixel in files; in memory
either ``uint8`` arrays (n, 1, H, W) as read, or ``float32`` arrays (n, 1, H, W) in
[0, 1] (:func:`load_images`), which generators and image audits use. A ``size`` resizes
each image to ``size x size`` pixels: the shorter side is scaled to ``size`` and the
longer one centre-cropped (so anatomy keeps its aspect ratio). JPEG files are decoded at
a reduced scale when that is still at least ``size`` (Pillow's draft mode), which makes
reading full-size radiographs for a 64 px model several times faster.

Every file that cannot be used (missing, not an image, unreadable) raises a
:class:`~synth.errors.DataError` that names the file, the row and the number of such
files; nothing is skipped silently.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from synth.errors import DataError

MAX_LISTED = 3  # failed files named in an error message


def resolve_paths(paths: Sequence[str | Path], root: str | Path | None = None) -> list[Path]:
    """Paths as :class:`Path`; relative ones resolved against ``root`` (when given)."""
    base = Path(root).expanduser() if root is not None else None
    out = []
    for p in paths:
        path = Path(p).expanduser()
        out.append(base / path if base is not None and not path.is_absolute() else path)
    return out


def read_image(path: str | Path, size: int | None = None) -> np.ndarray:
    """One image file as a grayscale ``uint8`` array (H, W), or (size, size) when ``size`` is given.

    Raises :class:`DataError` naming the file when it is missing or not a readable image.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            if size is not None and img.format == "JPEG":
                img.draft("L", (size, size))  # decode at 1/2, 1/4 or 1/8 scale, never below size
            img = _to_grayscale(img)
            if size is not None and img.size != (size, size):
                img = ImageOps.fit(img, (size, size), method=Image.Resampling.BICUBIC)
            return np.asarray(img, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise DataError(f"Image file '{path}' does not exist; check the data's root folder and the image paths.") from None
    except UnidentifiedImageError:
        raise DataError(
            f"'{path}' is not an image file Pillow can read (PNG, JPEG, TIFF, ...): replace it or drop its row."
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt files
        raise DataError(f"Image file '{path}' cannot be read ({exc}): it may be truncated; replace it or drop its row.") from None


def read_images(
    paths: Sequence[str | Path], *, root: str | Path | None = None, size: int | None = None, n_jobs: int | None = None
) -> np.ndarray:
    """Images as a ``uint8`` array (n, 1, H, W); every image must then have the same size.

    ``paths`` are resolved against ``root``. Files are decoded on ``n_jobs`` threads
    (Pillow releases the GIL while decoding); default: the usable cores. All files are
    tried, then one :class:`DataError` lists how many failed and the first few.
    """
    files = resolve_paths(paths, root)
    if not files:
        return np.zeros((0, 1, size or 0, size or 0), dtype=np.uint8)
    workers = n_jobs or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

    def one(path: Path) -> np.ndarray | DataError:
        try:
            return read_image(path, size)
        except DataError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=workers) as pool:
        arrays = list(pool.map(one, files))
    failed = [(i, a) for i, a in enumerate(arrays) if isinstance(a, DataError)]
    if failed:
        listed = "; ".join(f"row {i}: {exc}" for i, exc in failed[:MAX_LISTED])
        raise DataError(f"{len(failed)} of {len(files)} image files cannot be used. {listed}")
    shapes = {a.shape for a in arrays}  # type: ignore[union-attr]
    if len(shapes) > 1:
        raise DataError(
            f"The images have different sizes ({', '.join(f'{w}x{h}' for h, w in sorted(shapes)[:4])}): give a size "
            "(e.g. data.images.size: 64) so every image is resized to size x size."
        )
    return np.stack(arrays)[:, None, :, :]  # type: ignore[arg-type]


def load_images(
    paths: Sequence[str | Path], *, root: str | Path | None = None, size: int | None = None, n_jobs: int | None = None
) -> np.ndarray:
    """Images as ``float32`` (n, 1, H, W) in [0, 1] (pixel value / 255); see :func:`read_images`."""
    return read_images(paths, root=root, size=size, n_jobs=n_jobs).astype(np.float32) / np.float32(255.0)


def write_png(image: np.ndarray, path: str | Path) -> None:
    """Write a grayscale ``uint8`` array (H, W) or (1, H, W) as an 8-bit PNG (same array, same bytes)."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.dtype != np.uint8:
        raise ValueError(f"write_png needs a uint8 array (H, W), got {array.dtype} {array.shape}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", optimize=False, compress_level=6)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """``float`` images in [0, 1] (any shape) -> ``uint8`` by rounding to the nearest level (clipped)."""
    return np.clip(np.rint(np.asarray(images, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def _to_grayscale(img: Image.Image) -> Image.Image:
    if img.mode == "L":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 12/16-bit radiographs: stretch the used range to 8 bits rather than clip at 255
        array = np.asarray(img, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
        return Image.fromarray(to_uint8(scaled))
    return img.convert("L")
