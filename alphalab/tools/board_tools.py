"""The Strategist's tools: read the board, propose and cancel experiments, update the playbook.

They expect in `ctx.extras`: `board` (Board), `playbook` (Playbook), `turn` (StrategistTurn: what this turn did,
and how many proposals it may make), `seed_for` (seq -> seed) and optionally `manifest` (to check params).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from alphalab.board import Board, Experiment, IllegalTransition, UnknownExperiment
from alphalab.tools.base import ToolContext, ToolError, tool


class StrategistTurn(BaseModel):
    proposals_wanted: int
    proposed: list[str] = Field(default_factory=list)
    cancelled: list[str] = Field(default_factory=list)
    playbook_updated: bool = False


def board_table(rows: list[Experiment], metric: str) -> str:
    lines = [f"| id | state | {metric} | attempts | name |", "| --- | --- | --- | --- | --- |"]
    for e in rows:
        value = e.metrics.get(metric)
        shown = f"{value:.6g}" if value is not None else (e.error_signature or "")
        lines.append(f"| {e.id} | {e.state} | {shown} | {e.attempts} | {e.name} |")
    return "\n".join(lines)


def _board(ctx: ToolContext) -> Board:
    return ctx.extras["board"]


def _turn(ctx: ToolContext) -> StrategistTurn:
    return ctx.extras["turn"]


@tool
def read_board(ctx: ToolContext, state: str | None = None, limit: int = 30) -> str:
    """List experiments on the board (newest last), optionally only one state (to_implement, queued, running,
    analyzed, failed, dead, ...). Shows id, state, primary metric (or error signature), fix attempts and name."""
    board = _board(ctx)
    rows = board.select(state) if state else board.select()
    metric = ctx.extras["manifest"].primary.name if "manifest" in ctx.extras else "metric"
    return board_table(rows[-max(1, min(limit, 200)):], metric) if rows else "the board is empty"


@tool
def propose_experiment(ctx: ToolContext, name: str, hypothesis: str, spec: dict[str, Any],
                       parent: str | None = None) -> str:
    """Add one experiment to the board. `spec` says what to build: for a domain with a search space, put the
    configuration under spec["params"]; add anything else a Worker needs (architecture, features, tricks).
    `parent` is the id of the experiment this one builds on. Returns the new experiment's id."""
    turn = _turn(ctx)
    if len(turn.proposed) >= turn.proposals_wanted:
        raise ToolError(f"this turn may propose at most {turn.proposals_wanted} experiment(s); "
                        "cancel or finish instead")
    if not name.strip():
        raise ToolError("name must not be empty")
    manifest = ctx.extras.get("manifest")
    params = spec.get("params")
    if params is not None and not isinstance(params, dict):
        raise ToolError("spec['params'] must be an object of param name -> value")
    if manifest is not None and manifest.search_space is not None and params:
        known = {p.name for p in manifest.search_space.params}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ToolError(f"unknown params {unknown}; the search space has {sorted(known)}")
    board = _board(ctx)
    if parent is not None:
        try:
            board.get(parent)
        except UnknownExperiment as e:
            raise ToolError(str(e)) from None
    exp = board.add(name=name.strip(), hypothesis=hypothesis, spec=spec, parent=parent)
    board.update(exp.id, seed=ctx.extras["seed_for"](exp.seq))
    turn.proposed.append(exp.id)
    return f"proposed {exp.id}"


@tool
def cancel_experiment(ctx: ToolContext, exp_id: str, reason: str) -> str:
    """Cancel an experiment that has not finished (to_implement, implemented, checked, queued, running or failed),
    e.g. because the evidence says it is unlikely to help. Give the reason; it is kept on the board."""
    try:
        _board(ctx).cancel(exp_id, reason)
    except (IllegalTransition, UnknownExperiment) as e:
        raise ToolError(str(e)) from None
    _turn(ctx).cancelled.append(exp_id)
    return f"cancelled {exp_id}"


@tool
def update_playbook(ctx: ToolContext, content: str, mode: Literal["replace", "append"] = "append",
                    heading: str = "") -> str:
    """Record lessons in the playbook (what works, what fails, why). `append` adds a `## heading` section;
    `replace` rewrites the whole playbook (use it to consolidate). The playbook is compacted when it grows past
    its size budget: keep it dense."""
    if not content.strip():
        raise ToolError("content is empty")
    if mode == "append" and not heading.strip():
        raise ToolError("append needs a heading")
    playbook = ctx.extras["playbook"]
    stored = playbook.write(content) if mode == "replace" else playbook.append(heading.strip(), content)
    _turn(ctx).playbook_updated = True
    return f"playbook updated ({len(stored)} characters)"


STRATEGIST_TOOLS = (read_board, propose_experiment, cancel_experiment, update_playbook)
