"""Embedded backend on llama.cpp (llama-cpp-python): the GGUF runs in-process, offline.

The answer ``{"rows": [{...}, ...]}`` is written field by field. Everything the JSON
Schema fixes -- braces, commas, the keys in schema order -- is appended as text and
costs no sampling step: llama.cpp evaluates it in one batch with the prompt cache (the
longest common token prefix is reused). Only values are sampled, each under a grammar
that llama.cpp compiles from the column's JSON Schema (:func:`column_schema`) followed by
the delimiter the schema puts next, so the model itself decides where a number ends.
Sampling stops at that delimiter, without a further step.

The loaded model is cached per process (one load per file and thread count).
"""

from __future__ import annotations

import json
import re
import threading
from functools import cache
from typing import Any

from synth.generators.llm.backends.base import Backend, BatchRequest
from synth.generators.llm.backends.model_file import ModelFile
from synth.generators.llm.row_schema import column_schema

CONTEXT_TOKENS = 8192
_LOCK = threading.Lock()  # one llama.cpp context: calls run one at a time


@cache
def _load(path: str, threads: int | None) -> Any:
    from llama_cpp import Llama

    return Llama(model_path=path, n_ctx=CONTEXT_TOKENS, n_threads=threads, n_batch=512, seed=0, verbose=False)


def _value_grammar(schema_json: str, delimiter: str) -> Any:
    """A llama.cpp grammar: one value of the JSON Schema, then ``delimiter``."""
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(schema_json)
    gbnf = re.sub(r"^root ::=", "value ::=", gbnf, count=1, flags=re.MULTILINE)
    return LlamaGrammar.from_string(f"root ::= value {json.dumps(delimiter)}\n{gbnf}", verbose=False)


class LlamaCppBackend(Backend):
    """In-process llama.cpp with per-value grammars and forced structure."""

    max_concurrency = 1

    def __init__(self, model: ModelFile, threads: int | None = None) -> None:
        self.model = model
        self.threads = threads
        self._llm = _load(str(model.path), threads)
        self._grammars: dict[tuple[str, str], Any] = {}

    @property
    def remote(self) -> bool:
        return False

    def _grammar(self, schema: dict[str, Any], delimiter: str) -> Any:
        key = (json.dumps(schema, sort_keys=True), delimiter)
        if key not in self._grammars:
            self._grammars[key] = _value_grammar(key[0], delimiter)
        return self._grammars[key]

    def complete(self, request: BatchRequest) -> str:
        """Write the answer field by field; values sampled, structure forced (see the module docstring)."""
        llm = self._llm
        items = request.schema["properties"]["rows"]["items"]
        properties: dict[str, Any] = items["properties"]
        names = list(properties)
        answer = forced = '{"rows": ['  # ``forced``: fixed text not yet in the model's context
        with _LOCK:
            # The first field evaluates the whole prompt (llama.cpp reuses the longest cached
            # prefix); later fields only append the forced text and the last sampled token.
            context: list[int] = llm.tokenize(request.prompt.encode("utf-8"), add_bos=True, special=False)
            reset = True
            for r in range(request.rows):
                answer, forced = answer + (", {" if r else "{"), forced + (", {" if r else "{")
                for j, name in enumerate(names):
                    key = (" " if j else "") + json.dumps(name) + ": "
                    delimiter = "}" if j + 1 == len(names) else ","
                    tokens = context + llm.tokenize((forced + key).encode("utf-8"), add_bos=False, special=False)
                    if (0 if reset else llm.n_tokens) + len(tokens) + 64 > CONTEXT_TOKENS:
                        return answer[: answer.rfind("}") + 1] + "]}" if r else '{"rows": []}'
                    sampled = self._sample_value(tokens, reset, properties[name], delimiter, request,
                                                 seed=request.seed + 7919 * r + j)
                    if sampled is None:  # the token budget ran out: the rows so far are complete
                        return answer[: answer.rfind("}") + 1] + "]}" if r else '{"rows": []}'
                    value, context, delimiter_sampled = sampled
                    reset = False
                    answer += key + value + delimiter
                    # the model's context holds the delimiter only when it sampled it
                    forced = "" if delimiter_sampled else delimiter
        return answer + "]}"

    def _sample_value(
        self, tokens: list[int], reset: bool, schema: dict[str, Any], delimiter: str, request: BatchRequest, seed: int
    ) -> tuple[str, list[int], bool] | None:
        """Sample one value after ``tokens``; return (value text, tokens still to evaluate, delimiter sampled?).

        Stops as soon as the value is complete and the schema allows nothing but the
        delimiter next (no step is spent on it), or when the model samples the delimiter.
        """
        llm = self._llm
        llm.set_seed(seed)
        grammar = self._grammar(schema, delimiter)
        out: list[int] = []
        limit = max(8, request.max_tokens // max(request.rows, 1))
        generator = llm.generate(tokens, reset=reset, top_k=0, top_p=request.top_p, min_p=0.0,
                                 temp=request.temperature, repeat_penalty=1.0, grammar=grammar)
        try:
            for token in generator:
                if token == llm.token_eos() or len(out) >= limit:
                    return None
                out.append(token)
                text = llm.detokenize(out).decode("utf-8", errors="ignore").strip()
                if text.endswith(delimiter) and _is_json(text[: -len(delimiter)]):
                    return text[: -len(delimiter)].strip(), [token], True
                if value_is_final(text, schema):
                    return text, [token], False
        finally:
            generator.close()
        return None

    def provenance(self) -> dict[str, Any]:
        import llama_cpp

        return {
            "backend": "embedded",
            "engine": f"llama-cpp-python {llama_cpp.__version__}",
            "model_id": self.model.model_id,
            "model_file": self.model.path.name,
            "model_sha256": self.model.sha256,
            "threads": self.threads,
            "decoding": "per-value llama.cpp grammars from the JSON Schema; keys and punctuation forced, not sampled",
        }


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def value_is_final(text: str, schema: dict[str, Any]) -> bool:
    """Whether ``text`` is a complete value that no longer value of ``schema`` extends.

    Then the schema fixes what comes next (the delimiter) and no model step is spent on it:
    an enum level that is no other level's prefix, ``true``/``false``/``null``, or an
    integer to which any further digit would break the column's bounds.
    """
    try:
        value = json.loads(text)
    except ValueError:
        return False
    options = schema.get("anyOf", [schema])
    texts = [json.dumps(v) for o in options for v in o.get("enum", [])]
    if any(t.startswith(text) and t != text for t in texts):
        return False
    if any(o.get("type") in ("number", "string") for o in options):
        return isinstance(value, bool) or value is None
    if texts and text in texts:
        return True
    if isinstance(value, bool) or value is None:
        return True
    integer = next((o for o in options if o.get("type") == "integer"), None)
    if integer is None or not isinstance(value, int):
        return False
    if text.lstrip("-") == "0":
        return True  # JSON allows no digit after a leading zero
    lo, hi = integer.get("minimum"), integer.get("maximum")
    longer = value * 10
    return (value > 0 and hi is not None and longer > hi) or (value < 0 and lo is not None and longer < lo)
