"""Workers: one task each. `implement` writes `experiments/<id>/` and passes the smoke test, `analyze` writes the
debrief, `fix` patches a failed experiment and passes the smoke test again.

The smoke test is always run by trusted code (alphalab.phase3.smoke), never judged from an agent's words. Workers
return a typed outcome; the Dispatcher owns the board transitions.

An LLM Worker's system prompt is the adapter's template for its task kind; the experiment, its spec and what the
task works from are its user message (`user_message`). It implements from the template rendered with the spec's
params, and writes more than the template only when the spec's `beyond_template` asks for it.

Baseline (no LLM): implement renders the adapter's `experiment.template_dir` (jinja2; variables `params` and
`experiment`); analyze writes a templated debrief from the metrics; fix applies the search space's `fallback`
overrides once, then gives up. It cannot build a `beyond_template` spec, and gives up on one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

import yaml

from alphalab.board_rows import Experiment
from alphalab.campaign import Campaign
from alphalab.experiment_files import DEBRIEF, error_log
from alphalab.manifest import BEYOND_TEMPLATE
from alphalab.phase3.contracts import WorkerOutcome
from alphalab.phase3.smoke import smoke_test
from alphalab.ranking import LeaderboardEntry, beats
from alphalab.results import read_result
from alphalab.roles.base import RoleContext
from alphalab.roles.prompts import RolePrompt, fenced, message

TEMPLATE = "phase3_worker.md"
Task = Literal["implement", "analyze", "fix"]


def best_other(env: Campaign, exp_id: str | None) -> LeaderboardEntry | None:
    """The leaderboard's best apart from `exp_id`: what that experiment is measured against."""
    return next((e for e in env.board.leaderboard(env.metric) if e.id != exp_id), None)


def best_line(env: Campaign, exclude: str | None = None) -> str:
    b = best_other(env, exclude)
    if b is None:
        return "no full-evaluation result yet"
    return f"{b.id} {env.metric.name}={b.value:.6g} ({b.name})"


# ---- the three tasks ------------------------------------------------------------------------------------------------

def harness_result(env: Campaign, exp: Experiment) -> str:
    """What the harness recorded for the experiment's full run: the board's metrics, and the details the harness
    keeps beside them (a per-horizon profile, timings) from its result, which the Worker cannot read itself."""
    result = read_result(env.workspace, env.exp_dir(exp.id), "full")
    details = result.details if result is not None and result.status == "ok" else {}
    body = {"eval_mode": exp.eval_mode, "metrics": exp.metrics} | ({"details": details} if details else {})
    return yaml.safe_dump(body, sort_keys=True, default_flow_style=None, width=116)


def user_message(env: Campaign, exp: Experiment, task: Task, rendered: Sequence[str] = ()) -> str:
    """The Worker's task on one experiment: what to do, the experiment and its spec, the best to beat, and what the
    task works from (the files already rendered, the harness's result, the error log)."""
    d = env.exp_dir(exp.id)
    files = ", ".join(env.manifest.experiment.required_files)
    opening = {
        "implement": f"Implement experiment {exp.id} in {d} (required files: {files}) and pass its smoke test, "
                     "then call report_to_user.",
        "analyze": f"Analyze experiment {exp.id}: write {d / DEBRIEF}, then call report_to_user.",
        "fix": f"Fix experiment {exp.id}: it failed (fix attempt {exp.attempts + 1}). Patch the files in {d} until "
               "its smoke test passes, then call report_to_user.",
    }[task]
    about = [f"- {k}: {v}" for k, v in (("name", exp.name), ("hypothesis", exp.hypothesis), ("parent", exp.parent),
                                         ("seed", exp.seed)) if v not in (None, "")]
    sections = [("Experiment", "\n".join(about)),
                ("Spec", fenced(json.dumps(exp.spec, indent=2, sort_keys=True), "json")),
                ("Beyond the template", str(exp.spec.get(BEYOND_TEMPLATE) or "")),
                ("Current best", best_line(env, exclude=exp.id))]
    if rendered:
        sections.append(("Already in the folder", "The experiment template rendered with spec.params: "
                         + ", ".join(rendered) + ". Check it against the spec and add only what the spec asks for."))
    if task == "analyze":
        sections.append(("Harness result", fenced(harness_result(env, exp), "yaml")))
    if task == "fix":
        sections.append(("Error log", fenced(error_log(d, exp))))
    return message(opening, *sections)


def prompt(env: Campaign, exp: Experiment, task: Task, rendered: Sequence[str] = ()) -> RolePrompt:
    return RolePrompt(template=TEMPLATE, variables={"task": task}, task=user_message(env, exp, task, rendered))


def _llm(ctx: RoleContext, exp: Experiment, task: Task, rendered: Sequence[str] = ()) -> str:
    from alphalab.roles.llm import report_text, run_llm_role
    from alphalab.tools import grep_file, read_file, report_to_user, shell_exec, write_file

    result = run_llm_role(ctx, "worker", adapter=ctx.adapter, prompt=prompt(ctx, exp, task, rendered),
                          tools=[read_file, write_file, grep_file, shell_exec, report_to_user],
                          label=f"{task}-{exp.id}-{exp.attempts}")
    return report_text(result)


