"""A local fake LLM server speaking the OpenAI and Anthropic wire formats, for tests with the real SDKs.

Usage (import the fixture into the test module so pytest finds it):

    from tests.fakes.llm_server import llm_server, openai_reply  # noqa: F401 (fixture)
    from alphalab.models import get_model

    def test_something(llm_server):
        llm_server.enqueue(openai_reply(tool_calls=[("read_file", {"path": "a.txt"})]),
                           openai_reply(text="done"))
        model = get_model(llm_server.settings_for("openai", model="gpt-4.1"))
        ...  # run the agent loop with `model`
        assert llm_server.bodies()[1]["messages"][-1]["role"] == "tool"

- `POST /v1/chat/completions` (OpenAI, OpenAI-compatible) and `POST /v1/messages` (Anthropic) both pop
  the next `Reply`, in order. Build replies with `openai_reply`, `anthropic_reply`, `error_reply`
  (any status, optional headers such as `retry-after`); a reply built for one endpoint refuses the other.
- Instead of (or after) a queue, `respond_with(fn)` computes each reply from the request: `fn(path, body) -> Reply`,
  called once the queue is empty, one call at a time even when clients run concurrently; an exception in `fn`
  is answered with HTTP 400 naming it. `respond_with(None)` goes back to the queue alone.
- `settings_for(provider, **fields)` gives ModelSettings with the right base_url (Anthropic's has no /v1)
  and `api_key_env="FAKE_LLM_API_KEY"`, which the fixture sets; no real key is ever needed.
- When no reply is left (empty queue, no function) the server answers HTTP 400 naming the request, so an
  over-long agent loop fails at once with a ProviderError instead of hanging or retrying.
- Prompt caching is simulated per endpoint as each provider documents it (tests/fakes/prompt_cache.py) for every
  request answered with status 200. A reply whose prompt-side counts are left unset (`prompt_tokens`/`cached_tokens`,
  `input_tokens`/`cache_read_input_tokens`/`cache_creation_input_tokens`) reports that simulation's numbers;
  explicit numbers are sent as given. `server.cache_stats(path)` tallies the simulation (`cached_share` etc.),
  and each recorded request carries its own split (`request.cache`).
- Every request is recorded (`server.requests` with path/headers/body, `server.bodies(path)`),
  error replies included. `server.pending` counts replies not yet served.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel, Field

from alphalab.config import ModelSettings
from tests.fakes.prompt_cache import AnthropicCache, CacheAccount, CacheStats, OpenAICache

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
KEY_ENV = "FAKE_LLM_API_KEY"


class Reply(BaseModel):
    status: int = 200
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(default_factory=dict)
    path: str | None = None  # the endpoint this reply is for; None serves any
    # the prompt-side usage counts are the server's cache simulation, filled in when served
    auto_usage: bool = False


class RecordedRequest(BaseModel):
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any
    cache: CacheAccount | None = None  # the cache simulation's split of this prompt (requests answered 200)


ReplyFunction = Callable[[str, Any], Reply]


def openai_reply(
    text: str = "",
    tool_calls: Sequence[tuple[str, dict[str, Any] | str]] = (),
    *,
    finish_reason: str | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int = 20,
    cached_tokens: int | None = None,
    model: str = "fake-model",
) -> Reply:
    """A Chat Completions reply; tool arguments given as str are sent verbatim (malformed JSON on purpose).

    With `prompt_tokens` and `cached_tokens` both unset, the server reports its cache simulation's numbers;
    with either set, the other defaults to 100 prompt / 0 cached tokens.
    """
    auto = prompt_tokens is None and cached_tokens is None
    prompt_tokens = 100 if prompt_tokens is None else prompt_tokens
    cached_tokens = cached_tokens or 0
    calls = [
        {
            "id": f"call_{uuid.uuid4().hex[:8]}",
            "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
        }
        for name, args in tool_calls
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    body = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:8]}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason or ("tool_calls" if calls else "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens},
        },
    }
    return Reply(body=body, path=OPENAI_PATH, auto_usage=auto)


def anthropic_reply(
    text: str = "",
    tool_uses: Sequence[tuple[str, dict[str, Any] | str]] = (),
    *,
    stop_reason: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int = 20,
    cache_read_input_tokens: int | None = None,
    cache_creation_input_tokens: int | None = None,
    model: str = "fake-model",
) -> Reply:
    """A Messages API reply with optional text and tool_use blocks.

    With the three input counts unset, the server reports its cache simulation's numbers; with any set, the
    others default to 100 input / 0 cache tokens.
    """
    auto = input_tokens is None and cache_read_input_tokens is None and cache_creation_input_tokens is None
    input_tokens = 100 if input_tokens is None else input_tokens
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [
        {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:8]}", "name": name, "input": args}
        for name, args in tool_uses
    ]
    body = {
        "id": f"msg_{uuid.uuid4().hex[:8]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason or ("tool_use" if tool_uses else "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read_input_tokens or 0,
            "cache_creation_input_tokens": cache_creation_input_tokens or 0,
        },
    }
    return Reply(body=body, path=ANTHROPIC_PATH, auto_usage=auto)


def error_reply(status: int, message: str = "scripted error", headers: dict[str, str] | None = None) -> Reply:
    """An error body both SDKs understand (Anthropic's `type: error` envelope, OpenAI's `error.message`)."""
    kind = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": message, "code": None}}
    return Reply(status=status, headers=headers or {}, body=body)


def _usage_from(path: str, account: CacheAccount, usage: dict[str, Any]) -> dict[str, Any]:
    """A reply's usage with its prompt-side counts replaced by the cache simulation's, as `path`'s API reports them."""
    if path == OPENAI_PATH:
        output = usage.get("completion_tokens", 0)
        return {**usage, "prompt_tokens": account.prompt_tokens, "total_tokens": account.prompt_tokens + output,
                "prompt_tokens_details": {"cached_tokens": account.read_tokens}}
    # Anthropic's input_tokens are only those after the last breakpoint: the three counts add up to the prompt
    return {**usage, "input_tokens": account.uncached_tokens, "cache_read_input_tokens": account.read_tokens,
            "cache_creation_input_tokens": account.written_tokens}


