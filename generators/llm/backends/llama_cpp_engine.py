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
        items = request.schema["properties"]["rows"]["items"]
        properties: dict[str, Any] = items["properties"]
        names = list(properties)
        text = request.prompt + '{"rows": ['
        start = len(request.prompt)
        with _LOCK:
            for r in range(request.rows):
                text += ", {" if r else "{"
                for j, name in enumerate(names):
                    text += (", " if j else "") + json.dumps(name) + ": "
                    delimiter = "," if j + 1 < len(names) else "}"
                    value = self._sample_value(text, self._grammar(properties[name], delimiter), delimiter,
                                               request, seed=request.seed + 7919 * r + j)
                    if value is None:  # the token budget ran out: return what is complete
                        return text[start:]
                    text += value
                text += "}"
        return text[start:] + "]}"

    def _sample_value(self, text: str, grammar: Any, delimiter: str, request: BatchRequest, seed: int) -> str | None:
        llm = self._llm
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        if len(tokens) + 64 > CONTEXT_TOKENS:
            return None
        llm.set_seed(seed)
        out: list[int] = []
        limit = max(8, request.max_tokens // max(request.rows, 1))
        for token in llm.generate(tokens, top_k=0, top_p=request.top_p, min_p=0.0, temp=request.temperature,
                                  repeat_penalty=1.0, grammar=grammar):
            if token == llm.token_eos() or len(out) >= limit:
                return None
            out.append(token)
            piece = llm.detokenize(out).decode("utf-8", errors="ignore")
            stripped = piece.rstrip()
            if stripped.endswith(delimiter) and _is_json(stripped[: -len(delimiter)]):
                return stripped[: -len(delimiter)].strip()
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
