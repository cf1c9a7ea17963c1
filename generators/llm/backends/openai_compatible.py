"""Backend for any OpenAI-compatible chat-completions server (llama.cpp server, vLLM, Ollama, hosted APIs).

The request carries the answer's JSON Schema as ``response_format`` (``json_schema``,
strict; or ``json_object`` with a ``schema`` for llama-cpp-python's server), which these
servers turn into a grammar; the generator validates every row
again, so a server that ignores the schema costs rows, never validity. The ``openai``
client does the HTTP work: a timeout per request and bounded retries with exponential
backoff on connection errors, timeouts, 408/409/429 and 5xx. The API key comes from an
environment variable, never from the config.
"""

from __future__ import annotations

import os
from typing import Any

from synth.generators.llm.backends.base import Backend, BackendError, BatchRequest, is_loopback_url


class OpenAICompatibleBackend(Backend):
    """Chat completions over HTTP with a JSON-schema ``response_format``."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        concurrency: int = 2,
        response_format: str = "json_schema",
    ) -> None:
        import openai

        self.base_url = base_url
        self.model = model
        self.max_concurrency = max(1, int(concurrency))
        self.max_retries = int(max_retries)
        self.timeout_s = float(timeout_s)
        self.response_format = response_format
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        if api_key_env and not key:
            raise BackendError(
                f"generator.params.api_key_env names the environment variable '{api_key_env}', which is not set. "
                "Export it with the server's API key, or drop api_key_env for a server that needs none."
            )
        # The client needs some key; local servers ignore it.
        self._client = openai.OpenAI(
            base_url=base_url, api_key=key or "no-key", timeout=self.timeout_s, max_retries=self.max_retries
        )

    @property
    def remote(self) -> bool:
        return not is_loopback_url(self.base_url)

    def complete(self, request: BatchRequest) -> str:
        import openai

        tries = f"{self.max_retries + 1} attempt(s) with a {self.timeout_s:g} s timeout each"
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": request.prompt}],
                temperature=request.temperature,
                top_p=request.top_p,
                seed=request.seed,
                max_tokens=request.max_tokens,
                response_format=self._response_format(request.schema),
            )
        except openai.APITimeoutError:
            raise BackendError(
                f"The model server at {self.base_url} did not answer in time ({tries}). Check that it runs and "
                "is not overloaded, raise generator.params.timeout_s, or ask for fewer rows_per_call."
            ) from None
        except openai.APIConnectionError as exc:
            raise BackendError(
                f"The model server at {self.base_url} cannot be reached ({tries}): {exc.__cause__ or exc}. "
                "Start the server or fix generator.params.base_url."
            ) from None
        except openai.APIStatusError as exc:
            hint = (
                " A server that does not know response_format 'json_schema' (llama-cpp-python's) takes "
                "generator.params.response_format: json_object."
                if exc.status_code in (400, 422) and self.response_format == "json_schema" else ""
            )
            raise BackendError(
                f"The model server at {self.base_url} refused the request with HTTP {exc.status_code} "
                f"(after up to {tries}): {str(exc)[:300]}. Check generator.params.model and the server's log.{hint}"
            ) from None
        choices = getattr(response, "choices", None) or []
        content = choices[0].message.content if choices and choices[0].message else None
        return content or ""

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.response_format == "json_object":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "synthetic_rows", "schema": schema, "strict": True}}

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "base_url": self.base_url,
            "model": self.model,
            "remote": self.remote,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "concurrency": self.max_concurrency,
            "response_format": self.response_format,
        }

    def close(self) -> None:
        self._client.close()
