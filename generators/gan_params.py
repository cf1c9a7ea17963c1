"""The settings of a CTGAN-style GAN core, shared by the generators built on one.

CTGAN (Xu et al., NeurIPS 2019) fixed the defaults most tabular GANs start from: a
128-wide noise vector, two 256-wide residual generator layers and discriminator layers,
Adam at 2e-4 with betas (0.5, 0.9) and weight decay 1e-6, one critic step per generator
step, conditions drawn by log frequency. ``ctgan`` (SDV's CTGANSynthesizer, which takes
these keywords as they are) and ``btgan`` (its own core) both declare them here, so the
two are compared at the same settings by default and a name means the same in both.
"""

from __future__ import annotations

from pydantic import Field, PositiveInt

from synth.generators.base import GeneratorParams


class GANCoreParams(GeneratorParams):
    """Epochs, batch size, network widths and Adam settings of a CTGAN-style GAN (CTGAN's defaults)."""

    epochs: PositiveInt = Field(300, description="Training passes over the data.")
    batch_size: PositiveInt = Field(500, description="Rows per training step.")
    embedding_dim: PositiveInt = Field(128, description="Size of the random noise vector fed to the generator.")
    generator_dim: tuple[PositiveInt, ...] = Field((256, 256), description="Widths of the generator's residual layers.")
    discriminator_dim: tuple[PositiveInt, ...] = Field((256, 256), description="Widths of the discriminator's layers.")
    generator_lr: float = Field(2e-4, gt=0, description="Adam learning rate of the generator.")
    generator_decay: float = Field(1e-6, ge=0, description="Adam weight decay of the generator.")
    discriminator_lr: float = Field(2e-4, gt=0, description="Adam learning rate of the discriminator.")
    discriminator_decay: float = Field(1e-6, ge=0, description="Adam weight decay of the discriminator.")
    discriminator_steps: PositiveInt = Field(1, description="Discriminator updates per generator update.")
    log_frequency: bool = Field(
        True, description="Draw training conditions by log category frequency, which helps rare categories."
    )
