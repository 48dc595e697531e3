"""The Strategist: proposes experiments, cancels unpromising ones and keeps the playbook.

Its view of the campaign is bounded whatever the campaign's length: the top of the leaderboard plus the latest
entries, the most recent debriefs (those not seen before marked new; all cut to share VIEW_BUDGET_CHARS with the
playbook) and one line per older result, the compacted playbook, the Phase 1 learnings, the last operator notes and
a one-line board summary.

Baseline (no LLM): Optuna TPE over the adapter's search space, seeded with the campaign seed and warm-started from
every finished experiment on the board, so a resumed campaign continues the same study. The first proposal of a
campaign is the search space's `reference`.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from alphalab.board import Board
from alphalab.board_rows import Experiment
from alphalab.campaign import Campaign
from alphalab.errors import PhaseFailed
from alphalab.experiment_files import DEBRIEF
from alphalab.leaderboard_text import leaderboard_markdown
from alphalab.manifest import SearchParam
from alphalab.phase3.contracts import StrategistInput, StrategistOutput
from alphalab.playbook import Playbook
from alphalab.ranking import ordered, ranks
from alphalab.roles.base import RoleContext
from alphalab.roles.prompts import RolePrompt, message, nested, system_prompt
from alphalab.tools.board_tools import StrategistTurn, strategist_tools
from alphalab.tools.files import read_file
from alphalab.tools.report import report_to_user

TEMPLATE = "phase3_strategist.md"
MAX_RECENT_DEBRIEFS = 8
DEBRIEF_CHARS = 1200
MIN_DEBRIEF_CHARS = 300
DEBRIEF_FLOOR_CHARS = 1200
# The campaign state shown to the Strategist (playbook, leaderboard, notes, debriefs) is held to about this many
# characters (~1.75k tokens): the debriefs fill what the playbook leaves, so once a campaign has some history its
# prompt stops growing however long it runs. Full debriefs stay one read_file away.
VIEW_BUDGET_CHARS = 7_000
OLDER_RESULT_LINES = 10
NOTES_SHOWN = 5


class StrategistView(BaseModel):
    """What this turn shows the Strategist (its user message), plus the debriefs it consumes."""

    turn: int
    leaderboard: str
    recent_debriefs: str
    operator_notes: str
    budget_left: int
    budget_total: int
    budget_tier: str
    board_summary: str
    proposals_wanted: int
    seen: list[str] = Field(default_factory=list, exclude=True)


def budget_tier(left: int, total: int, analyzed: int) -> str:
    """The paper's graduated budget management, by the share of the experiment budget left; until a result has
    been analyzed there is nothing to focus on, so the Strategist explores whatever the budget."""
    share = left / max(total, left, 1)
    if left <= 0:
        return "stop: no budget left; summarize the campaign in the playbook"
    if analyzed == 0 or share > 0.5:
        return "explore: broad exploration of diverse approaches"
    if share > 0.25:
        return "focus: concentrate on the most promising families"
    if share > 0.1:
        return "refine: refine the best configurations"
    return "strong evidence only: propose only what the evidence strongly supports"


def _value(e: Experiment, metric: str) -> str:
    return f"{e.metrics[metric]:.6g}" if metric in e.metrics else "-"


def _one_line(e: Experiment, metric: str) -> str:
    flag = f" [{e.error_signature}]" if e.error_signature else ""
    return f"- {e.id} {e.state}: {metric} {_value(e, metric)}{flag} -- {e.name}"


def _debriefs(env: Campaign, budget: int) -> tuple[str, list[str]]:
    """The most recent debriefs, newest first, each cut so that all fit in `budget` characters; what does not fit,
    and older results, get one line each. Returns the text and the ids of the debriefs not seen before."""
    board, metric = env.board, env.metric.name
    analyzed = board.analyzed()
    shown = analyzed[-MAX_RECENT_DEBRIEFS:]
    rest = analyzed[: len(analyzed) - len(shown)] + board.select("dead", kind="experiment")
    older = "\n".join(_one_line(e, metric) for e in sorted(rest, key=lambda e: e.seq)[-OLDER_RESULT_LINES:])
    room = max(DEBRIEF_FLOOR_CHARS, budget - len(older))
    per = max(MIN_DEBRIEF_CHARS, min(DEBRIEF_CHARS, room // max(1, len(shown))))
    parts: list[str] = []
    squeezed: list[str] = []
    for e in reversed(shown):
        if room < MIN_DEBRIEF_CHARS:
            squeezed.append(_one_line(e, metric))
            continue
        path = env.exp_dir(e.id) / DEBRIEF
        text = path.read_text().strip() if path.is_file() else "(no debrief written)"
        if len(text) > per:
            text = text[:per] + "\n[... cut; the full debrief is in the experiment folder]"
        new = " (new)" if e.state == "analyzed" else ""
        # its own title is this heading; its sections go below it
        text = nested(re.sub(r"\A# Debrief[^\n]*\n+", "", text), under=3)
        parts.append(f"### {e.id}{new} ({metric} {_value(e, metric)})\n{text}")
        room -= len(parts[-1])
    lines = "\n".join(squeezed + ([older] if older else []))
    if lines:
        parts.append("### Earlier results (one line each)\n" + lines)
    unseen = [e.id for e in analyzed if e.state == "analyzed"]
    return "\n\n".join(parts), unseen


def board_summary(board: Board, usd_spent: float) -> str:
    counts = ", ".join(f"{k}: {v}" for k, v in board.counts().items() if v) or "the board is empty"
    return f"{counts}; LLM spend so far ${usd_spent:.2f}"


def build_view(env: Campaign, inp: StrategistInput, playbook_chars: int = 0) -> StrategistView:
    notes = "\n".join(f"- {n.text}" for n in env.board.notes(limit=NOTES_SHOWN))
    leaderboard = leaderboard_markdown(env)
    debriefs, seen = _debriefs(env, VIEW_BUDGET_CHARS - playbook_chars - len(leaderboard) - len(notes))
    total = env.config.budgets.experiments
    return StrategistView(
        turn=inp.turn, leaderboard=leaderboard, recent_debriefs=debriefs, operator_notes=notes,
        budget_left=inp.budget_left, budget_total=total,
        budget_tier=budget_tier(inp.budget_left, total, env.board.analyzed_count()),
        board_summary=board_summary(env.board, inp.usd_spent), proposals_wanted=inp.proposals_wanted, seen=seen,
    )


def user_message(view: StrategistView) -> str:
    return message(
        f"Strategist turn {view.turn}: propose up to {view.proposals_wanted} experiment(s) with propose_experiment, "
        "cancel queued ones the evidence argues against, record lessons with update_playbook, then call "
        "report_to_user.",
        ("Budget", f"{view.budget_left} of {view.budget_total} experiments left; tier {view.budget_tier}"),
        ("Board", view.board_summary),
        ("Leaderboard (full results only)", view.leaderboard),
        ("Recent debriefs", view.recent_debriefs),
        ("Notes from the operator (take them into account this turn)", view.operator_notes),
    )


def prompt(ctx: RoleContext, view: StrategistView) -> RolePrompt:
    return RolePrompt(template=TEMPLATE, variables={"search_space": ctx.manifest.search_space_text()},
                      task=user_message(view))


def run(ctx: RoleContext, inp: StrategistInput) -> StrategistOutput:
    playbook = Playbook(ctx.workspace.playbook, ctx.config.phase3.playbook_max_chars)
    view = build_view(ctx, inp, playbook_chars=len(playbook.read()))
    this_turn = prompt(ctx, view)
    prompt_chars = sum(map(len, system_prompt(ctx, ctx.adapter, this_turn))) + len(this_turn.task)
    turn = StrategistTurn(proposals_wanted=inp.proposals_wanted)
    report = ""
    if ctx.uses_llm("strategist"):
        from alphalab.roles.llm import report_text, run_llm_role

        result = run_llm_role(
            ctx, "strategist", adapter=ctx.adapter, prompt=this_turn,
            tools=[*strategist_tools(ctx.board, playbook, turn, ctx.manifest, ctx.seed_for), read_file,
                   report_to_user],
            label=f"turn{inp.turn:03d}",
        )
        report = report_text(result)
    else:
        _baseline(ctx, inp, turn, playbook)
    ctx.log(f"strategist turn {inp.turn}: proposed {turn.proposed}, cancelled {turn.cancelled}")
    return StrategistOutput(proposed=turn.proposed, cancelled=turn.cancelled, playbook_updated=turn.playbook_updated,
                            seen_debriefs=view.seen, prompt_chars=prompt_chars, report=report)


# ---- baseline: Optuna TPE ------------------------------------------------------------------------------------------

def _distribution(p: SearchParam) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if p.type == "categorical":
        return CategoricalDistribution(p.choices)
    if p.type == "int":
        return IntDistribution(int(p.low), int(p.high), log=p.log)
    return FloatDistribution(p.low, p.high, log=p.log)


def _tidy(value: Any, p: SearchParam) -> Any:
    if p.type == "float":
        return min(max(float(f"{value:.4g}"), p.low), p.high)
    return value


def proposal_name(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _study(env: Campaign, rows: list[Experiment], space: list[SearchParam]) -> Any:
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    dists = {p.name: _distribution(p) for p in space}
    metric = env.metric
    # reseeding with the number of rows makes every turn deterministic from the board alone (resume-safe)
    sampler = optuna.samplers.TPESampler(seed=env.config.seed + len(rows), n_startup_trials=5)
    study = optuna.create_study(direction="minimize" if metric.direction == "min" else "maximize", sampler=sampler)
    for e in rows:
        params = {k: v for k, v in e.params.items() if k in dists}
        if len(params) != len(dists):
            continue
        try:
            if ranks(e, metric):
                study.add_trial(optuna.trial.create_trial(params=params, distributions=dists,
                                                          value=e.metrics[metric.name]))
            elif e.state == "dead":
                study.add_trial(optuna.trial.create_trial(params=params, distributions=dists,
                                                          state=optuna.trial.TrialState.FAIL))
        except ValueError:  # a hand-made config outside the search space cannot warm-start TPE
            continue
    return study, dists


def _baseline(env: Campaign, inp: StrategistInput, turn: StrategistTurn, playbook: Playbook) -> None:
    space = env.manifest.search_space
    if space is None:
        raise PhaseFailed("the baseline Strategist needs a `search_space` in the adapter's manifest")
    board = env.board
    rows = board.select(kind="experiment")
    seen = {tuple(sorted(e.params.items())) for e in rows}
    proposals: list[dict[str, Any]] = []
    if not rows and inp.proposals_wanted:
        proposals.append(space.reference_params())
    study, dists = _study(env, rows, space.params)
    by_name = {p.name: p for p in space.params}
    tries = 0
    while len(proposals) < inp.proposals_wanted and tries < 50 * max(inp.proposals_wanted, 1):
        tries += 1
        trial = study.ask(dists)
        params = {k: _tidy(v, by_name[k]) for k, v in trial.params.items()}
        key = tuple(sorted(params.items()))
        if key in seen:
            continue
        seen.add(key)
        proposals.append(params)
    for i, params in enumerate(proposals):
        hypothesis = ("the search space's reference configuration" if not rows and i == 0
                      else f"TPE proposal of turn {inp.turn}")
        exp = board.add(name=proposal_name(params), hypothesis=hypothesis, spec={"params": params})
        board.update(exp.id, seed=env.seed_for(exp.seq))
        turn.proposed.append(exp.id)
    lessons = playbook_lessons(env, rows)
    if lessons:
        playbook.append(f"Turn {inp.turn}", lessons)
        turn.playbook_updated = True


def playbook_lessons(env: Campaign, rows: list[Experiment]) -> str:
    """What the board says so far: the best configuration, per-choice averages, frequent failures."""
    metric = env.metric
    ok = ordered(rows, metric)
    if not ok:
        return ""
    sign = 1 if metric.direction == "min" else -1
    best = ok[0]
    lines = [f"- Best so far: {best.id} {metric.name}={best.metrics[metric.name]:.6g} with {best.params}"]
    space = env.manifest.search_space
    for p in space.params if space else []:
        if p.type != "categorical":
            continue
        groups: dict[Any, list[float]] = {}
        for e in ok:
            if p.name in e.params:
                groups.setdefault(e.params[p.name], []).append(e.metrics[metric.name])
        if len(groups) > 1:
            means = ", ".join(f"{k}: {sum(v) / len(v):.4g} (n={len(v)})" for k, v in sorted(
                groups.items(), key=lambda kv: sign * sum(kv[1]) / len(kv[1])))
            lines.append(f"- {p.name} mean {metric.name}, best first: {means}")
    failures = Counter(e.error_signature for e in rows if e.state == "dead" and e.error_signature)
    if failures:
        lines.append("- Frequent failures: " + ", ".join(f"{k} x{v}" for k, v in failures.most_common(3)))
    return "\n".join(lines)
