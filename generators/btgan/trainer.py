"""The training loop: one discriminator-and-classifier step on records, one generator step.

Per step:

1. **records** (``discriminator_steps`` times): a batch of training records (training-by-
   sampling with density weights, or a Poisson sample with DP) and as many generated rows
   with the same subgroups and conditions; the critic's WGAN-GP loss and the outcome
   classifier's cross-entropy on the records (:mod:`.losses`), one optimiser step for both
   (DP-SGD with DP, :mod:`.privacy`);
2. **generator**: generated rows labelled by the classifier (Gumbel-softmax of its logits,
   the classifier's weights held fixed) are scored by the critic; the generator minimises
   ``-D(row)`` plus CTGAN's conditioning loss (with DP, plus an anchor of each nullable
   column's missing share to its DP-released value, :meth:`Trainer._missing_anchor`), and the classifier's *fair head* minimises
   the fairness penalty (:mod:`.fairness`), in steps ``fairness_weight`` times the size of its
   cross-entropy steps, on a separate batch of
   generated rows drawn like the output (subgroups at their shares, conditions by their
   frequency within the subgroup). The penalty never moves the generator: the features
   are detached, so fairness is reached by how the outcome is assigned, not by distorting
   who is generated.
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import functional_call
from torch.nn import functional as F

from synth.generators.btgan.fairness import odds_gap, parity_gap, score_profile
from synth.generators.btgan.encoding import Span
from synth.generators.btgan.layout import RowLayout
from synth.generators.btgan.losses import RecordBatch, record_losses
from synth.generators.btgan.networks import GUMBEL_TAU, Discriminator, Generator, OutcomeClassifier, activate
from synth.generators.btgan.params import BtGANParams
from synth.generators.btgan.sampler import ConditionLayout, Conditions, ConditionTable


@dataclass
class Networks:
    """The three networks and the fixed tables generation needs."""

    generator: Generator
    discriminator: Discriminator
    classifier: OutcomeClassifier
    layout: RowLayout
    conditions: ConditionLayout
    subgroup_onehots: torch.Tensor  # (G, sensitive width)
    shares: np.ndarray  # (G,) subgroup shares used in training (real or noisy)
    table: ConditionTable
    embedding_dim: int
    device: torch.device
    averaged: torch.nn.Module | None = None  # exponential moving average of the generator, during training

    @classmethod
    def build(cls, params: BtGANParams, layout: RowLayout, conditions: ConditionLayout, onehots: np.ndarray,
              shares: np.ndarray, table: ConditionTable, device: torch.device) -> Networks:
        g_in = params.embedding_dim + layout.sensitive_width + conditions.width
        gen = Generator(g_in, params.generator_dim, layout.generated_width)
        disc = Discriminator(layout.row_width + conditions.width, params.discriminator_dim, params.effective_pac)
        clf = OutcomeClassifier(layout.features_index.size, params.classifier_dim, layout.outcome_width,
                                reference=params.fairness == "equalized_odds")
        return cls(gen.to(device), disc.to(device), clf.to(device), layout.to(device), conditions,
                   torch.as_tensor(onehots, device=device), shares, table, params.embedding_dim, device)

    # -- generation -----------------------------------------------------------------------
    def generate(self, cond: Conditions, *, hard: bool, frozen_classifier: bool = False, averaged: bool = False,
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows meeting ``cond`` (B rows).

        Returns ``(row, condition, raw generator output, classifier features)``. With
        ``frozen_classifier`` gradients reach the classifier's input but not its weights;
        ``averaged`` uses the generator's moving average (the one that makes the output)
        while it trains.
        """
        sens = self.subgroup_onehots[torch.as_tensor(cond.groups, device=self.device)]
        vectors = self.conditions.vectors(cond, self.device)
        z = torch.randn(len(cond), self.embedding_dim, device=self.device)
        generator = self.averaged if averaged and self.averaged is not None else self.generator
        raw = generator(torch.cat([z, sens, vectors], dim=1))
        gen = activate(raw, self.layout.generated_spans, hard=hard)
        features = self.layout.features(gen, sens)
        if frozen_classifier:
            weights = {k: v.detach() for k, v in self.classifier.named_parameters()}
            logits = functional_call(self.classifier, weights, (features,))
        else:
            logits = self.classifier(features)
        outcome = F.gumbel_softmax(logits, tau=GUMBEL_TAU, hard=hard)
        return self.layout.row(gen, sens, outcome), vectors, raw, features

    def conditions_like_output(self, b: int, rng: np.random.Generator) -> Conditions:
        """Subgroups at the training shares, the other conditions by their frequency within the subgroup."""
        return self.table.draw(rng.choice(len(self.shares), size=b, p=self.shares), rng)

    def state(self) -> dict[str, dict[str, torch.Tensor]]:
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
                "classifier": self.classifier.state_dict()}

    def load_state(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.classifier.load_state_dict(state["classifier"])

    def train(self, mode: bool = True) -> None:
        for net in (self.generator, self.discriminator, self.classifier):
            net.train(mode)


@dataclass
class Records:
    """The encoded training records: rows (n, width), outcome classes (n,), subgroups (n,);
    density buckets (n,) (None without weighted sampling) and importance weights (n,) that
    undo how records are drawn (None when drawn uniformly, as with DP's Poisson sampling)."""

    rows: torch.Tensor
    outcome: torch.Tensor
    groups: np.ndarray
    buckets: np.ndarray | None = None
    importance: np.ndarray | None = None


@dataclass
class TrainingLog:
    epochs_run: int = 0
    best_epoch: int | None = None
    stopped_early: bool = False
    losses: list[dict[str, float]] = field(default_factory=list)
    validation: list[tuple[int, float]] = field(default_factory=list)


RecordStep = Callable[[RecordBatch], tuple[float, float]]


class Trainer:
    """Trains :class:`Networks` on :class:`Records`.

    ``draw_records(b)`` returns ``(record rows, condition column, condition level)``;
    ``record_step`` applies one optimiser step on a :class:`RecordBatch` (plain Adam, or
    DP-SGD); ``steps_per_epoch`` and ``batch_size`` come from the caller (they differ with
    Poisson sampling).
    """

    def __init__(self, nets: Networks, params: BtGANParams, records: Records, *,
                 draw_records: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]],
                 record_step: RecordStep, steps_per_epoch: int, rng: np.random.Generator,
                 draw_generator_conditions: Callable[[int], Conditions],
                 penalise_records: bool, missing_rates: list[tuple[Span, float]] = ()) -> None:
        self.nets, self.params, self.records = nets, params, records
        self.missing_rates = list(missing_rates)
        self.penalise_records = penalise_records
        self.draw_records, self.record_step = draw_records, record_step
        self.steps_per_epoch, self.rng = steps_per_epoch, rng
        self.draw_generator_conditions = draw_generator_conditions
        self.shares = torch.as_tensor(nets.shares, dtype=torch.float32, device=nets.device)
        fair_head = nets.classifier.fair.parameters()
        # The fair head learns the outcome from the records (record step) and parity here, in
        # two Adam steps. Adam divides each gradient by its own running scale, so a weight on
        # the penalty's loss would cancel out; the weight scales this step's size instead
        # (weight 4: each parity step moves the head 4x as far as before, against the same
        # cross-entropy steps). Its weight decay is applied once, with the records.
        self.generator_optimizer = torch.optim.Adam(
            [{"params": nets.generator.parameters(), "lr": params.generator_lr, "weight_decay": params.generator_decay,
              "betas": (0.5, 0.9)},
             {"params": fair_head, "lr": params.classifier_lr * params.fairness_weight}],
        )

    def record_batch(self) -> RecordBatch:
        rows, column, level = self.draw_records()
        nets, b = self.nets, len(rows)
        real = self.records.rows[torch.as_tensor(rows, device=nets.device)]
        buckets = self.records.buckets[rows] if self.records.buckets is not None else np.full(b, -1)
        conditions = Conditions(self.records.groups[rows], column, level, buckets)
        with torch.no_grad():
            fake, cond, _, _ = nets.generate(conditions, hard=False)
        pac = nets.discriminator.pac
        return RecordBatch(
            real=torch.cat([real, cond], dim=1), fake=torch.cat([fake, cond], dim=1),
            mix=torch.rand(b // pac, 1, device=nets.device),
            features=real[:, torch.as_tensor(nets.layout.features_index, device=nets.device)],
            outcome=self.records.outcome[torch.as_tensor(rows, device=nets.device)],
            weight=(torch.as_tensor(self.records.importance[rows], dtype=torch.float32, device=nets.device)
                    if self.records.importance is not None else None),
        )

    def generator_step(self) -> dict[str, float]:
        nets, p = self.nets, self.params
        for w in nets.discriminator.parameters():
            w.requires_grad_(False)
        try:
            conditions = self.draw_generator_conditions(p.batch_size)
            row, cond, raw, _ = nets.generate(conditions, hard=False, frozen_classifier=True)
            adversarial = -nets.discriminator(torch.cat([row, cond], dim=1)).mean()
            conditioning = self._conditioning_loss(raw, conditions.column, conditions.level)
            loss = adversarial + conditioning + self._missing_anchor(raw)
            penalty = torch.zeros((), device=nets.device)
            if p.fairness_weight > 0:
                penalty = self._fairness_penalty(p.batch_size)
                loss = loss + penalty  # its weight is the fair head's step size (see __init__)
            self.generator_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.generator_optimizer.step()
            if nets.averaged is not None:
                nets.averaged.update_parameters(nets.generator)
        finally:
            for w in nets.discriminator.parameters():
                w.requires_grad_(True)
        return {"generator": adversarial.item(), "conditioning": conditioning.item(), "fairness": penalty.item()}

    def _conditioning_loss(self, raw: torch.Tensor, column: np.ndarray, level: np.ndarray) -> torch.Tensor:
        """CTGAN's: cross-entropy of the conditioned column's logits against the asked level, per row."""
        total = raw.sum() * 0.0
        for c, span in enumerate(self.nets.conditions.spans):
            at = np.flatnonzero(column == c)
            if at.size:
                idx = torch.as_tensor(at, device=raw.device)
                target = torch.as_tensor(level[at], device=raw.device)
                total = total + F.cross_entropy(raw[idx, span.start : span.end], target, reduction="sum")
        return total / max(len(column), 1)

    def _missing_anchor(self, raw: torch.Tensor) -> torch.Tensor:
        """With DP: sum over nullable columns of KL(r || p), ``r`` the released missing share and
        ``p`` the batch's mean missing probability (softmax of the generator's logits, the
        expected value of its Gumbel-softmax draw).

        The KL's gradient does not vanish when ``p`` has collapsed to 0 or 1, where a squared
        error's would. It reads only the DP release, so it is post-processing.
        """
        total = raw.sum() * 0.0
        for span, rate in self.missing_rates:
            p = torch.softmax(raw[:, span.start : span.end], dim=1)[:, 1].mean().clamp(1e-6, 1 - 1e-6)
            r = min(max(rate, 1e-6), 1 - 1e-6)
            total = total + r * math.log(r) + (1 - r) * math.log(1 - r) - r * torch.log(p) - (1 - r) * torch.log1p(-p)
        return total

    def _fairness_penalty(self, b: int) -> torch.Tensor:
        """The fair head's penalty on generated rows drawn like the output and, unless
        ``penalise_records`` is off (DP), on as many records drawn uniformly."""
        nets = self.nets
        conditions = nets.conditions_like_output(b, self.rng)
        with torch.no_grad():
            _, _, _, features = nets.generate(conditions, hard=True, frozen_classifier=True, averaged=True)
        batches = [(features, torch.as_tensor(conditions.groups, device=nets.device))]
        if self.penalise_records:
            rows = self.rng.integers(len(self.records.groups), size=b)
            index = torch.as_tensor(rows, device=nets.device)
            features = self.records.rows[index][:, torch.as_tensor(nets.layout.features_index, device=nets.device)]
            batches.append((features, torch.as_tensor(self.records.groups[rows], device=nets.device)))
        gaps = []
        for features, g in batches:
            scores = score_profile(nets.classifier(features))
            if self.params.fairness == "equalized_odds":
                with torch.no_grad():
                    reference = torch.softmax(nets.classifier.reference(features), dim=1)
                gaps.append(odds_gap(scores, reference, g, self.shares))
            else:
                gaps.append(parity_gap(scores, g, self.shares))
        return torch.stack(gaps).mean()

    def fit(self, *, stopping=None, progress: bool = True) -> TrainingLog:
        """Train for ``params.epochs`` epochs or until ``stopping`` (an :class:`~.validation.EarlyStopping`) says stop.

        The output generator is the exponential moving average of the trained one
        (``generator_ema`` per step; GAN weights oscillate, their average much less), at
        the best validation check when there is early stopping.
        """
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
        from tqdm.auto import tqdm

        p, log, nets = self.params, TrainingLog(), self.nets
        if p.generator_ema > 0:
            nets.averaged = AveragedModel(nets.generator, multi_avg_fn=get_ema_multi_avg_fn(p.generator_ema))
        best_state = None
        bar = tqdm(range(p.epochs), desc="btgan", unit="epoch", file=sys.stderr, disable=not progress, leave=False)
        for epoch in bar:
            nets.train(True)
            critic = classifier = 0.0
            for _ in range(self.steps_per_epoch):
                for _ in range(p.discriminator_steps):
                    critic, classifier = self.record_step(self.record_batch())
                gen = self.generator_step()
            losses = {"critic": critic, "classifier": classifier, **gen}
            log.losses.append(losses)
            log.epochs_run = epoch + 1
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items() if k in ("critic", "generator", "fairness")})
            if stopping is not None and (epoch + 1) % p.validation_every == 0:
                nets.train(False)
                improved, stop = stopping.check(epoch + 1)
                if improved:
                    best_state = copy.deepcopy(self._output_generator().state_dict())
                    log.best_epoch = epoch + 1
                if stop:
                    log.stopped_early = True
                    break
        bar.close()
        # Only the generator goes back to its best check: the classifier and critic keep
        # their last, longest-trained weights (the classifier's accuracy grows with steps).
        nets.generator.load_state_dict(best_state if best_state is not None else self._output_generator().state_dict())
        nets.averaged = None
        if stopping is not None:
            log.validation = list(stopping.history)
        nets.train(False)
        return log

    def _output_generator(self) -> torch.nn.Module:
        return self.nets.averaged.module if self.nets.averaged is not None else self.nets.generator


class PlainRecordStep:
    """The non-private step on records: mean losses, autograd, one Adam step for both networks."""

    def __init__(self, d: Discriminator, c: OutcomeClassifier, optimizer: torch.optim.Optimizer,
                 gp_weight: float) -> None:
        self.d, self.c, self.optimizer, self.gp_weight = d, c, optimizer, gp_weight

    def __call__(self, batch: RecordBatch) -> tuple[float, float]:
        critic, classifier = record_losses(self.d, self.c, batch, self.gp_weight)
        self.optimizer.zero_grad(set_to_none=True)
        (critic + classifier).backward()
        self.optimizer.step()
        return critic.item(), classifier.item()


def record_optimizer(d: Discriminator, c: OutcomeClassifier, params: BtGANParams) -> torch.optim.Adam:
    """Adam over the discriminator (CTGAN's betas) and the whole classifier."""
    return torch.optim.Adam([
        {"params": d.parameters(), "lr": params.discriminator_lr, "weight_decay": params.discriminator_decay,
         "betas": (0.5, 0.9)},
        {"params": c.parameters(), "lr": params.classifier_lr, "weight_decay": params.classifier_decay},
    ])
