"""Logits for a few tokens without llama.cpp's full output layer.

Gemma 3 270M spends most of a decoding step in its output layer: 640 x 262,144 weights
(the tied token embeddings), more than all 18 transformer blocks together. A constrained
value needs the logits of a few hundred tokens at most. :class:`HiddenStateTap` hooks
llama.cpp's graph evaluation (``cb_eval``): it keeps the final hidden states
(``result_norm``, one row per output token) and stops the graph there, so the output layer
is never run; :class:`OutputHead` multiplies those states by the dequantized embedding
rows of the tokens asked for (read from the GGUF with the ``gguf`` package).

The engine checks both against llama.cpp's own logits when it starts
(:func:`head_matches`) and uses them only when they agree.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

import numpy as np

HIDDEN_TENSOR = b"result_norm"  # llama.cpp's name for the output of the final norm


class HiddenStateTap:
    """A ``cb_eval`` callback that keeps the final hidden states and ends the graph there."""

    def __init__(self, lib: Any, n_embd: int) -> None:
        ggml = ctypes.CDLL(os.path.join(os.path.dirname(lib.__file__), "lib", "libggml-base.so"))
        ggml.ggml_get_name.restype, ggml.ggml_get_name.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
        ggml.ggml_get_data_f32.restype = ctypes.POINTER(ctypes.c_float)
        ggml.ggml_get_data_f32.argtypes = [ctypes.c_void_p]
        ggml.ggml_nelements.restype, ggml.ggml_nelements.argtypes = ctypes.c_int64, [ctypes.c_void_p]
        self._ggml, self.n_embd = ggml, n_embd
        self.enabled = False
        self.rows: list[np.ndarray] = []
        self.callback = lib.ggml_backend_sched_eval_callback(self._on_tensor)

    def _on_tensor(self, tensor: int, ask: bool, _user: Any) -> bool:
        if not self.enabled:
            return not ask  # observe nothing, stop nothing
        if self._ggml.ggml_get_name(tensor) != HIDDEN_TENSOR:
            return not ask
        if ask:
            return True
        n = int(self._ggml.ggml_nelements(tensor))
        data = np.ctypeslib.as_array(self._ggml.ggml_get_data_f32(tensor), shape=(n,))
        self.rows.append(data.reshape(-1, self.n_embd).copy())
        return False  # stop: the output layer is not needed

    def take(self) -> np.ndarray:
        """The hidden states of the last decode, (n_outputs, n_embd) float32."""
        rows, self.rows = self.rows, []
        return np.concatenate(rows) if rows else np.zeros((0, self.n_embd), np.float32)


class OutputHead:
    """The output layer's rows for chosen tokens, dequantized on first use."""

    def __init__(self, gguf_path: str) -> None:
        from gguf import GGUFReader

        reader = GGUFReader(gguf_path)
        tensors = {t.name: t for t in reader.tensors}
        # Gemma ties the output layer to the token embeddings (no output.weight in the file)
        self._tensor = tensors.get("output.weight") or tensors["token_embd.weight"]
        self._rows: dict[bytes, np.ndarray] = {}

    def weights(self, ids: np.ndarray) -> np.ndarray:
        """(len(ids), n_embd) float32 output weights of the tokens ``ids``."""
        key = ids.tobytes()
        if key not in self._rows:
            from gguf.quants import dequantize

            self._rows[key] = np.ascontiguousarray(
                dequantize(self._tensor.data[ids], self._tensor.tensor_type).astype(np.float32)
            )
        return self._rows[key]


def head_matches(full: np.ndarray, partial: np.ndarray) -> bool:
    """Whether partial logits agree with llama.cpp's (which quantizes activations to 8 bits)."""
    return bool(np.max(np.abs(full - partial)) <= 0.05 * max(1.0, float(np.max(np.abs(full)))))
