"""Differentially private fine-tuning of the UNet with Opacus (DP-SGD, RDP accountant).

Used instead of ordinary training when ``dp_epsilon`` is set: the UNet (a fresh one, or
one pretrained on public data given by ``unet_path``) is trained on the private images
only through DP-SGD with Poisson-sampled batches, per-sample gradients clipped to
``max_grad_norm`` and Gaussian noise calibrated by Opacus to reach ``epsilon`` at
``delta`` after ``epochs`` epochs. The frozen text encoder is public. What the guarantee
does not cover is stated in the generator's ``privacy.notes``.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import DDPMScheduler, UNet2DConditionModel
from torch.utils.data import DataLoader, TensorDataset

from synth.generators.base import PrivacyGuarantee
from synth.generators.cxr_diffusion.conditioning import Conditioning
from synth.generators.cxr_diffusion.training import diffusion_loss, drop_prompts


def train_private(
    unet: UNet2DConditionModel,
    images: torch.Tensor,
    views: torch.Tensor | None,
    cond: Conditioning,
    *,
    unknown_view: int,
    epsilon: float,
    delta: float,
    max_grad_norm: float,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    prompt_dropout: float,
    scheduler: DDPMScheduler,
    seed: int,
    progress: bool,
) -> tuple[list[float], PrivacyGuarantee]:
    """Train ``unet`` in place with DP-SGD; the losses per step and the guarantee actually spent."""
    from opacus import PrivacyEngine
    from tqdm.auto import tqdm

    n = images.shape[0]
    loader = DataLoader(TensorDataset(torch.arange(n)), batch_size=min(batch_size, n),
                        generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(unet.parameters(), lr=learning_rate)
    engine = PrivacyEngine(accountant="rdp")
    model, optimizer, loader = engine.make_private_with_epsilon(
        module=unet, optimizer=optimizer, data_loader=loader, target_epsilon=epsilon, target_delta=delta,
        epochs=epochs, max_grad_norm=max_grad_norm, noise_generator=torch.Generator().manual_seed(seed + 1),
    )
    rng = np.random.default_rng([seed, 2])
    gen = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    bar = tqdm(total=epochs * len(loader), desc="DP training cxr_diffusion", disable=not progress, leave=False)
    for _ in range(epochs):
        for (rows,) in loader:
            bar.update(1)
            if len(rows) == 0:  # Poisson sampling can draw an empty batch
                continue
            batch = images[rows].to(torch.float32) / 127.5 - 1.0
            hidden, mask = cond.for_batch(rows.numpy(), rng)
            v = views[rows] if views is not None else None
            hidden, mask, v = drop_prompts(hidden, mask, v, cond, unknown_view, prompt_dropout, rng)
            optimizer.zero_grad(set_to_none=True)
            loss = diffusion_loss(model, scheduler, batch, hidden, mask, v, gen)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    bar.close()
    spent = float(engine.get_epsilon(delta))
    unet.eval()
    return losses, PrivacyGuarantee(
        mechanism="DP-SGD (Opacus)", epsilon=spent, delta=delta, accountant="RDP",
        notes=(f"The UNet weights are ({spent:.3g}, {delta:.3g})-DP with respect to one training image (Poisson "
               f"sampling, clipping norm {max_grad_norm}, {epochs} epochs). Not covered: the per-finding label shares "
               "and the list of view positions used to draw prompts for unconditioned sampling, which are read from "
               "the training data without noise; one patient with several images is protected only per image."),
    )
