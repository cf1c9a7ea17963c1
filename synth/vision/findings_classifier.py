"""A small CNN that predicts chest X-ray findings from pixels, and per-finding AUROC.

Used to check that findings are learnable from images (the phantom set's test) and that
a generator renders the findings its prompt asks for (label consistency: train on real
images, score generated ones). Labels follow CheXpert: 1 counts as positive, 0 and
missing (not mentioned) as negative, and uncertain (-1) images are left out of both the
training loss and the AUROC of that finding ("U-ignore", Irvin et al. 2019).

Architecture: four 3x3 conv blocks (16-32-64-64 channels, batch norm, ReLU, 2x2 max
pooling), global average pooling and one logit per finding; trained with AdamW on the
sum of per-finding binary cross-entropies. Input: float images (n, 1, H, W) in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from synth.stats.roc import auc

FEATURES = 64  # width of the pooled features (the embedding :meth:`FindingsClassifier.features` returns)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                         nn.MaxPool2d(2))


class FindingsClassifier:
    """Multi-label CNN over ``findings``; ``fit`` then ``predict_proba``."""

    def __init__(self, findings: list[str], *, epochs: int = 12, batch_size: int = 32, lr: float = 3e-3,
                 seed: int = 0, device: str = "cpu") -> None:
        self.findings = list(findings)
        self.epochs, self.batch_size, self.lr, self.seed, self.device = epochs, batch_size, lr, seed, device
        torch.manual_seed(seed)
        self.net = nn.Sequential(_block(1, 16), _block(16, 32), _block(32, 64), _block(64, FEATURES),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(FEATURES, len(self.findings))).to(device)

    def fit(self, images: np.ndarray, labels: np.ndarray) -> FindingsClassifier:
        """``images`` float (n, 1, H, W) in [0, 1]; ``labels`` (n, k) with 1, 0, -1 or NaN per finding."""
        x = torch.from_numpy(np.asarray(images, dtype=np.float32))
        y = np.asarray(labels, dtype=np.float64)
        target = torch.from_numpy((y == 1).astype(np.float32))
        weight = torch.from_numpy((y != -1).astype(np.float32))  # U-ignore
        gen = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=self.epochs *
                                                    max(1, -(-len(x) // self.batch_size)))
        loss_fn = nn.BCEWithLogitsLoss(reduction="none")
        self.net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(x), generator=gen)
            for start in range(0, len(x), self.batch_size):
                idx = order[start:start + self.batch_size]
                xb = x[idx].to(self.device)
                logits = self.net(_standardize(xb))
                loss = (loss_fn(logits, target[idx].to(self.device)) * weight[idx].to(self.device)).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        self.net.eval()
        return self

    @torch.no_grad()
    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Probability of each finding, (n, k)."""
        x = torch.from_numpy(np.asarray(images, dtype=np.float32))
        out = [torch.sigmoid(self.net(_standardize(x[i:i + 256].to(self.device)))).cpu() for i in range(0, len(x), 256)]
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.findings)))


    @torch.no_grad()
    def features(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The pooled activations the logits are read from, float32 (n, 64): an image embedding
        (used for FID/KID and nearest-image search in the image audits)."""
        x = torch.from_numpy(np.asarray(images, dtype=np.float32))
        body = self.net[:-1]  # everything but the final linear layer
        out = [body(_standardize(x[i:i + batch_size].to(self.device))).cpu() for i in range(0, len(x), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, FEATURES), dtype=np.float32)


def per_finding_auroc(scores: np.ndarray, labels: np.ndarray, findings: list[str]) -> dict[str, float]:
    """AUROC of each finding's score against its labels (positive: 1; uncertain -1 left out); NaN without both classes."""
    out = {}
    y = np.asarray(labels, dtype=np.float64)
    for j, name in enumerate(findings):
        keep = y[:, j] != -1
        positive = (y[keep, j] == 1).astype(int)
        out[name] = float(auc(scores[keep, j], positive)) if 0 < positive.sum() < len(positive) else float("nan")
    return out


def _standardize(x: torch.Tensor) -> torch.Tensor:
    """Per-image zero mean, unit variance: exposure differences should not be a shortcut."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True) + 1e-6
    return (x - mean) / std
