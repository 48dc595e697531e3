"""OpenAI-compatible servers (vLLM, Ollama, llama.cpp server) behind any `base_url`.

Small local models often answer a tool request with the call written as JSON text instead of a
structured tool call; that text is recovered here so the agent loop sees an ordinary ToolCall.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from alphalab.models.base import Message, ModelResponse, ToolCall, ToolSpec
from alphalab.models.openai_provider import OpenAIModel
from alphalab.models.retry import resolve_key

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_HERMES = re.compile(r"^<tool_call>\s*(.*?)\s*</tool_call>$", re.DOTALL)


def _unwrap(text: str) -> str:
    text = text.strip()
    for pattern in (_FENCE, _HERMES):
        match = pattern.match(text)
        if match:
            return match.group(1)
    return text


def parse_text_tool_calls(text: str, tool_names: set[str]) -> list[ToolCall]:
    """Tool calls written as bare JSON (`{"name": ..., "arguments": {...}}`, or a list of them).

    Only names of offered tools count, so an answer that merely contains JSON stays an answer.
    """
    try:
        data = json.loads(_unwrap(text))
    except ValueError:
        return []
    items = data if isinstance(data, list) else [data]
    calls: list[ToolCall] = []
    for item in items:
        if not isinstance(item, dict) or item.get("name") not in tool_names:
            return []
        args: Any = item.get("arguments", item.get("parameters", {}))
        calls.append(
            ToolCall(
                id=f"call_{uuid.uuid4().hex[:12]}",
                name=item["name"],
                arguments=args if isinstance(args, str) else json.dumps(args),
            )
        )
    return calls


class OpenAICompatibleModel(OpenAIModel):
    provider = "openai-compatible"
    # unknown server and model: the agent must not count on vision
    supports_images = False

    def _api_key(self) -> str:
        # local servers usually ignore the key, but the SDK insists on one
        return resolve_key(self._who, default="not-needed")

    def _request(self, messages: list[Message], tools: list[ToolSpec]) -> dict[str, Any]:
        body = super()._request(messages, tools)
        # older vLLM / Ollama / llama.cpp builds know only the legacy name
        body["max_tokens"] = body.pop("max_completion_tokens")
        return body

    def _parse(self, completion: Any, tools: list[ToolSpec]) -> ModelResponse:
        response = super()._parse(completion, tools)
        if response.tool_calls or not response.text:
            return response
        calls = parse_text_tool_calls(response.text, {t.name for t in tools})
        if not calls:
            return response
        return response.model_copy(update={"text": "", "tool_calls": calls, "stop_reason": "tool_use"})
