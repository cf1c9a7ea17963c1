"""Build the backend a generator's parameters ask for."""

from __future__ import annotations

import importlib.util

from synth.errors import ConfigError
from synth.generators.llm.backends.base import Backend
from synth.generators.llm.params import LLMParams


def make_backend(params: LLMParams) -> Backend:
    """The embedded model (loaded once per process) or an OpenAI-compatible client."""
    if params.backend == "openai":
        from synth.generators.llm.backends.openai_compatible import OpenAICompatibleBackend

        return OpenAICompatibleBackend(
            base_url=params.base_url, model=params.model, api_key_env=params.api_key_env,
            timeout_s=params.timeout_s, max_retries=params.max_retries, concurrency=params.concurrency,
            response_format=params.response_format,
        )
    from synth.generators.llm.backends.model_file import resolve_model_file

    model = resolve_model_file(params.model_path)
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError(
            "The embedded backend needs llama-cpp-python (pip install llama-cpp-python); or use backend: openai "
            "with a model server."
        )
    from synth.generators.llm.backends.llama_cpp_engine import LlamaCppBackend

    return LlamaCppBackend(model, threads=params.threads)
