"""Prompt-cache simulations for the fake LLM server: what each provider would report as cached, from the request.

Tokens are a deterministic estimate: every 4 characters of a prompt part's canonical JSON (sorted keys, no spaces,
`cache_control` left out) make one token. A prompt's parts, in order, are its tools, its system blocks, then its
messages (OpenAI: each message; Anthropic: each content block, with its message's role).

- OpenAI (automatic prefix caching): prompts of 1024 tokens or more are cached. The cached part is the longest
  prefix an earlier request to this server already sent, counted in 128-token steps from 1024, so it is 0 or
  1024 + 128k, never more than the prompt. Writes cost nothing and are not reported.
- Anthropic (explicit breakpoints): a block carrying `cache_control` is a breakpoint; more than 4 is an error, as
  on the API. A breakpoint whose prefix (everything up to and including it) is under 1024 tokens is ignored. Each
  request writes one entry per remaining breakpoint. It reads the longest entry an earlier request wrote, found by
  walking back from each breakpoint over at most 20 positions, the breakpoint itself the first; a run of
  consecutive tool_use blocks counts as one position, as does a run of tool_result blocks. Read = tokens up to the
  hit; written = tokens from there to the last breakpoint; the rest (after the last breakpoint) is plain input.

Entries never expire: a test is far shorter than the 5-minute cache lifetime. Caches are per model.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, computed_field

CHARS_PER_TOKEN = 4
OPENAI_MIN_CACHED = 1024
OPENAI_CACHE_STEP = 128
ANTHROPIC_MIN_CACHEABLE = 1024
ANTHROPIC_LOOKBACK = 20
ANTHROPIC_MAX_BREAKPOINTS = 4
_RUN_KINDS = ("tool_use", "tool_result")


class CacheAccount(BaseModel):
    """How one prompt split: read from the cache, written to it, and the rest (plain input)."""

    prompt_tokens: int
    read_tokens: int = 0
    written_tokens: int = 0

    @property
    def uncached_tokens(self) -> int:
        return self.prompt_tokens - self.read_tokens - self.written_tokens


class CacheStats(BaseModel):
    """One endpoint's tally over the requests it answered with a reply of status 200."""

    requests: int = 0
    prompt_tokens: int = 0
    read_tokens: int = 0
    written_tokens: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cached_share(self) -> float:
        return self.read_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def add(self, account: CacheAccount) -> None:
        self.requests += 1
        self.prompt_tokens += account.prompt_tokens
        self.read_tokens += account.read_tokens
        self.written_tokens += account.written_tokens


def canonical(part: Any) -> str:
    return json.dumps(part, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def part_tokens(part: Any) -> int:
    return -(-len(canonical(part)) // CHARS_PER_TOKEN)


def _without_cache_control(part: dict[str, Any]) -> dict[str, Any]:
    # moving a breakpoint must not change the prefix it marks, or a rolling breakpoint could never hit
    return {k: v for k, v in part.items() if k != "cache_control"}


class OpenAICache:
    """Automatic prefix caching, as OpenAI documents it for Chat Completions."""

    def __init__(self) -> None:
        self._seen: set[str] = set()  # hashes of every 128-step prefix sent so far

    def account(self, body: dict[str, Any]) -> CacheAccount:
        parts = [{"tool": t} for t in body.get("tools") or []] + list(body.get("messages") or [])
        texts = [canonical(p) for p in parts]
        tokens = [t[i:i + CHARS_PER_TOKEN] for t in texts for i in range(0, len(t), CHARS_PER_TOKEN)]
        h = hashlib.sha256(str(body.get("model")).encode())
        prefixes: dict[int, str] = {}
        for n, token in enumerate(tokens, start=1):
            h.update(token.encode() + b"\0")
            if n >= OPENAI_MIN_CACHED and (n - OPENAI_MIN_CACHED) % OPENAI_CACHE_STEP == 0:
                prefixes[n] = h.hexdigest()
        cached = max((n for n, digest in prefixes.items() if digest in self._seen), default=0)
        self._seen.update(prefixes.values())
        return CacheAccount(prompt_tokens=len(tokens), read_tokens=cached)


class _Part(BaseModel):
    tokens: int
    digest: str  # hash of the prefix ending with this part
    kind: str  # block type, for the lookback's runs
    breakpoint: bool


def _anthropic_parts(body: dict[str, Any]) -> list[_Part]:
    raw: list[tuple[dict[str, Any], str, bool]] = []
    for tool in body.get("tools") or []:
        raw.append(({"tool": _without_cache_control(tool)}, "tool", "cache_control" in tool))
    system = body.get("system") or []
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system:
        raw.append(({"system": _without_cache_control(block)}, "text", "cache_control" in block))
    for message in body.get("messages") or []:
        content = message.get("content")
        for block in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
            part = {"role": message.get("role"), **_without_cache_control(block)}
            raw.append((part, str(block.get("type")), "cache_control" in block))
    h = hashlib.sha256(str(body.get("model")).encode())
    parts = []
    for part, kind, marked in raw:
        text = canonical(part)
        h.update(text.encode() + b"\0")
        parts.append(_Part(tokens=part_tokens(part), digest=h.hexdigest(), kind=kind, breakpoint=marked))
    return parts


class AnthropicCache:
    """Explicit cache breakpoints with the 20-position lookback, as Anthropic documents them."""

    def __init__(self) -> None:
        self._entries: set[str] = set()

    @staticmethod
    def rejection(body: dict[str, Any]) -> str | None:
        """The API's error for a request with too many breakpoints, or None."""
        found = sum(p.breakpoint for p in _anthropic_parts(body))
        if found <= ANTHROPIC_MAX_BREAKPOINTS:
            return None
        return f"A maximum of {ANTHROPIC_MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {found}."

    def account(self, body: dict[str, Any]) -> CacheAccount:
        parts = _anthropic_parts(body)
        marked = [i for i, p in enumerate(parts) if p.breakpoint]
        ends = []  # tokens of the prefix ending with each part
        for p in parts:
            ends.append((ends[-1] if ends else 0) + p.tokens)
        eligible = [i for i in marked if ends[i] >= ANTHROPIC_MIN_CACHEABLE]
        hits = [hit for b in eligible if (hit := self._lookback(parts, b)) is not None]
        read = max((ends[i] for i in hits), default=0)
        last = ends[eligible[-1]] if eligible else 0
        self._entries.update(parts[b].digest for b in eligible)
        return CacheAccount(prompt_tokens=ends[-1] if ends else 0, read_tokens=read, written_tokens=last - read)

    def _lookback(self, parts: list[_Part], breakpoint: int) -> int | None:
        """The nearest part at or before `breakpoint`, within the window, whose prefix an earlier request wrote."""
        positions = 0
        for i in range(breakpoint, -1, -1):
            in_run = i < breakpoint and parts[i].kind in _RUN_KINDS and parts[i].kind == parts[i + 1].kind
            positions += 0 if in_run else 1
            if positions > ANTHROPIC_LOOKBACK:
                return None
            if parts[i].digest in self._entries:
                return i
        return None
