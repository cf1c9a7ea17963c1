"""Differential privacy: what touches the records, how it is noised, and how it is accounted.

With ``dp_epsilon`` set, only two mechanisms ever read the training records:

1. **the subgroup counts and each nullable column's count of missing values**, released
   once with the Gaussian mechanism (a record is in one subgroup and missing in at most
   every nullable column, so it changes the joint vector by at most ``sqrt(1 + m)`` in L2
   norm). The sampler draws generated subgroups, the fairness penalty weights subgroups
   and sampling sets output shares from the noisy subgroup counts only; the noisy missing
   shares anchor the generator's missing-value rates (:class:`~.trainer.Trainer`), which
   an adversary as noisy as DP-SGD's lets collapse (at epsilon 1 on 200 ACTG 175 rows,
   every generated ``cd496`` came out missing);
2. **DP-SGD** (Opacus ``DPOptimizer``) on every network that reads records, the
   discriminator and the outcome classifier, *jointly*: a record's gradient through both
   networks is clipped to ``max_grad_norm`` as one vector, so each step is one sampled
   Gaussian mechanism. Batches are Poisson samples (Opacus' ``UniformWithReplacementSampler``):
   every record is in a batch independently with probability ``q = batch_size / n``.

The generator only ever sees the discriminator's and classifier's outputs on generated
rows, so it is post-processing, as is everything sampled from it. The encoding uses the
schema's declared bounds and levels (see :mod:`.encoding`), never the records.

Accounting: Opacus' RDP accountant composes the count release (one Gaussian mechanism
at sampling rate 1) with every DP-SGD step actually taken (a hook on the optimizer). The
noise multiplier of DP-SGD is calibrated up front so that the composition meets the
target epsilon at ``delta``; the count release gets ``group_budget`` of epsilon.
``epsilon_spent`` reads the accountant after training. Taken as public, as in Opacus:
the number of training rows ``n`` and the schema (column kinds, levels, bounds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from opacus.accountants import RDPAccountant
from opacus.optimizers import DPOptimizer

from synth.generators.btgan.losses import RecordBatch, per_record_gradients
from synth.generators.btgan.networks import Discriminator, OutcomeClassifier

MAX_SIGMA = 1e6
# RDP orders for calibrating the noise: few fractional orders (Opacus computes those in a
# slow series). A coarser grid can only overstate epsilon, so the noise it picks is
# enough; the epsilon reported after training uses Opacus' full default grid.
CALIBRATION_ORDERS = [1 + k / 4 for k in range(1, 12)] + list(range(4, 64)) + [80, 128, 256]
ACCOUNTANT = "RDP (Opacus RDPAccountant), Poisson-sampled Gaussian mechanism, add/remove-one-record adjacency"


@dataclass(frozen=True)
class NoisePlan:
    """Noise multipliers meeting ``epsilon`` at ``delta``: ``sgd`` for DP-SGD (``steps`` steps at
    sampling rate ``sample_rate``) and ``counts`` for the subgroup counts (None: not released)."""

    epsilon: float
    delta: float
    sample_rate: float
    steps: int
    sgd: float
    counts: float | None


def _epsilon(history: list[tuple[float, float, int]], delta: float) -> float:
    accountant = RDPAccountant()
    accountant.history = list(history)
    return float(accountant.get_epsilon(delta=delta, alphas=CALIBRATION_ORDERS))


def _smallest_sigma(spent: callable, target: float, tolerance: float = 0.005) -> float:
    """The smallest noise multiplier whose ``spent(sigma)`` is at most ``target`` (bisection)."""
    low, high = 0.0, 1.0
    while spent(high) > target:
        low, high = high, 2 * high
        if high > MAX_SIGMA:
            raise ValueError(f"epsilon {target:g} cannot be met with a noise multiplier below {MAX_SIGMA:g}")
    while high - low > tolerance * high:
        mid = 0.5 * (low + high)
        if spent(mid) > target:
            low = mid
        else:
            high = mid
    return high


def plan_noise(epsilon: float, delta: float, sample_rate: float, steps: int, *, release_counts: bool,
               group_budget: float) -> NoisePlan:
    """Calibrate the noise of the count release and of DP-SGD to spend at most ``epsilon`` in all."""
    counts = None
    history: list[tuple[float, float, int]] = []
    if release_counts:
        counts = _smallest_sigma(lambda s: _epsilon([(s, 1.0, 1)], delta), group_budget * epsilon)
        history.append((counts, 1.0, 1))
    sgd = _smallest_sigma(lambda s: _epsilon(history + [(s, sample_rate, steps)], delta), epsilon)
    return NoisePlan(epsilon, delta, sample_rate, steps, sgd, counts)


def noisy_counts(counts: np.ndarray, sigma: float, generator: torch.Generator) -> np.ndarray:
    """``counts`` (G,) plus Gaussian noise of standard deviation ``sigma``, floored at 0.5 (post-processing)."""
    noise = torch.normal(0.0, sigma, size=(len(counts),), generator=generator, dtype=torch.float64).numpy()
    return np.maximum(np.asarray(counts, dtype=np.float64) + noise, 0.5)


def release_counts(groups: np.ndarray | None, missing: list[int], multiplier: float,
                   generator: torch.Generator) -> tuple[np.ndarray | None, np.ndarray]:
    """One Gaussian release of the subgroup counts ``groups`` (G,) (None: not released) and of
    each nullable column's count of missing values ``missing`` (m,).

    A record sits in one subgroup and is missing in up to m columns, so adding or removing
    it moves the joint vector by at most ``sqrt(1 + m)`` in L2 norm (``sqrt(m)`` without
    groups): noise of that many times ``multiplier`` is one Gaussian mechanism with noise
    multiplier ``multiplier``, the entry the accountant records. Returns the noisy
    ``(groups, missing)``, each floored at 0.5.
    """
    parts = ([np.asarray(groups, dtype=np.float64)] if groups is not None else []) + [np.asarray(missing, np.float64)]
    sensitivity = np.sqrt((1 if groups is not None else 0) + len(missing))
    noisy = noisy_counts(np.concatenate(parts), multiplier * sensitivity, generator)
    if groups is None:
        return None, noisy
    return noisy[: len(groups)], noisy[len(groups):]


class PrivateRecordStep:
    """One DP-SGD step of discriminator and classifier on a Poisson batch of records.

    Wraps ``optimizer`` (over both networks' parameters) in Opacus' ``DPOptimizer``; the
    accountant is stepped by the optimizer's hook, once per step actually taken.
    """

    def __init__(self, d: Discriminator, c: OutcomeClassifier, optimizer: torch.optim.Optimizer, *,
                 noise_multiplier: float, max_grad_norm: float, expected_batch_size: int, sample_rate: float,
                 accountant: RDPAccountant, noise_generator: torch.Generator, gp_weight: float) -> None:
        self.d, self.c, self.gp_weight = d, c, gp_weight
        self.optimizer = DPOptimizer(optimizer, noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
                                     expected_batch_size=expected_batch_size, loss_reduction="mean",
                                     generator=noise_generator)
        self.optimizer.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=sample_rate))
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]

    def step(self, batch: RecordBatch) -> tuple[float, float]:
        """Clip, noise and apply the batch's per-record gradients; returns the mean (critic, classifier) losses."""
        self.optimizer.zero_grad(set_to_none=True)
        if batch.real.shape[0] == 0:
            for p in self.params:  # an empty Poisson batch still takes a (pure-noise) step
                p.grad_sample = torch.zeros((0, *p.shape), device=p.device, dtype=p.dtype)
            critic = classifier = float("nan")
        else:
            grads, critic_per, classifier_per = per_record_gradients(self.d, self.c, batch, self.gp_weight)
            for p in self.params:
                p.grad_sample = grads[p]
            critic, classifier = float(critic_per.mean()), float(classifier_per.mean())
        self.optimizer.step()
        return critic, classifier


def epsilon_spent(accountant: RDPAccountant, delta: float) -> float:
    """Epsilon the accountant's history has spent at ``delta``."""
    return float(accountant.get_epsilon(delta=delta)) if accountant.history else 0.0
