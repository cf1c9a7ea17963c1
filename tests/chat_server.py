"""A tiny OpenAI-compatible chat-completions server for tests, on 127.0.0.1 only.

It stands in for a language model: each answer fills the request's ``response_format``
JSON Schema (``{"rows": [row, ...]}``) with values drawn at random from each property's
enum or bounds, seeded by the request's ``seed``. Modes make it misbehave on purpose:

- ``fresh``: random rows within the schema;
- ``copy``: echoes the example rows shown in the prompt (a model that memorises);
- ``partial``: like ``fresh``, but every ``copy_every``-th row is an example echoed verbatim;
- ``near``: like ``partial``, but the echoed example has ``near_column`` moved by ``near_shift``;
- ``garbage``: answers text that is not JSON;
- ``loose``: ignores bounds half the time (a server that does not enforce the schema);
- ``slow``: sleeps ``delay_s`` before answering (to trigger client timeouts);
- ``error``: HTTP 500 every time.

Every request is recorded (``server.requests``) so tests can check what left the client.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _value(schema: dict[str, Any], rng: random.Random, loose: bool) -> Any:
    if "anyOf" in schema:
        options = schema["anyOf"]
        return _value(options[0] if rng.random() < 0.9 else options[-1], rng, loose)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    lo, hi = schema.get("minimum", 0), schema.get("maximum", 100)
    if loose and rng.random() < 0.05:
        hi = hi * 10 + 10
    if kind == "integer":
        return rng.randint(int(lo), int(hi))
    if kind == "number":
        return round(rng.uniform(lo, hi), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "string":
        return "2020-01-01"
    raise ValueError(f"schema the fake server cannot fill: {schema}")


def _examples(prompt: str) -> list[dict[str, Any]]:
    rows = []
    for line in prompt.splitlines():
        if line.startswith("{") and line.endswith("}"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


class ChatServer:
    """Start with ``with ChatServer(mode) as server:``; ``server.url`` is the /v1 base URL."""

    def __init__(self, mode: str = "fresh", delay_s: float = 0.0, copy_every: int = 4,
                 near_column: str = "", near_shift: float = 0.0) -> None:
        self.mode, self.delay_s, self.copy_every = mode, delay_s, copy_every
        self.near_column, self.near_shift = near_column, near_shift
        self.copies_sent = 0
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                if outer.mode == "error":
                    return self._send(500, {"error": {"message": "internal error"}})
                if outer.mode == "slow":
                    time.sleep(outer.delay_s)
                self._send(200, outer.answer(body))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        rng = random.Random(body.get("seed", 0))
        fmt = body["response_format"]
        schema = (fmt["schema"] if fmt["type"] == "json_object" else fmt["json_schema"]["schema"])["properties"]["rows"]
        n = schema["minItems"]
        if self.mode == "garbage":
            content = "Sure! Here are some patients: age 34, weight 70"
        elif self.mode == "copy":
            shown = _examples(body["messages"][-1]["content"])
            content = json.dumps({"rows": [shown[i % len(shown)] for i in range(n)]})
        else:
            props = schema["items"]["properties"]
            loose = self.mode == "loose"
            rows = [{k: _value(s, rng, loose) for k, s in props.items()} for _ in range(n)]
            if self.mode in ("partial", "near"):
                shown = _examples(body["messages"][-1]["content"])
                for i in range(0, n, self.copy_every):
                    rows[i] = dict(shown[i % len(shown)])
                    if self.mode == "near":
                        rows[i][self.near_column] = rows[i][self.near_column] + self.near_shift
                    self.copies_sent += 1
            content = json.dumps({"rows": rows})
        return {
            "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body.get("model", "test"),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
