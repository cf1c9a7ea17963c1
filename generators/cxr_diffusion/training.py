"""DDPM training of the UNet with accelerate (mixed precision, gradient accumulation), EMA and prompt dropout.

Each step draws a batch of training images (with replacement, from a seeded generator),
a noise level per image and Gaussian noise, and regresses the UNet's prediction on the
noise (or on v). A share ``prompt_dropout`` of the batch sees the empty prompt and the
"unknown" view instead of its own, which teaches the unconditional model that
classifier-free guidance needs. Every random draw comes from generators seeded by the
run's seed, so the same seed gives the same weights on the same machine.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel
from diffusers.optimization import get_cosine_schedule_with_warmup
from diffusers.training_utils import EMAModel

from synth.generators.cxr_diffusion.conditioning import Conditioning


def noise_scheduler(num_train_timesteps: int, prediction_type: str) -> DDPMScheduler:
    """The training noise schedule (squared-cosine betas, which suit small pixel-space images)."""
    return DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule="squaredcos_cap_v2",
                         prediction_type=prediction_type, clip_sample=True)


def diffusion_loss(unet: torch.nn.Module, scheduler: DDPMScheduler, images: torch.Tensor, hidden: torch.Tensor,
                   mask: torch.Tensor, views: torch.Tensor | None, gen: torch.Generator) -> torch.Tensor:
    """Mean squared error of the UNet's prediction on a batch of images in [-1, 1], shape (b, 1, H, W)."""
    b = images.shape[0]
    device = images.device
    noise = torch.randn(images.shape, generator=gen).to(device)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (b,), generator=gen).to(device)
    noisy = scheduler.add_noise(images, noise, t)
    pred = unet(noisy, t, encoder_hidden_states=hidden, encoder_attention_mask=mask, class_labels=views).sample
    target = noise if scheduler.config.prediction_type == "epsilon" else scheduler.get_velocity(images, noise, t)
    return F.mse_loss(pred.float(), target.float())


def drop_prompts(hidden: torch.Tensor, mask: torch.Tensor, views: torch.Tensor | None, cond: Conditioning,
                 unknown_view: int, share: float, rng: np.random.Generator):
    """Replace a ``share`` of the batch's prompts (and views) by the empty prompt / unknown view."""
    if share <= 0:
        return hidden, mask, views
    drop = torch.from_numpy(rng.random(hidden.shape[0]) < share)
    hidden = torch.where(drop[:, None, None], cond.null_hidden.expand_as(hidden), hidden)
    mask = torch.where(drop[:, None], cond.null_mask.expand_as(mask), mask)
    if views is not None:
        views = torch.where(drop, torch.full_like(views, unknown_view), views)
    return hidden, mask, views


def train(
    unet: UNet2DConditionModel,
    images: torch.Tensor,
    views: torch.Tensor | None,
    cond: Conditioning,
    *,
    unknown_view: int,
    steps: int,
    batch_size: int,
    learning_rate: float,
    warmup_steps: int,
    accumulation: int,
    mixed_precision: str,
    prompt_dropout: float,
    ema_decay: float,
    scheduler: DDPMScheduler,
    seed: int,
    device: str,
    progress: bool,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train ``unet`` in place on ``images`` (uint8, (n, 1, H, W)); returns the loss per optimizer step.

    With ``ema_decay`` > 0 the UNet ends with the EMA weights (what sampling should use).
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from tqdm.auto import tqdm

    AcceleratorState._reset_state(reset_partial_state=True)  # one process may fit several generators
    accelerator = Accelerator(mixed_precision=mixed_precision, gradient_accumulation_steps=accumulation,
                              cpu=device == "cpu")
    optimizer = torch.optim.AdamW(unet.parameters(), lr=learning_rate, weight_decay=1e-2)
    lr = get_cosine_schedule_with_warmup(optimizer, warmup_steps * accumulation, steps * accumulation)
    unet, optimizer, lr = accelerator.prepare(unet, optimizer, lr)
    ema = EMAModel(unet.parameters(), decay=ema_decay) if ema_decay > 0 else None
    rng = np.random.default_rng([seed, 1])
    gen = torch.Generator().manual_seed(seed)
    n = images.shape[0]
    losses, running = [], []
    bar = tqdm(total=steps, desc="training cxr_diffusion", unit="step", disable=not progress, leave=False)
    unet.train()
    for _ in range(steps * accumulation):
        rows = rng.integers(0, n, size=batch_size)
        batch = images[torch.from_numpy(rows)].to(accelerator.device, torch.float32) / 127.5 - 1.0
        hidden, mask = cond.for_batch(rows, rng)
        v = views[torch.from_numpy(rows)] if views is not None else None
        hidden, mask, v = drop_prompts(hidden, mask, v, cond, unknown_view, prompt_dropout, rng)
        with accelerator.accumulate(unet):
            loss = diffusion_loss(unet, scheduler, batch, hidden.to(accelerator.device), mask.to(accelerator.device),
                                  None if v is None else v.to(accelerator.device), gen)
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(unet.parameters(), 1.0)
            optimizer.step()
            lr.step()
            optimizer.zero_grad(set_to_none=True)
        running.append(float(loss.detach()))
        if accelerator.sync_gradients:
            if ema is not None:
                ema.step(unet.parameters())
            losses.append(float(np.mean(running)))
            running = []
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if on_step:
                on_step(len(losses), losses[-1])
    bar.close()
    unet = accelerator.unwrap_model(unet)
    if ema is not None:
        ema.copy_to(unet.parameters())
    unet.eval()
    return losses
