"""The greedy loop baseline (Karpathy's autoresearch, the paper's section 3): one agent repeatedly changes the best
experiment, the loop runs the change and keeps it when the primary metric improves, reverting otherwise.

Keep/revert needs no copying back: each iteration works in a fresh experiment folder started from the current best,
and the current best is the top of the board's leaderboard, so a reverted change is simply never built on.

- baseline policy: the first experiment is the search space's reference; each later one changes ONE parameter of
  the current best (a seeded draw per iteration, so a resumed loop repeats the same choices), skipping
  configurations already on the board;
- LLM: the worker's model edits a copy of the current best's files (the reference rendered from the adapter's
  template is the start when the adapter has one; otherwise the agent writes the first version), seeing the
  history of earlier changes and their results.
"""

from __future__ import annotations

import math
import random
import shutil
from typing import Any, Literal

from pydantic import BaseModel

from alphalab.roles.baselines.trial import ROLE, TrialOutcome, queue_without_smoke, run_full
from alphalab.board_rows import Experiment
from alphalab.errors import PhaseFailed
from alphalab.experiment_files import RUN_OUTPUTS
from alphalab.campaign import Campaign
from alphalab.manifest import SearchParam, SearchSpace
from alphalab.ranking import LeaderboardEntry, beats
from alphalab.roles.base import RoleContext
from alphalab.roles.prompts import RolePrompt, message
from alphalab.roles.worker import TEMPLATE

METHOD = "greedy loop"
PHASE = "greedy"
MAX_DRAWS = 200
HISTORY_LINES = 20
NO_SMOKE = "the greedy loop runs the full evaluation directly; a crash is a reverted change"


class GreedyStep(BaseModel):
    """One proposed change: the experiment row and whether its files are ready to run."""

    exp_id: str
    parent: str | None
    kind: Literal["reference", "mutation", "edit", "scratch"]
    change: str
    ready: bool


class GreedyDecision(BaseModel):
    exp_id: str
    kept: bool
    outcome: TrialOutcome
    best_id: str | None
    best_value: float | None


# ---- the baseline policy: one parameter at a time ----------------------------------------------------------------

def _new_value(p: SearchParam, current: Any, rng: random.Random) -> Any:
    if p.type == "categorical":
        others = [c for c in p.choices if c != current]
        return rng.choice(others) if others else current
    low, high = p.low, p.high
    if p.type == "int":
        span = max(1, int(round((high - low) / 4)))
        return int(min(max(int(current) + rng.choice((-1, 1)) * rng.randint(1, span), low), high))
    if p.log and low > 0:  # a multiplicative step, as for learning rates
        value = float(current) * math.exp(rng.gauss(0.0, 0.5))
    else:
        value = float(current) + rng.gauss(0.0, 0.25 * (high - low))
    return min(max(float(f"{value:.4g}"), low), high)


def mutate(params: dict[str, Any], space: SearchSpace, rng: random.Random,
           seen: set[tuple]) -> tuple[dict[str, Any], str] | None:
    """A configuration that differs from `params` in one parameter and is not in `seen`; None when none is found."""
    for _ in range(MAX_DRAWS):
        p = rng.choice(space.params)
        current = params.get(p.name)
        new = _new_value(p, current, rng)
        candidate = params | {p.name: new}
        if new != current and config_key(candidate) not in seen:
            return candidate, f"{p.name}: {current} -> {new}"
    return None


def config_key(params: dict[str, Any]) -> tuple:
    return tuple(sorted(params.items()))


def iteration_rng(env: Campaign, n: int) -> random.Random:
    return random.Random(env.config.seed * 1_000_003 + n)


# ---- one iteration --------------------------------------------------------------------------------------------------

def _row(env: Campaign, n: int, name: str, spec: dict[str, Any], parent: str | None) -> Experiment:
    """The iteration's board row; a row a failed attempt of this step left behind is taken over, not duplicated."""
    pending = env.board.select("to_implement", kind="experiment")
    if pending:
        exp = pending[-1]
        env.board.update(exp.id, spec=spec)
    else:
        exp = env.board.add(name=name, spec=spec, parent=parent, hypothesis=f"greedy iteration {n + 1}")
        exp = env.board.update(exp.id, seed=env.seed_for(exp.seq))
    env.exp_dir(exp.id).mkdir(parents=True, exist_ok=True)
    return env.board.get(exp.id)


def _require_policy_inputs(env: Campaign) -> SearchSpace:
    space = env.manifest.search_space
    if space is None or not env.manifest.experiment.template_dir:
        raise PhaseFailed(f"{METHOD}: the baseline policy needs the adapter's `search_space` and "
                          "`experiment.template_dir`; give the worker role a model instead")
    return space


def _tried(env: Campaign) -> list[Experiment]:
    return [e for e in env.board.select(kind="experiment") if e.state not in ("to_implement", "cancelled")]


def _reference(env: Campaign, n: int, space: SearchSpace) -> GreedyStep:
    params = space.reference_params()
    exp = _row(env, n, "reference", {"params": params, "change": "the search space's reference"}, None)
    env.render(exp, params)
    return GreedyStep(exp_id=exp.id, parent=None, kind="reference", change="reference", ready=True)


def _propose_baseline(env: Campaign, n: int, best: LeaderboardEntry | None) -> GreedyStep | None:
    space = _require_policy_inputs(env)
    tried = _tried(env)
    if not tried:
        return _reference(env, n, space)
    # no result yet: move away from the reference
    base = env.board.get(best.id).params if best else space.reference_params()
    seen = {config_key(e.params) for e in tried}
    found = mutate(base, space, iteration_rng(env, n), seen)
    if found is None:
        return None
    params, change = found
    exp = _row(env, n, change, {"params": params, "change": change}, best.id if best else None)
    env.render(exp, params)
    return GreedyStep(exp_id=exp.id, parent=best.id if best else None, kind="mutation", change=change, ready=True)


