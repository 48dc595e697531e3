"""Anthropic Messages API with tool_use / tool_result blocks and prompt caching."""

from __future__ import annotations

import json
import logging
from typing import Any

import anthropic

from alphalab.config import ModelSettings
from alphalab.models.base import (
    ImagePart,
    Message,
    ModelResponse,
    ProviderError,
    StopReason,
    ToolCall,
    ToolSpec,
    Usage,
)
from alphalab.models.retry import SdkErrors, SdkModel, resolve_key

log = logging.getLogger(__name__)

EPHEMERAL = {"type": "ephemeral"}
# the API rejects a request with more cache breakpoints than this
MAX_BREAKPOINTS = 4

_STOP: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "stop_sequence": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
}
# the API's effort scale has no "minimal"
_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}


def _image_block(image: ImagePart) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.data_b64}}


def _text_blocks(text: str) -> list[dict[str, Any]]:
    # the API rejects empty text blocks
    return [{"type": "text", "text": text}] if text else []


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        value = None
    # tool_use.input must be an object; keep malformed text visible rather than drop it
    return value if isinstance(value, dict) else {"raw_arguments": arguments}


def _blocks(m: Message) -> list[dict[str, Any]]:
    images = [_image_block(i) for i in m.images]
    if m.role == "tool":
        content: Any = _text_blocks(m.content) + images if images else m.content
        return [
            {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": content, "is_error": m.is_error}
        ]
    if m.role == "assistant":
        calls = [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c.arguments)}
            for c in m.tool_calls
        ]
        return _text_blocks(m.content) + calls or [{"type": "text", "text": "(no content)"}]
    return _text_blocks(m.content) + images or [{"type": "text", "text": "(empty)"}]


def _previous_request_end(wire: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last block the previous request sent: that of the user message before the newest assistant turn."""
    for i in range(len(wire) - 3, -1, -1):
        if wire[i]["role"] == "user" and wire[i + 1]["role"] == "assistant":
            return wire[i]["content"][-1]
    return None


def to_wire(messages: list[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Neutral messages to (system blocks, messages).

    Tool results travel as user messages, and consecutive messages of one role are merged, so all
    results of one assistant turn sit in the single user message the API requires after it.

    Cache breakpoints (cache_control), at most the API's 4: the end of each of the last two system blocks (the API's
    cache order is tools, system, messages, so the first caches tools and the template, and the second, the
    playbook, may change without losing the first); the last block of the request, so the next request can read all
    of this one; the last block of the previous request, where that request wrote its entry, so this one reads it
    however many blocks the newest turn added (the API looks back only 20 blocks from a breakpoint).
    """
    system = [{"type": "text", "text": m.content} for m in messages if m.role == "system" and m.content]
    wire: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "assistant" if m.role == "assistant" else "user"
        blocks = _blocks(m)
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})
    rolling = [wire[-1]["content"][-1]] if wire else []
    previous = _previous_request_end(wire)
    candidates = system[-2:] + rolling + ([previous] if previous is not None else [])
    marked: list[dict[str, Any]] = []
    for block in candidates:
        # blocks are compared by identity: two equal blocks at different places are different breakpoints
        if len(marked) < MAX_BREAKPOINTS and all(block is not b for b in marked):
            marked.append(block)
    for block in marked:
        block["cache_control"] = EPHEMERAL
    return system, wire


def tools_to_wire(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]


def usage_from_wire(usage: Any) -> Usage:
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_creation_input_tokens or 0
    # the API's input_tokens are only those after the last breakpoint; ours are the whole prompt
    return Usage(
        input_tokens=(usage.input_tokens or 0) + cache_read + cache_write,
        cached_input_tokens=cache_read,
        cache_write_tokens=cache_write,
        output_tokens=usage.output_tokens or 0,
    )


def response_from_wire(message: Any) -> ModelResponse:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            raw = block.input  # a str here is malformed input: pass it on for the agent loop to report
            arguments = raw if isinstance(raw, str) else json.dumps(raw)
            calls.append(ToolCall(id=block.id, name=block.name, arguments=arguments))
    stop = "tool_use" if calls else _STOP.get(message.stop_reason or "", "other")
    return ModelResponse(
        text="\n".join(texts),
        tool_calls=calls,
        stop_reason=stop,
        usage=usage_from_wire(message.usage),
        model=message.model or "",
    )


class AnthropicModel(SdkModel):
    """A Model speaking the Anthropic Messages API."""

    provider = "anthropic"

    def __init__(self, settings: ModelSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        if settings.temperature is not None:
            # SDK 2.x speaks API version 2026-10-21, which rejects sampling parameters with HTTP 400
            log.warning(
                "anthropic: ignoring temperature=%s for %s (not accepted by the API)",
                settings.temperature, settings.model,
            )
        base_url = settings.base_url
        if base_url is not None:
            # the SDK appends /v1/messages itself
            base_url = base_url.rstrip("/").removesuffix("/v1")
        self._client = anthropic.Anthropic(
            api_key=resolve_key(self._who),
            base_url=base_url,
            max_retries=0,
            timeout=self.retry.timeout_s,
        )

    def _request(self, messages: list[Message], tools: list[ToolSpec]) -> dict[str, Any]:
        s = self.settings
        system, wire = to_wire(messages)
        body: dict[str, Any] = {"model": s.model, "max_tokens": s.max_output_tokens, "messages": wire}
        if system:
            body["system"] = system
        if tools:
            body["tools"] = tools_to_wire(tools)
        if s.reasoning_effort is not None:
            body["output_config"] = {"effort": _EFFORT[s.reasoning_effort]}
        return body

    def complete(self, messages: list[Message], tools: list[ToolSpec]) -> ModelResponse:
        body = self._request(messages, tools)
        if not body["messages"]:
            raise ProviderError(f"{self.provider}: model {self.settings.model} needs at least one non-system message")
        message = self._call(lambda: self._client.messages.create(**body),
                             SdkErrors(anthropic.APIStatusError, anthropic.APIConnectionError))
        return response_from_wire(message)
