"""What one LLM call of a role is made of. The system prompt holds only what is the same for every call of the role
(the adapter's template rendered with the common variables and the role's stable ones, then the playbook), so a
provider can cache it as a prefix across calls; everything particular to the call (an experiment, a round, a board)
is the user message, which the role's code builds in one function, the same for every domain."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from alphalab import harness_contract
from alphalab.adapters import Adapter, common_variables, render_template
from alphalab.roles.base import RoleContext


class RolePrompt(BaseModel):
    template: str
    variables: dict[str, Any] = Field(default_factory=dict, description="the role's stable template variables")
    task: str = Field(description="the user message of this call")
    contract: bool = Field(False, description="the role writes or judges a harness: its system prompt carries the "
                                              "manifest-harness contract")
    root: Path | None = Field(None, description="the folder of a template that is not the adapter's (the "
                                                "Generator's: there is no adapter yet)")


PLAYBOOK_HEADING = "Playbook (the campaign's lessons so far, kept by the Strategist):"


def system_prompt(ctx: RoleContext, adapter: Adapter | None, prompt: RolePrompt) -> list[str]:
    """The system prompt in its cache tiers: the rendered template, the harness contract for the roles that need
    it, then the playbook when there is one. The playbook changes whenever the Strategist records a lesson; as a
    block of its own after the others, what comes before it stays a cached prefix (an Anthropic breakpoint ends
    each of the last blocks)."""
    variables = common_variables(ctx.config, ctx.workspace, adapter) | prompt.variables
    root = prompt.root or (adapter.root if adapter is not None else None)
    if root is None:
        raise ValueError(f"{prompt.template}: no adapter and no template folder to render it from")
    blocks = [render_template(root, prompt.template, variables)]
    if prompt.contract:
        blocks.append(harness_contract.text())
    playbook = ctx.workspace.playbook.read_text().strip() if ctx.workspace.playbook.is_file() else ""
    return blocks + ([f"{PLAYBOOK_HEADING}\n{playbook}\n"] if playbook else [])


def message(opening: str, *sections: tuple[str, str], closing: str = "") -> str:
    """A user message: the opening instruction, each section that has content under its `## heading` (an empty one
    is left out, not shown bare), then the closing line."""
    parts = [opening.strip()] + [f"## {head}\n{body.strip()}" for head, body in sections if body and body.strip()]
    return "\n\n".join(parts + ([closing.strip()] if closing else [])) + "\n"


def fenced(text: str, lang: str = "") -> str:
    """`text` as a fenced block (its own backticks cannot close it); empty stays empty, so its section is left out."""
    if not text.strip():
        return ""
    fence = "````" if "```" in text else "```"
    return f"{fence}{lang}\n{text.strip()}\n{fence}"


_HEADING = re.compile(r"^(#{1,6}) ")


def nested(markdown: str, under: int) -> str:
    """`markdown` with its headings moved to sit below a heading of level `under` (its top headings one level
    down), code blocks untouched: inside a section of a message, its headings must not read as the message's own."""
    lines, code, levels = markdown.splitlines(), False, []
    for line in lines:
        code ^= line.lstrip().startswith("```")
        heading = None if code else _HEADING.match(line)
        levels.append(len(heading[1]) if heading else 0)
    top = min((lv for lv in levels if lv), default=under + 1)
    return "\n".join("#" * min(6, lv + under + 1 - top) + line[lv:] if lv else line for line, lv in zip(lines, levels))
