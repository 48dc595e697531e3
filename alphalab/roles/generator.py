"""Phase 0, generate path: a free-text domain gets all 11 adapter files written by the generator agent.

Its prompt is alphalab's own (roles/templates/phase0_generator.md, about no domain in particular) followed by the
manifest-harness contract; the built-in adapters are there to read for their files' format only. After each
attempt the whole adapter is validated; the problems go back to a new attempt, up to MAX_ATTEMPTS. There is no
baseline: a free-text domain needs a model to write prompts and a manifest.
"""

from __future__ import annotations

from pathlib import Path

from alphalab import adapters
from alphalab.config import BUILTIN_DOMAINS
from alphalab.errors import AdapterError, PhaseFailed
from alphalab.roles.base import RoleContext
from alphalab.roles.llm import report_text, run_llm_role
from alphalab.roles.prompts import RolePrompt, message
from alphalab.tools import read_file, report_to_user, shell_exec, web_search
from alphalab.tools.adapter_tools import read_reference_adapter, write_adapter_file
from alphalab.workspace import ADAPTER_FILES

ROLE = "generator"
MAX_ATTEMPTS = 3
TEMPLATES = Path(__file__).resolve().parent / "templates"


def user_message(ctx: RoleContext, errors: str) -> str:
    return message(
        f"Write a complete domain adapter for: {ctx.config.domain!r}. The data is at {ctx.config.data_path}: "
        "examine it first. Write all 11 files with write_adapter_file: "
        f"{', '.join(ADAPTER_FILES)}. Use read_reference_adapter to see the format of the built-in adapters. "
        "Call report_to_user when every file is written.",
        ("The adapter you wrote does not validate: fix every one of these problems", errors),
    )


def prompt(ctx: RoleContext, errors: str) -> RolePrompt:
    return RolePrompt(template="phase0_generator.md", root=TEMPLATES, contract=True, task=user_message(ctx, errors),
                      variables={"reference_adapters": adapters.builtin_adapter_names(),
                                 "template_rules": adapters.template_rules()})


def generate(ctx: RoleContext) -> adapters.ResolvedAdapter:
    if not ctx.uses_llm(ROLE):
        raise PhaseFailed(
            f"Phase 0: domain {ctx.config.domain!r} is free text, and generating an adapter needs an LLM; set a "
            f"provider for the generator (models.default or models.roles.generator), or use a built-in domain "
            f"({', '.join(adapters.builtin_adapter_names()) or ', '.join(BUILTIN_DOMAINS)})"
        )
    ws = ctx.workspace
    before = adapters.head_commit(ws)
    errors = ""
    reports = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = run_llm_role(
            ctx, ROLE, adapter=None, prompt=prompt(ctx, errors),
            tools=[shell_exec, read_file, web_search, write_adapter_file, read_reference_adapter, report_to_user],
            label=f"attempt{attempt}",
        )
        reports.append(report_text(result) or f"stopped: {result.reason}")
        _, problems = adapters.adapter_problems(ws.adapter)
        if not problems:
            final = adapters.load_adapter(ws.adapter)
            return adapters.ResolvedAdapter(
                path="generate", adapter_dir=str(final.root), name=final.manifest.name,
                commits=adapters.adapter_commits_since(ws, before), report=reports[-1],
            )
        errors = "\n".join(f"- {p}" for p in problems)
        ctx.log(f"generated adapter does not validate (attempt {attempt}/{MAX_ATTEMPTS}):\n{errors}")
    raise AdapterError(problems, where=f"{ws.adapter} (generated; still invalid after {MAX_ATTEMPTS} attempts)")
