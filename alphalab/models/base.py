"""The Model protocol and the message types every provider speaks.

Messages are provider-neutral; each provider converts them to its wire format.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from alphalab.errors import AlphalabError


class ToolCall(BaseModel):
    id: str
    name: str
    # raw JSON text as the model sent it; the agent loop parses and validates it
    arguments: str = "{}"


class ImagePart(BaseModel):
    media_type: str = "image/png"
    data_b64: str


class Message(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None  # for role == "tool"
    name: str | None = None  # tool name, for role == "tool"
    images: list[ImagePart] = Field(default_factory=list)
    is_error: bool = False


class ToolSpec(BaseModel):
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object


class Usage(BaseModel):
    input_tokens: int = 0  # the whole prompt, cached or not
    cached_input_tokens: int = 0  # of input_tokens, read from the provider's prompt cache
    cache_write_tokens: int = 0  # of input_tokens, written to the cache (priced apart: Anthropic charges more)
    output_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


StopReason = Literal["end_turn", "tool_use", "max_tokens", "other"]


class ModelResponse(BaseModel):
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    stop_reason: StopReason = "end_turn"
    usage: Usage = Usage()
    model: str = ""


@runtime_checkable
class Model(Protocol):
    """Anything that turns messages and tool schemas into one assistant turn."""

    name: str  # "provider:model", used for pricing and logs
    context_window: int
    supports_images: bool

    def complete(self, messages: list[Message], tools: list[ToolSpec]) -> ModelResponse: ...


class ProviderError(AlphalabError):
    """A provider call failed. Raised as is, the failure is permanent (a revoked key, an exhausted quota, an unknown
    model): no retry can help, so the campaign stops; the message is one line naming the provider, the model, the
    URL and the key variable."""


class TransientProviderError(ProviderError):
    """Rate limit, 5xx or timeout that survived the provider's own retries. Prefect may retry the task."""