def history(env: Campaign) -> str:
    metric = env.metric.name
    lines = []
    for e in env.board.select("done", "dead", kind="experiment")[-HISTORY_LINES:]:
        result = f"{metric}={e.metrics[metric]:.6g}" if metric in e.metrics else f"failed ({e.error_signature})"
        lines.append(f"- {e.id} (from {e.parent or 'scratch'}): {e.spec.get('change', e.name)} -> {result}; "
                     f"{e.note.split(';')[0]}")
    return "\n".join(lines)


def _agent_task(env: Campaign, exp: Experiment, best: LeaderboardEntry | None, n: int, budget: int) -> str:
    metric = env.metric
    files = ", ".join(env.manifest.experiment.required_files)
    goal = f"{metric.name} ({'lower' if metric.direction == 'min' else 'higher'} is better)"
    if best is None:
        opening = (f"No experiment has a result yet. Write experiment {exp.id} from scratch in {env.exp_dir(exp.id)} "
                   f"(required files: {files}).")
    else:
        opening = (f"The folder {env.exp_dir(exp.id)} holds a copy of the current best experiment {best.id} "
                   f"({metric.name}={best.value:.6g}). Make ONE focused change to its files that you expect to "
                   f"improve {goal}; keep the required files ({files}) working.")
    return message(f"Greedy loop, iteration {n + 1} of {budget}. {opening} Do not run the full evaluation: the loop "
                   "runs it after you finish, keeps your change when the metric improves and reverts it otherwise.",
                   ("Earlier iterations", history(env)),
                   closing="When done, call report_to_user with one line describing the change.")


def _propose_llm(ctx: RoleContext, n: int, budget: int, best: LeaderboardEntry | None) -> GreedyStep:
    from alphalab.roles.llm import report_text, run_llm_role
    from alphalab.tools import general_tools, report_to_user

    space = ctx.manifest.search_space
    if space and ctx.manifest.experiment.template_dir and not _tried(ctx):
        return _reference(ctx, n, space)
    exp = _row(ctx, n, f"greedy edit {n + 1}", {"change": "(agent working)"}, best.id if best else None)
    if best is not None:
        shutil.copytree(ctx.exp_dir(best.id), ctx.exp_dir(exp.id), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*RUN_OUTPUTS))
    # the Worker's implement prompt; the iteration, the best and the history are this call's user message
    prompt = RolePrompt(template=TEMPLATE, variables={"task": "implement"},
                        task=_agent_task(ctx, exp, best, n, budget))
    result = run_llm_role(ctx, ROLE, adapter=ctx.adapter, prompt=prompt, tools=[*general_tools(), report_to_user],
                          label=f"{exp.id}")
    change = (report_text(result) or f"(no report: {result.reason})").strip().splitlines()[0][:300]
    ctx.board.update(exp.id, spec={"change": change})
    missing = [f for f in ctx.manifest.experiment.required_files if not (ctx.exp_dir(exp.id) / f).is_file()]
    if missing:
        ctx.board.transition(exp.id, "failed", error_signature="missing-files",
                             note=f"the agent left required files missing: {missing} ({result.reason})")
        ctx.board.transition(exp.id, "dead", note=f"reverted: the agent left required files missing: {missing}")
    return GreedyStep(exp_id=exp.id, parent=best.id if best else None, kind="edit" if best else "scratch",
                      change=change, ready=not missing)


def propose(ctx: RoleContext, n: int, budget: int) -> GreedyStep | None:
    """Iteration `n` (from 0): create the experiment that changes the current best, with its files written. None
    when the baseline policy finds no untried one-parameter change of the best: the loop has converged."""
    best = ctx.board.best(ctx.metric)
    if ctx.uses_llm(ROLE):
        step = _propose_llm(ctx, n, budget, best)
    else:
        step = _propose_baseline(ctx, n, best)
    if step is None:
        ctx.log(f"greedy iteration {n + 1}: every one-parameter change of the best has been tried")
        return None
    ctx.log(f"greedy iteration {n + 1}: {step.exp_id} ({step.kind}) {step.change}")
    return step


def evaluate(ctx: RoleContext, exp_id: str) -> GreedyDecision:
    """Run the change and keep it when it beats the best so far (it then tops the leaderboard); revert otherwise."""
    before = ctx.board.best(ctx.metric)
    queue_without_smoke(ctx.board, exp_id, NO_SMOKE)
    outcome = run_full(ctx, exp_id)
    previous_value = before.value if before else None
    kept = outcome.ok and outcome.value is not None and beats(ctx.metric, outcome.value, previous_value)
    previous = f"{before.id} ({before.value:.6g})" if before else "no earlier result"
    if outcome.ok:
        verdict = f"kept: new best, beats {previous}" if kept else f"reverted: not better than {previous}"
        ctx.board.update(exp_id, note=verdict)
    else:
        verdict = f"reverted: the run failed ({outcome.error_signature})"
        ctx.board.transition(exp_id, "dead", note=verdict)
    best = ctx.board.best(ctx.metric)
    ctx.log(f"greedy {exp_id}: {verdict}")
    return GreedyDecision(exp_id=exp_id, kept=kept, outcome=outcome, best_id=best.id if best else None,
                          best_value=best.value if best else None)


def iterations_done(ctx: RoleContext) -> int:
    """Experiments already through the loop (a resumed loop continues the count); cancelled ones do not count."""
    return len(ctx.board.select("done", "dead", kind="experiment"))
