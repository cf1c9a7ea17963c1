"""SDV's CTGAN as a synth generator (baseline).

A conditional GAN for mixed-type tables (Xu et al., NeurIPS 2019): mode-specific
normalisation of numeric columns and training-by-sampling of categories. Conditions are
met by rejection sampling. No formal privacy guarantee.
"""

from __future__ import annotations

from pydantic import Field, PositiveInt, ValidationInfo, field_validator

from synth.generators.sdv_adapter import SDVGenerator, SDVParams


class CTGANParams(SDVParams):
    """Parameters of :class:`CTGANGenerator`: SDV's CTGANSynthesizer keywords plus synth's ``missing_values``."""

    epochs: PositiveInt = Field(300, description="Training passes over the data.")
    batch_size: PositiveInt = Field(500, description="Rows per training step; even and a multiple of pac.")
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
    pac: PositiveInt = Field(10, description="Rows the discriminator judges together (PacGAN), against mode collapse.")
    enable_gpu: bool = Field(
        False, description="Train on CUDA when available; same-seed output is only guaranteed identical on CPU."
    )

    @field_validator("batch_size")
    @classmethod
    def _even_batch(cls, batch_size: int) -> int:
        if batch_size % 2:
            raise ValueError(f"CTGAN needs an even batch_size, got {batch_size}")
        return batch_size

    @field_validator("pac")
    @classmethod
    def _pac_divides_batch(cls, pac: int, info: ValidationInfo) -> int:
        batch_size = info.data.get("batch_size")
        if batch_size is not None and batch_size % pac:
            raise ValueError(f"batch_size ({batch_size}) must be a multiple of pac ({pac})")
        return pac


class CTGANGenerator(SDVGenerator):
    """CTGAN baseline (``sdv.single_table.CTGANSynthesizer``)."""

    name = "ctgan"
    description = "SDV CTGAN baseline: conditional GAN for mixed-type tables."
    Params = CTGANParams
    sdv_class_name = "CTGANSynthesizer"
