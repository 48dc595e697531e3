"""The Strategist's tools: read the board, propose and cancel experiments, update the playbook.

`strategist_tools` builds them for one turn, bound to the board, the playbook and the turn's tally they act on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from alphalab.board import Board, Experiment, IllegalTransition, UnknownExperiment
from alphalab.manifest import Manifest
from alphalab.playbook import Playbook
from alphalab.tools.base import Tool, ToolContext, ToolError, tool


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


def _check_params(manifest: Manifest | None, spec: dict[str, Any]) -> None:
    params = spec.get("params")
    if params is not None and not isinstance(params, dict):
        raise ToolError("spec['params'] must be an object of param name -> value")
    if manifest is not None and manifest.search_space is not None and params:
        known = {p.name for p in manifest.search_space.params}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ToolError(f"unknown params {unknown}; the search space has {sorted(known)}")


def strategist_tools(board: Board, playbook: Playbook, turn: StrategistTurn, manifest: Manifest | None,
                     seed_for: Callable[[int], int]) -> list[Tool]:
    """read_board, propose_experiment, cancel_experiment and update_playbook, acting on these objects; `turn`
    records what they did and caps the proposals; `manifest` (when given) names the metric and checks params."""

    @tool
    def read_board(ctx: ToolContext, state: str | None = None, limit: int = 30) -> str:
        """List experiments on the board (newest last). Shows id, state, primary metric (or error signature), fix
        attempts and name.

        Args:
            state: only experiments in this state (to_implement, queued, running, analyzed, failed, dead, ...).
            limit: show at most this many of the newest experiments (up to 200).
        """
        rows = board.select(state) if state else board.select()
        metric = manifest.primary.name if manifest is not None else "metric"
        return board_table(rows[-max(1, min(limit, 200)):], metric) if rows else "the board is empty"

    @tool
    def propose_experiment(ctx: ToolContext, name: str, hypothesis: str, spec: dict[str, Any],
                           parent: str | None = None) -> str:
        """Add one experiment to the board. Returns the new experiment's id.

        Args:
            name: a short name for the experiment.
            hypothesis: what you expect it to show, and why.
            spec: what to build: for a domain with a search space, put the configuration under spec["params"];
                add anything else a Worker needs (architecture, features, tricks).
            parent: the id of the experiment this one builds on.
        """
        if len(turn.proposed) >= turn.proposals_wanted:
            raise ToolError(f"this turn may propose at most {turn.proposals_wanted} experiment(s); "
                            "cancel or finish instead")
        if not name.strip():
            raise ToolError("name must not be empty")
        _check_params(manifest, spec)
        if parent is not None:
            try:
                board.get(parent)
            except UnknownExperiment as e:
                raise ToolError(str(e)) from None
        exp = board.add(name=name.strip(), hypothesis=hypothesis, spec=spec, parent=parent)
        board.update(exp.id, seed=seed_for(exp.seq))
        turn.proposed.append(exp.id)
        return f"proposed {exp.id}"

    @tool
    def cancel_experiment(ctx: ToolContext, exp_id: str, reason: str) -> str:
        """Cancel an experiment that has not finished (to_implement, implemented, checked, queued, running or
        failed), e.g. because the evidence says it is unlikely to help.

        Args:
            exp_id: the experiment's id.
            reason: why; it is kept on the board.
        """
        try:
            board.cancel(exp_id, reason)
        except (IllegalTransition, UnknownExperiment) as e:
            raise ToolError(str(e)) from None
        turn.cancelled.append(exp_id)
        return f"cancelled {exp_id}"

    @tool
    def update_playbook(ctx: ToolContext, content: str, mode: Literal["replace", "append"] = "append",
                        heading: str = "") -> str:
        """Record lessons in the playbook (what works, what fails, why). The playbook is compacted when it grows
        past its size budget: keep it dense.

        Args:
            content: the lessons, in Markdown.
            mode: `append` adds a `## heading` section; `replace` rewrites the whole playbook (use it to
                consolidate).
            heading: the heading of the appended section (needed for `append`).
        """
        if not content.strip():
            raise ToolError("content is empty")
        if mode == "append" and not heading.strip():
            raise ToolError("append needs a heading")
        stored = playbook.write(content) if mode == "replace" else playbook.append(heading.strip(), content)
        turn.playbook_updated = True
        return f"playbook updated ({len(stored)} characters)"

    return [read_board, propose_experiment, cancel_experiment, update_playbook]
