"""SDV's CTGAN as a synth generator (baseline).

A conditional GAN for mixed-type tables (Xu et al., NeurIPS 2019): mode-specific
normalisation of numeric columns and training-by-sampling of categories. Conditions are
met by rejection sampling. No formal privacy guarantee.
"""

from __future__ import annotations

from pydantic import Field, PositiveInt, ValidationInfo, field_validator

from synth.generators.gan_params import GANCoreParams
from synth.generators.sdv_adapter import SDVGenerator, SDVParams


class CTGANParams(SDVParams, GANCoreParams):
    """Parameters of :class:`CTGANGenerator`: SDV's CTGANSynthesizer keywords plus synth's ``missing_values``.

    The GAN core's settings (epochs, batch size, widths, Adam) are :class:`GANCoreParams`;
    ``batch_size`` must be even and a multiple of ``pac`` here.
    """

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
