"""Workers: one task each. `implement` writes `experiments/<id>/` and passes the smoke test, `analyze` writes the
debrief, `fix` patches a failed experiment and passes the smoke test again.

The smoke test is always run by trusted code (alphalab.phase3.smoke), never judged from an agent's words. Workers
return a typed outcome; the Dispatcher owns the board transitions.

Baseline (no LLM): implement renders the adapter's `experiment.template_dir` (jinja2; variables `params` and
`experiment`); analyze writes a templated debrief from the metrics; fix applies the search space's `fallback`
overrides once, then gives up.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from alphalab.board_rows import Experiment
from alphalab.campaign import Campaign
from alphalab.experiment_files import DEBRIEF, error_log
from alphalab.phase3.contracts import WorkerOutcome
from alphalab.phase3.smoke import smoke_test
from alphalab.ranking import LeaderboardEntry, beats
from alphalab.roles.base import RoleContext

TEMPLATE = "phase3_worker.md"


class ExperimentView(BaseModel):
    """What the worker template sees as `experiment`."""

    id: str
    name: str
    hypothesis: str
    spec: dict[str, Any]
    seed: int | None


def best_other(env: Campaign, exp_id: str | None) -> LeaderboardEntry | None:
    """The leaderboard's best apart from `exp_id`: what that experiment is measured against."""
    return next((e for e in env.board.leaderboard(env.metric) if e.id != exp_id), None)


def best_line(env: Campaign, exclude: str | None = None) -> str:
    b = best_other(env, exclude)
    if b is None:
        return "no full-evaluation result yet"
    return f"{b.id} {env.metric.name}={b.value:.6g} ({b.name})"


# ---- the three tasks ------------------------------------------------------------------------------------------------

def _llm(ctx: RoleContext, exp: Experiment, task: str, **extra: str) -> str:
    from alphalab.roles.llm import report_text, run_llm_role
    from alphalab.tools import grep_file, read_file, report_to_user, shell_exec, write_file

    d = ctx.exp_dir(exp.id)
    variables = dict(task=task, experiment=ExperimentView(**exp.model_dump(include=set(ExperimentView.model_fields))),
                     exp_dir=str(d), error_log=extra.get("error_log", ""), metrics=extra.get("metrics", ""),
                     best=best_line(ctx, exclude=exp.id))
    instructions = {
        "implement": f"Implement experiment {exp.id} in {d} (files: {ctx.manifest.experiment.required_files}).",
        "analyze": f"Analyze experiment {exp.id}: write {d / DEBRIEF} (configuration, result, deltas against the "
                   "best, why it worked or failed, follow-ups).",
        "fix": f"Experiment {exp.id} failed. Read the error log, patch the files in {d}.",
    }[task]
    result = run_llm_role(ctx, "worker", adapter=ctx.adapter, template=TEMPLATE, variables=variables,
                          task=instructions + " Then call report_to_user.",
                          tools=[read_file, write_file, grep_file, shell_exec, report_to_user],
                          label=f"{task}-{exp.id}-{exp.attempts}")
    return report_text(result)


def implement(ctx: RoleContext, exp_id: str) -> WorkerOutcome:
    exp = ctx.board.get(exp_id)
    ctx.exp_dir(exp.id).mkdir(parents=True, exist_ok=True)
    if ctx.uses_llm("worker"):
        _llm(ctx, exp, "implement")
    else:
        ctx.render(exp, exp.params)
    return smoke_test(ctx, exp, "implement")


def fix(ctx: RoleContext, exp_id: str) -> WorkerOutcome:
    exp = ctx.board.get(exp_id)
    if ctx.uses_llm("worker"):
        _llm(ctx, exp, "fix", error_log=error_log(ctx.exp_dir(exp.id), exp))
        return smoke_test(ctx, exp, "fix")
    space = ctx.manifest.search_space
    fallback = space.fallback if space else {}
    if not fallback or exp.spec.get("fallback_applied"):
        return WorkerOutcome(exp_id=exp.id, task="fix", ok=False, gave_up=True, error_signature=exp.error_signature,
                             detail="no fallback left to try")
    params = exp.params | fallback
    spec = exp.spec | {"params": params, "fallback_applied": True}
    ctx.render(exp, params)
    outcome = smoke_test(ctx, exp, "fix")
    return outcome.model_copy(update={"spec": spec, "detail": f"applied fallback {fallback}; {outcome.detail}"})


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
            lines.append(f"- differs from the best in: {changed}")
    lines += ["", "## Follow-ups",
              "- " + ("verify with a fresh seed, then explore around this configuration" if improved
                      else "deprioritize this region of the search space")]
    return "\n".join(lines) + "\n"


def analyze(ctx: RoleContext, exp_id: str) -> WorkerOutcome:
    exp = ctx.board.get(exp_id)
    path = ctx.exp_dir(exp.id) / DEBRIEF
    if ctx.uses_llm("worker"):
        metrics = json.dumps(exp.metrics, sort_keys=True)
        report = _llm(ctx, exp, "analyze", metrics=metrics)
        if not path.is_file():  # the agent reported instead of writing the file: its report is the debrief
            path.write_text(f"# Debrief: {exp.id}\n\n{report}\n")
    else:
        path.write_text(debrief_markdown(ctx, exp))
    return WorkerOutcome(exp_id=exp.id, task="analyze", ok=True, detail=f"debrief written to {path.name}")
