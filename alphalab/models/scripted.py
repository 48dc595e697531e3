"""A scripted model: a queue of canned responses, for tests and offline demos. It records every prompt it receives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import yaml

from alphalab.models.base import Message, ModelResponse, ProviderError, ToolCall, ToolSpec, Usage


class ScriptExhausted(ProviderError):
    """The script has no response left: the agent asked for more turns than the test planned."""


class ScriptedModel:
    supports_images = True

    def __init__(self, responses: Iterable[ModelResponse], name: str = "scripted:test", context_window: int = 200_000):
        self.responses = list(responses)
        self.name = name
        self.context_window = context_window
        self.calls: list[list[Message]] = []
        self.tool_specs: list[list[ToolSpec]] = []

    @classmethod
    def from_calls(
        cls,
        calls: Iterable[tuple[str, dict[str, Any] | str]],
        final_text: str | None = None,
        usage: Usage | None = None,
        **kwargs: Any,
    ) -> "ScriptedModel":
        """One response per (tool_name, arguments); arguments may be raw text to simulate malformed JSON."""
        responses = []
        for i, (name, args) in enumerate(calls):
            raw = args if isinstance(args, str) else json.dumps(args)
            responses.append(ModelResponse(
                tool_calls=[ToolCall(id=f"call_{i}", name=name, arguments=raw)],
                stop_reason="tool_use",
                usage=usage or Usage(input_tokens=100, output_tokens=20),
            ))
        if final_text is not None:
            responses.append(ModelResponse(text=final_text, usage=usage or Usage(input_tokens=100, output_tokens=20)))
        return cls(responses, **kwargs)

    @classmethod
    def from_file(cls, path: str | Path) -> "ScriptedModel":
        """YAML/JSON list of responses: either ModelResponse fields or shorthand `{tool: NAME, args: {...}}`."""
        path = Path(path)
        try:
            items = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as e:
            raise ProviderError(f"scripted: cannot read script {path}: {e}") from e
        if not isinstance(items, list):
            raise ProviderError(f"scripted: {path} must hold a list of responses")
        responses = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and "tool" in item:
                item = {"tool_calls": [{"id": f"call_{i}", "name": item["tool"],
                                        "arguments": json.dumps(item.get("args", {}))}], "stop_reason": "tool_use"}
            responses.append(ModelResponse.model_validate(item))
        return cls(responses, name=f"scripted:{path.stem}")

    def complete(self, messages: list[Message], tools: list[ToolSpec]) -> ModelResponse:
        self.calls.append([m.model_copy(deep=True) for m in messages])
        self.tool_specs.append(list(tools))
        if not self.responses:
            raise ScriptExhausted(f"{self.name}: script exhausted after {len(self.calls) - 1} responses")
        response = self.responses.pop(0)
        return response.model_copy(update={"model": response.model or self.name})

    @property
    def remaining(self) -> int:
        return len(self.responses)
