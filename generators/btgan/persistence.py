"""Save and load a fitted Bt-GAN without pickle: network weights in safetensors, the rest in JSON.

``btgan.safetensors`` holds the generator's, discriminator's and classifier's weights
(keys ``generator.*``, ``discriminator.*``, ``classifier.*``); ``generator.json`` holds the
format, parameters, seed, schema, the encoding (mixture modes, levels), the subgroup and
condition counts (aggregates only), the privacy guarantee and the SHA-256 of the weights.
Neither format executes code when read, so :func:`read` needs no ``trusted`` flag.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from synth.atomic import write_text, write_with
from synth.errors import DataError

FORMAT = "synth.btgan/1"
WEIGHTS = "btgan.safetensors"
SIDECAR = "generator.json"
_NETS = ("generator", "discriminator", "classifier")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write(path: Path, state: dict[str, dict[str, torch.Tensor]], meta: dict[str, Any]) -> None:
    """Write the weights, then the sidecar (last, so a torn save fails its checksum on load)."""
    path.mkdir(parents=True, exist_ok=True)
    tensors = {f"{net}.{k}": v.detach().cpu().contiguous() for net in _NETS for k, v in state[net].items()}
    write_with(path / WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
    sidecar = {"format": FORMAT, **meta, "weights_file": WEIGHTS, "sha256": _sha256(path / WEIGHTS)}
    write_text(path / SIDECAR, json.dumps(sidecar, indent=2, default=_json_default) + "\n")


def read(path: Path, generator: str) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Read what :func:`write` wrote; :class:`DataError` names the problem if anything is off."""
    path = Path(path)
    sidecar = path / SIDECAR
    if not sidecar.is_file():
        raise DataError(f"'{path}' is not a saved '{generator}' generator: {SIDECAR} is missing. "
                        "Pass the folder save() wrote.")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"'{sidecar}' cannot be read as JSON ({exc}); save the generator again.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise DataError(f"'{sidecar}' has format {found!r}; this synth reads {FORMAT!r}. Save the generator again.")
    if meta.get("generator") != generator:
        raise DataError(f"'{path}' holds a '{meta.get('generator')}' generator, not '{generator}'.")
    weights = path / WEIGHTS
    if not weights.is_file():
        raise DataError(f"'{path}' lacks {WEIGHTS}; the saved generator is incomplete. Save it again.")
    if _sha256(weights) != meta.get("sha256"):
        raise DataError(f"'{weights}' does not match the SHA-256 in {SIDECAR}: it changed after saving. Save it again.")
    flat = load_file(str(weights))
    state: dict[str, dict[str, torch.Tensor]] = {net: {} for net in _NETS}
    for key, value in flat.items():
        net, _, name = key.partition(".")
        state[net][name] = value
    return state, meta
