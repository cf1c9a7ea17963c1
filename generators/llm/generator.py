"""The ``llm`` generator: SynLLM-style prompting of a language model for tabular rows.

``fit`` builds the prompt material from the training split (examples, data dictionary,
statistics, rules) and the copy guard; ``sample`` asks the model for batches of rows
under a JSON Schema built from the Schema and keeps the rows that pass the schema, the
hard rules and the guard (see :mod:`synth.generators.llm.sampling`). Which rows and
which statistics a prompt shows depends on the strategy (:mod:`synth.generators.llm.prompts`).

Real rows never leave the machine unless ``allow_real_rows_remote`` says so: the
parameters refuse a strategy that shows real rows with a server that is not on loopback.
Nor does a single person's value: prompts follow :mod:`synth.disclosure` (see
:mod:`~synth.generators.llm.prompts`), and the JSON Schema sent to such a server carries
no numeric bounds (an inferred schema's are one person's values; the rows that come back
are still checked against them here) and no level that fewer than ``k`` records hold.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

import synth
from synth.atomic import write_text, write_with
from synth.data.datasets import dataset_info
from synth.errors import ConfigError, DataError, SynthUserError, did_you_mean
from synth.generators.base import Condition, Generator, GeneratorParams, PrivacyGuarantee
from synth.generators.llm.backends.base import Backend, is_loopback_url
from synth.generators.llm.guard import CopyGuard
from synth.generators.llm.params import LLMParams
from synth.generators.llm.prompts import PromptMaterial, PromptRenderer, PromptTemplate, shows_real_rows
from synth.generators.llm.rules import Rule, parse_rule
from synth.generators.llm.sampling import RowSampler, SamplingCounts, SamplingPlan
from synth.generators.llm.statistics import TableStatistics, table_statistics
from synth.generators.sdv_adapter import check_seed, training_frame
from synth.schema import ColumnKind, Schema

SAVE_FORMAT = "synth.llm/1"
SIDECAR_FILE = "generator.json"
TRAIN_FILE = "train.parquet"


class LLMGenerator(Generator):
    """Rows from a language model prompted with one of SynLLM's four strategies."""

    name = "llm"
    description = (
        "SynLLM-style LLM prompting (examples, definitions, statistics or rules) with schema-constrained JSON "
        "decoding, rule checks and a copy guard; embedded Gemma 3 270M or an OpenAI-compatible server."
    )
    Params: ClassVar[type[GeneratorParams]] = LLMParams
    supports_conditions: ClassVar[bool] = False

    def __init__(self, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=check_seed(seed), **params)
        self.params: LLMParams
        self.privacy = PrivacyGuarantee(
            notes="No formal privacy guarantee. Rows equal to a training row (or within min_distance of one) "
            "are never emitted; rely on the empirical privacy audit for the rest."
        )
        self._train: pd.DataFrame | None = None
        self._material: PromptMaterial | None = None
        self._template: PromptTemplate | None = None
        self._rules: list[Rule] = []
        self._soft_rules: list[Rule] = []
        self._guard: CopyGuard | None = None
        self._backend: Backend | None = None
        self._last: dict[str, Any] = {}

    # -- fit ----------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, schema: Schema) -> LLMGenerator:
        """Build the prompt material and the copy guard from ``data`` (n_rows x modelled columns)."""
        modelled = schema.modelled()
        frame = training_frame(data, modelled)
        p = self.params
        self._rules = [parse_rule(t).bind(modelled, "generator.params.rules") for t in p.rules]
        self._soft_rules = [parse_rule(t).bind(modelled, "generator.params.soft_rules") for t in p.soft_rules]
        definitions = self._definitions(modelled)
        statistics = None
        if p.strategy == "statistics":
            statistics = p.statistics if p.statistics is not None else table_statistics(frame, modelled, p.rare_level_k)
            self._check_statistics(statistics, modelled)
        self._template = PromptTemplate.load(p.strategy, p.template)
        self._material = PromptMaterial.from_training(
            frame, modelled, p.rare_level_k, title=p.description, definitions=definitions, statistics=statistics,
            rules=[r.text for r in self._rules], notes=list(p.notes),
        )
        PromptRenderer(self._template, self._material).render([], p.rows_per_call)  # template errors now
        self._train = frame
        self._guard = CopyGuard(frame, modelled, p.min_distance)
        self.schema = modelled
        if self._public_requests():
            self._remote_schema()  # a column that cannot be described to the server: say so now
        return self

    def _public_requests(self) -> bool:
        """Whether requests go to a server off this machine without the opt-in (see the module
        docstring): the backend says so once it exists, the parameters before."""
        p = self.params
        if p.allow_real_rows_remote:
            return False
        if self._backend is not None:
            return self._backend.remote
        return p.backend == "openai" and not is_loopback_url(p.base_url)

    def _definitions(self, schema: Schema) -> dict[str, str]:
        given = self.params.definitions
        if isinstance(given, str):
            if not given.startswith("builtin:"):
                raise ConfigError(
                    f"generator.params.definitions is {given!r}: give a mapping column -> meaning, or builtin:NAME "
                    "for a built-in dataset's data dictionary (see `synth datasets list`)."
                )
            return dict(dataset_info(given.removeprefix("builtin:")).column_meanings)
        unknown = [c for c in given if c not in schema]
        if unknown:
            raise ConfigError(
                f"generator.params.definitions names '{unknown[0]}', which is not a modelled column."
                + did_you_mean(unknown[0], schema.names) + f" Modelled columns: {', '.join(schema.names)}."
            )
        return dict(given)

    @staticmethod
    def _check_statistics(stats: TableStatistics, schema: Schema) -> None:
        named = list(stats.columns) + [c for r in stats.correlations for c in (r.a, r.b)]
        for column in named:
            if column not in schema:
                raise ConfigError(
                    f"generator.params.statistics names '{column}', which is not a modelled column."
                    + did_you_mean(column, schema.names)
                )

    # -- sample -------------------------------------------------------------------------
    def sample(self, n: int, conditions: list[Condition] | None = None, seed: int | None = None) -> pd.DataFrame:
        """``n`` rows that fit the schema and the hard rules and copy no training row.

        Raises :class:`GenerationBudgetError` (nothing returned) when the model needs
        more than ``budget x n`` rows to get there, :class:`BackendError` when the
        backend cannot answer.
        """
        if not self.is_fitted:
            raise SynthUserError("Generator 'llm' is not fitted: call fit(data, schema) or load(path) before sample().")
        if conditions:
            raise ConfigError(
                "generator 'llm' does not support sample.conditions; drop them, or state the condition as a hard "
                "rule in generator.params.rules (e.g. 'arms == 1')."
            )
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ConfigError(f"sample(n): n must be a whole number >= 0, got {n!r}.")
        seed = self.seed if seed is None else check_seed(seed, "sample seed")
        p = self.params
        if n == 0:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in self.schema.names})
        backend = self._get_backend()
        sampler = RowSampler(
            schema=self.schema, backend=backend, renderer=PromptRenderer(self._template, self._material),
            request_schema=self._remote_schema() if self._public_requests() else None,
            examples=self._train if shows_real_rows(p.strategy, p.examples_per_prompt) else None,
            rules=self._rules, soft_rules=self._soft_rules, guard=self._guard,
            plan=SamplingPlan(
                rows_per_call=p.rows_per_call, examples_per_prompt=p.examples_per_prompt, temperature=p.temperature,
                top_p=p.top_p, max_tokens_per_row=p.max_tokens_per_row, budget=p.budget, progress=p.progress,
                rules_in_decoding=p.rules_in_decoding,
            ),
        )
        before = self._guard.counts.to_dict()
        try:
            rows = sampler.run(int(n), seed)
        finally:
            self._last = self._run_record(sampler.counts, before)
        return rows

    def _remote_schema(self) -> Schema:
        """The schema whose JSON Schema may go to a remote server: no bounds, nameable levels only."""
        columns = []
        for spec in self.schema.columns:
            if spec.kind == ColumnKind.CATEGORICAL and spec.categories:
                levels = self._material.levels.get(spec.name, ())
                if not levels:
                    raise ConfigError(
                        f"column '{spec.name}': every level is held by fewer than {self.params.rare_level_k} training "
                        "records (generator.params.rare_level_k), "
                        f"so none may be named to the server at {self.params.base_url}, which is not on this machine. "
                        "Use a server on 127.0.0.1, drop or merge the column, or set allow_real_rows_remote: true if "
                        "sending real values there is permitted."
                    )
                spec = replace(spec, categories=levels)
            columns.append(replace(spec, minimum=None, maximum=None))
        return Schema(tuple(columns))

    def _run_record(self, counts: SamplingCounts, guard_before: dict[str, int]) -> dict[str, Any]:
        after = self._guard.counts.to_dict()
        return {**counts.to_dict(), "guard_dropped": {k: after[k] - guard_before[k] for k in after}}

    def _get_backend(self) -> Backend:
        if self._backend is None:
            from synth.generators.llm.backends.factory import make_backend

            self._backend = make_backend(self.params)
        return self._backend

    # -- provenance ---------------------------------------------------------------------
    def provenance(self) -> dict[str, Any]:
        """Model, prompt and sampling settings, and the last ``sample`` call's counts.

        Holds no real value: rule texts come from the config, counts are counts.
        """
        p = self.params
        out: dict[str, Any] = {
            "strategy": p.strategy,
            "examples_per_prompt": p.examples_per_prompt,
            "template": {"source": self._template.source, "sha256": self._template.sha256} if self._template else None,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "rows_per_call": p.rows_per_call,
            "rules": list(p.rules),
            "soft_rules": list(p.soft_rules),
            "rules_in_decoding": p.rules_in_decoding,
            "min_distance": p.min_distance,
            "constrained_decoding": "JSON Schema from the table schema; rows validated with pydantic",
            "rare_level_k": p.rare_level_k,
        }
        if self._public_requests():
            out["constrained_decoding"] = ("JSON Schema from the table schema without numeric bounds and rare levels "
                                           "(the server is not on this machine); rows validated here with pydantic "
                                           "against the full schema")
        if self._backend is not None:
            out["model"] = self._backend.provenance()
        if self._last:
            out["sampling"] = self._last
        return out

    # -- persistence --------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write ``generator.json`` (params, seed, schema, statistics) and ``train.parquet``.

        The training rows are kept because examples prompts show them and the copy guard
        compares against them: store the folder like the training data. No pickle.
        """
        if not self.is_fitted:
            raise SynthUserError("Generator 'llm' is not fitted: there is nothing to save.")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_with(path / TRAIN_FILE, lambda tmp: self._train.to_parquet(tmp, index=False))
        meta = {
            "format": SAVE_FORMAT,
            "generator": self.name,
            "seed": self.seed,
            "params": self.params.model_dump(mode="json"),
            "schema": self.schema.to_dict(),
            "synth_version": synth.__version__,
        }
        write_text(path / SIDECAR_FILE, json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path, *, trusted: bool = False) -> LLMGenerator:
        """Load what :meth:`save` wrote (JSON and Parquet: nothing executes, ``trusted`` is not needed)."""
        path = Path(path)
        sidecar = path / SIDECAR_FILE
        try:
            meta = json.loads(sidecar.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"'{sidecar}' cannot be read ({exc}); save the generator again.") from None
        if not isinstance(meta, dict) or meta.get("format") != SAVE_FORMAT or meta.get("generator") != cls.name:
            raise DataError(f"'{sidecar}' is not a saved '{cls.name}' generator ({SAVE_FORMAT}).")
        if not (path / TRAIN_FILE).is_file():
            raise DataError(f"'{path}' lacks {TRAIN_FILE}; the saved generator is incomplete. Save it again.")
        generator = cls(seed=meta["seed"], **meta["params"])
        schema = Schema.from_dict(meta["schema"])
        return generator.fit(pd.read_parquet(path / TRAIN_FILE), schema)
