"""Rendering prompts as the roles do, and what a rendered prompt must not contain.

- `render_prompt`: one adapter template with exactly the documented variables (the common ones plus the role's own),
  once per Worker task kind for the Worker's template;
- `role_prompts`: every role's system prompt and user message, built by the roles' own code on a campaign of a
  built-in adapter, on an empty board (the first Strategist turn) or a board with results, failures and notes;
- `glitches`: rendering mistakes (empty sections, Python reprs, "..", unrendered jinja) in a text.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import jinja2
import yaml

from alphalab import adapters
from alphalab.adapters import COMMON_VARIABLES, ROLE_VARIABLES
from alphalab.campaign import Campaign
from alphalab.experiment_files import DEBRIEF, SMOKE_LOG
from alphalab.phase3.contracts import Failure, StrategistInput, SupervisorInput
from alphalab.results import RunResult
from alphalab.roles import builder, critic, customizer, explorer, generator, strategist, supervisor, tester, worker
from alphalab.roles.base import RoleContext
from alphalab.roles.prompts import system_prompt

WORKER_TASKS = ("implement", "analyze", "fix")


def render_prompt(adapter_dir: Path, template: str, values: dict[str, Any]) -> dict[str | None, str]:
    """The rendered text per task (key None for a prompt without a task); `values` may hold more than is allowed."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(adapter_dir)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    allowed = COMMON_VARIABLES | ROLE_VARIABLES[template]
    variables = {k: v for k, v in values.items() if k in allowed}
    tasks = WORKER_TASKS if "task" in allowed else (None,)
    return {task: env.get_template(template).render(**variables | ({"task": task} if task else {}))
            for task in tasks}


# ---- every role's prompt on a campaign ------------------------------------------------------------------------------

def campaign(tmp_path: Path, domain: str) -> RoleContext:
    """A campaign of the built-in adapter `domain` after Phases 0-2 as far as prompts see it: the adapter, Phase 1
    learnings, the trusted harness installed, and a playbook."""
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = {"name": "prompts", "domain": domain, "data_path": str(data), "workspace": str(tmp_path / "ws"),
              "objective": f"The best {domain} result within the budget.", "budgets": {"experiments": 12}}
    (tmp_path / "campaign.yaml").write_text(yaml.safe_dump(config))
    env = Campaign.open(tmp_path / "campaign.yaml")
    ws = env.workspace
    adapters.copy_builtin(domain, ws)
    builder.install_trusted_harness(ws, env.manifest.harness)
    ws.learnings.write_text("# Learnings\n\n- the data has a strong daily cycle (ACF at lag 24: 0.87)\n")
    return RoleContext(env.config, ws, log=lambda line: None, phase="phase3")


def _metrics(ctx: RoleContext, value: float) -> dict[str, float]:
    return {m.name: value * (i + 1) for i, m in enumerate(ctx.manifest.metrics)}


def fill_board(ctx: RoleContext) -> dict[str, str]:
    """Results, a failure and an operator note on the board; returns the id of the experiment per Worker task."""
    board, space = ctx.board, ctx.manifest.search_space
    ids = {}
    for i, value in enumerate((0.5, 0.4, 0.45)):
        exp = board.add(f"reference variant {i}", {"params": space.reference_params()},
                        hypothesis="the reference configuration is a sound start")
        board.update(exp.id, seed=ctx.seed_for(exp.seq))
        for state in ("implemented", "checked", "queued", "running"):
            board.transition(exp.id, state)
        board.transition(exp.id, "finished", metrics=_metrics(ctx, value), eval_mode="full")
        board.transition(exp.id, "analyzed")
        RunResult(status="ok", eval_mode="full", metrics=_metrics(ctx, value), seed=exp.seed,
                  details={"per_step": [value, value * 1.1], "instances": 28, "device": None}).write(
            ctx.workspace.result_file(ctx.exp_dir(exp.id), "full"))
        ctx.exp_dir(exp.id).mkdir(parents=True, exist_ok=True)
        (ctx.exp_dir(exp.id) / DEBRIEF).write_text(worker.debrief_markdown(ctx, board.get(exp.id)))
        ids["analyze"] = exp.id
    failed = board.add("bigger batch", {"params": space.reference_params(), "beyond_template": "add a custom loss"},
                       hypothesis="a bigger batch trains faster", parent=ids["analyze"])
    board.transition(failed.id, "failed", error_signature="RuntimeError", note="smoke test failed")
    ctx.exp_dir(failed.id).mkdir(parents=True, exist_ok=True)
    (ctx.exp_dir(failed.id) / SMOKE_LOG).write_text("Traceback (most recent call last):\nRuntimeError: boom\n")
    ids["fix"] = failed.id
    ids["implement"] = board.add("next idea", {"params": space.reference_params()}, hypothesis="it helps").id
    board.add_note("try longer contexts")
    ctx.workspace.playbook.write_text("# Playbook\n\n## Turn 1\n- the reference is a sound start\n")
    return ids


