"""Early stopping on records held out from the training split.

Every few epochs the generator samples rows, and their **energy distance** to the held-out
records is measured in synth's shared mixed-type encoding (:class:`synth.neighbors.MixedEncoder`,
fitted on the training rows):

    E = 2 E|X - Y| - E|X - X'| - E|Y - Y'|

(X held-out, Y generated, Euclidean distances; Szekely & Rizzo). It is zero exactly when
the two distributions are equal, looks at all columns jointly, and needs no model of its
own. The weights of the best check are kept; training stops after ``patience`` checks
without improvement.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from synth.neighbors import MixedEncoder
from synth.schema import Schema


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Energy distance between samples ``x`` (n, d) and ``y`` (m, d) (V-statistic, >= 0)."""
    a, b = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    return float(2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())


class EarlyStopping:
    """Tracks the energy distance of generated rows to the held-out records.

    Args:
        train / held_out: training rows (fit the encoding) and held-out rows (schema columns).
        sample: draws ``n`` generated rows as a table.
        patience: checks without improvement before :meth:`check` says stop.
    """

    def __init__(self, train: pd.DataFrame, held_out: pd.DataFrame, schema: Schema,
                 sample: Callable[[int], pd.DataFrame], *, patience: int) -> None:
        self.encoder = MixedEncoder(schema).fit(train)
        self.held_out = self.encoder.transform(held_out)
        self.sample = sample
        self.patience = patience
        self.best = float("inf")
        self.best_epoch = 0
        self.since_best = 0
        self.history: list[tuple[int, float]] = []

    def check(self, epoch: int) -> tuple[bool, bool]:
        """Measure now; returns ``(improved, stop)``."""
        rows = max(2 * len(self.held_out), 500)
        score = energy_distance(self.held_out, self.encoder.transform(self.sample(rows)))
        self.history.append((epoch, score))
        if score < self.best:
            self.best, self.best_epoch, self.since_best = score, epoch, 0
            return True, False
        self.since_best += 1
        return False, self.since_best >= self.patience