def _render_for_llm(ctx: RoleContext, exp: Experiment) -> list[str]:
    """An LLM Worker starts from the template rendered with the spec's params, when they are a whole configuration:
    copying a template by hand is where a model slips."""
    space, template = ctx.manifest.search_space, ctx.manifest.experiment.template_dir
    if not template or space is None or not {p.name for p in space.params} <= set(exp.params):
        return []
    return ctx.render(exp, exp.params)


def _beyond_baseline(exp: Experiment, task: Task) -> WorkerOutcome:
    """The baseline Worker only renders the template: building it would run something else than the spec asks."""
    return WorkerOutcome(exp_id=exp.id, task=task, ok=False, gave_up=True, error_signature="beyond-template",
                         detail=f"the baseline Worker (no LLM) only renders the experiment template; the spec asks "
                                f"for more ({BEYOND_TEMPLATE}: {exp.spec[BEYOND_TEMPLATE]}): give the worker an LLM")


def implement(ctx: RoleContext, exp_id: str) -> WorkerOutcome:
    exp = ctx.board.get(exp_id)
    ctx.exp_dir(exp.id).mkdir(parents=True, exist_ok=True)
    if ctx.uses_llm("worker"):
        _llm(ctx, exp, "implement", _render_for_llm(ctx, exp))
    elif exp.spec.get(BEYOND_TEMPLATE):
        return _beyond_baseline(exp, "implement")
    else:
        ctx.render(exp, exp.params)
    return smoke_test(ctx, exp, "implement")


def fix(ctx: RoleContext, exp_id: str) -> WorkerOutcome:
    exp = ctx.board.get(exp_id)
    if ctx.uses_llm("worker"):
        _llm(ctx, exp, "fix")
        return smoke_test(ctx, exp, "fix")
    if exp.spec.get(BEYOND_TEMPLATE):
        return _beyond_baseline(exp, "fix")
    space = ctx.manifest.search_space
    fallback = space.fallback if space else {}
    if not fallback or exp.spec.get("fallback_applied"):
        return WorkerOutcome(exp_id=exp.id, task="fix", ok=False, gave_up=True, error_signature=exp.error_signature,
                             detail="no fallback left to try")
    params = exp.params | fallback
    spec = exp.spec | {"params": params, "fallback_applied": True}
    ctx.render(exp, params)
    outcome = smoke_test(ctx, exp, "fix")
    return outcome.model_copy(update={"spec": spec,
                                      "detail": f"applied fallback {json.dumps(fallback)}; {outcome.detail}"})


def debrief_markdown(env: Campaign, exp: Experiment) -> str:
    metric = env.metric
    value = exp.metrics.get(metric.name)
    best = best_other(env, exp.id)
    lines = [f"# Debrief: {exp.id}", "", "## Configuration", f"- name: {exp.name}", f"- hypothesis: {exp.hypothesis}",
             f"- spec: `{json.dumps(exp.spec, sort_keys=True)}`", f"- seed: {exp.seed}, fix attempts: {exp.attempts}",
             "", "## Result"]
    if value is None:
        lines.append(f"- no {metric.name} recorded (eval mode {exp.eval_mode})")
    else:
        lines.append(f"- {metric.name} = {value:.6g} ({exp.eval_mode} evaluation)")
    lines += [f"- {k} = {v:.6g}" for k, v in sorted(exp.metrics.items()) if k != metric.name]
    lines += ["", "## Against the best"]
    improved = value is not None and beats(env.metric, value, best.value if best else None)
    if best is None:
        lines.append("- first full result of the campaign")
    elif value is not None:
        delta = value - best.value
        rel = f" ({delta / abs(best.value):+.2%})" if best.value else ""
        lines.append(f"- previous best {best.id}: {best.value:.6g}; delta {delta:+.6g}{rel}")
        if env.board.noise_floor is not None and abs(delta) <= env.board.noise_floor:
            lines.append(f"- the difference is within the noise floor ({env.board.noise_floor:.3g})")
    lines += ["", "## Why", "- " + ("a new best: the changes against the previous best helped" if improved else
                                   "not better than the best: the changed parameters did not help")]
    if best is not None and value is not None:
        changed = {k: v for k, v in exp.params.items() if env.board.get(best.id).params.get(k) != v}
        if changed:
            lines.append(f"- differs from the best in: {json.dumps(changed)}")
    lines += ["", "## Follow-ups",
              "- " + ("verify with a fresh seed, then explore around this configuration" if improved
                      else "deprioritize this region of the search space")]
    return "\n".join(lines) + "\n"


def analyze(ctx: RoleContext, exp_id: str) -> WorkerOutcome:
    exp = ctx.board.get(exp_id)
    path = ctx.exp_dir(exp.id) / DEBRIEF
    if ctx.uses_llm("worker"):
        report = _llm(ctx, exp, "analyze")
        if not path.is_file():  # the agent reported instead of writing the file: its report is the debrief
            path.write_text(f"# Debrief: {exp.id}\n\n{report}\n")
    else:
        path.write_text(debrief_markdown(ctx, exp))
    return WorkerOutcome(exp_id=exp.id, task="analyze", ok=True, detail=f"debrief written to {path.name}")
