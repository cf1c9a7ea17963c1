"""Embedded backend on llama.cpp (llama-cpp-python's bindings): the GGUF runs in-process, offline.

Several answers are written at once, one llama.cpp *sequence* each, in one context whose
KV cache the sequences share:

- **The prompt is evaluated once.** The longest prefix the prompts of a wave share (for
  the ``statistics`` and ``rules`` strategies, the whole prompt) is evaluated into a cache
  sequence and copied to each answer's sequence; it stays cached for the next wave.
- **One decode per step for all answers.** Each step feeds every sequence what it has
  not seen -- the last sampled token, then any forced text -- in one batch, with logits
  only at each sequence's last token, and samples one token per sequence.
- **Structure is forced, values are sampled** (:mod:`.answer_writer`): keys, braces,
  commas and single-valued columns cost no sampling step; the hard rules narrow each
  value's schema given the row so far (:mod:`~synth.generators.llm.rule_narrowing`).
- **Values follow a grammar**: llama.cpp's grammar sampler, built from the column's JSON
  Schema (:mod:`.value_grammar`), evaluated on the tokens spelled from the grammar's
  alphabet (a few hundred, not 262k), plus the bounds the converter leaves out;
  temperature and top-p then apply to the allowed tokens, with a generator seeded per
  answer, so the same request gives the same answer.
- **Only the logits needed**: the output layer runs for those few hundred tokens, not the
  262k of the vocabulary (:mod:`.output_head`, checked against llama.cpp's logits at start).

The model is loaded once per process and file; contexts are reused while the settings stay.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from functools import cache
from typing import Any

import numpy as np

from synth.generators.llm.backends.answer_writer import AnswerWriter, Field, answer_fields, value_is_final
from synth.generators.llm.backends.base import Backend, BackendError, BatchRequest
from synth.generators.llm.backends.model_file import ModelFile
from synth.generators.llm.backends.output_head import EMBEDDING_TENSORS, GraphTap, OutputHead, head_matches
from synth.generators.llm.backends.value_grammar import (
    NUMBER_DECIMALS,
    grammar_alphabet,
    number_prefix_ok,
    numeric_bounds,
    value_gbnf,
)

__all__ = ["LlamaCppBackend", "value_is_final"]

# answers written at once (one llama.cpp sequence each). Every token attends over the whole
# shared KV cache (the other answers' cells masked, not skipped), so more sequences cost more
# per token: on 2 cores with the statistics prompt, 8 sequences of 2 rows gave 1.93-2.09 valid
# rows/s against 1.41-1.80 for 16 of 4 and 1.0 for 32 of 2 (bench_llm.py, stop 17).
SEQUENCES = 8
CONTEXT_TOKENS = 32768  # KV cells shared by the cached prompt and all answers
BATCH_TOKENS = 512  # tokens per llama_decode call
_CACHE_SEQ = 0  # the sequence that keeps the shared prompt prefix
_SCRATCH_SEQ = SEQUENCES + 1  # evaluated and dropped at once (reading the output layer's rows)
_LOCK = threading.Lock()  # one process-wide llama.cpp context


class _Model:
    """A loaded GGUF: model and vocabulary pointers and the text of every token."""

    def __init__(self, path: str) -> None:
        import llama_cpp

        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # llama.cpp's load log
        llama_cpp.llama_backend_init()
        self.lib, self.path = llama_cpp, path
        self.model = llama_cpp.llama_model_load_from_file(path.encode(), llama_cpp.llama_model_default_params())
        if not self.model:
            raise BackendError(f"llama.cpp could not load the model file {path} (not a GGUF it supports?).")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self.vocab))
        self.pieces = [self._piece(t) for t in range(self.n_vocab)]
        self._char_masks()
        self._candidates: dict[frozenset[str] | None, np.ndarray] = {}

    def _piece(self, token: int) -> str | None:
        lib = self.lib
        if lib.llama_vocab_is_control(self.vocab, token) or lib.llama_vocab_is_eog(self.vocab, token):
            return None
        buf = ctypes.create_string_buffer(64)
        n = lib.llama_token_to_piece(self.vocab, token, buf, 64, 0, False)
        try:
            return buf.raw[: max(n, 0)].decode("utf-8")
        except UnicodeDecodeError:
            return None  # a byte-fallback token: not text on its own

    def tokenize(self, text: str, bos: bool = False) -> list[int]:
        data = text.encode("utf-8")
        size = len(data) + 8
        buf = (self.lib.llama_token * size)()
        n = self.lib.llama_tokenize(self.vocab, data, len(data), buf, size, bos and self.add_bos, False)
        if n < 0:
            raise BackendError(f"llama.cpp could not tokenize a prompt of {len(data)} bytes.")
        return list(buf[:n])

    def candidates(self, alphabet: frozenset[str] | None) -> np.ndarray:
        """Token ids (int32) whose text is spelled from ``alphabet``; all text tokens when ``None``."""
        if alphabet not in self._candidates:
            if alphabet is not None and any(ord(c) > 127 for c in alphabet):
                alphabet = None  # non-ASCII text may come in byte tokens: keep the whole vocabulary
            if alphabet is None:
                ids = np.flatnonzero(self._text)
            else:
                low, high = _char_mask(alphabet)
                outside_low, outside_high = np.uint64(~low & (2**64 - 1)), np.uint64(~high & (2**64 - 1))
                ids = np.flatnonzero(self._ascii & (self._low & outside_low == 0) & (self._high & outside_high == 0))
            self._candidates[alphabet] = ids.astype(np.int32)
        return self._candidates[alphabet]

    def _char_masks(self) -> None:
        """Per token: whether it is text, whether it is ASCII, and its characters as two 64-bit masks."""
        n = len(self.pieces)
        self._text = np.fromiter((bool(p) for p in self.pieces), dtype=bool, count=n)
        self._ascii = np.fromiter((bool(p) and p.isascii() for p in self.pieces), dtype=bool, count=n)
        masks = [_char_mask(frozenset(p)) if ok else (0, 0) for p, ok in zip(self.pieces, self._ascii)]
        self._low = np.fromiter((m[0] for m in masks), dtype=np.uint64, count=n)
        self._high = np.fromiter((m[1] for m in masks), dtype=np.uint64, count=n)


def _char_mask(chars: frozenset[str]) -> tuple[int, int]:
    """ASCII characters as two 64-bit masks (codes 0-63, 64-127)."""
    low = high = 0
    for c in chars:
        code = ord(c)
        if code < 64:
            low |= 1 << code
        else:
            high |= 1 << (code - 64)
    return low, high


@cache
def _load(path: str) -> _Model:
    return _Model(path)


class _Context:
    """One llama.cpp context with :data:`SEQUENCES` answer sequences and a cached prompt prefix."""

    def __init__(self, model: _Model, threads: int) -> None:
        lib = self.lib = model.lib
        self.model = model
        params = lib.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch = CONTEXT_TOKENS, BATCH_TOKENS, BATCH_TOKENS
        params.n_seq_max = SEQUENCES + 2
        params.kv_unified = True  # sequences share cells: the copied prompt costs no memory
        # Gemma 3 attends over a 512-token window in 5 of 6 layers: a window-sized cache for
        # those layers (not a full-size one) keeps their attention short. Same rows to the
        # last digit (48 rows compared); 6 paired 96-row runs: +0.17 valid rows/s on average, 5 of 6 faster.
        params.swa_full = False
        params.n_threads = params.n_threads_batch = threads
        self.tap = GraphTap(lib, int(lib.llama_model_n_embd(model.model)))
        params.cb_eval = self.tap.callback  # kept alive by self.tap
        self.ctx = lib.llama_init_from_model(model.model, params)
        if not self.ctx:
            raise BackendError("llama.cpp could not create a context (out of memory?).")
        self.memory = lib.llama_get_memory(self.ctx)
        self.batch = lib.llama_batch_init(BATCH_TOKENS, 0, 1)
        self.cached: list[int] = []  # the prompt prefix held by _CACHE_SEQ
        self.threads = threads
        self.head = OutputHead(self._embedding_rows)
        self.tap.enabled = self._head_matches()

    def _embedding_rows(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids), n_embd) float32: the token embeddings of ``ids`` as llama.cpp looks them up.

        The tokens are evaluated in a scratch sequence with the graph stopped right after
        the lookup (nothing reaches the KV cache), then the sequence is dropped.
        """
        targets, self.tap.targets = self.tap.targets, EMBEDDING_TENSORS
        parts = []
        try:
            for at in range(0, len(ids), BATCH_TOKENS):
                chunk = ids[at : at + BATCH_TOKENS]
                self.decode([(int(t), i, _SCRATCH_SEQ, False) for i, t in enumerate(chunk)])
                self.lib.llama_memory_seq_rm(self.memory, _SCRATCH_SEQ, -1, -1)
                parts.append(self.tap.take())
        finally:
            self.tap.targets = targets
        rows = np.concatenate(parts) if parts else np.zeros((0, self.tap.n_embd), np.float32)
        if rows.shape != (len(ids), self.tap.n_embd):
            raise BackendError(f"llama.cpp's graph gave no token-embedding tensor ({' or '.join(n.decode() for n in EMBEDDING_TENSORS)}).")
        return rows

    def _head_matches(self) -> bool:
        """Whether the partial output layer gives llama.cpp's logits on two probe sequences at once."""
        probes = [self.model.tokenize('{"rows":[{"age":', bos=True), self.model.tokenize("Patients:\n- ", bos=True)]
        # the tokens JSON numbers and punctuation are spelled from (a few hundred): every token
        # row read costs an embedding lookup, and adding the letters (about 90,000 tokens) made
        # this check take 7 s of a 40-row run
        ids = self.model.candidates(frozenset('0123456789-., "{}[]:'))
        try:
            weights = self.head.weights(ids)
        except BackendError:
            return False
        results = []
        for enabled in (False, True):
            self.tap.enabled = enabled
            items = [(t, i, s + 1, i == len(p) - 1) for s, p in enumerate(probes) for i, t in enumerate(p)]
            self.decode(items)
            if enabled:
                results.append(self.tap.take() @ weights.T)
            else:
                results.append(np.stack([self.logits(len(probes[0]) - 1), self.logits(len(items) - 1)])[:, ids].copy())
            for s in range(len(probes)):
                self.lib.llama_memory_seq_rm(self.memory, s + 1, -1, -1)
        return results[1].shape == results[0].shape and head_matches(results[0], results[1])

    def decode(self, items: list[tuple[int, int, int, bool]]) -> None:
        """Evaluate ``(token, position, sequence, want logits)`` items (at most BATCH_TOKENS)."""
        b = self.batch
        self.tap.rows = []
        b.n_tokens = len(items)
        for i, (token, pos, seq, logits) in enumerate(items):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, logits
            b.seq_id[i][0] = seq
        code = self.lib.llama_decode(self.ctx, b)
        if code != 0:
            raise BackendError(f"llama.cpp could not evaluate a batch (llama_decode returned {code}); the context "
                               f"of {CONTEXT_TOKENS} tokens may be full: lower rows_per_call or shorten the prompt.")

    def logits(self, index: int) -> np.ndarray:
        ptr = self.lib.llama_get_logits_ith(self.ctx, index)
        return np.ctypeslib.as_array(ptr, shape=(self.model.n_vocab,))

    def cache_prefix(self, tokens: list[int]) -> None:
        """Make _CACHE_SEQ hold exactly ``tokens`` (evaluating what is not cached yet).

        A cached prefix can only be extended, not cut: with sliding-window attention the
        cells before a cut may already be gone, so a shorter prefix is evaluated anew.
        """
        lib = self.lib
        if self.cached != tokens[: len(self.cached)] or not self.cached:
            lib.llama_memory_seq_rm(self.memory, _CACHE_SEQ, -1, -1)
            self.cached = []
        start = len(self.cached)
        for at in range(start, len(tokens), BATCH_TOKENS):
            chunk = tokens[at : at + BATCH_TOKENS]
            self.decode([(t, at + i, _CACHE_SEQ, False) for i, t in enumerate(chunk)])
        self.cached = list(tokens)

    def used(self, answers: list[_Answer]) -> int:
        """KV cells taken once the answers' pending tokens are in (the prompt prefix counts once)."""
        return len(self.cached) + sum(a.pos + len(a.pending) - len(self.cached) for a in answers)

    def close(self) -> None:
        self.lib.llama_batch_free(self.batch)
        self.lib.llama_free(self.ctx)


