"""Typed tools: a plain Python function with annotated parameters becomes a tool with a JSON schema.

A tool receives a ToolContext as its first argument; state of its own (a role's board, its turn) it gets by being
built in a factory that closes over it. Terminal tools end the agent loop by raising `Finished` (control flow by
exception, as in mini-swe-agent). Any other exception a tool raises becomes a tool error the model sees; it never
crashes the loop.

Docstrings are Google style: the text before `Args:` is the tool's description; the `Args:` block holds one
`name: text` line per parameter (continuation lines indented deeper), and each text becomes that parameter's
`description` in the JSON schema.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

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
    # set by the agent loop so spawn_agent can run a child inside the parent's budget
    agent: Any = None
    web_search: Any = None  # alphalab.config.WebSearchConfig; None means web search is not configured
    # paths inside the workspace that tools must not see (e.g. harness-only data); shell commands under bwrap
    hidden: list[Path] = field(default_factory=list)
    # paths inside the workspace that tools must not change (the sealed evaluation); shell commands under bwrap
    read_only: list[Path] = field(default_factory=list)
    # paths outside the workspace that shell commands must read (the campaign's data): bound read-only under bwrap,
    # whose private /tmp would otherwise hide them; the hidden paths still cover them
    readable: list[Path] = field(default_factory=list)


_ARG_LINE = re.compile(r"(\w+):\s*(.*)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_docstring(doc: str, params: Collection[str], owner: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into the description (the text without its `Args:` block) and the text of
    each parameter. The block runs from an unindented `Args:` line to the next unindented line."""
    lines = inspect.cleandoc(doc).splitlines()
    if "Args:" not in lines:
        return "\n".join(lines), {}
    start = end = lines.index("Args:")
    while end + 1 < len(lines) and (not lines[end + 1].strip() or _indent(lines[end + 1]) > 0):
        end += 1
    description = "\n".join(lines[:start] + lines[end + 1 :]).strip()
    return description, _read_args([line for line in lines[start + 1 : end + 1] if line.strip()], params, owner)


def _read_args(block: list[str], params: Collection[str], owner: str) -> dict[str, str]:
    """`name: text` lines at the block's indent; deeper lines continue the text above. Raises ValueError for a
    name that is not a parameter: a typo would otherwise leave the parameter undocumented without anyone noticing."""
    described: dict[str, str] = {}
    name = ""
    for line in block:
        if name and _indent(line) > _indent(block[0]):
            described[name] += " " + line.strip()
            continue
        match = _ARG_LINE.fullmatch(line.strip())
        if match is None or _indent(line) != _indent(block[0]):
            raise ValueError(f"{owner}: cannot read the Args line {line.strip()!r}; write `name: text`")
        name = match[1]
        if name not in params:
            raise ValueError(f"{owner}: the docstring documents {name!r}, which is not a parameter "
                             f"(parameters: {', '.join(params) or 'none'})")
        if name in described:
            raise ValueError(f"{owner}: the docstring documents {name!r} twice")
        described[name] = match[2]
    return {k: v.strip() for k, v in described.items()}


class Tool:
    def __init__(self, fn: Callable[..., Any], name: str | None = None, terminal: bool = False):
        self.fn = fn
        self.name = name or fn.__name__
        self.terminal = terminal
        hints = get_type_hints(fn)
        params = list(inspect.signature(fn).parameters.values())[1:]  # skip ctx
        self.description, described = parse_docstring(fn.__doc__ or self.name, [p.name for p in params], self.name)
        fields: dict[str, Any] = {}
        for p in params:
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[p.name] = (hints.get(p.name, str), Field(default, description=described.get(p.name)))
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
