"""The ``cxr_diffusion`` generator plugin: report text (and view) in, chest X-ray out.

``fit`` reads the training images at ``resolution`` pixels, encodes the prompts with a
frozen sentence encoder, and trains a diffusers UNet by DDPM (or DP-SGD with Opacus when
``dp_epsilon`` is set). ``sample`` writes one image per row from a prompt, a view and
finding labels:

- with ``conditions`` (``sample.conditions`` in a config) each condition fixes some of
  ``prompt``, the view column and finding columns; a condition with finding values but no
  prompt gets a prompt written from them (:func:`~synth.data.images.reports.prompt_from_labels`),
  e.g. ``{cardiomegaly: 1}`` -> "Cardiomegaly."; views not given are drawn;
- without, every finding column is drawn independently from its training shares (levels
  seen fewer than :data:`MIN_LEVEL_COUNT` times are left out, so no rare value of one
  person is reproduced), "No Finding" is made consistent with the drawn pathologies, and
  the prompt is written from the labels. Real report text never reaches the output.

The output table has the modelled columns; its image column holds ``uint8`` (H, W) arrays.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from synth.data.images.io import read_images
from synth.data.images.labels import column_name
from synth.data.images.reports import prompt_from_labels
from synth.errors import ConfigError, DataError
from synth.generators.base import Condition, DiffusionInternals, Generator, PrivacyGuarantee
from synth.generators.cxr_diffusion.captions import clean_prompt
from synth.generators.cxr_diffusion.conditioning import Conditioning, prompt_width
from synth.generators.cxr_diffusion.params import CXRDiffusionParams
from synth.generators.cxr_diffusion.pipeline import CXRDiffusionPipeline, sampling_scheduler
from synth.generators.cxr_diffusion.text_encoder import PromptEncoder
from synth.generators.cxr_diffusion.unet import build_unet, load_unet
from synth.schema import ColumnKind, DataKind, Schema

VIEW_COLUMN = "view_position"
MIN_LEVEL_COUNT = 5
META_FILE = "synth_generator.json"
# findings that are not pathologies: they do not contradict "No Finding"
_NOT_PATHOLOGY = {"no_finding", "support_devices"}


class CXRDiffusionGenerator(Generator):
    """Text-to-chest-X-ray diffusion on diffusers (see the module docstring)."""

    name = "cxr_diffusion"
    description = "text-to-chest-X-ray diffusion: diffusers UNet, frozen MiniLM prompt encoder, guided DDIM/DPM sampling"
    Params = CXRDiffusionParams
    supports_conditions = True
    data_kinds: ClassVar[frozenset[DataKind]] = frozenset({DataKind.IMAGE})

    @classmethod
    def check_schema(cls, schema: Schema, source: str = "config") -> None:
        super().check_schema(schema, source)
        if len(schema.images) != 1:
            raise ConfigError(f"{source}: cxr_diffusion models one image column, the data has {len(schema.images)} "
                              f"({', '.join(schema.images)}); keep one (mark the others as identifiers).")
        if schema.prompt is None:
            raise ConfigError(f"{source}: cxr_diffusion needs a prompt column (the report text that conditions each "
                              "image): set data.prompt to the text column.")
        for spec in schema.columns:
            if spec.name in (schema.images[0], schema.prompt) or spec.is_discrete:
                continue
            raise ConfigError(
                f"{source}: column '{spec.name}' is {spec.kind.value}; cxr_diffusion models the image, the prompt, the "
                "view and categorical finding labels only. Mark it as an identifier (data.identifiers) or override "
                "its kind to categorical."
            )

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, schema: Schema) -> CXRDiffusionGenerator:
        self.check_schema(schema, "cxr_diffusion.fit")
        p: CXRDiffusionParams = self.params  # type: ignore[assignment]
        if p.num_threads:
            torch.set_num_threads(p.num_threads)
        self.schema = schema
        self._columns(schema)
        device = self._device()
        images = torch.from_numpy(read_images(data[self._image].tolist(), size=p.resolution))
        prompts = [clean_prompt(t, strip_markers=p.strip_deid_markers) for t in data[self._prompt]]
        self._views = self._view_levels(data) if self._view else []
        views = self._view_index(data[self._view]) if self._view else None
        self._shares = self._level_shares(data)
        self._encoder = PromptEncoder(p.text_encoder, max_tokens=p.max_prompt_tokens, device=device)
        self._width = prompt_width(self._encoder, prompts)
        cond = Conditioning(self._encoder, prompts, self._width, p.caption_randomization)
        if cond.truncated:
            warnings.warn(f"cxr_diffusion: {cond.truncated} of {len(prompts)} training prompts are longer than "
                          f"{self._width} tokens and keep their first {self._width} (the impression comes first).",
                          stacklevel=2)
        with torch.random.fork_rng(devices=[]):  # the initial weights come from the seed, not the global RNG
            torch.manual_seed(self.seed)
            unet = (load_unet(p.unet_path, cross_attention_dim=self._encoder.dim) if p.unet_path else
                    build_unet(resolution=p.resolution, block_out_channels=p.block_out_channels,
                               layers_per_block=p.layers_per_block, attention_head_dim=p.attention_head_dim,
                               attention_levels=p.attention_levels,
                               cross_attention_dim=self._encoder.dim, num_views=len(self._views) or None))
        from synth.generators.cxr_diffusion.training import noise_scheduler, train

        scheduler = noise_scheduler(p.num_train_timesteps, p.prediction_type)
        common = dict(unknown_view=len(self._views), batch_size=p.batch_size, learning_rate=p.learning_rate,
                      prompt_dropout=p.prompt_dropout, scheduler=scheduler, seed=self.seed, progress=p.progress)
        if p.dp_epsilon is not None:
            from synth.generators.cxr_diffusion.private_training import train_private

            delta = p.dp_delta if p.dp_delta is not None else 1.0 / (10 * len(images))
            losses, self.privacy = train_private(unet.to(device), images, views, cond, epsilon=p.dp_epsilon,
                                                 delta=delta, max_grad_norm=p.dp_max_grad_norm, epochs=p.dp_epochs,
                                                 **common)
        else:
            losses = train(unet, images, views, cond, steps=p.train_steps, warmup_steps=p.warmup_steps,
                           accumulation=p.gradient_accumulation_steps, mixed_precision=p.mixed_precision,
                           ema_decay=p.ema_decay, device=device, **common)
        self.pipeline = CXRDiffusionPipeline(unet.to(device), sampling_scheduler(scheduler.config, p.sampler))
        self.fit_summary = {"n_train_images": int(len(images)), "truncated_prompts": int(cond.truncated),
                            "prompt_tokens": int(self._width), "steps": len(losses),
                            "final_loss": round(float(np.mean(losses[-20:])), 5) if losses else None,
                            "device": device}
        return self

    # -- sample ------------------------------------------------------------------------------
    def sample(self, n: int, conditions: list[Condition] | None = None, seed: int | None = None) -> pd.DataFrame:
        if self.schema is None:
            raise RuntimeError("cxr_diffusion: call fit (or load) before sample")
        p: CXRDiffusionParams = self.params  # type: ignore[assignment]
        seed = self.seed if seed is None else int(seed)
        rows = self._rows(n, conditions, np.random.default_rng([seed, 7]))
        prompts = [clean_prompt(t, strip_markers=p.strip_deid_markers) for t in rows[self._prompt]]
        enc = self._encoder.encode(prompts, width=self._width)
        null = self._encoder.encode([""], width=self._width)
        views = self._view_index(rows[self._view]) if self._view else None
        images = []
        for b, start in enumerate(range(0, n, p.sample_batch_size)):
            stop = min(n, start + p.sample_batch_size)
            batch = self.pipeline.generate(
                enc.hidden[start:stop], enc.mask[start:stop], None if views is None else views[start:stop],
                null.hidden, null.mask, len(self._views), guidance_scale=p.guidance_scale, steps=p.sampling_steps,
                seed=seed * 1_000_003 + b, progress=p.progress)
            images.extend(np.ascontiguousarray(img) for img in batch.numpy())
        rows[self._image] = images
        return rows[self.schema.names]

    def _rows(self, n: int, conditions: list[Condition] | None, rng: np.random.Generator) -> pd.DataFrame:
        """Prompt, view and label values of each synthetic row (no image yet)."""
        assert self.schema is not None
        labels = [c for c in self.schema.names if c not in (self._image, self._prompt)]
        records: list[dict[str, Any]] = []
        if conditions:
            if sum(c.rows for c in conditions) != n:
                raise ValueError(f"conditions ask for {sum(c.rows for c in conditions)} rows, not {n}")
            for cond in conditions:
                bad = [k for k in cond.values if k == self._image or k not in self.schema]
                if bad:
                    raise ConfigError(f"sample.conditions: cxr_diffusion cannot fix the column(s) {', '.join(bad)}; "
                                      f"conditions may set {', '.join([self._prompt, *labels])}.")
                for _ in range(cond.rows):
                    rec = {c: np.nan for c in labels}
                    if self._view:
                        rec[self._view] = self._draw(self._view, rng)
                    rec.update(cond.values)
                    if self._prompt not in cond.values:
                        rec[self._prompt] = prompt_from_labels({k: v for k, v in rec.items() if k != self._view})
                    records.append(rec)
        else:
            for _ in range(n):
                rec = {c: self._draw(c, rng) for c in labels}
                if "no_finding" in rec:
                    sick = any(rec[c] in (1, -1) for c in rec if c not in _NOT_PATHOLOGY and c != self._view)
                    rec["no_finding"] = np.nan if sick else 1
                rec[self._prompt] = prompt_from_labels({k: v for k, v in rec.items() if k != self._view})
                records.append(rec)
        return pd.DataFrame.from_records(records, columns=[self._prompt, *labels])

    def _draw(self, column: str, rng: np.random.Generator) -> Any:
        levels, shares = self._shares.get(column, ([None], [1.0]))
        value = levels[int(rng.choice(len(levels), p=shares))]
        return np.nan if value is None else value

    # -- white-box access (image audits) -------------------------------------------------------
    def diffusion_internals(self) -> DiffusionInternals:
        """The fitted UNet, its training noise schedule and the frozen prompt encoder (see the contract)."""
        if self.schema is None:
            raise RuntimeError("cxr_diffusion: call fit (or load) before diffusion_internals")
        from diffusers import DDPMScheduler

        p: CXRDiffusionParams = self.params  # type: ignore[assignment]
        sampler = sampling_scheduler(self.pipeline.scheduler.config, p.sampler)
        sampler.set_timesteps(p.sampling_steps)
        strip = p.strip_deid_markers
        return DiffusionInternals(
            unet=self.pipeline.unet, noise_scheduler=DDPMScheduler.from_config(self.pipeline.scheduler.config),
            text_encoder=self._encoder.model, tokenizer=self._encoder.tokenizer, prompt_tokens=self._width,
            resolution=p.resolution, prepare_prompts=lambda cells: [clean_prompt(t, strip_markers=strip) for t in cells],
            view_labels=self._view_index if self._view else None,
            unknown_view=len(self._views) if self._view else None, first_timestep=int(sampler.timesteps[0]),
            image_column=self._image, prompt_column=self._prompt, view_column=self._view,
            device=str(self.pipeline.unet.device), sampler_timesteps=tuple(int(t) for t in sampler.timesteps),
        )

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        self.pipeline.save_pretrained(path, safe_serialization=True)
        meta = {"generator": self.name, "seed": self.seed, "params": self.params.model_dump(mode="json"),
                "schema": self.schema.to_dict() if self.schema else None, "views": self._views,
                "shares": {c: [list(v), list(s)] for c, (v, s) in self._shares.items()}, "prompt_tokens": self._width,
                "fit_summary": getattr(self, "fit_summary", None), "privacy": self.privacy.to_dict()}
        (path / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path, *, trusted: bool = False) -> CXRDiffusionGenerator:
        path = Path(path)
        try:
            meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"'{path}' is not a saved cxr_diffusion generator ({META_FILE}: {exc}).") from None
        gen = cls(seed=meta["seed"], **meta["params"])
        gen.schema = Schema.from_dict(meta["schema"])
        gen._columns(gen.schema)
        gen._views, gen._width = list(meta["views"]), int(meta["prompt_tokens"])
        gen._shares = {c: (list(v), list(s)) for c, (v, s) in meta["shares"].items()}
        gen.fit_summary = meta.get("fit_summary")
        gen.privacy = PrivacyGuarantee(**meta["privacy"])
        device = gen._device()
        gen.pipeline = CXRDiffusionPipeline.from_pretrained(path, local_files_only=True).to(device)
        gen._encoder = PromptEncoder(gen.params.text_encoder, max_tokens=gen.params.max_prompt_tokens, device=device)
        return gen

    # -- helpers -------------------------------------------------------------------------------
    def _columns(self, schema: Schema) -> None:
        self._image, self._prompt = schema.images[0], schema.prompt
        view = next((c for c in schema.names if column_name(c) == VIEW_COLUMN), None)
        self._view = view if view is not None and self.params.view_conditioning else None  # type: ignore[attr-defined]

    def _device(self) -> str:
        wanted = self.params.device  # type: ignore[attr-defined]
        if wanted == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if wanted == "cuda" and not torch.cuda.is_available():
            raise ConfigError("generator.params.device is 'cuda' but torch sees no GPU; use 'auto' or 'cpu'.")
        return wanted

    def _view_levels(self, data: pd.DataFrame) -> list[str]:
        counts = data[self._view].dropna().astype(str).value_counts()
        return sorted(counts.index[counts >= MIN_LEVEL_COUNT])

    def _view_index(self, values: pd.Series) -> torch.Tensor:
        position = {v: i for i, v in enumerate(self._views)}
        return torch.tensor([position.get(str(v), len(self._views)) for v in values], dtype=torch.long)

    def _level_shares(self, data: pd.DataFrame) -> dict[str, tuple[list[Any], list[float]]]:
        """Per discrete column: levels seen at least MIN_LEVEL_COUNT times (None: missing) and their shares."""
        assert self.schema is not None
        shares = {}
        for spec in self.schema.columns:
            if spec.name in (self._image, self._prompt) or spec.kind == ColumnKind.IMAGE:
                continue
            counts = data[spec.name].astype(object).where(data[spec.name].notna(), None).value_counts(dropna=False)
            kept = {(_plain(k)): int(c) for k, c in counts.items() if c >= MIN_LEVEL_COUNT}
            if not kept:
                kept = {None: 1}
            levels = sorted(kept, key=lambda v: (v is None, str(v)))
            total = sum(kept.values())
            shares[spec.name] = (levels, [kept[v] / total for v in levels])
        return shares


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
