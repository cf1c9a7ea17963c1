"""Parameters of the Bt-GAN generator (strict: unknown keys are errors)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from synth.generators.gan_params import GANCoreParams

FairnessNotion = Literal["demographic_parity", "equalized_odds"]

DEFAULT_PAC = 10
DP_PAC = 1


class SubgroupShare(BaseModel):
    """A target share of the output for one sensitive subgroup, e.g. ``{values: {race: 1, gender: 0}, share: 0.1}``."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(description="sensitive column -> level, every sensitive column once")
    share: float = Field(gt=0, le=1, description="share of the synthetic rows in this subgroup")


class BtGANParams(GANCoreParams):
    """Parameters of :class:`~synth.generators.btgan.generator.BtGANGenerator`: CTGAN's GAN settings
    (:class:`~synth.generators.gan_params.GANCoreParams`, with the same defaults as ``ctgan``) and Bt-GAN's own."""

    # -- the GAN core: CTGAN's settings (GANCoreParams) and these ---------------------------
    epochs: PositiveInt = Field(300, description="Most passes over the training rows (early stopping may end sooner).")
    batch_size: PositiveInt = Field(500, description="Rows per step (the expected rows of a Poisson batch with DP).")
    classifier_dim: tuple[PositiveInt, ...] = Field((128, 128), description="Widths of the outcome classifier layers.")
    classifier_lr: float = Field(1e-3, gt=0, description="Adam learning rate of the outcome classifier.")
    classifier_decay: float = Field(1e-2, ge=0, description="Adam weight decay of the outcome classifier.")
    pac: PositiveInt | None = Field(
        None, description="Rows the discriminator judges together (PacGAN); default 10, and 1 (required) with DP."
    )
    gradient_penalty: float = Field(10.0, ge=0, description="Weight of the WGAN gradient penalty.")
    generator_ema: float = Field(
        0.99, ge=0, lt=1, description="Decay of the moving average of generator weights that makes the output (0: off)."
    )
    n_modes: PositiveInt = Field(10, description="Mixture components (modes) per numeric column, at most.")

    # -- information-constrained generation ---------------------------------------------
    sensitive: list[str] | None = Field(
        None, description="Sensitive columns (their intersection is the subgroup); default: the schema's sensitive."
    )
    fairness: FairnessNotion = Field("demographic_parity", description="The fairness notion the penalty enforces.")
    fairness_weight: float = Field(
        1.0, ge=0, description="Strength of the penalty on the outcome's dependence on the subgroup (0: off): the "
        "fair head's parity steps are this many times the size of its cross-entropy steps. Above 1 the outcome's fit "
        "goes fast (ACTG 175, 3 seeds: TSTR AUROC 0.93 at 1, 0.48-0.71 at 2-8) with no parity gained on the holdout."
    )

    # -- score-based weighted sampling ---------------------------------------------------
    weighted_sampling: bool | None = Field(
        None, description="Draw training rows by density-score weight (default on; off, and required off, with DP)."
    )
    density_neighbors: PositiveInt = Field(5, description="k of the k-nearest-neighbour density score.")
    density_buckets: int = Field(5, ge=2, le=50, description="Equal-count density buckets (weights and conditions).")
    weight_cap: float = Field(5.0, ge=1, description="Largest weight relative to the median row (caps outliers).")
    subgroup_shares: list[SubgroupShare] | None = Field(
        None, description="Target output shares of subgroups; unlisted subgroups share the rest as in the real data."
    )

    # -- sampling --------------------------------------------------------------------------
    rejection_sampling: bool = Field(False, description="Discriminator rejection sampling when sampling (not with DP).")
    rejection_quantile: float = Field(
        0.5, gt=0, lt=1, description="Quantile of the acceptance score used as its offset: higher rejects more."
    )

    # -- early stopping --------------------------------------------------------------------
    validation_fraction: float | None = Field(
        None, ge=0, lt=0.5,
        description="Training rows held out for early stopping (default 0.1; 0 turns it off, as required with DP).",
    )
    validation_every: PositiveInt = Field(5, description="Epochs between validation checks.")
    patience: PositiveInt = Field(10, description="Checks without improvement before training stops.")

    # -- differential privacy (Opacus) ----------------------------------------------------
    dp_epsilon: float | None = Field(None, gt=0, description="Target epsilon of DP training (null: no DP).")
    dp_delta: float | None = Field(None, gt=0, lt=1, description="DP delta (default 1 / (10 n)); must be below 1/n.")
    dp_max_grad_norm: float = Field(1.0, gt=0, description="Per-record gradient clipping norm of DP-SGD.")
    dp_group_budget: float = Field(
        0.1, gt=0, lt=1, description="Share of epsilon spent on the noisy subgroup counts (the rest on DP-SGD)."
    )

    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train: CUDA when available on 'auto'.")
    progress: bool = Field(True, description="Show a per-epoch progress bar on stderr.")

    @model_validator(mode="after")
    def _consistent(self) -> BtGANParams:
        dp = self.dp_epsilon is not None
        if dp:
            clashes = [
                (self.pac not in (None, DP_PAC), f"pac={self.pac}: DP-SGD clips each record's gradient, so the "
                 "discriminator must judge one row at a time; use pac: 1 (the default with DP)"),
                (self.weighted_sampling is True, "weighted_sampling: its weights depend on other records, which "
                 "Poisson sampling for DP-SGD cannot account; leave it unset"),
                (bool(self.validation_fraction), "validation_fraction: early stopping on held-out records would leak "
                 "them outside the privacy accounting; leave it unset"),
                (self.rejection_sampling, "rejection_sampling: its calibration reads the records outside the "
                 "privacy accounting; set it to false"),
            ]
            problems = [msg for bad, msg in clashes if bad]
            if problems:
                raise ValueError("with dp_epsilon set: " + "; ".join(problems))
        elif self.dp_delta is not None:
            raise ValueError("dp_delta is set but dp_epsilon is not; set dp_epsilon to train with DP")
        pac = self.effective_pac
        if self.batch_size % pac:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of pac ({pac})")
        if self.fairness_weight > 0 and self.sensitive == []:
            raise ValueError("fairness_weight > 0 needs at least one sensitive column; set fairness_weight: 0")
        return self

    @property
    def dp(self) -> bool:
        return self.dp_epsilon is not None

    @property
    def effective_pac(self) -> int:
        return self.pac if self.pac is not None else (DP_PAC if self.dp else DEFAULT_PAC)

    @property
    def effective_weighted_sampling(self) -> bool:
        return self.weighted_sampling if self.weighted_sampling is not None else not self.dp

    @property
    def effective_validation_fraction(self) -> float:
        if self.validation_fraction is not None:
            return self.validation_fraction
        return 0.0 if self.dp else 0.1
