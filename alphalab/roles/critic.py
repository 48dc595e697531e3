"""Phase 2 Critic: a fresh agent (no Builder history) audits harness/ for leakage, lookahead and metric errors.

The verdict comes only from the terminal tool `submit_review` (PASS or NEEDS FIXES with file:line findings).
Baseline: runs the harness's own self-check when it has one (harness/selfcheck.py), else a static audit.
Every round's review is saved as reviews/round_NN.md (for people) and .json (for the checks).
"""

from __future__ import annotations

import sys
from typing import Literal

from pydantic import BaseModel, Field

from alphalab.adapters import load_adapter
from alphalab.command_output import truncate_middle
from alphalab.errors import PhaseFailed
from alphalab.manifest import harness_module
from alphalab.reference_check import ReferenceCheck
from alphalab.roles.base import RoleContext
from alphalab.roles.builder import harness_files
from alphalab.roles.llm import run_llm_role
from alphalab.roles.prompts import RolePrompt, message
from alphalab.sandbox import run_command
from alphalab.tools import grep_file, read_file, shell_exec
from alphalab.tools.base import Finished, ToolContext, ToolError, tool
from alphalab.workspace import Workspace

ROLE = "critic"
Verdict = Literal["PASS", "NEEDS FIXES"]


class Finding(BaseModel):
    file: str
    line: int = Field(ge=0, description="1-based line; 0 when the finding is about the whole file")
    issue: str


class CriticInput(BaseModel):
    round: int = Field(ge=1)
    reference: str = Field("", description="the reference experiment's run through this harness, as markdown")
    # part of the role task's cache key: a harness changed since (fixed by hand, say) is reviewed afresh, never
    # handed the verdict on the one before
    harness: str = Field("", description="the digest of the harness files under review")


class Review(BaseModel):
    round: int
    verdict: Verdict
    findings: list[Finding] = []
    summary: str = ""
    checks: list[str] = Field(default_factory=list, description="what the baseline audit checked")
    baseline: bool = False

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    def markdown(self) -> str:
        lines = [f"# Critic review, round {self.round}: {self.verdict}", ""]
        if self.summary:
            lines += [self.summary, ""]
        lines += [f"- `{f.file}:{f.line}`: {f.issue}" for f in self.findings]
        if self.checks:
            lines += ["", "Checks done:"] + [f"- {c}" for c in self.checks]
        return "\n".join(lines).rstrip() + "\n"


@tool(terminal=True)
def submit_review(ctx: ToolContext, verdict: Verdict, findings: list[Finding] = [], summary: str = "") -> str:
    """Submit your verdict on the harness and end the review.

    Args:
        verdict: PASS when the harness is sound, NEEDS FIXES otherwise.
        findings: one per problem, each with its file, line and issue (what is wrong, how severe, the exact
            fix); NEEDS FIXES needs at least one.
        summary: a few sentences on the review as a whole.
    """
    if verdict == "NEEDS FIXES" and not findings:
        raise ToolError("NEEDS FIXES needs at least one finding with file, line and issue")
    raise Finished({"verdict": verdict, "findings": findings, "summary": summary})


def _static_audit(ws: Workspace, files: list[str]) -> tuple[list[Finding], list[str]]:
    findings, checks = [], []
    py = [f for f in files if f.endswith(".py")]
    checks.append(f"harness/ holds Python files ({len(py)})")
    if not py:
        findings.append(Finding(file="harness/", line=0, issue="no Python files"))
    for rel in py:
        try:
            compile((ws.root / rel).read_text(), rel, "exec")
        except SyntaxError as e:
            findings.append(Finding(file=rel, line=e.lineno or 0, issue=f"does not compile: {e.msg}"))
    checks.append("every harness Python file compiles")
    return findings, checks


