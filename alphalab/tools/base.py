"""Typed tools: a plain Python function with annotated parameters becomes a tool with a JSON schema.

A tool receives a ToolContext as its first argument. Terminal tools end the agent loop by raising
`Finished` (control flow by exception, as in mini-swe-agent). Any other exception a tool raises
becomes a tool error the model sees; it never crashes the loop.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from alphalab.models.base import ImagePart, ToolSpec


class ToolError(Exception):
    """A tool refused or failed; the message goes back to the model as the tool's result."""


class Finished(Exception):
    """Raised by a terminal tool: the agent loop stops and returns `payload`."""

    def __init__(self, payload: Any):
        super().__init__("finished")
        self.payload = payload


@dataclass
class ToolResult:
    text: str
    images: list[ImagePart] = field(default_factory=list)
    is_error: bool = False


@dataclass
class ToolContext:
    """What a tool may touch. Built by the role that runs the agent."""

    workspace: Path
    sandbox: Any = None  # alphalab.sandbox.SandboxConfig-compatible; None means no sandbox
    shell_timeout_s: float = 600.0
    output_chars: int = 12_000
    # role-specific state (board handle, adapter dir, collected proposals...)
    extras: dict[str, Any] = field(default_factory=dict)
    # set by the agent loop so spawn_agent can run a child inside the parent's budget
    agent: Any = None
    web_search: Any = None  # alphalab.config.WebSearchConfig; None means web search is not configured
    # paths inside the workspace that tools must not see (e.g. harness-only data); shell commands under bwrap
    hidden: list[Path] = field(default_factory=list)
    # paths inside the workspace that tools must not change (the sealed evaluation); shell commands under bwrap
    read_only: list[Path] = field(default_factory=list)


class Tool:
    def __init__(self, fn: Callable[..., Any], name: str | None = None, terminal: bool = False):
        self.fn = fn
        self.name = name or fn.__name__
        self.terminal = terminal
        self.description = inspect.cleandoc(fn.__doc__ or self.name)
        hints = get_type_hints(fn)
        params = list(inspect.signature(fn).parameters.values())[1:]  # skip ctx
        fields: dict[str, Any] = {}
        for p in params:
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[p.name] = (hints.get(p.name, str), default)
        self.args_model: type[BaseModel] = create_model(  # type: ignore[call-overload]
            f"{self.name}_args", __config__=ConfigDict(extra="forbid"), **fields
        )

    @property
    def spec(self) -> ToolSpec:
        schema = self.args_model.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(name=self.name, description=self.description, parameters=schema)

    def parse(self, arguments: str) -> BaseModel:
        """Raises ToolError with a message the model can act on."""
        try:
            raw = json.loads(arguments or "{}")
        except json.JSONDecodeError as e:
            raise ToolError(f"arguments for {self.name} are not valid JSON: {e}") from None
        if not isinstance(raw, dict):
            raise ToolError(f"arguments for {self.name} must be a JSON object")
        try:
            return self.args_model.model_validate(raw)
        except ValidationError as e:
            raise ToolError(f"invalid arguments for {self.name}: {e}") from None

    def __call__(self, ctx: ToolContext, arguments: str) -> ToolResult:
        args = self.parse(arguments)
        out = self.fn(ctx, **args.model_dump())
        if isinstance(out, ToolResult):
            return out
        return ToolResult(text=out if isinstance(out, str) else json.dumps(out, default=str))


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None, terminal: bool = False):
    """Decorator: `@tool` or `@tool(terminal=True)`."""
    if fn is None:
        return lambda f: Tool(f, name=name, terminal=terminal)
    return Tool(fn, name=name, terminal=terminal)