def role_prompts(ctx: RoleContext, *, with_results: bool) -> dict[str, tuple[str, str]]:
    """(system prompt, user message) of every role's call, built by the roles' own code. Without results the board
    is empty: the first Strategist turn and a Worker implementing the first proposal."""
    if with_results:
        ids = fill_board(ctx)
    else:
        space = ctx.manifest.search_space
        ids = {"implement": ctx.board.add("reference", {"params": space.reference_params()}).id}
    adapter = ctx.adapter
    files = builder.harness_files(ctx.workspace)
    review = critic.Review(round=1, verdict="NEEDS FIXES", findings=[
        critic.Finding(file=files[0], line=3, issue="the context overlaps the target window: cut it at -H")])
    inp = StrategistInput(turn=3 if with_results else 1, proposals_wanted=4,
                          budget_left=7 if with_results else 12, usd_spent=0.42 if with_results else 0.0)
    calls = {
        "customizer": (adapter, customizer.prompt(ctx, adapter)),
        "generator": (None, generator.prompt(ctx, "- manifest.yaml: field `metrics`: Field required"
                                                  if with_results else "")),
        "explorer": (adapter, explorer.prompt()),
        "builder": (adapter, builder.prompt(builder.BuilderInput(round=2 if with_results else 1,
                                                                 review=review.markdown() if with_results else ""),
                                            ctx.manifest.harness)),
        "critic": (adapter, critic.prompt(critic.CriticInput(round=1), files)),
        "tester": (adapter, tester.prompt(tester.TesterInput())),
        "strategist": (adapter, strategist.prompt(ctx, strategist.build_view(ctx, inp))),
        "supervisor": (adapter, supervisor.prompt(SupervisorInput(error_rate=0.5, window=4, failures=[
            Failure(exp_id="e004-bigger-batch", error_signature="RuntimeError", log_tail="RuntimeError: boom")]))),
    }
    for task, exp_id in ids.items():
        exp = ctx.board.get(exp_id)
        rendered = ctx.render(exp, exp.params) if task == "implement" else []
        calls[f"worker-{task}"] = (adapter, worker.prompt(ctx, exp, task, rendered))
    return {role: (system_prompt(ctx, a, p), p.task) for role, (a, p) in calls.items()}


# ---- what a rendered prompt must not contain -----------------------------------------------------------------------

_LABEL = re.compile(r"^[A-Z][^.:`|]{0,60}:$")
_HEADING = re.compile(r"^(#+) ")
_VALUE = re.compile(r"[:=] ?(None|True|False)\b|\b(None|True|False)[,}\]]")
_CHECKS = {
    "unrendered jinja": re.compile(r"\{\{|\{%|\{#"),
    "Python repr": re.compile(r"\{'|\['|\[\{"),
    "empty value": re.compile(r"(?<![\w{])(\{\}|\[\])(?![\w}])|^- [\w ]+: *$"),
    "..": re.compile(r"(?<!\.)\.\.(?![./])"),
}


def _level(line: str) -> float | None:
    """How a line opens a section: a markdown heading's level, or a `Label:` line (inf: below every heading)."""
    heading = _HEADING.match(line)
    return len(heading[1]) if heading else (math.inf if _LABEL.match(line) else None)


def glitches(text: str) -> list[str]:
    """Rendering mistakes in `text`, each named with its line: a section with nothing in it (a heading or `Label:`
    line at the end, a heading followed by one of its level or above, a label by another label), a Python repr, an
    empty value, "..", unrendered jinja."""
    lines = [ln.strip() for ln in text.splitlines()]
    found = []
    for i, line in enumerate(lines):
        level = _level(line)
        rest = next((_level(ln) for ln in lines[i + 1:] if ln), "end")
        if level is not None and (rest == "end" or rest is not None and (rest == math.inf if level == math.inf
                                                                          else rest <= level)):
            found.append(f"empty section {line!r}")
        found += [f"{name} in line {line!r}" for name, rx in _CHECKS.items() if rx.search(line)]
        # code spans hold real code (`f(is_causal=True)`); outside them such a value is a Python repr
        if _VALUE.search(re.sub(r"`[^`]*`", "", line)):
            found.append(f"Python value in line {line!r}")
    return found
