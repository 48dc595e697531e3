"""One LLM turn of a role: render the adapter's template as the system prompt, run the agent loop with the role's
tools, log every step (to the task's run logger and the live progress) and charge the campaign's ledger."""

from __future__ import annotations

import re

from alphalab import harness_seal, progress
from alphalab.adapters import Adapter
from alphalab.agent import Agent, AgentResult
from alphalab.models.registry import get_model
from alphalab.roles.base import RoleContext
from alphalab.roles.prompts import RolePrompt, system_prompt
from alphalab.tools.base import Tool, ToolContext

# the agent reports "[label] step N: what happened"
_STEP = re.compile(r"\[[^\]]*\] step (\d+): ")


def tool_context(ctx: RoleContext) -> ToolContext:
    return ToolContext(
        workspace=ctx.workspace.root,
        sandbox=ctx.config.sandbox,
        shell_timeout_s=ctx.limits.shell_timeout_s,
        output_chars=ctx.limits.tool_output_chars,
        web_search=ctx.config.web_search,
        hidden=[ctx.workspace.private],
        readable=[ctx.config.data_path.resolve()],
        # once Phase 2 sealed the evaluation, no agent may change it (Phase 2 unseals before its Builder runs)
        read_only=harness_seal.sealed_paths(ctx.workspace) if ctx.workspace.harness_seal.exists() else [],
    )


def run_llm_role(
    ctx: RoleContext,
    role: str,
    *,
    adapter: Adapter | None,
    prompt: RolePrompt,
    tools: list[Tool],
    label: str,
) -> AgentResult:
    """Run `role`'s agent once on `prompt`: its template rendered as the system prompt, its task as the user
    message."""
    system = system_prompt(ctx, adapter, prompt)

    def on_step(line: str) -> None:
        ctx.log(line)
        step = _STEP.match(line)
        cost = ctx.ledger.total_usd if ctx.ledger is not None else None
        progress.emit(progress.ProgressEvent(phase=ctx.phase, role=role, step=int(step[1]) if step else None,
                                             cost_usd=cost, detail=line[step.end():] if step else line))

    agent = Agent(
        get_model(ctx.model_settings(role)), tools, tool_context(ctx), ctx.limits,
        ctx.trajectory_path(role, label), on_step=on_step, ledger=ctx.ledger, role=role, phase=ctx.phase,
    )
    return agent.run(system, prompt.task)


def report_text(result: AgentResult) -> str:
    """The text a role handed back through `report_to_user` (its payload may be a string or a mapping)."""
    payload = result.payload
    if isinstance(payload, dict):
        return str(payload.get("message") or payload.get("report") or payload)
    return "" if payload is None else str(payload)
