"""The Strategist's tools: read the board, propose and cancel experiments, update the playbook.

`strategist_tools` builds them for one turn, bound to the board, the playbook and the turn's tally they act on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from alphalab.board import Board, Experiment, IllegalTransition, UnknownExperiment
from alphalab.manifest import BEYOND_TEMPLATE, Manifest
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


def checked_spec(manifest: Manifest | None, spec: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    """The spec as it goes on the board: with a search space, `params` is a whole configuration of it (see
    SearchSpace.checked); a ToolError names each bad parameter and what it allows."""
    params = spec.get("params", {})
    if not isinstance(params, dict):
        raise ToolError("spec['params'] must be an object of param name -> value")
    beyond = spec.get(BEYOND_TEMPLATE)
    if beyond is not None and not (isinstance(beyond, str) and beyond.strip()):
        raise ToolError(f"spec['{BEYOND_TEMPLATE}'] must say, in words, what to build beyond the template")
    if manifest is None or manifest.search_space is None:
        return spec
    try:
        return spec | {"params": manifest.search_space.checked(params, base)}
    except ValueError as e:
        raise ToolError(f"spec['params'] is not in the search space: {e}") from None


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
        """Add one experiment to the board. Returns the new experiment's id and, with a search space, the whole
        configuration it will run.

        Args:
            name: a short name for the experiment.
            hypothesis: what you expect it to show, and why.
            spec: what to build. With a search space, spec["params"] holds the template's parameters: each value
                must be one of the parameter's choices or within its range (an int parameter takes an integer);
                parameters left out take the parent's values, or the reference's. Code the template does not have
                needs spec["beyond_template"]: what to build, in words (a Worker then writes more than the
                template). Add anything else a Worker needs under other keys.
            parent: the id of the experiment this one builds on.
        """
        if len(turn.proposed) >= turn.proposals_wanted:
            raise ToolError(f"this turn may propose at most {turn.proposals_wanted} experiment(s); "
                            "cancel or finish instead")
        if not name.strip():
            raise ToolError("name must not be empty")
        try:
            base = board.get(parent).params if parent is not None else None
        except UnknownExperiment as e:
            raise ToolError(str(e)) from None
        spec = checked_spec(manifest, spec, base)
        exp = board.add(name=name.strip(), hypothesis=hypothesis, spec=spec, parent=parent)
        board.update(exp.id, seed=seed_for(exp.seq))
        turn.proposed.append(exp.id)
        if manifest is None or manifest.search_space is None:
            return f"proposed {exp.id}"
        return f"proposed {exp.id} with params {json.dumps(spec['params'])}"

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
