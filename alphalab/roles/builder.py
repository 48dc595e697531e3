"""Phase 2 Builder: writes the evaluation harness in harness/ from the Phase 1 learnings; fixes it after a review.

A built-in domain starts from its trusted harness (harnesses/<name>/, copied into harness/ at round 1); the LLM
Builder may extend it, the baseline Builder installs it as is. A generated domain has no trusted harness: only an
LLM Builder can write one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel, Field

from alphalab import harness_seal
from alphalab.adapters import Adapter, builtin_harness_dir, load_adapter
from alphalab.errors import PhaseFailed
from alphalab.roles.base import RoleContext
from alphalab.roles.llm import report_text, run_llm_role
from alphalab.roles.prompts import RolePrompt, message, nested
from alphalab.tools import general_tools, report_to_user
from alphalab.workspace import Workspace

ROLE = "builder"


class BuilderInput(BaseModel):
    round: int = Field(ge=1)
    review: str = Field("", description="the previous round's Critic findings, as markdown")


class BuildResult(BaseModel):
    round: int
    files: list[str]
    report: str
    baseline: bool
    trusted_harness: str = ""


def harness_files(ws: Workspace) -> list[str]:
    if not ws.harness.is_dir():
        return []
    return sorted(p.relative_to(ws.root).as_posix() for p in ws.harness.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def install_trusted_harness(ws: Workspace, name: str, keep: list[str] = ()) -> Path:
    """Copy the built-in harness's Python files (not its tests: the Tester installs those) into harness/, except
    those in `keep` (workspace-relative)."""
    src = builtin_harness_dir(name)
    if not src.is_dir():
        raise PhaseFailed(f"Phase 2: built-in harness {name!r} not found at {src}")
    for f in sorted(src.rglob("*.py")):
        rel = f.relative_to(src)
        if rel.parts[0] == "tests" or "__pycache__" in rel.parts:
            continue
        dst = ws.harness / rel
        if dst.relative_to(ws.root).as_posix() in keep:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dst)
    return src


def user_message(request: BuilderInput, edited: list[str] = ()) -> str:
    kept = ("Edited by hand since Phase 2 last wrote them: keep these edits", "\n".join(f"- {f}" for f in edited))
    if request.round == 1:
        return message("Builder round 1: build the evaluation harness in harness/ from learnings.md, meeting every "
                       "clause of the manifest-harness contract in your system prompt: data loading and the split "
                       "into what a model may see and what is held out, metric computation, and the entry point the "
                       "manifest's commands start, which runs an experiment's code in its own process and records "
                       "the metrics itself. Guard against leakage of held-out data into anything the experiment "
                       "sees and, where the data is ordered, against lookahead. After you report, the campaign runs "
                       "the reference experiment through the smoke and full commands: the harness must record its "
                       "result with the primary metric. Call report_to_user when done.", kept)
    return message(f"Builder round {request.round}: harness/ was reviewed (round {request.round - 1}) and has "
                   "problems. Fix every finding, citing it in your change, or explain precisely why it is not a "
                   "problem; then call report_to_user saying what you changed.",
                   ("The findings", nested(request.review, under=2)), kept)


def prompt(request: BuilderInput, trusted: str | None, edited: list[str] = ()) -> RolePrompt:
    return RolePrompt(template="phase2_builder.md", task=user_message(request, edited), contract=True,
                      variables={"builtin_harness": str(builtin_harness_dir(trusted)) if trusted else ""})


def build(ctx: RoleContext, request: BuilderInput) -> BuildResult:
    ws = ctx.workspace
    adapter: Adapter = load_adapter(ws.adapter)
    trusted = adapter.manifest.harness
    installed = ""
    keep = harness_seal.hand_edits(ws)
    if trusted and request.round == 1:
        installed = str(install_trusted_harness(ws, trusted, keep))
        ctx.log(f"installed the trusted harness {trusted!r} into harness/"
                + (f", keeping the hand-edited {', '.join(keep)}" if keep else ""))
    if not ctx.uses_llm(ROLE):
        if not trusted:
            raise PhaseFailed(f"Phase 2: adapter {adapter.manifest.name!r} has no built-in harness, so the baseline "
                              "Builder cannot build one; give the builder an LLM")
        return BuildResult(round=request.round, files=harness_files(ws), baseline=True, trusted_harness=installed,
                           report=f"installed the trusted harness {trusted!r}")
    result = run_llm_role(ctx, ROLE, adapter=adapter, prompt=prompt(request, trusted, keep),
                          tools=[*general_tools(), report_to_user], label=f"round{request.round:02d}")
    if not result.finished:
        raise PhaseFailed(f"Phase 2: the Builder stopped in round {request.round} before report_to_user "
                          f"({result.reason}); see trajectories/")
    return BuildResult(round=request.round, files=harness_files(ws), report=report_text(result), baseline=False,
                       trusted_harness=installed)
