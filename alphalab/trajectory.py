"""An agent's trajectory on disk: one JSONL line per step as it goes, one `end` line however the loop stops, and the
conversation read back from it so that a run cut short (a provider error a Prefect retry recovers from, a killed
process) resumes at its last recorded step instead of paying for the same steps again.

What counts as "cut short": the lines after the last clean end (finished, or a limit reached) hold steps, and either
no end line (killed) or an end line of a run that raised (`provider_error: ...`, `error: ...`). A clean end means
the next run of that label is a new one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from alphalab.models.base import Message, Usage

# the reasons `Agent.run` writes when the loop raised rather than ended
RAISED_PREFIXES = ("provider_error", "error:")
INTERRUPTED = "error: the run was interrupted before this tool call finished; call it again if it is still needed"


class AgentResult(BaseModel):
    finished: bool
    payload: Any = None
    # finished | max_steps | max_tokens | max_usd | max_wall_seconds | no_tool_call | provider_error: ... | error: ...
    reason: str
    usage: Usage = Usage()  # this agent's calls plus those of the sub-agents it spawned
    cost_usd: float = 0.0
    steps: int = 0
    final_text: str = ""


class ToolOutcome(BaseModel):
    call_id: str
    name: str
    output: str  # as the model saw it, after truncation
    is_error: bool = False
    images: int = 0


class TrajectoryStep(BaseModel):
    kind: str = "step"  # "step" per model call, one "end" line when the loop stops
    step: int
    time: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    agent: str
    # messages added to the conversation in this step (the first step also carries system and task)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    tools: list[ToolOutcome] = Field(default_factory=list)
    usage: Usage = Usage()
    cost_usd: float = 0.0
    total_usage: Usage = Usage()
    total_cost_usd: float = 0.0
    compacted: int = 0  # tool outputs replaced by a summary before this step's model call
    result: AgentResult | None = None


class Resumed(BaseModel):
    """Where a cut-short run stood after its last recorded step."""

    messages: list[Message]
    steps: int
    usage: Usage
    cost_usd: float


def message_record(m: Message) -> dict[str, Any]:
    # image bytes would bloat the trajectory; their count is enough to replay what happened
    return m.model_dump(exclude={"images"}, exclude_defaults=True) | ({"images": len(m.images)} if m.images else {})


def append_record(path: Path, record: TrajectoryStep) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(record.model_dump_json(exclude_none=True, fallback=str) + "\n")


def _records(path: Path) -> list[TrajectoryStep]:
    out: list[TrajectoryStep] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(TrajectoryStep.model_validate_json(line))
        except ValidationError:
            continue  # the line a kill cut in half: the steps before it still stand
    return out


def _closed(messages: list[Message]) -> list[Message]:
    """Every tool call answered: a call whose result was never recorded gets an error result, so the provider
    accepts the conversation and the model knows to check."""
    out: list[Message] = []
    pending: list[Message] = []
    for m in messages:
        if m.role != "tool" and pending:
            out += pending
            pending = []
        if m.role == "tool":
            pending = [p for p in pending if p.tool_call_id != m.tool_call_id]
        out.append(m)
        if m.role == "assistant":
            pending = [Message(role="tool", content=INTERRUPTED, tool_call_id=c.id, name=c.name, is_error=True)
                       for c in m.tool_calls]
    return out + pending


def resume_point(path: Path) -> Resumed | None:
    """The conversation of the run this trajectory's last lines belong to, when that run was cut short."""
    if not path.is_file():
        return None
    records = _records(path)
    clean = [i for i, r in enumerate(records)
             if r.kind == "end" and r.result is not None and not r.result.reason.startswith(RAISED_PREFIXES)]
    steps = [r for r in records[clean[-1] + 1 if clean else 0:] if r.kind == "step"]
    if not steps:
        return None
    messages = [Message.model_validate({k: v for k, v in m.items() if k != "images"})
                for s in steps for m in s.messages]
    if not messages or messages[0].role != "system":
        return None
    last = steps[-1]
    return Resumed(messages=_closed(messages), steps=last.step, usage=last.total_usage, cost_usd=last.total_cost_usd)
