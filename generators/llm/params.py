"""Parameters of the ``llm`` generator (strict: unknown keys are errors)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from synth.generators.base import GeneratorParams
from synth.generators.llm.backends.base import is_loopback_url
from synth.generators.llm.prompts import Strategy, shows_real_rows
from synth.generators.llm.rules import parse_rule
from synth.generators.llm.statistics import TableStatistics

DEFAULT_EXAMPLES = {"examples": 5, "definitions_examples": 5, "statistics": 0, "rules": 0}


class LLMParams(GeneratorParams):
    """How the ``llm`` generator prompts, which model it asks and what it keeps."""

    # -- prompt -------------------------------------------------------------------------
    strategy: Strategy = Field(
        "statistics",
        description="examples | definitions_examples | statistics | rules (SynLLM's four prompt types)",
    )
    n_examples: int | None = Field(
        None, ge=0, le=50,
        description="real rows shown per prompt (default 5 for examples strategies, 0 for statistics; rules shows none)",
    )
    template: str | None = Field(None, description="path of your own Jinja prompt template (default: the built-in one)")
    description: str = Field("Records of a clinical data table.", description="first line of every prompt")
    definitions: dict[str, str] | str = Field(
        default_factory=dict,
        description="data dictionary: column -> meaning, units, codes; or builtin:NAME for a built-in dataset's",
    )
    statistics: TableStatistics | None = Field(
        None, description="statistics to show instead of those computed from the training rows"
    )
    rules: list[str] = Field(default_factory=list, description="hard rules: a row violating one is rejected")
    soft_rules: list[str] = Field(default_factory=list, description="soft rules: violations are counted, rows kept")
    rules_in_decoding: bool = Field(
        True,
        description="embedded backend: values a hard rule already excludes (given the row so far) are kept out of "
        "the grammar; false: rows are only checked after they are written (pure rejection)",
    )
    notes: list[str] = Field(default_factory=list, description="free-text domain notes shown with the rules")

    # -- model --------------------------------------------------------------------------
    backend: Literal["embedded", "openai"] = Field(
        "embedded", description="embedded (in-process, offline) or openai (an OpenAI-compatible server)"
    )
    model_path: str | None = Field(
        None, description="embedded: a GGUF file to use instead of the packaged Gemma 3 270M"
    )
    threads: int | None = Field(None, ge=1, description="embedded: CPU threads (default: all cores)")
    base_url: str | None = Field(None, description="openai: server URL, e.g. http://127.0.0.1:8080/v1")
    model: str | None = Field(None, description="openai: model name the server knows")
    api_key_env: str | None = Field(None, description="openai: environment variable holding the API key")
    timeout_s: float = Field(120.0, gt=0, description="openai: seconds before a request times out")
    max_retries: int = Field(3, ge=0, le=10, description="openai: retries (with backoff) of a failed request")
    concurrency: int = Field(2, ge=1, le=64, description="openai: requests in flight at once")
    response_format: Literal["json_schema", "json_object"] = Field(
        "json_schema",
        description="openai: how the schema is sent: json_schema (OpenAI, vLLM, Ollama, llama.cpp's llama-server) "
        "or json_object with a schema (llama-cpp-python's server)",
    )
    allow_real_rows_remote: bool = Field(
        False, description="let prompts with real rows, and a JSON Schema with the table's bounds and rare levels, go "
        "to a server that is not on this machine",
    )
    rare_level_k: int = Field(
        5, ge=1, description="k-rule of what prompts and remote requests may show (as audit.rare_level_k for outputs): "
        "levels fewer than k training records hold are not named, ranges leave at least k records beyond each end",
    )

    # -- sampling -----------------------------------------------------------------------
    rows_per_call: int = Field(4, ge=1, le=64, description="rows asked for in one model call")
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens_per_row: int = Field(24, ge=4, description="answer budget per row and column, in tokens")
    budget: float = Field(
        10.0, ge=1, description="stop with an error once the model was asked for budget x the requested rows"
    )

    # -- guard --------------------------------------------------------------------------
    min_distance: float = Field(
        0.0, ge=0,
        description="drop rows within this distance of a training row (mixed-type encoding; 0 drops exact copies)",
    )
    progress: bool = Field(True, description="show a progress bar (rows/s, valid-row rate) on a terminal")

    @model_validator(mode="after")
    def _consistent(self) -> LLMParams:
        for key in ("rules", "soft_rules"):
            for text in getattr(self, key):
                parse_rule(text)  # syntax now; columns are checked against the schema in fit()
        if self.strategy == "rules" and self.n_examples:
            raise ValueError("the 'rules' strategy shows no real rows: drop n_examples or pick another strategy")
        if self.backend == "openai":
            if not self.base_url or not self.model:
                raise ValueError("backend 'openai' needs base_url (e.g. http://127.0.0.1:8080/v1) and model")
            if (
                not is_loopback_url(self.base_url)
                and shows_real_rows(self.strategy, self.examples_per_prompt)
                and not self.allow_real_rows_remote
            ):
                raise ValueError(
                    f"strategy '{self.strategy}' puts real training rows into every prompt, and {self.base_url} is "
                    "not on this machine. Use strategy 'rules' or 'statistics' (with n_examples: 0), a server on "
                    "127.0.0.1, or set allow_real_rows_remote: true if sending real records there is permitted"
                )
        else:
            stray = [k for k in ("base_url", "model", "api_key_env") if getattr(self, k) is not None]
            if stray:
                raise ValueError(f"{', '.join(stray)} only apply to backend 'openai' (backend is '{self.backend}')")
        return self

    @property
    def examples_per_prompt(self) -> int:
        return DEFAULT_EXAMPLES[self.strategy] if self.n_examples is None else self.n_examples
