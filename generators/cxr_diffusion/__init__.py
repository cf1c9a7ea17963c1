"""Text-to-chest-X-ray diffusion (RoentGen-style) on HuggingFace diffusers: the ``cxr_diffusion`` plugin.

Modules: :mod:`.params` (the config), :mod:`.text_encoder` (frozen prompt encoder),
:mod:`.conditioning` (prompt states per image), :mod:`.captions` (memorization
mitigations), :mod:`.unet` (the denoiser), :mod:`.training` (DDPM with accelerate, EMA,
prompt dropout), :mod:`.private_training` (DP-SGD with Opacus), :mod:`.pipeline`
(diffusers pipeline: guided sampling, save/load) and :mod:`.generator` (the plugin).
"""

from synth.generators.cxr_diffusion.generator import CXRDiffusionGenerator

__all__ = ["CXRDiffusionGenerator"]
