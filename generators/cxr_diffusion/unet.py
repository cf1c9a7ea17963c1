"""The denoiser: a diffusers ``UNet2DConditionModel`` on 1-channel pixels with cross-attention to the prompt.

Only the ``attention_levels`` lowest-resolution levels (and the middle block) attend:
self- and cross-attention cost grows with the square of the number of pixels, so on a
64 px image attention at 16 x 16 is cheap where 32 x 32 would dominate a CPU step; the
higher levels are convolutional. The view position enters as a class embedding
(index ``len(views)`` means "unknown", used when the prompt is dropped for guidance).

``attention_head_dim`` here means what it says, channels per head. diffusers'
``UNet2DConditionModel`` reads its own ``attention_head_dim`` argument as the *number of
heads* (a naming mistake it keeps for old configs, diffusers issue #2011), so the UNet is
given ``channels // attention_head_dim`` heads per level; passing the head size through
unchanged gave 32 heads of one or two channels, attention that cost ~30x its due on a CPU
and could barely weigh one token against another.
"""

from __future__ import annotations

from pathlib import Path

from diffusers import UNet2DConditionModel

from synth.errors import ConfigError


def build_unet(*, resolution: int, block_out_channels: list[int], layers_per_block: int, attention_head_dim: int,
               cross_attention_dim: int, num_views: int | None, attention_levels: int = 1) -> UNet2DConditionModel:
    """A fresh UNet for ``resolution`` x ``resolution`` single-channel images."""
    levels = len(block_out_channels)
    attend = max(1, min(attention_levels, levels))
    down = ["DownBlock2D"] * (levels - attend) + ["CrossAttnDownBlock2D"] * attend
    up = ["CrossAttnUpBlock2D"] * attend + ["UpBlock2D"] * (levels - attend)
    groups = 8 if min(block_out_channels) % 8 == 0 else 1
    # diffusers' attention_head_dim is a head *count* per level (see the module docstring)
    heads = tuple(max(1, c // attention_head_dim) for c in block_out_channels)
    return UNet2DConditionModel(
        sample_size=resolution, in_channels=1, out_channels=1, block_out_channels=tuple(block_out_channels),
        down_block_types=tuple(down), up_block_types=tuple(up), layers_per_block=layers_per_block,
        cross_attention_dim=cross_attention_dim, attention_head_dim=heads, norm_num_groups=groups,
        num_class_embeds=(num_views + 1) if num_views else None,
    )


def load_unet(path: str, *, cross_attention_dim: int) -> UNet2DConditionModel:
    """A local diffusers UNet folder (``from_pretrained``), checked to fit 1-channel pixels and the encoder."""
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise ConfigError(f"generator.params.unet_path '{path}' is not a diffusers UNet folder (no config.json).")
    unet = UNet2DConditionModel.from_pretrained(folder, local_files_only=True)
    cfg = unet.config
    if cfg.in_channels != 1 or cfg.out_channels != 1 or cfg.cross_attention_dim != cross_attention_dim:
        raise ConfigError(
            f"generator.params.unet_path '{path}' has in/out channels {cfg.in_channels}/{cfg.out_channels} and "
            f"cross_attention_dim {cfg.cross_attention_dim}; this generator needs 1/1 and {cross_attention_dim} "
            "(the text encoder's hidden size). A latent-space UNet (4 channels) needs its VAE, which is not supported."
        )
    return unet
