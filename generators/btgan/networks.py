"""The three networks of the Triple-GAN: generator, discriminator (critic) and outcome classifier.

All three act on each row on its own (layer normalisation, never batch normalisation, and
no dropout): a row's output never depends on the other rows of its batch. That keeps
sampling independent of how rows are batched, and keeps DP-SGD's per-record analysis
valid (a batch-norm statistic would mix records across a batch).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from synth.generators.btgan.encoding import Span

GUMBEL_TAU = 0.2  # CTGAN's temperature for the generator's one-hot outputs


class _Residual(nn.Module):
    """CTGAN's residual block (the input is carried along by concatenation), with layer norm."""

    def __init__(self, inputs: int, outputs: int) -> None:
        super().__init__()
        self.fc = nn.Linear(inputs, outputs)
        self.norm = nn.LayerNorm(outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.norm(self.fc(x))), x], dim=1)


class Generator(nn.Module):
    """(B, noise + condition) -> (B, generated width) raw outputs (apply :func:`activate`)."""

    def __init__(self, inputs: int, hidden: tuple[int, ...], outputs: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = inputs
        for h in hidden:
            layers.append(_Residual(width, h))
            width += h
        layers.append(nn.Linear(width, outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Discriminator(nn.Module):
    """A WGAN critic on packs of ``pac`` rows: (B, width) -> (B / pac,) scores."""

    def __init__(self, width: int, hidden: tuple[int, ...], pac: int) -> None:
        super().__init__()
        self.pac = pac
        layers: list[nn.Module] = []
        size = width * pac
        for h in hidden:
            layers += [nn.Linear(size, h), nn.LeakyReLU(0.2)]
            size = h
        layers.append(nn.Linear(size, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(-1, x.shape[1] * self.pac)).squeeze(1)


class _MLP(nn.Sequential):
    def __init__(self, inputs: int, hidden: tuple[int, ...], outputs: int) -> None:
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(inputs, h), nn.LeakyReLU(0.2)]
            inputs = h
        layers.append(nn.Linear(inputs, outputs))
        super().__init__(*layers)


class OutcomeClassifier(nn.Module):
    """(B, features) -> (B, classes) outcome logits.

    ``fair`` is the head that labels generated rows and carries the fairness penalty;
    ``reference`` (equalized odds only) is trained on the records alone and stands in for
    the true outcome of a generated row when the penalty conditions on it.
    """

    def __init__(self, inputs: int, hidden: tuple[int, ...], classes: int, *, reference: bool) -> None:
        super().__init__()
        self.fair = _MLP(inputs, hidden, classes)
        self.reference = _MLP(inputs, hidden, classes) if reference else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fair(x)


def activate(raw: torch.Tensor, spans: list[Span], *, hard: bool = False) -> torch.Tensor:
    """Generator output -> row values: tanh for ``alpha`` spans, Gumbel-softmax for the rest.

    ``hard`` returns exact one-hots (a categorical draw per span) for sampling.
    """
    parts = []
    for s in spans:
        block = raw[:, s.start : s.end]
        if s.role == "alpha":
            parts.append(torch.tanh(block))
        else:
            parts.append(F.gumbel_softmax(block, tau=GUMBEL_TAU, hard=hard))
    return torch.cat(parts, dim=1) if parts else raw[:, :0]
