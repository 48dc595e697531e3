"""The Supervisor: when too many recent runs fail, diagnose from their logs and patch the adapter's
`domain_knowledge.md` with a git commit whose message is the reason.

Baseline (no LLM): record the most frequent error signature of the window, with an excerpt of one of its logs.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from alphalab import adapters
from alphalab.phase3.contracts import SupervisorInput, SupervisorOutcome
from alphalab.roles.base import RoleContext
from alphalab.roles.prompts import RolePrompt, fenced, message

TEMPLATE = "phase3_supervisor.md"
KNOWLEDGE = "domain_knowledge.md"
EXCERPT_LINES = 6


def failure_logs(inp: SupervisorInput) -> str:
    return "\n\n".join(f"### {f.exp_id} [{f.error_signature or 'unknown'}]\n{fenced(f.log_tail) or '(no log)'}"
                       for f in inp.failures)


def user_message(inp: SupervisorInput) -> str:
    return message(f"The error rate is {inp.error_rate:.0%} over the last {inp.window} runs, above the threshold. "
                   f"Diagnose the systemic cause from the failure logs and patch {KNOWLEDGE} with patch_adapter_file "
                   "(its `reason` becomes the commit message). Then call report_to_user.",
                   ("Recent failure logs", failure_logs(inp)))


def prompt(inp: SupervisorInput) -> RolePrompt:
    return RolePrompt(template=TEMPLATE, task=user_message(inp))


def _excerpt(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(f"    {ln[:200]}" for ln in lines[-EXCERPT_LINES:])


def run(ctx: RoleContext, inp: SupervisorInput) -> SupervisorOutcome:
    head = f"error rate {inp.error_rate:.0%} over the last {inp.window} runs"
    if ctx.uses_llm("supervisor"):
        from alphalab.roles.llm import report_text, run_llm_role
        from alphalab.tools import grep_file, read_file, report_to_user
        from alphalab.tools.adapter_tools import patch_adapter_file, read_adapter

        before = ctx.workspace.git("rev-parse", "HEAD").stdout.strip()
        result = run_llm_role(
            ctx, "supervisor", adapter=ctx.adapter, prompt=prompt(inp),
            tools=[read_adapter, patch_adapter_file, read_file, grep_file, report_to_user], label="supervisor",
        )
        after = ctx.workspace.git("rev-parse", "HEAD").stdout.strip()
        return SupervisorOutcome(patched=after != before, reason=report_text(result) or head)
    counts = Counter(f.error_signature or "unknown" for f in inp.failures)
    if not counts:
        return SupervisorOutcome(patched=False, reason=f"{head}, but no failure logs to diagnose")
    signature, n = counts.most_common(1)[0]
    example = next(f for f in inp.failures if (f.error_signature or "unknown") == signature)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    note = (f"\n## Supervisor note ({stamp})\n"
            f"{n} of the last {inp.window} runs failed with `{signature}` (e.g. {example.exp_id}). "
            f"Avoid the cause of this error; the last lines of one log:\n\n{_excerpt(example.log_tail)}\n")
    reason = f"supervisor: {head}; most frequent failure `{signature}` ({n}x) recorded in {KNOWLEDGE}"
    patched = adapters.patch_file(ctx.workspace, KNOWLEDGE, "", note, reason)
    ctx.log(reason)
    return SupervisorOutcome(patched=patched, signature=signature, reason=reason)
