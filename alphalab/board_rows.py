"""What a board row is: the experiment states, the moves between them, and the rows the board stores (experiments,
operator notes, finished runs). The board (alphalab/board.py) checks every state change against TRANSITIONS."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from alphalab.errors import AlphalabError

Kind = Literal["experiment", "verify", "noise"]
State = Literal[
    "to_implement", "implemented", "checked", "queued", "running", "finished", "analyzed", "done", "cancelled",
    "failed", "dead",
]
# the paper's nine kanban columns, in order; `failed` and `dead` are shown beside them
COLUMNS: tuple[str, ...] = (
    "to_implement", "implemented", "checked", "queued", "running", "finished", "analyzed", "done", "cancelled",
)
STATES: tuple[str, ...] = State.__args__  # type: ignore[attr-defined]

TRANSITIONS: dict[str, frozenset[str]] = {
    "to_implement": frozenset({"implemented", "failed", "cancelled"}),
    # an implementation interrupted by a crash is simply done again, hence implemented -> implemented
    "implemented": frozenset({"implemented", "checked", "failed", "cancelled"}),
    "checked": frozenset({"queued", "cancelled"}),
    "queued": frozenset({"running", "cancelled"}),
    # running -> queued: a run lost to a crash or a hard stop goes back to the queue
    "running": frozenset({"finished", "failed", "queued", "cancelled"}),
    "finished": frozenset({"analyzed"}),
    "analyzed": frozenset({"done"}),
    # failed -> checked: a fix patched the code and its smoke test passed
    "failed": frozenset({"checked", "dead", "cancelled"}),
    "done": frozenset(),
    "cancelled": frozenset(),
    "dead": frozenset(),
}
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
PENDING = ("to_implement", "implemented", "checked", "queued")
CANCELLABLE = frozenset(s for s, nxt in TRANSITIONS.items() if "cancelled" in nxt)

class IllegalTransition(AlphalabError):
    """A state change the board does not allow (the message names the experiment and both states)."""


class UnknownExperiment(AlphalabError):
    """No experiment with that id on the board."""


class Experiment(BaseModel):
    id: str
    seq: int
    # verify: a fresh-seed re-run of its parent; noise: a run of the reference configuration for the noise floor
    kind: Kind = "experiment"
    name: str
    hypothesis: str = ""
    spec: dict[str, Any] = Field(default_factory=dict)
    parent: str | None = None
    state: State
    attempts: int = 0
    slot: str | None = None
    job_id: str | None = None
    seed: int | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    eval_mode: Literal["smoke", "full"] | None = None
    error_signature: str | None = None
    note: str = ""
    verified: bool | None = None  # its label is `confirmed` (kept for boards written before the labels)
    # what its re-runs settled (alphalab.significance): the label, and the mean, count and spread of its runs
    label: str | None = None
    score: float | None = None
    score_n: int | None = None
    score_spread: float | None = None
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    analyzed_at: float | None = None
    analyzed_seq: int | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.spec.get("params", {}))


class Note(BaseModel):
    id: int
    text: str
    source: str
    created_at: float


class RunRecord(BaseModel):
    exp_id: str
    attempt: int
    slot: str | None
    ok: bool
    error_signature: str | None
    started_at: float | None
    finished_at: float
    seed: int | None = None


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].strip("-") or "exp"
