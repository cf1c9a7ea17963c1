"""The interface every backend implements: one call asks for a batch of rows as JSON.

A backend gets the prompt, the JSON Schema the answer must follow (``{"rows": [...]}``,
see :func:`synth.generators.llm.row_schema.batch_json_schema`) and the sampling settings,
and returns the model's text. Parsing and validation are the generator's, so every backend
is held to the same checks. A backend says whether it is *remote*: whether the prompt
leaves this machine.
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from synth.errors import SynthUserError

if TYPE_CHECKING:
    from synth.generators.llm.rule_narrowing import RowNarrowing


class BackendError(SynthUserError):
    """A backend could not answer (unreachable, timed out, refused) after its bounded retries."""


@dataclass(frozen=True)
class BatchRequest:
    """One model call.

    ``rows`` records are asked for; ``schema`` is the JSON Schema of the whole answer;
    ``seed`` fixes the call's sampling; ``max_tokens`` caps the answer's length. A backend
    that writes values under its own grammar (the embedded one) also applies ``narrowing``,
    the hard rules field by field (:mod:`synth.generators.llm.rule_narrowing`); a server
    gets the JSON Schema only, and the rows it writes are checked afterwards as all are.
    """

    prompt: str
    schema: dict[str, Any]
    rows: int
    seed: int
    temperature: float
    top_p: float
    max_tokens: int
    narrowing: RowNarrowing | None = None


class Backend(ABC):
    """A language model that answers :class:`BatchRequest` s."""

    #: calls that may run at the same time (the generator never exceeds it)
    max_concurrency: int = 1

    @property
    @abstractmethod
    def remote(self) -> bool:
        """True when prompts leave this machine (anything but loopback or in-process)."""

    @abstractmethod
    def complete(self, request: BatchRequest) -> str:
        """The model's answer text; raise :class:`BackendError` when there is none."""

    def complete_many(self, requests: list[BatchRequest]) -> list[str]:
        """The answers to ``requests`` (at most :attr:`max_concurrency`), in order.

        The default sends them side by side from a thread pool; an engine that batches
        several answers in one model pass overrides it.
        """
        if len(requests) <= 1:
            return [self.complete(r) for r in requests]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(requests), self.max_concurrency)) as pool:
            return list(pool.map(self.complete, requests))

    @abstractmethod
    def provenance(self) -> dict[str, Any]:
        """What the manifest records about the model: id, file SHA-256, engine, endpoint."""

    def close(self) -> None:
        """Release what the backend holds (connections); the default holds nothing."""


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this machine: ``localhost``, 127.0.0.0/8 or ::1.

    Names are not resolved: only a literal loopback address or ``localhost`` counts, so a
    name that a resolver could point elsewhere is treated as remote.
    """
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
