"""Logits for a few tokens without llama.cpp's full output layer.

Gemma 3 270M spends most of a decoding step in its output layer: 640 x 262,144 weights
(the tied token embeddings), more than all 18 transformer blocks together. A constrained
value needs the logits of a few hundred tokens at most.

:class:`GraphTap` hooks llama.cpp's graph evaluation (``cb_eval``): it copies one named
tensor out and stops the graph there. While decoding it keeps the final hidden states
(``result_norm``, one row per output token), so the output layer never runs. To get the
output layer's rows for chosen tokens, the engine evaluates those tokens once and keeps
the token-embedding lookup (``embd``): Gemma ties its output layer to the embeddings, so
these are the rows, dequantized by llama.cpp itself. :class:`OutputHead` caches them and
multiplies.

The engine checks the result against llama.cpp's own logits when it starts
(:func:`head_matches`) and uses it only when they agree (a model with an untied output
layer falls back to full logits).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import Any

import numpy as np

HIDDEN_TENSOR = b"result_norm"  # llama.cpp's name for the output of the final norm
EMBEDDING_TENSORS = (b"embd", b"inp_embd")  # the token-embedding lookup (its name differs between llama.cpp builds)


class GraphTap:
    """A ``cb_eval`` callback that copies the tensor named in :attr:`targets` and ends the graph there."""

    def __init__(self, lib: Any, n_embd: int) -> None:
        ggml = ctypes.CDLL(os.path.join(os.path.dirname(lib.__file__), "lib", "libggml-base.so"))
        ggml.ggml_get_name.restype, ggml.ggml_get_name.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
        ggml.ggml_get_data_f32.restype = ctypes.POINTER(ctypes.c_float)
        ggml.ggml_get_data_f32.argtypes = [ctypes.c_void_p]
        ggml.ggml_nelements.restype, ggml.ggml_nelements.argtypes = ctypes.c_int64, [ctypes.c_void_p]
        self._ggml, self.n_embd = ggml, n_embd
        self.targets: tuple[bytes, ...] = ()  # empty: observe nothing, stop nothing
        self.rows: list[np.ndarray] = []
        self.callback = lib.ggml_backend_sched_eval_callback(self._on_tensor)

    @property
    def enabled(self) -> bool:
        """Whether decoding stops at the final hidden states (the partial output layer is in use)."""
        return self.targets == (HIDDEN_TENSOR,)

    @enabled.setter
    def enabled(self, on: bool) -> None:
        self.targets = (HIDDEN_TENSOR,) if on else ()

    def _on_tensor(self, tensor: int, ask: bool, _user: Any) -> bool:
        if not self.targets or self._ggml.ggml_get_name(tensor) not in self.targets:
            return not ask
        if ask:
            return True
        n = int(self._ggml.ggml_nelements(tensor))
        data = np.ctypeslib.as_array(self._ggml.ggml_get_data_f32(tensor), shape=(n,))
        self.rows.append(data.reshape(-1, self.n_embd).copy())
        return False  # stop: nothing after this tensor is needed

    def take(self) -> np.ndarray:
        """The rows copied since the last call, (n_rows, n_embd) float32."""
        rows, self.rows = self.rows, []
        return np.concatenate(rows) if rows else np.zeros((0, self.n_embd), np.float32)


class OutputHead:
    """The output layer's rows for chosen tokens, read once per token set.

    ``embedding_rows(ids)`` returns the (len(ids), n_embd) float32 token embeddings of ``ids``.
    """

    def __init__(self, embedding_rows: Callable[[np.ndarray], np.ndarray]) -> None:
        self._read = embedding_rows
        self._rows: dict[bytes, np.ndarray] = {}

    def weights(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids), n_embd) float32 output weights of the tokens ``ids``."""
        key = ids.tobytes()
        if key not in self._rows:
            self._rows[key] = np.ascontiguousarray(self._read(ids), dtype=np.float32)
        return self._rows[key]


def head_matches(full: np.ndarray, partial: np.ndarray) -> bool:
    """Whether partial logits agree with llama.cpp's (which quantizes activations to 8 bits)."""
    return bool(np.max(np.abs(full - partial)) <= 0.05 * max(1.0, float(np.max(np.abs(full)))))
