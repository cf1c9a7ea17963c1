"""The sampling loop: ask the model for batches, keep the rows that pass every check.

One round sends as many calls as the missing rows need at the keep rate so far (at most
``backend.max_concurrency``, answered together by ``complete_many``), each with its own prompt
(examples rotate: every call draws its own training rows) and its own seed, and handles
the answers in call order, so the same seed gives the same rows. An answer is decoded as
JSON (never split on commas); each row then passes, in turn:

1. the schema (pydantic, :class:`RowValidator`): types, levels, bounds, nullability;
2. the hard rules: a row violating one is rejected, counted per rule;
3. the copy guard: a row equal to, or too close to, a training row is dropped.

Soft rules are evaluated on the kept rows and counted. Rounds go on until ``n`` rows are
kept; once the model has been asked for ``budget x n`` rows the loop stops with a
:class:`GenerationBudgetError` that gives the counts.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic_core import from_json

from synth.data.coerce import coerce_to_schema
from synth.errors import SynthUserError
from synth.generators.llm.backends.base import Backend, BackendError, BatchRequest
from synth.generators.llm.guard import CopyGuard
from synth.generators.llm.prompts import PromptRenderer, example_rows
from synth.generators.llm.row_schema import RowValidator, batch_json_schema
from synth.generators.llm.rule_narrowing import RowNarrowing
from synth.generators.llm.rules import Rule
from synth.schema import Schema

# Answers in a row without a single parseable row before the backend counts as broken.
MAX_CONSECUTIVE_EMPTY_ANSWERS = 3


class GenerationBudgetError(SynthUserError):
    """The model was asked for the budgeted number of rows without enough valid ones."""


@dataclass
class SamplingCounts:
    """What happened to every row the model was asked for (for the manifest and errors)."""

    calls: int = 0
    rows_requested: int = 0
    rows_returned: int = 0
    schema_invalid: int = 0
    empty_answers: int = 0
    rule_rejections: dict[str, int] = field(default_factory=dict)
    soft_rule_violations: dict[str, int] = field(default_factory=dict)
    rows_kept: int = 0
    seconds: float = 0.0

    @property
    def valid_rows(self) -> int:
        """Rows that passed the schema and every hard rule."""
        return self.rows_returned - self.schema_invalid - sum(self.rule_rejections.values())

    @property
    def valid_row_rate(self) -> float:
        """Valid rows per row asked for (missing rows in an answer count as invalid)."""
        return self.valid_rows / self.rows_requested if self.rows_requested else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "rows_requested": self.rows_requested,
            "rows_returned": self.rows_returned,
            "schema_invalid": self.schema_invalid,
            "rule_rejections": dict(self.rule_rejections),
            "soft_rule_violations": dict(self.soft_rule_violations),
            "valid_rows": self.valid_rows,
            "valid_row_rate": round(self.valid_row_rate, 4),
            "rows_kept": self.rows_kept,
            "empty_answers": self.empty_answers,
            "seconds": round(self.seconds, 3),
            "valid_rows_per_s": round(self.valid_rows / self.seconds, 3) if self.seconds else None,
        }


def decode_rows(text: str) -> list[Any]:
    """The row objects in a model answer ``{"rows": [...]}`` (or a bare list of rows).

    The text is parsed as JSON (truncated JSON too: complete rows before the cut are kept,
    a cut-off row comes back incomplete and fails validation). Not JSON: no rows.
    """
    try:
        doc = from_json(text.strip(), allow_partial=True)
    except ValueError:
        return []
    if isinstance(doc, dict):
        doc = doc.get("rows", [])
    return doc if isinstance(doc, list) else []


@dataclass(frozen=True)
class SamplingPlan:
    """The settings of one ``sample`` call."""

    rows_per_call: int
    examples_per_prompt: int
    temperature: float
    top_p: float
    max_tokens_per_row: int
    budget: float
    progress: bool
    rules_in_decoding: bool = True


class RowSampler:
    """Runs the loop for one fitted generator and one backend."""

    def __init__(
        self,
        *,
        schema: Schema,
        backend: Backend,
        renderer: PromptRenderer,
        examples: pd.DataFrame | None,
        rules: list[Rule],
        soft_rules: list[Rule],
        guard: CopyGuard,
        plan: SamplingPlan,
        request_schema: Schema | None = None,
    ) -> None:
        """``request_schema``: what the requests' JSON Schema is built from, when not ``schema``
        (for a remote server, one without real values); rows are validated against ``schema``."""
        self.schema, self.backend, self.renderer = schema, backend, renderer
        self.request_schema = request_schema or schema
        self.examples, self.rules, self.soft_rules = examples, rules, soft_rules
        self.guard, self.plan = guard, plan
        self.validator = RowValidator(schema)
        self.narrowing = RowNarrowing(rules, schema) if rules and plan.rules_in_decoding else None
        self.counts = SamplingCounts(
            rule_rejections={r.text: 0 for r in rules}, soft_rule_violations={r.text: 0 for r in soft_rules}
        )

    def _request(self, call: int, seed: int) -> BatchRequest:
        rows = self.plan.rows_per_call
        rng = np.random.default_rng([seed, call])
        shown: list[dict[str, Any]] = []
        if self.plan.examples_per_prompt and self.examples is not None and len(self.examples):
            k = min(self.plan.examples_per_prompt, len(self.examples))
            picked = rng.choice(len(self.examples), size=k, replace=False)
            shown = example_rows(self.examples.iloc[picked], self.schema)
        return BatchRequest(
            prompt=self.renderer.render(shown, rows),
            schema=batch_json_schema(self.request_schema, rows),
            rows=rows,
            seed=int(rng.integers(0, 2**31 - 1)),
            temperature=self.plan.temperature,
            top_p=self.plan.top_p,
            max_tokens=16 + rows * len(self.schema.names) * self.plan.max_tokens_per_row,
            narrowing=self.narrowing,
        )

    def run(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` rows that passed every check (schema columns and dtypes, index 0..n-1)."""
        kept: list[pd.DataFrame] = []
        have, call, empty_streak = 0, 0, 0
        limit = int(np.ceil(self.plan.budget * n))
        started = time.perf_counter()
        bar = self._bar(n)
        try:
            while have < n:
                if self.counts.rows_requested >= limit:
                    raise self._budget_error(n, have)
                wave = self._wave_size(n - have, limit)
                requests = [self._request(call + i, seed) for i in range(wave)]
                call += wave
                for text in self.backend.complete_many(requests):
                    self.counts.calls += 1
                    self.counts.rows_requested += self.plan.rows_per_call
                    rows = self._check(decode_rows(text)[: self.plan.rows_per_call])
                    empty_streak = empty_streak + 1 if rows is None else 0
                    if empty_streak >= MAX_CONSECUTIVE_EMPTY_ANSWERS:
                        raise BackendError(
                            f"The model answered {empty_streak} times in a row without a single JSON row "
                            f"(last answer began {text[:80]!r}). The backend ignores the JSON schema or is "
                            "not a chat model; check generator.params.model / base_url."
                        )
                    if rows is not None and len(rows):
                        kept.append(rows)
                        have += len(rows)
                        self.counts.rows_kept = min(have, n)
                    self.counts.seconds = time.perf_counter() - started
                    if bar is not None:
                        bar.n = min(have, n)
                        bar.set_postfix(valid=f"{self.counts.valid_row_rate:.0%}", refresh=False)
                        bar.refresh()
        finally:
            if bar is not None:
                bar.close()
        self.counts.seconds = time.perf_counter() - started
        # object columns throughout: a batch whose column is all null must not decide the dtype
        out = coerce_to_schema(pd.concat([k.astype(object) for k in kept], ignore_index=True).head(n), self.schema)
        self._count_soft_rules(out)
        return out

    def _wave_size(self, missing: int, limit: int) -> int:
        """Calls for the next wave: enough for the ``missing`` rows at the keep rate so far (with a
        quarter more; as many as allowed while no row was kept yet), at most the backend's
        concurrency and what the budget has left."""
        c, per_call = self.counts, self.plan.rows_per_call
        left = -(-(limit - c.rows_requested) // per_call)
        if c.rows_requested and not c.rows_kept:  # nothing kept yet: the rate is unknown but low
            return max(1, min(self.backend.max_concurrency, left))
        keep_rate = c.rows_kept / c.rows_requested if c.rows_requested else 1.0
        wanted = int(np.ceil(1.25 * missing / (per_call * keep_rate)))
        return max(1, min(self.backend.max_concurrency, wanted, left))

    def _check(self, raw: list[Any]) -> pd.DataFrame | None:
        """The rows of one answer that pass schema, rules and guard; ``None`` if none was JSON."""
        if not raw:
            self.counts.empty_answers += 1
            return None
        self.counts.rows_returned += len(raw)
        valid = [v for v in (self.validator.validate(r) for r in raw) if v is not None]
        self.counts.schema_invalid += len(raw) - len(valid)
        if not valid:
            return pd.DataFrame(columns=self.schema.names)
        # Validated values already have the schema's types; the dtypes are set once, at the end.
        frame = pd.DataFrame(valid, columns=self.schema.names)
        ok = np.ones(len(frame), dtype=bool)
        for rule in self.rules:
            bad = rule.violated(frame, self.schema) & ok
            self.counts.rule_rejections[rule.text] += int(bad.sum())
            ok &= ~bad
        frame = frame[ok].reset_index(drop=True)
        return frame[self.guard.keep(frame)].reset_index(drop=True)

    def _count_soft_rules(self, frame: pd.DataFrame) -> None:
        for rule in self.soft_rules:
            self.counts.soft_rule_violations[rule.text] = int(rule.violated(frame, self.schema).sum())

    def _budget_error(self, n: int, have: int) -> GenerationBudgetError:
        c = self.counts
        rejected = "; ".join(f"{k!r}: {v}" for k, v in c.rule_rejections.items() if v) or "none"
        return GenerationBudgetError(
            f"The llm generator kept {have} of the {n} rows asked for after asking the model for {c.rows_requested} "
            f"rows (budget {self.plan.budget:g} x {n}): {c.rows_returned} rows came back, {c.schema_invalid} did not "
            f"fit the schema, rule rejections: {rejected}; the copy guard dropped {self.guard.counts.exact_copies} "
            f"exact and {self.guard.counts.near_copies} near copies of training rows. Nothing was written. "
            "Relax the rules, lower min_distance, raise generator.params.budget, or try another strategy or model."
        )

    def _bar(self, n: int) -> Any:
        if not self.plan.progress:
            return None
        from tqdm import tqdm

        # disable=None: no bar when stderr is not a terminal (logs, CI, pipelines)
        return tqdm(total=n, unit="row", desc="llm", file=sys.stderr, disable=None, leave=False, mininterval=0.5)
