"""SDV's TVAE as a synth generator (baseline).

A variational autoencoder for mixed-type tables (Xu et al., NeurIPS 2019) with CTGAN's
column transforms. Conditions are met by rejection sampling. No formal privacy guarantee.
"""

from __future__ import annotations

from pydantic import Field, PositiveInt

from synth.generators.sdv_adapter import MISSING_VALUES_HELP, MissingValues, SDVGenerator, SDVParams


class TVAEParams(SDVParams):
    """Parameters of :class:`TVAEGenerator`: SDV's TVAESynthesizer keywords plus synth's ``missing_values``.

    ``missing_values`` defaults to 'marginal' here: TVAE collapses a rare is-missing
    indicator (on the test population, 9 % missing came out as 0 % after 100 epochs).
    """

    missing_values: MissingValues = Field("marginal", description=MISSING_VALUES_HELP)

    epochs: PositiveInt = Field(300, description="Training passes over the data.")
    batch_size: PositiveInt = Field(500, description="Rows per training step.")
    embedding_dim: PositiveInt = Field(128, description="Size of the latent space.")
    compress_dims: tuple[PositiveInt, ...] = Field((128, 128), description="Widths of the encoder's layers.")
    decompress_dims: tuple[PositiveInt, ...] = Field((128, 128), description="Widths of the decoder's layers.")
    l2scale: float = Field(1e-5, ge=0, description="Adam weight decay (L2 penalty).")
    loss_factor: float = Field(2.0, gt=0, description="Weight of the reconstruction error against the KL term.")
    enable_gpu: bool = Field(
        False, description="Train on CUDA when available; same-seed output is only guaranteed identical on CPU."
    )


class TVAEGenerator(SDVGenerator):
    """TVAE baseline (``sdv.single_table.TVAESynthesizer``)."""

    name = "tvae"
    description = "SDV TVAE baseline: variational autoencoder for mixed-type tables."
    Params = TVAEParams
    sdv_class_name = "TVAESynthesizer"
