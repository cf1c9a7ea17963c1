"""The losses on records: the critic's (WGAN with gradient penalty) and the classifier's.

Each record enters one step's loss through exactly one term, and that term is written
once, for one pair (a record and the generated row it is matched with): the
discriminator's ``D(fake) - D(real) + lambda * (|grad D(mix)| - 1)^2`` and the classifier's
cross-entropy. :func:`record_losses` averages it over a batch with ordinary autograd (the
non-private path; with ``pac`` rows judged together the pair is a pack of ``pac`` pairs,
CTGAN's form). :func:`per_record_gradients` computes the same term's gradient for every
record separately with ``torch.func`` (the DP-SGD path, ``pac = 1``), for Opacus to clip
and noise. With no clipping and no noise both give the same step
(``tests/test_generator_btgan_dp.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from synth.generators.btgan.networks import Discriminator, OutcomeClassifier


@dataclass
class RecordBatch:
    """One step's records with their generated partners.

    real / fake: (B, row + condition width) discriminator inputs; mix: (B / pac, 1)
    interpolation weights of the gradient penalty (one per pack); features: (B, features)
    the records' classifier inputs; outcome: (B,) long, their outcome classes; weight: (B,)
    importance weights of the classifier's loss (None: all 1), which undo the density
    weights the records were drawn with so the classifier learns the real outcome rates.
    """

    real: torch.Tensor
    fake: torch.Tensor
    mix: torch.Tensor
    features: torch.Tensor
    outcome: torch.Tensor
    weight: torch.Tensor | None = None


InputGrad = Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor], torch.Tensor]


def _autograd_input_grad(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(f(x).sum(), x, create_graph=True)[0]


def _func_input_grad(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    return grad(lambda v: f(v).sum())(x)


def _critic_term(d: Callable[[torch.Tensor], torch.Tensor], batch: RecordBatch, pac: int, gp_weight: float,
                 input_grad: InputGrad) -> torch.Tensor:
    mix = batch.mix.repeat_interleave(pac, dim=0)
    blend = mix * batch.real + (1 - mix) * batch.fake
    gradients = input_grad(d, blend)
    norms = gradients.reshape(-1, pac * gradients.shape[1]).norm(2, dim=1)
    penalty = gp_weight * ((norms - 1) ** 2).mean()
    return d(batch.fake).mean() - d(batch.real).mean() + penalty


Net = Callable[[torch.Tensor], torch.Tensor]


def _classifier_term(c: Net, reference: Net | None, batch: RecordBatch) -> torch.Tensor:
    def ce(logits: torch.Tensor) -> torch.Tensor:
        if batch.weight is None:
            return F.cross_entropy(logits, batch.outcome)
        return (batch.weight * F.cross_entropy(logits, batch.outcome, reduction="none")).sum() / batch.weight.sum()

    loss = ce(c(batch.features))
    if reference is not None:
        loss = loss + ce(reference(batch.features))
    return loss


def record_losses(d: Discriminator, c: OutcomeClassifier, batch: RecordBatch,
                  gp_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(critic loss, classifier loss), each the batch mean, with autograd graphs."""
    critic = _critic_term(d, batch, d.pac, gp_weight, _autograd_input_grad)
    return critic, _classifier_term(c, c.reference, batch)


def per_record_gradients(
    d: Discriminator, c: OutcomeClassifier, batch: RecordBatch, gp_weight: float
) -> tuple[dict[nn.Parameter, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Per-record gradients of critic + classifier loss (``pac`` must be 1).

    Returns ``({parameter: (B, *parameter.shape) gradient}, critic (B,), classifier (B,))``
    with the per-record loss values; their means are :func:`record_losses`' values.
    """
    if d.pac != 1:
        raise ValueError("per-record gradients need pac = 1: a pack would mix several records in one term")
    if batch.weight is not None:
        raise ValueError("per-record gradients take unweighted records (importance weights mix records in one term)")
    d_params = {k: v.detach() for k, v in d.named_parameters()}
    c_params = {k: v.detach() for k, v in c.named_parameters()}

    def one(dp: dict, cp: dict, real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor, features: torch.Tensor,
            outcome: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        single = RecordBatch(real[None], fake[None], mix[None], features[None], outcome[None])
        d_fn = lambda x: functional_call(d, dp, (x,))  # noqa: E731
        fair = lambda x: functional_call(c, cp, (x,))  # noqa: E731
        ref_params = {k[len("reference."):]: v for k, v in cp.items() if k.startswith("reference.")}
        ref = (lambda x: functional_call(c.reference, ref_params, (x,))) if c.reference is not None else None  # noqa: E731
        critic = _critic_term(d_fn, single, 1, gp_weight, _func_input_grad)
        classifier = _classifier_term(fair, ref, single)
        return critic + classifier, (critic, classifier)

    grads, (critic, classifier) = vmap(grad(one, argnums=(0, 1), has_aux=True), in_dims=(None, None, 0, 0, 0, 0, 0))(
        d_params, c_params, batch.real, batch.fake, batch.mix, batch.features, batch.outcome
    )
    named = dict(d.named_parameters())
    out = {named[k]: g for k, g in grads[0].items()}
    named = dict(c.named_parameters())
    out.update({named[k]: g for k, g in grads[1].items()})
    return out, critic, classifier
