"""The run config: a strict pydantic model of the YAML file.

Every section forbids unknown keys; :mod:`synth.config.load` turns pydantic's errors into
one-paragraph messages that name the file, the key and the closest valid key.
Relative paths in the config resolve against the config file's folder.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from synth.disclosure import DEFAULT_RARE_K
from synth.schema import ColumnKind, Role

SEED_LIMIT = 2**32  # numpy and torch accept seeds in [0, 2**32)
MAX_SAMPLE_ROWS = 10_000_000  # a larger synthetic table rarely fits in memory next to the models


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnOverride(StrictModel):
    """Overrides of the inferred schema for one column."""

    kind: ColumnKind | None = Field(
        None, description="numeric, integer, categorical, boolean, datetime, id, text or image (a path of an image file)"
    )
    nullable: bool | None = None
    min: float | None = Field(None, description="lower bound (column units)")
    max: float | None = Field(None, description="upper bound (column units)")
    categories: list[Any] | None = Field(None, description="the allowed levels of a categorical column")
    roles: list[Role] | None = Field(None, description="target, sensitive, quasi_identifier, identifier, group, prompt")

    @model_validator(mode="after")
    def _min_below_max(self) -> ColumnOverride:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is greater than max ({self.max:g}); swap them or drop one")
        return self


class SplitConfig(StrictModel):
    """How the real table is split; the holdout is never shown to the generator."""

    holdout_fraction: float = Field(0.25, gt=0, le=0.9, description="share of real rows held out for the audit")
    seed: int | None = Field(None, ge=0, lt=SEED_LIMIT, description="split seed (default: the run seed)")
    stratify: bool = Field(True, description="stratify by a categorical target (not with data.group)")


class ImagesConfig(StrictModel):
    """How an image data set in the MIMIC-CXR-JPG layout is read (builtin:mimic-cxr-jpg, builtin:cxr-phantom)."""

    views: list[str] | None = Field(["PA", "AP"], description="keep images with these ViewPosition values (null: all)")
    splits: list[Literal["train", "validate", "test"]] | None = Field(
        None, description="keep images of these official splits (null: all); our own train/holdout split follows"
    )
    labeler: Literal["chexpert", "negbio"] = Field("chexpert", description="which label table to read")
    max_images: int | None = Field(
        None, gt=0, le=MAX_SAMPLE_ROWS, description="keep whole patients, in id order, up to this many images"
    )
    size: int | None = Field(None, ge=8, le=2048, description="resize images to size x size pixels for the cache")
    cache_dir: str | None = Field(None, description="keep resized copies here (needs size); reused by later runs")


class PhantomConfig(StrictModel):
    """The in-silico phantom set of builtin:cxr-phantom, written into data.root when absent."""

    n: int = Field(600, gt=0, le=MAX_SAMPLE_ROWS,
                   description="number of images (one frontal image per study, 1-4 studies a patient)")
    size: int = Field(256, ge=32, le=1024, description="image size in pixels")
    seed: int | None = Field(None, ge=0, lt=SEED_LIMIT, description="phantom seed (default: the run seed)")
    marker: Literal["___", "XXXX"] = Field("___", description="de-identification marker in the reports")
    ap_share: float = Field(0.5, ge=0, le=1, description="share of AP (portable) films")


class DataConfig(StrictModel):
    """Where the real data comes from and what its columns mean."""

    source: str = Field(description="CSV/Parquet path, or builtin:NAME (see `synth datasets list`)")
    format: Literal["auto", "csv", "parquet"] = "auto"
    columns: dict[str, ColumnOverride] = Field(default_factory=dict, description="schema overrides by column")
    target: str | None = Field(None, description="outcome column for utility and fairness audits")
    sensitive: list[str] | None = Field(None, description="protected attributes for fairness audits")
    quasi_identifiers: list[str] | None = Field(None, description="columns a linkage attacker may know")
    identifiers: list[str] | None = Field(None, description="direct identifiers: dropped, never modelled")
    group: str | None = Field(
        None,
        description="column naming the person each row belongs to (e.g. subject_id): never modelled; the split "
        "keeps a person's rows on one side and the privacy audits judge leaks per person",
    )
    prompt: str | None = Field(None, description="text column that conditions an image generator (role prompt)")
    root: str | None = Field(
        None,
        description="folder of an image data set: the MIMIC-CXR-JPG folder (builtin:mimic-cxr-jpg), where "
        "builtin:cxr-phantom writes its set, or what image paths in a CSV/Parquet manifest are relative to "
        "(default: the manifest's folder)",
    )
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    phantom: PhantomConfig = Field(default_factory=PhantomConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    infinite: Literal["error", "missing"] = Field(
        "error",
        description="what an infinite number (inf, -inf, or one too large for a float) in the data is: "
        "an error naming the column (default), or a missing value",
    )


class GeneratorConfig(StrictModel):
    name: str = Field("gaussian_copula", description="a generator plugin (see `synth generators list`)")
    params: dict[str, Any] = Field(default_factory=dict, description="the generator's parameters")


class ConditionConfig(StrictModel):
    rows: int = Field(gt=0, le=MAX_SAMPLE_ROWS, description="rows to sample under this condition")
    values: dict[str, Any] = Field(description="column -> fixed value")


class SampleConfig(StrictModel):
    rows: int | None = Field(
        None, gt=0, le=MAX_SAMPLE_ROWS, description="synthetic rows (default: as many as training rows)"
    )
    conditions: list[ConditionConfig] = Field(default_factory=list)


class AuditConfig(StrictModel):
    enabled: bool = True
    audits: list[str] | None = Field(None, description="audit plugins to run (default: all installed)")
    params: dict[str, dict[str, Any]] = Field(default_factory=dict, description="audit name -> parameters")
    include_real_records: bool = Field(
        False, description="allow raw real records in the report (off: the report shows aggregates only)"
    )
    rare_level_k: int = Field(
        DEFAULT_RARE_K, ge=1, le=1_000_000,
        description="a category level held by fewer real records than this is rare: never named in result.json, "
        "report.html or manifest.json (tables and figures pool rare levels into 'other (rare)'); 1 names every level",
    )


class OutputConfig(StrictModel):
    dir: str = Field("synth-output", description="output folder")
    formats: list[Literal["csv", "parquet"]] = Field(default_factory=lambda: ["csv"])
    report: bool = True
    save_generator: bool = Field(False, description="also save the fitted generator under generator/")


class ReportConfig(StrictModel):
    """Who report.html is for."""

    audience: Literal["steward", "public"] = Field(
        "steward",
        description="steward: everything, including per-record results (row indices); public: aggregates only, to "
        "travel with a released data set (per-record privacy results can serve an attacker as an oracle)",
    )


class ExecutionConfig(StrictModel):
    """Where the audits' heavy numerics run (see README, "Large tables and Ray")."""

    engine: Literal["local", "ray"] = Field(
        "local", description="local: this process; ray: shards as Ray tasks (needs `pip install 'synth[ray]'`)"
    )
    address: str | None = Field(
        None,
        description='Ray cluster: null starts a private local one, "auto" joins the one `ray start` runs on this '
        'machine, "ray://HOST:10001" connects through the Ray client, "HOST:6379" joins as a driver',
    )
    num_cpus: int | None = Field(None, gt=0, description="CPUs of a private local Ray cluster (address null only)")


class RunConfig(StrictModel):
    """One `synth generate` run."""

    version: Literal[1] = 1
    name: str = "synth-run"
    seed: int = Field(0, ge=0, lt=SEED_LIMIT, description="seed for split, generator and audits (0 to 2**32 - 1)")
    data: DataConfig
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    gates: list[str] | None = Field(
        None, description='thresholds, e.g. "privacy.dcr_share.upper_ci <= 0.55"; none: default privacy gates'
    )
    output: OutputConfig = Field(default_factory=OutputConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
