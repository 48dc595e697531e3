"""spawn_agent: a sub-agent with its own context and the caller's tools, spending from the caller's budget."""

from __future__ import annotations

from alphalab.tools.base import ToolContext, ToolError, tool

SUB_AGENT_SYSTEM = (
    "You are a sub-agent working in the workspace {workspace} for another agent. Do the task below with your "
    "tools, then answer with a concise plain-text report of what you did and found (numbers, file paths). "
    "Your final answer (a reply with no tool call) is returned to the agent that started you."
)


@tool
def spawn_agent(ctx: ToolContext, task: str, context: str = "") -> str:
    """Start a sub-agent with a fresh context and your tools to do a self-contained task (e.g. investigate a
    question, try one variant). It shares your budget. Returns its final report.

    Args:
        task: what the sub-agent should do, self-contained.
        context: what it needs to know from your work so far (findings, file paths).
    """
    parent = ctx.agent
    if parent is None:
        raise ToolError("spawn_agent is only available inside an agent run")
    prompt = f"{task}\n\nContext from the agent that started you:\n{context}" if context else task
    result = parent.spawn(SUB_AGENT_SYSTEM.format(workspace=ctx.workspace), prompt)
    if not result.finished:
        return f"the sub-agent stopped without finishing ({result.reason} after {result.steps} steps). " \
               f"Its last words: {result.final_text or '(none)'}"
    return str(result.payload)
