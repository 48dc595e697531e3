"""Workers: one task each. `implement` writes `experiments/<id>/` and passes the smoke test, `analyze` writes the
debrief, `fix` patches a failed experiment and passes the smoke test again.

The smoke test is always run here by trusted code (never judged from an agent's words). Workers return a typed
outcome; the Dispatcher owns the board transitions.

Baseline (no LLM): implement renders the adapter's `experiment.template_dir` (jinja2; variables `params` and
`experiment`); analyze writes a templated debrief from the metrics; fix applies the search space's `fallback`
overrides once, then gives up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from alphalab.board import Experiment, LeaderboardEntry
from alphalab.experiment_template import TemplateExperiment, render_template_dir
from alphalab.execution import execute
from alphalab.experiment_files import DEBRIEF, RUN_LOG, SMOKE_LOG
from alphalab.phase3 import Phase3Env
from alphalab.roles.base import RoleContext

TEMPLATE = "phase3_worker.md"
ERROR_LOG_CHARS = 4000


class WorkerOutcome(BaseModel):
    exp_id: str
    task: Literal["implement", "analyze", "fix"]
    ok: bool
    gave_up: bool = False
    error_signature: str | None = None
    detail: str = ""
    spec: dict[str, Any] | None = None  # a new spec when the task changed the configuration


class ExperimentView(BaseModel):
    """What the worker template sees as `experiment`."""

    id: str
    name: str
    hypothesis: str
    spec: dict[str, Any]
    seed: int | None


def _tail(path: Path, chars: int) -> str:
    if not path.is_file():
        return ""
    text = path.read_text(errors="replace")
    return text[-chars:]


def error_log(env: Phase3Env, exp: Experiment) -> str:
    d = env.exp_dir(exp.id)
    parts = [f"error signature: {exp.error_signature or 'unknown'}", exp.note]
    for name in (RUN_LOG, SMOKE_LOG):
        tail = _tail(d / name, ERROR_LOG_CHARS)
        if tail:
            parts.append(f"--- tail of {name} ---\n{tail}")
    return "\n".join(p for p in parts if p)


def best_other(env: Phase3Env, exp_id: str | None) -> LeaderboardEntry | None:
    """The leaderboard's best apart from `exp_id`: what that experiment is measured against."""
    return next((e for e in env.board.leaderboard(env.metric) if e.id != exp_id), None)


def best_line(env: Phase3Env, exclude: str | None = None) -> str:
    b = best_other(env, exclude)
    if b is None:
        return "no full-evaluation result yet"
    return f"{b.id} {env.metric.name}={b.value:.6g} ({b.name})"


# ---- the trusted smoke test ----------------------------------------------------------------------------------------

def smoke_test(env: Phase3Env, exp: Experiment, task: Literal["implement", "fix"]) -> WorkerOutcome:
    d = env.exp_dir(exp.id)
    missing = [f for f in env.manifest.experiment.required_files if not (d / f).is_file()]
    if missing:
        return WorkerOutcome(exp_id=exp.id, task=task, ok=False, error_signature="missing-files",
                             detail=f"required files missing: {missing}")
    # the same run path as the full run: only a result the harness recorded for this smoke run passes it
    outcome = execute(env.run_request(exp, slot="", mode="smoke"), job_id=f"smoke-{exp.id}-{exp.attempts}")
    if outcome.ok:
        return WorkerOutcome(exp_id=exp.id, task=task, ok=True, detail="smoke test passed")
    return WorkerOutcome(exp_id=exp.id, task=task, ok=False, error_signature=outcome.error_signature,
                         detail=outcome.error[-ERROR_LOG_CHARS:])


# ---- rendering the experiment template (baseline implement and fix) --------------------------------------------------

