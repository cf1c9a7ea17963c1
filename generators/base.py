"""The generator contract every plugin implements.

A generator is constructed with its parameters (validated by its pydantic ``Params``
model: unknown keys are errors), then ``fit(data, schema)`` on the training table and
``sample(n, conditions, seed)`` as often as needed. ``save``/``load`` persist a fitted
generator. ``privacy`` states the formal guarantee, if any.

A generator declares the kinds of data it accepts (``data_kinds``: tables by default;
an image generator says ``DataKind.IMAGE``). The pipeline calls :meth:`Generator.check_kind`
and :meth:`Generator.check_schema` before any work, so a tabular generator given images
(or the reverse) is a clear configuration error, not a crash in ``fit``.

For image data (see "Images in the core" in DESIGN.md) ``fit`` receives the table with
each image column holding absolute file paths, and ``sample`` returns each image column
holding one ``uint8`` array (H, W) per row; the pipeline writes those as PNG files.

A text-conditioned diffusion generator also offers :meth:`Generator.diffusion_internals`:
its fitted denoiser, noise schedule and prompt encoder (:class:`DiffusionInternals`), for
white-box audits (noise-prediction norms, per-token attribution, loss-based membership
inference). Other generators return ``None``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from synth.errors import ConfigError, did_you_mean
from synth.schema import DataKind, Schema


@dataclass(frozen=True)
class PrivacyGuarantee:
    """The formal privacy guarantee of a fitted generator.

    ``mechanism`` is ``"none"`` for generators without one; for DP training it names the
    mechanism (e.g. ``"DP-SGD"``) with the epsilon actually spent, delta and accountant.
    """

    mechanism: str = "none"
    epsilon: float | None = None
    delta: float | None = None
    accountant: str | None = None
    notes: str = "No formal privacy guarantee: rely on the empirical privacy audit."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GeneratorParams(BaseModel):
    """Base for a generator's parameters: strict, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Condition:
    """Sample ``rows`` records whose columns take the given fixed ``values``."""

    rows: int
    values: dict[str, Any]


@dataclass(frozen=True)
class DiffusionInternals:
    """White-box access to a fitted text-conditioned diffusion model (read-only use).

    Images live in model space: float (b, C, H, W) in [-1, 1] at ``resolution`` pixels.

    - ``unet``: the denoiser, called as ``unet(x_t, t, encoder_hidden_states=h,
      encoder_attention_mask=m, class_labels=v).sample`` (diffusers ``UNet2DConditionModel``);
      it predicts what ``noise_scheduler.config.prediction_type`` says (``epsilon`` or
      ``v_prediction``).
    - ``noise_scheduler``: the training noise schedule (diffusers ``DDPMScheduler``:
      ``alphas_cumprod`` (T,), ``config.num_train_timesteps``, ``add_noise``).
    - ``text_encoder`` / ``tokenizer``: the frozen transformers prompt encoder and its fast
      tokenizer; hidden states are ``text_encoder(inputs_embeds=e, attention_mask=m).last_hidden_state``
      with ``e = text_encoder.get_input_embeddings()(input_ids)``, prompts padded and
      truncated to ``prompt_tokens`` positions.
    - ``prepare_prompts``: prompt cells -> the strings the model was trained on (e.g. with
      de-identification markers stripped when the generator strips them).
    - ``view_labels``: view cells -> class labels (b,) int64, or ``None`` when the model is
      not conditioned on the view; ``unknown_view`` is the label used with the empty prompt
      (the unconditional branch of classifier-free guidance).
    - ``first_timestep``: the timestep of the sampler's first denoising step;
      ``sampler_timesteps`` all of its timesteps in order (first = ``first_timestep``), or
      empty when the generator does not say.
    - ``prompt_column`` / ``view_column`` / ``image_column``: the table columns they read.
    """

    unet: Any
    noise_scheduler: Any
    text_encoder: Any
    tokenizer: Any
    prompt_tokens: int
    resolution: int
    prepare_prompts: Callable[[Sequence[Any]], list[str]]
    view_labels: Callable[[Sequence[Any]], Any] | None
    unknown_view: int | None
    first_timestep: int
    image_column: str
    prompt_column: str
    view_column: str | None
    device: str = "cpu"
    sampler_timesteps: tuple[int, ...] = ()