class FakeLLMServer:
    """HTTP server on 127.0.0.1 (free port) in a background thread; see the module docstring."""

    def __init__(self) -> None:
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._respond: ReplyFunction | None = None
        self._respond_lock = threading.Lock()  # a reply function need not be thread-safe
        self._caches = {OPENAI_PATH: OpenAICache(), ANTHROPIC_PATH: AnthropicCache()}
        self._stats = {path: CacheStats() for path in self._caches}
        self.requests: list[RecordedRequest] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        # a short poll interval keeps shutdown (once per test) from costing half a second
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-llm-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    def settings_for(self, provider: str, **fields: Any) -> ModelSettings:
        """ModelSettings pointing `provider` at this server; `fields` override (e.g. model, api_key_env)."""
        values: dict[str, Any] = {
            "provider": provider,
            "model": "fake-model",
            "base_url": self.base_url if provider == "anthropic" else self.openai_base_url,
            "api_key_env": KEY_ENV,
        }
        return ModelSettings(**{**values, **fields})

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def respond_with(self, fn: ReplyFunction | None) -> None:
        """Answer requests the queue cannot with `fn(path, body)`; None removes it."""
        with self._respond_lock:
            self._respond = fn

    def cache_stats(self, path: str) -> CacheStats:
        """The cache simulation's tally for one endpoint (OPENAI_PATH or ANTHROPIC_PATH), a snapshot."""
        with self._lock:
            return self._stats[path].model_copy()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._replies)

    def bodies(self, path: str | None = None) -> list[Any]:
        """Request bodies in arrival order, optionally for one endpoint."""
        with self._lock:
            return [r.body for r in self.requests if path is None or r.path == path]

    def start(self) -> "FakeLLMServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        record = RecordedRequest(method=method, path=path, headers=headers, body=body)
        cache = self._caches.get(path) if isinstance(body, dict) else None
        # the API rejects such a request before any work, so no reply is spent on it
        rejection = AnthropicCache.rejection(body) if isinstance(cache, AnthropicCache) else None
        with self._lock:
            self.requests.append(record)
            if rejection is not None:
                return error_reply(400, rejection)
            reply = self._replies.popleft() if self._replies else None
        if reply is None:
            reply = self._reply_from_function(method, path, body)
        if reply.path is not None and reply.path != path:
            return error_reply(400, f"fake LLM server: next reply is for {reply.path}, got {method} {path}")
        if cache is None or reply.status != 200:
            return reply
        with self._lock:  # read and write the cache in one step, as one request would
            record.cache = cache.account(body)
            self._stats[path].add(record.cache)
        if not reply.auto_usage:
            return reply
        usage = _usage_from(path, record.cache, reply.body.get("usage", {}))
        return reply.model_copy(update={"body": {**reply.body, "usage": usage}})

    def _reply_from_function(self, method: str, path: str, body: Any) -> Reply:
        with self._respond_lock:
            if self._respond is None:
                return error_reply(400, f"fake LLM server: no scripted reply left for {method} {path}")
            try:
                return self._respond(path, body)
            except Exception as e:  # the client sees a permanent error naming it, the test fails at once
                return error_reply(400, f"fake LLM server: the reply function failed on {path}: "
                                        f"{type(e).__name__}: {e}")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = server._answer("POST", self.path.split("?", 1)[0], headers, raw)
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = payload.encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep test output clean; requests are recorded instead

        return Handler


@pytest.fixture
def llm_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLMServer]:
    """A fresh fake LLM server per test, stopped afterwards; sets FAKE_LLM_API_KEY for `settings_for`."""
    monkeypatch.setenv(KEY_ENV, "fake-key")
    with FakeLLMServer() as server:
        yield server