def render_experiment(env: Phase3Env, exp: Experiment, params: dict[str, Any]) -> list[str]:
    """Render the adapter's template_dir into the experiment folder; returns the files written, folder-relative."""
    rel = env.manifest.experiment.template_dir
    if not rel:
        raise ValueError("the adapter's manifest has no experiment.template_dir for the baseline Worker")
    dest = env.exp_dir(exp.id)
    written = render_template_dir(
        env.adapter.root / rel, dest, params, TemplateExperiment(id=exp.id, name=exp.name, seed=exp.seed or 0))
    return [p.relative_to(dest).as_posix() for p in written]


# ---- the three tasks ------------------------------------------------------------------------------------------------

def _llm(ctx: RoleContext, env: Phase3Env, exp: Experiment, task: str, **extra: str) -> str:
    from alphalab.roles.llm import report_text, run_llm_role
    from alphalab.tools import grep_file, read_file, report_to_user, shell_exec, write_file

    d = env.exp_dir(exp.id)
    variables = dict(task=task, experiment=ExperimentView(**exp.model_dump(include=set(ExperimentView.model_fields))),
                     exp_dir=str(d), error_log=extra.get("error_log", ""), metrics=extra.get("metrics", ""),
                     best=best_line(env, exclude=exp.id))
    instructions = {
        "implement": f"Implement experiment {exp.id} in {d} (files: {env.manifest.experiment.required_files}).",
        "analyze": f"Analyze experiment {exp.id}: write {d / DEBRIEF} (configuration, result, deltas against the "
                   "best, why it worked or failed, follow-ups).",
        "fix": f"Experiment {exp.id} failed. Read the error log, patch the files in {d}.",
    }[task]
    result = run_llm_role(ctx, "worker", adapter=env.adapter, template=TEMPLATE, variables=variables,
                          task=instructions + " Then call report_to_user.",
                          tools=[read_file, write_file, grep_file, shell_exec, report_to_user],
                          label=f"{task}-{exp.id}-{exp.attempts}")
    return report_text(result)


def implement(ctx: RoleContext, exp_id: str) -> WorkerOutcome:
    env = Phase3Env(ctx.config, ctx.workspace)
    exp = env.board.get(exp_id)
    env.exp_dir(exp.id).mkdir(parents=True, exist_ok=True)
    if ctx.uses_llm("worker"):
        _llm(ctx, env, exp, "implement")
    else:
        render_experiment(env, exp, exp.params)
    return smoke_test(env, exp, "implement")


def fix(ctx: RoleContext, exp_id: str) -> WorkerOutcome:
    env = Phase3Env(ctx.config, ctx.workspace)
    exp = env.board.get(exp_id)
    if ctx.uses_llm("worker"):
        _llm(ctx, env, exp, "fix", error_log=error_log(env, exp))
        return smoke_test(env, exp, "fix")
    space = env.manifest.search_space
    fallback = space.fallback if space else {}
    if not fallback or exp.spec.get("fallback_applied"):
        return WorkerOutcome(exp_id=exp.id, task="fix", ok=False, gave_up=True, error_signature=exp.error_signature,
                             detail="no fallback left to try")
    params = exp.params | fallback
    spec = exp.spec | {"params": params, "fallback_applied": True}
    render_experiment(env, exp, params)
    outcome = smoke_test(env, exp, "fix")
    return outcome.model_copy(update={"spec": spec, "detail": f"applied fallback {fallback}; {outcome.detail}"})


def debrief_markdown(env: Phase3Env, exp: Experiment) -> str:
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
    improved = value is not None and env.manifest.better(value, best.value if best else None)
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
    env = Phase3Env(ctx.config, ctx.workspace)
    exp = env.board.get(exp_id)
    path = env.exp_dir(exp.id) / DEBRIEF
    if ctx.uses_llm("worker"):
        metrics = json.dumps(exp.metrics, sort_keys=True)
        report = _llm(ctx, env, exp, "analyze", metrics=metrics)
        if not path.is_file():  # the agent reported instead of writing the file: its report is the debrief
            path.write_text(f"# Debrief: {exp.id}\n\n{report}\n")
    else:
        path.write_text(debrief_markdown(env, exp))
    return WorkerOutcome(exp_id=exp.id, task="analyze", ok=True, detail=f"debrief written to {path.name}")
