"""Phase 1 Explorer: plan.md first, then scripts/, plots/, notes/, data_report/ and learnings.md.

LLM: the agent works the plan with the general tools and ends with report_to_user. Baseline: runs the adapter's
`exploration_script` (argv: data path, workspace) and files its output as learnings and a data report, ticking the
plan as each step completes.
"""

from __future__ import annotations

import shutil
import sys

from pydantic import BaseModel

from alphalab.adapters import Adapter, load_adapter
from alphalab.command_output import truncate_middle
from alphalab.errors import PhaseFailed
from alphalab.roles.base import RoleContext
from alphalab.roles.llm import report_text, run_llm_role
from alphalab.roles.prompts import RolePrompt
from alphalab.sandbox import run_command
from alphalab.tools import general_tools, report_to_user

ROLE = "explorer"
TASK = (
    "Explore the dataset for this campaign. First write plan.md as a checklist (`- [ ] item`), then work through "
    "it, checking items off (`- [x]`) as you finish them: analysis scripts in scripts/, plots in plots/, per-topic "
    "notes in notes/, formal deliverables in data_report/, and learnings.md updated after every finding (Phases 2 "
    "and 3 read it). Call report_to_user when every plan item is checked."
)


class ExplorerResult(BaseModel):
    finished: bool  # the agent ended with report_to_user (always true for the baseline)
    reason: str
    report: str
    baseline: bool


class _Plan:
    """A checklist written before the work and ticked as each step completes."""

    def __init__(self, ctx: RoleContext, items: list[str]):
        self.path = ctx.workspace.plan
        self.items = items
        self.done: set[int] = set()
        self._write()

    def check(self, index: int) -> None:
        self.done.add(index)
        self._write()

    def _write(self) -> None:
        lines = [f"- [{'x' if i in self.done else ' '}] {text}" for i, text in enumerate(self.items)]
        self.path.write_text("# Plan (baseline Explorer)\n\n" + "\n".join(lines) + "\n")


def _explore_baseline(ctx: RoleContext, adapter: Adapter) -> ExplorerResult:
    ws = ctx.workspace
    script_name = adapter.manifest.exploration_script
    if not script_name:
        raise PhaseFailed(f"Phase 1: adapter {adapter.manifest.name!r} names no `exploration_script`, which the "
                          "baseline Explorer runs; add one to the manifest or give the explorer an LLM")
    plan = _Plan(ctx, [
        f"Run the adapter's exploration script ({script_name}) on the data",
        "Record the findings in learnings.md",
        "Write the data report in data_report/",
    ])
    ws.scripts.mkdir(parents=True, exist_ok=True)
    script = ws.scripts / script_name
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(adapter.root / script_name, script)
    data = ctx.config.data_path.resolve()
    log = ws.notes / "exploration_output.txt"
    log.unlink(missing_ok=True)
    res = run_command(
        [sys.executable, str(script), str(data), str(ws.root)], cwd=ws.root, timeout_s=ctx.limits.shell_timeout_s,
        sandbox=ctx.config.sandbox, writable=[ws.root], readable=[data], hidden=[ws.private],
        log_path=log,
    )
    if res.returncode != 0:
        raise PhaseFailed(f"Phase 1: exploration script {script_name} failed (exit {res.returncode}"
                          f"{', timed out' if res.timed_out else ''}):\n{truncate_middle(res.output, 4000)}")
    plan.check(0)
    output = res.output.strip() or "(the exploration script printed nothing)"
    if not (ws.learnings.is_file() and ws.learnings.read_text().strip()):
        ws.learnings.write_text(f"# Learnings\n\nFrom `scripts/{script_name}` (baseline Explorer):\n\n{output}\n")
    plan.check(1)
    ws.data_report.mkdir(parents=True, exist_ok=True)
    if not any(p.is_file() and p.stat().st_size for p in ws.data_report.rglob("*")):
        (ws.data_report / "exploration.md").write_text(
            f"# Data report\n\nData: `{data}`\n\nOutput of `scripts/{script_name}`:\n\n```\n{output}\n```\n")
    plan.check(2)
    return ExplorerResult(finished=True, reason="finished", report=output, baseline=True)


def prompt() -> RolePrompt:
    return RolePrompt(template="phase1_explorer.md", task=TASK)


def explore(ctx: RoleContext) -> ExplorerResult:
    adapter = load_adapter(ctx.workspace.adapter)
    if not ctx.uses_llm(ROLE):
        return _explore_baseline(ctx, adapter)
    result = run_llm_role(ctx, ROLE, adapter=adapter, prompt=prompt(), tools=[*general_tools(), report_to_user],
                          label="run")
    return ExplorerResult(finished=result.finished, reason=result.reason, report=report_text(result), baseline=False)