class Generator(ABC):
    """Base class of generator plugins.

    Subclasses set ``name``, ``Params`` (a :class:`GeneratorParams` subclass) and
    ``supports_conditions``, and implement the abstract methods.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[GeneratorParams]] = GeneratorParams
    supports_conditions: ClassVar[bool] = False
    data_kinds: ClassVar[frozenset[DataKind]] = frozenset({DataKind.TABLE})  # the kinds of data it accepts

    def __init__(self, seed: int = 0, **params: Any) -> None:
        self.seed = int(seed)
        self.params = self.validate_params(params)
        self.schema: Schema | None = None
        self.privacy = PrivacyGuarantee()

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> GeneratorParams:
        """Validate ``params`` against ``cls.Params``; raise :class:`ConfigError` naming the key."""
        try:
            return cls.Params(**params)
        except ValidationError as exc:
            problems = []
            fields = list(cls.Params.model_fields)
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"])
                if err["type"] == "extra_forbidden":
                    problems.append(
                        f"unknown parameter '{key}' for generator '{cls.name}'"
                        + did_you_mean(key, fields)
                        + f" Valid parameters: {', '.join(fields) or '(none)'}."
                    )
                else:
                    # a model-level check (several parameters together) has no field in its location
                    problems.append(f"generator.params{'.' + key if key else ''}: {err['msg']}")
            raise ConfigError("; ".join(problems)) from None

    @classmethod
    def check_kind(cls, kind: DataKind, source: str = "config") -> None:
        """Raise :class:`ConfigError` when this generator does not accept ``kind`` of data."""
        if kind not in cls.data_kinds:
            accepted = " or ".join(sorted(k.value for k in cls.data_kinds))
            raise ConfigError(
                f"{source}: generator '{cls.name}' models {accepted} data, but data.source gives {kind.value} data. "
                f"Pick a generator that accepts {kind.value} data (`synth generators list` shows what each accepts) "
                "or another data source."
            )

    @classmethod
    def check_schema(cls, schema: Schema, source: str = "config") -> None:
        """Raise :class:`ConfigError` when this generator cannot model ``schema`` (called before ``fit``).

        The default checks the kind of data; a generator with column requirements extends it.
        """
        cls.check_kind(schema.data_kind, source)

    @property
    def is_fitted(self) -> bool:
        return self.schema is not None

    @abstractmethod
    def fit(self, data: pd.DataFrame, schema: Schema) -> Generator:
        """Fit on ``data`` (n_rows x modelled columns of ``schema``). Returns self."""

    @abstractmethod
    def sample(
        self,
        n: int,
        conditions: list[Condition] | None = None,
        seed: int | None = None,
    ) -> pd.DataFrame:
        """Return ``n`` synthetic rows with the fitted schema's columns, in that order.

        With ``conditions`` the rows are the concatenation of each condition's rows (and
        ``n`` must equal their sum). ``seed`` defaults to the constructor's seed; the
        same seed gives the same rows.
        """

    @abstractmethod
    def save(self, path: Path) -> None:
        """Persist the fitted generator into directory ``path``."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path, *, trusted: bool = False) -> Generator:
        """Load a generator saved by :meth:`save`.

        Formats that execute code on load (pickle) are refused unless ``trusted=True``.
        """

    def provenance(self) -> dict[str, Any]:
        """What made the rows, for the run manifest: model files and their hashes, settings, counts.

        JSON-ready; never a real record's value. The default has nothing to add.
        """
        return {}

    def diffusion_internals(self) -> DiffusionInternals | None:
        """The fitted diffusion model's parts for white-box audits; ``None`` (the default) for other generators."""
        return None

    def clone(self) -> Generator:
        """A fresh, unfitted generator with the same parameters and seed (for retraining attacks)."""
        return type(self)(seed=self.seed, **self.params.model_dump())