def _review_baseline(ctx: RoleContext, request: CriticInput, files: list[str]) -> Review:
    ws = ctx.workspace
    selfcheck = ws.harness / "selfcheck.py"
    if selfcheck.is_file():
        res = run_command([sys.executable, "-m", "harness.selfcheck"], cwd=ws.root,
                          timeout_s=ctx.limits.shell_timeout_s, sandbox=ctx.config.sandbox, writable=[ws.root],
                          hidden=[ws.private], env={"PYTHONPATH": str(ws.root)})
        findings = [] if res.returncode == 0 else [
            Finding(file="harness/selfcheck.py", line=0, issue=truncate_middle(res.output, 2000))]
        checks = [f"ran harness/selfcheck.py (exit {res.returncode})"]
    else:
        findings, checks = _static_audit(ws, files)
    return Review(round=request.round, verdict="NEEDS FIXES" if findings else "PASS", findings=findings,
                  checks=checks, baseline=True, summary="baseline audit (no LLM)")


def save_review(ws: Workspace, review: Review) -> None:
    ws.reviews.mkdir(parents=True, exist_ok=True)
    stem = ws.reviews / f"round_{review.round:02d}"
    stem.with_suffix(".md").write_text(review.markdown())
    stem.with_suffix(".json").write_text(review.model_dump_json(indent=2))


def reference_failed(ws: Workspace, round_: int, check: ReferenceCheck) -> Review:
    """The round's verdict when the reference experiment did not pass the gate: no Critic reads a harness that
    records no result; the Builder gets the gate's problems, at the module the manifest's full command starts."""
    manifest = load_adapter(ws.adapter).manifest
    module = harness_module("full_command", manifest.experiment.full_command)
    entry = module.replace(".", "/") + ".py"
    out = Review(round=round_, verdict="NEEDS FIXES", findings=[Finding(file=entry, line=0, issue=p)
                                                                for p in check.problems],
                 summary="The reference experiment did not produce a result the campaign can rank, so the harness "
                         "was not reviewed further this round.",
                 checks=["ran the reference experiment through the smoke and full commands"])
    return out


def user_message(request: CriticInput, files: list[str]) -> str:
    return message(
        f"Critic review, round {request.round}: audit the evaluation harness in harness/ against the "
        "manifest-harness contract in your system prompt and the campaign's objective. You have not seen how it "
        "was written: read every file. Look for leakage (anything held out reaching the experiment's process or "
        "its training data, a statistic fit on held-out rows, and for ordered data a context that overlaps its "
        "target), metric errors (a wrong formula or denominator, instances dropped or counted twice) and results "
        "the harness does not compute and record itself. The reference experiment's run through this harness is "
        "below: check that its numbers are plausible for the data.",
        ("Files to audit", "\n".join(f"- {f}" for f in files) or "- (harness/ holds no files)"),
        ("The reference experiment", request.reference),
        closing="Then call submit_review: PASS, or NEEDS FIXES with one finding per problem naming the file and "
                "line. Only submit_review counts: text you write outside it is not read.",
    )


def prompt(request: CriticInput, files: list[str]) -> RolePrompt:
    return RolePrompt(template="phase2_critic.md", task=user_message(request, files), contract=True)


def review(ctx: RoleContext, request: CriticInput) -> Review:
    ws = ctx.workspace
    files = harness_files(ws)
    if ctx.uses_llm(ROLE):
        adapter = load_adapter(ws.adapter)
        result = run_llm_role(ctx, ROLE, adapter=adapter, prompt=prompt(request, files),
                              tools=[read_file, grep_file, shell_exec, submit_review],
                              label=f"round{request.round:02d}")
        if not result.finished:
            raise PhaseFailed(f"Phase 2: the Critic stopped in round {request.round} without submit_review "
                              f"({result.reason}); see trajectories/")
        out = Review(round=request.round, **result.payload)
    else:
        out = _review_baseline(ctx, request, files)
    ctx.log(f"Critic round {request.round}: {out.verdict} ({len(out.findings)} finding(s))")
    return out
