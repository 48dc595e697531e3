"""The tool-calling loop every LLM role runs.

One step = one model call plus the tool calls it asked for (`step` = `query` + `execute_actions`, after
mini-swe-agent). The loop ends when a terminal tool raises `Finished`, or gracefully when a limit (steps, tokens,
USD, wall time, nudges) raises `LimitReached`; `run` turns either into the AgentResult. Bad tool calls (unknown
tool, invalid JSON, schema violations, a tool's own failure) go back to the model as tool errors. The trajectory is
appended as one JSONL line per step as it goes, so a crash or a kill loses at most the step in flight, and its end
line is written however the loop stops; a run cut short resumes from it (alphalab/trajectory.py). When the
estimated context passes `compact_at_fraction` of the model's window, old tool outputs are replaced by a short
deterministic summary (no model call: compaction must not spend budget or fail).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alphalab.command_output import truncate_middle
from alphalab.config import AgentLimits
from alphalab.cost import PriceTable, UsageLedger
from alphalab.errors import SandboxUnavailable
from alphalab.models.base import Message, Model, ModelResponse, ProviderError, ToolCall, Usage
from alphalab.sandbox import effective_mode
from alphalab.tools.base import Finished, Tool, ToolContext, ToolError, ToolResult
from alphalab.trajectory import AgentResult, ToolOutcome, TrajectoryStep, append_record, message_record, resume_point

# tool outputs of the most recent steps stay verbatim through compaction: the model is working with them
KEEP_RECENT_TOOL_OUTPUTS = 4
# old tool-call arguments above this size (file contents written, long scripts) are compacted too
COMPACT_ARGUMENT_CHARS = 2000
SUMMARY_CHARS = 240
# a message of images costs roughly this many tokens in provider accounting
IMAGE_TOKENS = 1500
MAX_NUDGES = 3
MAX_SPAWN_DEPTH = 2


class LimitReached(Exception):
    """A limit (steps, tokens, USD, wall time, nudges) ends the loop gracefully; the message is the reason."""


@dataclasses.dataclass
class _Turn:
    """One step in flight: what its trajectory line and its progress line report."""

    number: int
    response: ModelResponse
    cost_usd: float
    compacted: int
    outcomes: list[ToolOutcome] = dataclasses.field(default_factory=list)


class _Budget:
    """Tokens, dollars and the wall-clock deadline, shared by an agent and every sub-agent it spawns."""

    def __init__(self, limits: AgentLimits):
        self.limits = limits
        self.started = time.monotonic()
        self.usage = Usage()
        self.cost_usd = 0.0

    def charge(self, usage: Usage, cost_usd: float) -> None:
        self.usage = self.usage + usage
        self.cost_usd += cost_usd

    def seconds_left(self) -> float:
        return self.limits.max_wall_seconds - (time.monotonic() - self.started)

    def exceeded(self) -> str | None:
        spent = {"max_tokens": self.usage.total >= self.limits.max_tokens,
                 "max_usd": self.cost_usd >= self.limits.max_usd, "max_wall_seconds": self.seconds_left() <= 0}
        return next((reason for reason, hit in spent.items() if hit), None)


def estimate_tokens(messages: list[Message]) -> int:
    """About 4 characters per token, plus a flat cost per image: good enough to decide when to compact."""
    chars = sum(len(m.content) + sum(len(c.arguments) + len(c.name) for c in m.tool_calls) for m in messages)
    return chars // 4 + IMAGE_TOKENS * sum(len(m.images) for m in messages)


def _summary(text: str) -> str:
    first = " ".join(text.split())[:SUMMARY_CHARS]
    return f"[compacted to save context: {len(text)} characters; it began: {first}]"


def compact(messages: list[Message], keep_recent: int = KEEP_RECENT_TOOL_OUTPUTS) -> int:
    """Replace old tool outputs (and huge old tool-call arguments) by a summary, in place; return how many.

    The conversation keeps its shape (every tool call keeps its result), so every provider still accepts it.
    """
    tool_idx = [i for i, m in enumerate(messages) if m.role == "tool"]
    if len(tool_idx) <= keep_recent:
        return 0
    keep_from = tool_idx[-keep_recent] if keep_recent else len(messages)
    count = 0
    for i, m in enumerate(messages[:keep_from]):
        if m.role == "tool" and not m.content.startswith("[compacted"):
            messages[i] = m.model_copy(update={"content": _summary(m.content), "images": []})
            count += 1
        elif m.role == "assistant" and any(len(c.arguments) > COMPACT_ARGUMENT_CHARS for c in m.tool_calls):
            calls = [
                c.model_copy(update={"arguments": json.dumps({"_compacted": _summary(c.arguments)})})
                if len(c.arguments) > COMPACT_ARGUMENT_CHARS else c
                for c in m.tool_calls
            ]
            messages[i] = m.model_copy(update={"tool_calls": calls})
    return count


def _describe_call(call: ToolCall, outcome: ToolOutcome) -> str:
    args = " ".join(call.arguments.split())
    first = " ".join(outcome.output.split())
    status = "ERROR " if outcome.is_error else ""
    return f"{call.name}({args[:80]}) -> {status}{first[:80]}"


class Agent:
    def __init__(
        self,
        model: Model,
        tools: list[Tool],
        ctx: ToolContext,
        limits: AgentLimits,
        trajectory_path: Path,
        on_step: Callable[[str], None] | None = None,
        ledger: UsageLedger | None = None,
        *,
        role: str = "agent",
        phase: str = "",
        _budget: _Budget | None = None,
        _depth: int = 0,
    ):
        self.model = model
        self.tools = {t.name: t for t in tools}
        self.limits = limits
        self.trajectory_path = Path(trajectory_path)
        self.on_step = on_step or (lambda line: None)
        self.ledger = ledger
        self.role = role
        self.phase = phase
        self.budget = _budget or _Budget(limits)
        self.depth = _depth
        self.ctx = dataclasses.replace(ctx, agent=self)
        self.usage = Usage()
        self.cost_usd = 0.0
        self.messages: list[Message] = []
        self._children = 0
        self._steps = 0
        self._nudges = 0  # nudges since the model last called a tool
        self._written = 0  # messages already recorded in the trajectory
        self._final_text = ""
        self._shell_timeout = ctx.shell_timeout_s  # the configured one, before clipping to the time left

    @property
    def label(self) -> str:
        return self.role if self.depth == 0 else f"{self.role}/sub{self.depth}"

    # --- sub-agents -------------------------------------------------------------------------------------------
    def spawn(self, system: str, task: str) -> AgentResult:
        """Run a child with its own context, this agent's non-terminal tools, and the shared budget."""
        if self.depth >= MAX_SPAWN_DEPTH:
            raise ToolError(f"sub-agents may not spawn deeper than {MAX_SPAWN_DEPTH} levels; do the work yourself")
        self._children += 1
        child = Agent(
            self.model, [t for t in self.tools.values() if not t.terminal], self.ctx, self.limits,
            self.trajectory_path.with_name(f"{self.trajectory_path.stem}.sub{self._children}.jsonl"),
            on_step=self.on_step, ledger=self.ledger, role=self.role, phase=self.phase, _budget=self.budget,
            _depth=self.depth + 1,
        )
        result = child.run(system, task)
        # the child already charged the shared budget; this agent's own tally reports what it caused
        self.usage = self.usage + result.usage
        self.cost_usd += result.cost_usd
        return result

    # --- the loop ---------------------------------------------------------------------------------------------
    def run(self, system: str | list[str], task: str) -> AgentResult:
        """Raises SandboxUnavailable before any model call when the configured sandbox cannot run commands; any
        other exception propagates after the end line (a TransientProviderError for the caller, a Prefect task, to
        retry, and the retry resumes from the trajectory; any other ProviderError for the campaign to stop on)."""
        if "shell_exec" in self.tools:
            effective_mode(self.ctx.sandbox)  # a strict `bwrap` that cannot run raises; `auto` falls back
        self.trajectory_path.parent.mkdir(parents=True, exist_ok=True)
        # a system prompt in parts keeps them apart (cache tiers: what changes less often first)
        parts = [system] if isinstance(system, str) else system
        self.messages = [Message(role="system", content=p) for p in parts if p] + [Message(role="user", content=task)]
        self._resume()
        result: AgentResult | None = None
        try:
            while True:
                self.step()
        except Finished as f:
            result = self._result("finished", f.payload)
        except LimitReached as e:
            result = self._result(str(e))
        except BaseException as e:  # interrupts and kills too: the end line says how the run stopped
            result = self._result(f"provider_error: {e}" if isinstance(e, ProviderError)
                                  else f"error: {type(e).__name__}: {e}")
            raise
        finally:
            self._end(result)
        return result

    def _resume(self) -> None:
        """A run of this trajectory that was cut short (e.g. the provider failure a Prefect retry now recovers from)
        continues from its last recorded step: its conversation, step count and spend carry over. Sub-agents start
        afresh: their parent's interrupted call is answered as interrupted and the parent decides again."""
        self._children = len(list(self.trajectory_path.parent.glob(f"{self.trajectory_path.stem}.sub*.jsonl")))
        point = resume_point(self.trajectory_path) if self.depth == 0 else None
        if point is None:
            return
        self.messages = point.messages
        self._written = len(point.messages)
        self._steps = point.steps
        self.budget.charge(point.usage, point.cost_usd)
        self.usage, self.cost_usd = point.usage, point.cost_usd
        self.on_step(f"[{self.label}] resuming after step {point.steps} from {self.trajectory_path.name}")

    def step(self) -> None:
        """One model call and the tool calls it asked for; the step's trajectory line is written however it ends."""
        turn = self.query()
        try:
            if turn.response.tool_calls:
                self.execute_actions(turn)
            else:
                self._nudge_or_finish(turn.response)
        finally:
            self._record(turn)

    def query(self) -> _Turn:
        """Check the limits, compact the context if it is full, make one model call and charge it."""
        reason = "max_steps" if self._steps >= self.limits.max_steps else self.budget.exceeded()
        if reason is not None:
            raise LimitReached(reason)
        full = estimate_tokens(self.messages) > self.limits.compact_at_fraction * self.model.context_window
        compacted = compact(self.messages) if full else 0
        self._steps += 1
        response = self.model.complete(self.messages, [t.spec for t in self.tools.values()])
        cost = self._charge(response)
        self.messages.append(Message(role="assistant", content=response.text, tool_calls=response.tool_calls))
        self._final_text = response.text or self._final_text
        return _Turn(self._steps, response, cost, compacted)

    def execute_actions(self, turn: _Turn) -> None:
        """Run the tool calls in order; a terminal tool's Finished stops the rest."""
        self._nudges = 0
        # a command may not run past the agent's wall-clock limit
        self.ctx.shell_timeout_s = max(1.0, min(self._shell_timeout, self.budget.seconds_left()))
        for call in turn.response.tool_calls:
            try:
                turn.outcomes.append(self._execute(call))
            except Finished as f:
                turn.outcomes.append(ToolOutcome(call_id=call.id, name=call.name,
                                                 output=str(f.payload)[:SUMMARY_CHARS]))
                raise

    def _nudge_or_finish(self, response: ModelResponse) -> None:
        terminal = [t.name for t in self.tools.values() if t.terminal]
        if not terminal:  # a sub-agent answers in prose: that answer is its result
            raise Finished(response.text)
        if self._nudges >= MAX_NUDGES:
            raise LimitReached("no_tool_call")
        self._nudges += 1
        self.messages.append(Message(role="user", content="Continue with tool calls. When the work is done, call "
                                     f"{' or '.join(terminal)}."))

    def _charge(self, response: ModelResponse) -> float:
        name = response.model if ":" in response.model else self.model.name
        if self.ledger is not None:
            cost = self.ledger.record(self.role, self.phase, name, response.usage)
        else:
            cost = PriceTable().cost(name, response.usage).usd
        self.usage = self.usage + response.usage
        self.cost_usd += cost
        self.budget.charge(response.usage, cost)
        return cost

    def _execute(self, call: ToolCall) -> ToolOutcome:
        tool = self.tools.get(call.name)
        try:
            if tool is None:
                raise ToolError(f"unknown tool {call.name!r}; available tools: {', '.join(sorted(self.tools))}")
            result = tool(self.ctx, call.arguments)
        except (Finished, SandboxUnavailable):  # done, or a setup problem the model cannot fix: the run ends
            raise
        except ToolError as e:
            result = ToolResult(text=f"error: {e}", is_error=True)
        except Exception as e:  # a broken tool must not end the run: the model can try another way
            result = ToolResult(text=f"error: tool {call.name} failed: {type(e).__name__}: {e}", is_error=True)
        text = truncate_middle(result.text, self.limits.tool_output_chars)
        images = result.images if self.model.supports_images else []
        self.messages.append(Message(role="tool", content=text, tool_call_id=call.id, name=call.name,
                                     images=images, is_error=result.is_error))
        return ToolOutcome(call_id=call.id, name=call.name, output=text, is_error=result.is_error, images=len(images))

    def _record(self, turn: _Turn) -> None:
        self._write(TrajectoryStep(
            step=turn.number, agent=self.label, messages=[message_record(m) for m in self.messages[self._written:]],
            tools=turn.outcomes, usage=turn.response.usage, cost_usd=turn.cost_usd, total_usage=self.budget.usage,
            total_cost_usd=self.budget.cost_usd, compacted=turn.compacted,
        ))
        self._written = len(self.messages)
        calls = {c.id: c for c in turn.response.tool_calls}
        parts = [_describe_call(calls[o.call_id], o) for o in turn.outcomes if o.call_id in calls]
        if not parts:
            parts = [f"says: {' '.join(turn.response.text.split())[:160]}"]
        note = f" [compacted {turn.compacted} old outputs]" if turn.compacted else ""
        self.on_step(f"[{self.label}] step {turn.number}: " + "; ".join(parts) + note
                     + f" (${self.budget.cost_usd:.4f}, {self.budget.usage.total} tokens)")

    def _result(self, reason: str, payload: Any = None) -> AgentResult:
        return AgentResult(finished=reason == "finished", payload=payload, reason=reason, usage=self.usage,
                           cost_usd=self.cost_usd, steps=self._steps, final_text=self._final_text)

    def _end(self, result: AgentResult) -> None:
        self._write(TrajectoryStep(kind="end", step=result.steps, agent=self.label, total_usage=self.budget.usage,
                                   total_cost_usd=self.budget.cost_usd, result=result))
        if result.reason != "finished":
            self.on_step(f"[{self.label}] stopped: {result.reason} after {result.steps} steps")

    def _write(self, record: TrajectoryStep) -> None:
        append_record(self.trajectory_path, record)
