"""OpenAI Chat Completions with function calling."""

from __future__ import annotations

from typing import Any

import openai

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

_STOP: dict[str, StopReason] = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
}


def _image_part(image: ImagePart) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{image.data_b64}"}}


def _user(text: str, images: list[ImagePart]) -> dict[str, Any]:
    if not images:
        return {"role": "user", "content": text}
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    return {"role": "user", "content": parts + [_image_part(i) for i in images]}


def to_wire(messages: list[Message]) -> list[dict[str, Any]]:
    """Provider-neutral messages to Chat Completions messages.

    Tool messages cannot carry images on this API, so images a tool returned (view_image) follow the
    run of tool messages as one user message: putting it earlier would split the tool replies the
    API requires right after the assistant's tool calls.
    """
    wire: list[dict[str, Any]] = []
    pending_images: list[ImagePart] = []
    for m in messages:
        if m.role != "tool" and pending_images:
            wire.append(_user("Images returned by the tools above:", pending_images))
            pending_images = []
        if m.role == "system" and wire and wire[-1]["role"] == "system":
            # one system message: some OpenAI-compatible chat templates refuse a second; the prefix caches the same
            wire[-1]["content"] += "\n\n" + m.content
        elif m.role == "system":
            wire.append({"role": "system", "content": m.content})
        elif m.role == "user":
            wire.append(_user(m.content, m.images))
        elif m.role == "assistant":
            out: dict[str, Any] = {"role": "assistant", "content": m.content}
            if m.tool_calls:
                out["content"] = m.content or None  # null, as the API itself returns it beside tool calls
                out["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in m.tool_calls
                ]
            wire.append(out)
        else:
            wire.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content})
            pending_images.extend(m.images)
    if pending_images:
        wire.append(_user("Images returned by the tools above:", pending_images))
    return wire


def tools_to_wire(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in tools
    ]


def usage_from_wire(usage: Any) -> Usage:
    if usage is None:  # some OpenAI-compatible servers omit usage
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    # caching is automatic and writing the cache costs nothing here, so only reads are counted
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        cached_input_tokens=(getattr(details, "cached_tokens", None) or 0) if details else 0,
        output_tokens=usage.completion_tokens or 0,
    )


def response_from_wire(completion: Any) -> ModelResponse:
    choice = completion.choices[0]
    calls = [
        # arguments stay the raw text the model sent: the agent loop reports bad JSON back to it
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "")
        for c in (choice.message.tool_calls or [])
        if getattr(c, "function", None) is not None
    ]
    stop = "tool_use" if calls else _STOP.get(choice.finish_reason or "", "other")
    return ModelResponse(
        text=choice.message.content or "",
        tool_calls=calls,
        stop_reason=stop,
        usage=usage_from_wire(completion.usage),
        model=completion.model or "",
    )


class OpenAIModel(SdkModel):
    """A Model speaking OpenAI Chat Completions."""

    provider = "openai"

    def __init__(self, settings: ModelSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self._client = openai.OpenAI(
            api_key=self._api_key(),
            base_url=settings.base_url,
            max_retries=0,
            timeout=self.retry.timeout_s,
        )

    def _api_key(self) -> str:
        return resolve_key(self._who)

    def _request(self, messages: list[Message], tools: list[ToolSpec]) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "messages": to_wire(messages),
            "max_completion_tokens": s.max_output_tokens,
        }
        if tools:
            body["tools"] = tools_to_wire(tools)
        if s.temperature is not None:
            body["temperature"] = s.temperature
        if s.reasoning_effort is not None:
            body["reasoning_effort"] = s.reasoning_effort
        return body

    def _parse(self, completion: Any, tools: list[ToolSpec]) -> ModelResponse:
        if not completion.choices:
            raise ProviderError(f"{self.provider}: model {self.settings.model} returned no choices")
        return response_from_wire(completion)

    def complete(self, messages: list[Message], tools: list[ToolSpec]) -> ModelResponse:
        body = self._request(messages, tools)
        completion = self._call(lambda: self._client.chat.completions.create(**body),
                                SdkErrors(openai.APIStatusError, openai.APIConnectionError))
        return self._parse(completion, tools)