class _Answer:
    """One request being answered in one sequence."""

    def __init__(self, seq: int, request: BatchRequest, fields: list[Field], pending: list[int], pos: int) -> None:
        self.seq, self.request = seq, request
        self.writer = AnswerWriter(fields, request.rows, decimals=NUMBER_DECIMALS, narrowing=request.narrowing)
        self.pending = pending  # tokens the model has not evaluated yet
        self.pos = pos  # position of the first pending token
        self.rng = np.random.default_rng(request.seed)
        self.value_tokens = 0
        self.limit = max(8, request.max_tokens // max(request.rows * len(fields), 1))
        self.grammar: Any = None  # the current value's llama.cpp grammar sampler (None between values)
        self.candidates = np.zeros(0, dtype=np.int32)  # the current value's candidate tokens
        self.bounds: Any = None  # the current value's numeric bounds (None: not a bounded number)
        self.text: str | None = None  # the finished answer


class LlamaCppBackend(Backend):
    """In-process llama.cpp: batched sequences, cached prompt, grammars per value, forced structure."""

    max_concurrency = SEQUENCES

    def __init__(self, model: ModelFile, threads: int | None = None) -> None:
        self.model = model
        self.threads = threads
        self._model = _load(str(model.path))
        self._context: _Context | None = None
        self._grammars: dict[tuple[str, str], tuple[bytes, np.ndarray]] = {}

    @property
    def remote(self) -> bool:
        return False

    def _threads(self) -> int:
        if self.threads is not None:
            return self.threads
        from synth.cpus import free_cpus

        return free_cpus()  # llama.cpp's threads spin at barriers: more than the free CPUs slows it

    def _ctx(self) -> _Context:
        threads = self._threads()
        if self._context is None:
            self._context = _Context(self._model, threads)
        elif self._context.threads != threads:
            self._context.threads = threads
            self._model.lib.llama_set_n_threads(self._context.ctx, threads, threads)
        return self._context

    def _grammar(self, schema: dict[str, Any], delimiter: str) -> tuple[bytes, np.ndarray]:
        import json

        key = (json.dumps(schema, sort_keys=True), delimiter)
        if key not in self._grammars:
            gbnf = value_gbnf(schema, delimiter)
            self._grammars[key] = (gbnf.encode(), self._model.candidates(grammar_alphabet(gbnf)))
        return self._grammars[key]

    def complete(self, request: BatchRequest) -> str:
        return self.complete_many([request])[0]

    def complete_many(self, requests: list[BatchRequest]) -> list[str]:
        """Answer up to :data:`SEQUENCES` requests at once (see the module docstring)."""
        out: list[str] = []
        for at in range(0, len(requests), SEQUENCES):
            with _LOCK:
                out.extend(self._wave(requests[at : at + SEQUENCES]))
        return out

    def _wave(self, requests: list[BatchRequest]) -> list[str]:
        ctx, model, lib = self._ctx(), self._model, self._model.lib
        prompts = [model.tokenize(r.prompt, bos=True) for r in requests]
        shared = _common_prefix(prompts)
        # keep at least one token per answer to evaluate, so that each gets its own logits
        ctx.cache_prefix(prompts[0][: min(len(shared), min(len(p) for p in prompts) - 1)])
        n_cached = len(ctx.cached)
        answers = []
        for i, (request, prompt) in enumerate(zip(requests, prompts)):
            seq = i + 1
            lib.llama_memory_seq_rm(ctx.memory, seq, -1, -1)
            if n_cached:
                lib.llama_memory_seq_cp(ctx.memory, _CACHE_SEQ, seq, 0, n_cached)
            answer = _Answer(seq, request, answer_fields(request.schema), prompt[n_cached:], n_cached)
            answer.pending += model.tokenize(answer.writer.take_forced())
            answers.append(answer)
        try:
            self._run(ctx, answers)
        finally:
            for a in answers:
                lib.llama_memory_seq_rm(ctx.memory, a.seq, -1, -1)
                if a.grammar is not None:
                    lib.llama_sampler_free(a.grammar)
                    a.grammar = None
        return [a.text or a.writer.truncated() for a in answers]

    def _run(self, ctx: _Context, answers: list[_Answer]) -> None:
        active = [a for a in answers if not a.writer.done]
        for a in answers:
            if a.writer.done:
                a.text = a.writer.text
        while active:
            # one decode: every sequence's pending tokens, as many as fit
            items: list[tuple[int, int, int, bool]] = []
            ready: list[tuple[_Answer, int]] = []
            for a in active:
                room = BATCH_TOKENS - len(items)
                if room <= 0:
                    break
                take = a.pending[:room]
                last = len(take) == len(a.pending)
                for k, token in enumerate(take):
                    items.append((token, a.pos + k, a.seq, last and k == len(take) - 1))
                a.pending = a.pending[len(take) :]
                a.pos += len(take)
                if last:
                    ready.append((a, len(items) - 1))
            if ctx.used(answers) + 64 > CONTEXT_TOKENS:
                for a in active:  # the answer outgrows the context: keep the complete rows
                    a.text = a.writer.truncated()
                return
            ctx.decode(items)
            hidden = ctx.tap.take() if ctx.tap.enabled else None
            for k, (a, index) in enumerate(ready):
                self._step(ctx, a, index, None if hidden is None else hidden[k])
            active = [a for a in active if a.text is None]

    def _step(self, ctx: _Context, a: _Answer, index: int, hidden: np.ndarray | None) -> None:
        """Sample one token of ``a``'s current value from the logits at batch ``index`` (or from
        its final hidden state through the partial output layer, :mod:`.output_head`)."""
        lib, model = self.lib, self._model
        if a.grammar is None:  # a new value: its grammar, candidate tokens and bounds, once per value
            gbnf, a.candidates = self._grammar(a.writer.schema, a.writer.delimiter)
            a.bounds = numeric_bounds(a.writer.schema)
            a.grammar = lib.llama_sampler_init_grammar(model.vocab, gbnf, b"root")
            if not a.grammar:
                raise BackendError(f"llama.cpp rejected the grammar of column '{a.writer.field.name}':\n{gbnf.decode()}")
        candidates, bounds = a.candidates, a.bounds
        if hidden is not None:
            logits = ctx.head.weights(candidates) @ hidden
        else:
            logits = ctx.logits(index)[candidates].astype(np.float32)
        check = None
        if bounds is not None:
            value, delimiter, pieces = a.writer.value, a.writer.delimiter, model.pieces
            check = lambda t: number_prefix_ok(value + pieces[t], delimiter, bounds)  # noqa: E731
        token = _sample(lib, a.grammar, candidates, logits, a.request, a.rng, check)
        if token is None or a.value_tokens >= a.limit:
            a.text = a.writer.truncated()  # the grammar allows nothing more or the budget ran out
            return
        lib.llama_sampler_accept(a.grammar, token)
        a.value_tokens += 1
        a.pending = [token]
        if a.writer.add(model.pieces[token]):
            lib.llama_sampler_free(a.grammar)
            a.grammar, a.value_tokens = None, 0
            if a.writer.done:
                a.text = a.writer.text
                return
            a.pending += model.tokenize(a.writer.take_forced())

    @property
    def lib(self) -> Any:
        return self._model.lib

    def provenance(self) -> dict[str, Any]:
        import llama_cpp

        return {
            "backend": "embedded",
            "engine": f"llama-cpp-python {llama_cpp.__version__}",
            "model_id": self.model.model_id,
            "model_file": self.model.path.name,
            "model_sha256": self.model.sha256,
            "threads": self.threads,
            "decoding": f"{SEQUENCES} answers batched per llama.cpp decode, prompt evaluated once; per-value llama.cpp "
            "grammars from the JSON Schema with bounds; keys and punctuation forced, not sampled",
            "output_layer": "partial (grammar tokens only)" if self._context and self._context.tap.enabled else "full",
        }

    def close(self) -> None:
        if self._context is not None:
            self._context.close()
            self._context = None


def _common_prefix(sequences: list[list[int]]) -> list[int]:
    first = sequences[0]
    n = min(len(s) for s in sequences)
    for i in range(n):
        if any(s[i] != first[i] for s in sequences):
            return first[:i]
    return first[:n]


_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


def _sample(lib: Any, grammar: Any, candidates: np.ndarray, logits: np.ndarray, request: BatchRequest,
            rng: np.random.Generator, check: Any = None) -> int | None:
    """A token from ``candidates`` that the grammar (and ``check``, if given) allows, by temperature
    and top-p; None if none is allowed."""
    data = np.empty(len(candidates), dtype=_TOKEN_DATA)
    data["id"], data["logit"], data["p"] = candidates, logits, 0.0
    array = lib.llama_token_data_array(
        data=data.ctypes.data_as(ctypes.POINTER(lib.llama_token_data)), size=len(data), selected=-1, sorted=False
    )
    lib.llama_sampler_apply(grammar, ctypes.byref(array))
    allowed = np.isfinite(data["logit"])
    if check is not None:
        for i in np.flatnonzero(allowed):
            allowed[i] = check(int(data["id"][i]))
    if not allowed.any():
        return None
    ids, z = data["id"][allowed], data["logit"][allowed].astype(np.float64)
    if request.temperature == 0:
        return int(ids[int(np.argmax(z))])
    z = (z - z.max()) / request.temperature
    p = np.exp(z)
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    keep = order[: int(np.searchsorted(np.cumsum(p[order]), request.top_p) + 1)]
    q = p[keep] / p[keep].sum()
    return int(ids[keep[int(rng.choice(len(keep), p=q))]])
