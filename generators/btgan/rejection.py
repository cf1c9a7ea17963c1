"""Discriminator rejection sampling (Azadi et al., ICLR 2019) for a WGAN critic.

DRS needs the discriminator's logit ``D~(x) = log p_data(x) / p_gen(x)``; a WGAN critic's
score is not one. So after training, the critic's scores of training records and of as
many generated rows are calibrated into that logit by a one-dimensional logistic
regression (scikit-learn): ``D~ = scale * score + offset``. At sample time a generated pack
(the critic judges ``pac`` rows together, so packs are kept or dropped whole) is accepted
with probability ``sigmoid(F - gamma)``,

    F = D~ - D~_max - log(1 - exp(D~ - D~_max - 1e-6)),

``D~_max`` the largest logit seen so far and ``gamma`` the ``quantile``-th quantile of ``F``
over the first batch (higher quantile: stricter, fewer accepted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RejectionSampler:
    """Calibrated acceptance of critic scores (see the module docstring)."""

    scale: float
    offset: float
    quantile: float
    max_logit: float = -np.inf
    gamma: float | None = None

    @classmethod
    def calibrate(cls, real_scores: np.ndarray, fake_scores: np.ndarray, quantile: float) -> RejectionSampler:
        """Fit ``P(real | score)`` on critic scores of records (label 1) and generated packs (label 0)."""
        from sklearn.linear_model import LogisticRegression

        x = np.r_[real_scores, fake_scores][:, None]
        y = np.r_[np.ones(len(real_scores)), np.zeros(len(fake_scores))]
        model = LogisticRegression(C=1e4).fit(x, y)
        return cls(float(model.coef_[0, 0]), float(model.intercept_[0]), quantile)

    def accept(self, scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(packs,) bool: which packs with critic ``scores`` are kept."""
        logit = self.scale * np.asarray(scores, dtype=np.float64) + self.offset
        self.max_logit = max(self.max_logit, float(logit.max(initial=-np.inf)))
        shifted = logit - self.max_logit
        f = shifted - np.log1p(-np.exp(np.minimum(shifted - 1e-6, -1e-12)))
        if self.gamma is None:
            self.gamma = float(np.quantile(f, self.quantile))
        return rng.uniform(size=f.shape) < 1.0 / (1.0 + np.exp(-(f - self.gamma)))

    def to_dict(self) -> dict[str, float]:
        return {"scale": self.scale, "offset": self.offset, "quantile": self.quantile}

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> RejectionSampler:
        return cls(float(d["scale"]), float(d["offset"]), float(d["quantile"]))
