"""The image encoder behind FID/KID and the embedding-space nearest-image search.

Two sources of embeddings, in order of preference:

1. a local TorchScript encoder the user gives (``encoder_path``): a file made with
   ``torch.jit.save`` whose module maps float images (n, 1, H, W) in [0, 1] to embeddings
   (n, d) — e.g. a torchxrayvision DenseNet's pooled features exported on a machine where
   its weights are; nothing is downloaded;
2. otherwise a findings classifier (:class:`synth.vision.FindingsClassifier`, a small CNN)
   trained by the audit on the *training* images' CheXpert labels; its pooled 64-d
   activations are the embedding. Trained on real chest X-rays' findings, it looks at what
   distinguishes radiographs clinically, which a generic ImageNet network does not.

Several image audits need the same classifier; :func:`trained_classifier` keeps the last
two fitted ones (keyed by the images' pixels, labels, seed and epochs), so one run
trains it once. A fit is deterministic, so the cache changes speed, never results.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from synth.audits.images.image_sets import ImageSet, finding_labels
from synth.errors import ConfigError
from synth.vision import FindingsClassifier

_CACHE: OrderedDict[tuple, FindingsClassifier] = OrderedDict()
_CACHE_SIZE = 2


@dataclass
class ImageEncoder:
    """Embeds images: ``embed(images (n, 1, H, W) in [0, 1]) -> float64 (n, d)``."""

    name: str
    description: str
    module: torch.nn.Module | None = None
    classifier: FindingsClassifier | None = None

    def embed(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        if self.classifier is not None:
            return self.classifier.features(images, batch_size=batch_size).astype(np.float64)
        assert self.module is not None
        x = torch.from_numpy(np.asarray(images, dtype=np.float32))
        with torch.no_grad():
            out = [self.module(x[i:i + batch_size]).float().reshape(min(batch_size, len(x) - i), -1)
                   for i in range(0, len(x), batch_size)]
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros((0, 0))


def trained_classifier(train: ImageSet, findings: list[str], *, seed: int, epochs: int) -> FindingsClassifier:
    """A findings classifier fitted on ``train``'s images and labels (cached, see the module docstring)."""
    labels = finding_labels(train.rows, findings)
    key = (train.images.shape, hashlib.sha256(train.images.tobytes()).hexdigest(), tuple(findings),
           labels.tobytes(), seed, epochs)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    classifier = FindingsClassifier(findings, epochs=epochs, seed=seed).fit(train.images, labels)
    _CACHE[key] = classifier
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return classifier


def load_encoder(path: str, audit: str) -> ImageEncoder:
    """A TorchScript image encoder from ``path`` (see the module docstring); ConfigError when unusable."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"audit.params.{audit}.encoder_path: '{path}' is not a file. Give a TorchScript encoder "
                          "saved with torch.jit.save (images (n, 1, H, W) in [0, 1] -> embeddings (n, d)).")
    try:
        module = torch.jit.load(str(file), map_location="cpu").eval()
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"audit.params.{audit}.encoder_path: '{path}' is not a TorchScript module ({exc}). "
                          "Save the encoder with torch.jit.save(torch.jit.script(model), path).") from None
    return ImageEncoder(name=f"TorchScript encoder {file.name}",
                        description=f"the local TorchScript encoder '{file.name}' (embedding as it outputs)",
                        module=module)


def image_encoder(train: ImageSet, findings: list[str], *, encoder_path: str | None, audit: str, seed: int,
                  epochs: int) -> ImageEncoder | None:
    """The encoder to use: the user's TorchScript file, else a classifier trained on ``train`` (None without labels)."""
    if encoder_path is not None:
        return load_encoder(encoder_path, audit)
    labels = finding_labels(train.rows, findings)
    if not findings or not (labels == 1).any():
        return None
    classifier = trained_classifier(train, findings, seed=seed, epochs=epochs)
    return ImageEncoder(
        name="findings classifier (trained by the audit)",
        description=(f"the pooled 64-d features of a CNN the audit trained for {epochs} epochs on the {len(train)} "
                     f"training images' labels ({len(findings)} findings)"),
        classifier=classifier)
