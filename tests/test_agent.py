"""The agent loop with the scripted model: terminal tools, tool errors, limits, trajectory, compaction, sub-agents."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from alphalab.agent import Agent, compact, estimate_tokens
from alphalab.config import AgentLimits, SandboxConfig
from alphalab.cost import UsageLedger
from alphalab.errors import SandboxUnavailable
from alphalab.models.base import Message, ModelResponse, ProviderError, ToolCall, TransientProviderError, Usage
from alphalab.models.scripted import ScriptedModel
from alphalab.tools import ToolContext, general_tools, report_to_user, tool


def _run(tmp_path: Path, model, limits: AgentLimits | None = None, tools=None, **kw):
    steps: list[str] = []
    agent = Agent(
        model, tools if tools is not None else general_tools() + [report_to_user], ToolContext(workspace=tmp_path),
        limits or AgentLimits(), tmp_path / "traj" / "t.jsonl", on_step=steps.append, **kw,
    )
    return agent.run("You are a test agent.", "Do the task."), steps, agent


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _tool_messages(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.role == "tool"]


def test_terminal_tool_ends_the_loop_with_its_payload(tmp_path):
    model = ScriptedModel.from_calls([
        ("write_file", {"path": "out/a.txt", "content": "hello"}),
        ("report_to_user", {"message": "wrote a.txt"}),
        ("shell_exec", {"command": "touch never"}),
    ])
    result, steps, _ = _run(tmp_path, model)
    assert result.finished and result.reason == "finished"
    assert result.payload == "wrote a.txt" and result.steps == 2
    assert (tmp_path / "out/a.txt").read_text() == "hello"
    assert "wrote a.txt" in (tmp_path / "notes/reports.md").read_text()
    assert model.remaining == 1 and not (tmp_path / "never").exists()
    assert result.usage.total == 240  # two calls of 100 in + 20 out
    assert len(steps) == 2 and "write_file" in steps[0] and "\n" not in steps[0]


def test_bad_tool_calls_come_back_as_errors_and_the_loop_continues(tmp_path):
    @tool
    def explode(ctx: ToolContext) -> str:
        """Always fails."""
        raise RuntimeError("boom")

    model = ScriptedModel.from_calls([
        ("no_such_tool", {}),
        ("shell_exec", "{not json"),
        ("shell_exec", {"cmd": "ls"}),
        ("read_file", {"path": 5}),
        ("explode", {}),
        ("report_to_user", {"message": "recovered"}),
    ])
    result, _, _ = _run(tmp_path, model, tools=general_tools() + [report_to_user, explode])
    assert result.finished and result.payload == "recovered" and result.steps == 6
    errors = _tool_messages(model.calls[-1])
    assert all(m.is_error for m in errors) and len(errors) == 5
    assert "unknown tool 'no_such_tool'" in errors[0].content and "shell_exec" in errors[0].content
    assert "not valid JSON" in errors[1].content
    assert "invalid arguments for shell_exec" in errors[2].content and "command" in errors[2].content
    assert "invalid arguments for read_file" in errors[3].content
    assert "RuntimeError: boom" in errors[4].content


def test_step_limit_stops_gracefully_with_the_trajectory_saved(tmp_path):
    model = ScriptedModel.from_calls([("shell_exec", {"command": f"echo {i}"}) for i in range(5)])
    result, steps, _ = _run(tmp_path, model, AgentLimits(max_steps=2))
    assert not result.finished and result.reason == "max_steps" and result.steps == 2
    lines = _lines(tmp_path / "traj/t.jsonl")
    assert [r["kind"] for r in lines] == ["step", "step", "end"]
    assert lines[-1]["result"]["reason"] == "max_steps"
    assert "stopped: max_steps" in steps[-1]


def test_token_limit_counts_every_call(tmp_path):
    model = ScriptedModel.from_calls([("shell_exec", {"command": "true"})] * 6,
                                     usage=Usage(input_tokens=800, output_tokens=200))
    result, _, _ = _run(tmp_path, model, AgentLimits(max_tokens=2500))
    assert result.reason == "max_tokens" and result.steps == 3 and result.usage.total == 3000


def test_usd_limit_uses_the_ledger(tmp_path):
    # gpt-4.1 is priced at $2 per million input tokens: $2 a call
    model = ScriptedModel.from_calls([("shell_exec", {"command": "true"})] * 5, name="openai:gpt-4.1",
                                     usage=Usage(input_tokens=1_000_000))
    ledger = UsageLedger(tmp_path / "usage.jsonl")
    limits = AgentLimits(max_usd=3.0, max_tokens=10**9)
    result, _, _ = _run(tmp_path, model, limits, ledger=ledger, role="explorer", phase="1")
    assert result.reason == "max_usd" and result.steps == 2
    assert result.cost_usd == pytest.approx(4.0) and ledger.total_usd == pytest.approx(4.0)
    assert set(ledger.totals_by_role()) == {"explorer"}


def test_usd_limit_without_a_ledger_prices_from_the_default_table(tmp_path):
    model = ScriptedModel.from_calls([("shell_exec", {"command": "true"})] * 5, name="openai:gpt-4.1",
                                     usage=Usage(input_tokens=1_000_000))
    result, _, _ = _run(tmp_path, model, AgentLimits(max_usd=5.0, max_tokens=10**9))
    assert result.reason == "max_usd" and result.steps == 3 and result.cost_usd == pytest.approx(6.0)


def test_wall_time_limit(tmp_path):
    @tool
    def slow(ctx: ToolContext) -> str:
        """Takes a while."""
        time.sleep(0.4)
        return "done"

    model = ScriptedModel.from_calls([("slow", {})] * 5)
    result, _, _ = _run(tmp_path, model, AgentLimits(max_wall_seconds=0.3), tools=[slow, report_to_user])
    assert result.reason == "max_wall_seconds" and result.steps == 1
    assert _lines(tmp_path / "traj/t.jsonl")[-1]["result"]["reason"] == "max_wall_seconds"


def test_trajectory_is_written_one_line_per_step_as_it_goes(tmp_path):
    path = tmp_path / "traj" / "t.jsonl"
    seen: list[int] = []
    model = ScriptedModel.from_calls([
        ("shell_exec", {"command": "echo first"}),
        ("read_file", {"path": "missing.txt"}),
        ("report_to_user", {"message": "done"}),
    ])
    agent = Agent(model, general_tools() + [report_to_user], ToolContext(workspace=tmp_path), AgentLimits(),
                  path, on_step=lambda _: seen.append(len(path.read_text().splitlines())))
    agent.run("sys", "task")
    assert seen == [1, 2, 3]
    lines = _lines(path)
    assert [r["step"] for r in lines if r["kind"] == "step"] == [1, 2, 3]
    first = lines[0]
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant", "tool"]
    assert "first" in first["tools"][0]["output"] and first["usage"]["input_tokens"] == 100
    assert lines[1]["tools"][0]["is_error"] and lines[1]["total_usage"]["input_tokens"] == 200
    assert lines[-1]["result"]["payload"] == "done"


def test_tool_output_is_truncated_to_the_limit(tmp_path):
    model = ScriptedModel.from_calls([("shell_exec", {"command": "seq 1 100000"}),
                                      ("report_to_user", {"message": "x"})])
    _run(tmp_path, model, AgentLimits(tool_output_chars=1000))
    out = _tool_messages(model.calls[-1])[0].content
    assert len(out) < 1200 and "characters truncated" in out and out.rstrip().endswith("100000")


def test_compaction_replaces_old_tool_outputs_once_the_context_fills(tmp_path):
    (tmp_path / "big.txt").write_text("\n".join(f"line {i} " + "x" * 60 for i in range(40)))  # ~2.9k chars
    calls = [("read_file", {"path": "big.txt"})] * 7 + [("report_to_user", {"message": "ok"})]
    # window 4000 tokens, compact at half: ~8000 chars, i.e. after about three outputs
    model = ScriptedModel.from_calls(calls, context_window=4000)
    result, steps, _ = _run(tmp_path, model, AgentLimits(compact_at_fraction=0.5))
    assert result.finished
    early = _tool_messages(model.calls[1])
    assert not any(m.content.startswith("[compacted") for m in early)
    final = _tool_messages(model.calls[-1])
    assert [m.content.startswith("[compacted") for m in final] == [True] * 3 + [False] * 4
    assert "line 0" in final[0].content and "characters" in final[0].content
    assert estimate_tokens(model.calls[-1]) < 0.5 * 4000 + 4 * 800
    compactions = [r["compacted"] for r in _lines(tmp_path / "traj/t.jsonl") if r.get("compacted")]
    assert compactions and sum(compactions) == 3
    assert any("compacted" in s for s in steps)


def test_compaction_keeps_every_tool_call_paired_and_shrinks_big_arguments():
    big = json.dumps({"path": "a.py", "content": "y" * 5000})
    msgs = [Message(role="system", content="s"), Message(role="user", content="t")]
    for i in range(6):
        msgs.append(Message(role="assistant", tool_calls=[ToolCall(id=f"c{i}", name="write_file", arguments=big)]))
        msgs.append(Message(role="tool", tool_call_id=f"c{i}", name="write_file", content="z" * 3000))
    before = estimate_tokens(msgs)
    assert compact(msgs, keep_recent=2) == 4
    assert estimate_tokens(msgs) < before / 2
    assert [m.tool_call_id for m in msgs if m.role == "tool"] == [f"c{i}" for i in range(6)]
    assert all(json.loads(c.arguments) for m in msgs for c in m.tool_calls)  # still valid JSON
    assert len(msgs[-2].tool_calls[0].arguments) == len(big)  # recent calls untouched
    assert compact(msgs, keep_recent=2) == 0  # idempotent


def test_spawned_agent_spends_from_the_parents_budget(tmp_path):
    usage = Usage(input_tokens=100, output_tokens=20)
    shell = ModelResponse(tool_calls=[ToolCall(id="s", name="shell_exec", arguments='{"command": "echo sub"}')],
                          usage=usage)
    model = ScriptedModel([
        ModelResponse(tool_calls=[ToolCall(id="p", name="spawn_agent", arguments='{"task": "look around"}')],
                      usage=usage),
        shell, shell, shell, shell,
    ])
    result, steps, _ = _run(tmp_path, model, AgentLimits(max_tokens=300))
    # parent 120, child 120 + 120 -> 360 >= 300: the child stops, then the parent does
    assert result.reason == "max_tokens" and result.steps == 1
    assert result.usage.total == 360
    sub = _lines(tmp_path / "traj/t.sub1.jsonl")
    assert sub[-1]["result"]["reason"] == "max_tokens" and sub[-1]["agent"].endswith("sub1")
    parent_tool = _lines(tmp_path / "traj/t.jsonl")[0]["tools"][0]
    assert "stopped without finishing (max_tokens" in parent_tool["output"]
    assert any("/sub1]" in s for s in steps)


def test_spawned_agent_returns_its_answer_and_has_no_terminal_tool(tmp_path):
    model = ScriptedModel([
        ModelResponse(tool_calls=[ToolCall(id="p", name="spawn_agent", arguments='{"task": "count files"}')]),
        ModelResponse(tool_calls=[ToolCall(id="s", name="shell_exec", arguments='{"command": "echo 42"}')]),
        ModelResponse(text="there are 42"),
        ModelResponse(tool_calls=[ToolCall(id="r", name="report_to_user", arguments='{"message": "42 files"}')]),
    ])
    result, _, _ = _run(tmp_path, model)
    assert result.finished and result.payload == "42 files"
    child_tools = {s.name for s in model.tool_specs[1]}
    assert "report_to_user" not in child_tools and "shell_exec" in child_tools
    assert model.calls[1][1].content == "count files"  # fresh context: only system + task
    assert _tool_messages(model.calls[3])[0].content == "there are 42"


def test_prose_without_tool_calls_gets_a_nudge_then_gives_up(tmp_path):
    model = ScriptedModel([ModelResponse(text=f"thinking {i}") for i in range(5)])
    result, _, _ = _run(tmp_path, model)
    assert result.reason == "no_tool_call" and result.steps == 4 and result.final_text == "thinking 3"
    assert "report_to_user" in model.calls[1][-1].content


def test_provider_error_is_raised_after_recording_it(tmp_path):
    model = ScriptedModel.from_calls([("shell_exec", {"command": "true"})])
    with pytest.raises(ProviderError):
        _run(tmp_path, model)
    assert _lines(tmp_path / "traj/t.jsonl")[-1]["result"]["reason"].startswith("provider_error")


def test_a_shell_command_cannot_outlast_the_wall_time_limit(tmp_path):
    model = ScriptedModel.from_calls([("shell_exec", {"command": "echo begun; sleep 60"})] * 2)
    result, _, _ = _run(tmp_path, model, AgentLimits(max_wall_seconds=1.5))
    assert result.reason == "max_wall_seconds" and result.steps == 1
    out = _lines(tmp_path / "traj/t.jsonl")[0]["tools"][0]["output"]
    assert out.startswith("timed out") and "begun" in out


def test_a_missing_sandbox_stops_the_run_before_any_model_call(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    model = ScriptedModel.from_calls([("shell_exec", {"command": "true"})])
    agent = Agent(model, general_tools(), ToolContext(workspace=tmp_path, sandbox=SandboxConfig(mode="bwrap")),
                  AgentLimits(), tmp_path / "t.jsonl")
    with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap"):
        agent.run("sys", "task")
    assert model.calls == []


_SHELL_CALLS = [("shell_exec", {"command": "true"})] * 6


@pytest.mark.parametrize("reason, limits, make_model, steps", [
    ("max_steps", AgentLimits(max_steps=3), lambda: ScriptedModel.from_calls(_SHELL_CALLS), 3),
    # 120 tokens a call: 240 after two calls is under 250, 360 after three is not
    ("max_tokens", AgentLimits(max_tokens=250), lambda: ScriptedModel.from_calls(_SHELL_CALLS), 3),
    ("max_usd", AgentLimits(max_usd=3.0, max_tokens=10**9), lambda: ScriptedModel.from_calls(
        _SHELL_CALLS, name="openai:gpt-4.1", usage=Usage(input_tokens=1_000_000)), 2),
    ("no_tool_call", AgentLimits(), lambda: ScriptedModel([ModelResponse(text="hmm")] * 6), 4),
])
def test_each_limit_ends_the_loop_with_its_reason_everywhere(tmp_path, reason, limits, make_model, steps):
    model = make_model()
    result, lines, _ = _run(tmp_path, model, limits)
    assert not result.finished and result.reason == reason and result.steps == steps
    assert model.remaining == len(_SHELL_CALLS) - steps  # no model call once the limit is reached
    end = _lines(tmp_path / "traj/t.jsonl")[-1]
    assert end["kind"] == "end" and end["step"] == steps and end["result"]["reason"] == reason
    assert lines[-1] == f"[agent] stopped: {reason} after {steps} steps"


class _BrokenModel(ScriptedModel):
    """Plays its script, then fails the way a bug in a provider adapter would (not a ProviderError)."""

    def complete(self, messages, tools):
        if not self.responses:
            raise RuntimeError("adapter bug")
        return super().complete(messages, tools)


def test_an_unexpected_exception_propagates_after_the_end_line_is_written(tmp_path):
    model = _BrokenModel.from_calls([("shell_exec", {"command": "echo one"})])
    with pytest.raises(RuntimeError, match="adapter bug"):
        _run(tmp_path, model)
    lines = _lines(tmp_path / "traj/t.jsonl")
    assert [r["kind"] for r in lines] == ["step", "end"]
    assert lines[-1]["result"]["reason"] == "error: RuntimeError: adapter bug" and lines[-1]["step"] == 2
    assert lines[-1]["total_usage"]["input_tokens"] == 100


def test_a_sandbox_failure_inside_a_tool_stops_the_run_with_its_step_and_end_recorded(tmp_path):
    @tool
    def needs_sandbox(ctx: ToolContext) -> str:
        """Fails as a shell call does when the sandbox cannot run."""
        raise SandboxUnavailable("install bubblewrap")

    model = ScriptedModel.from_calls([("needs_sandbox", {}), ("report_to_user", {"message": "never"})])
    with pytest.raises(SandboxUnavailable):
        _run(tmp_path, model, tools=[needs_sandbox, report_to_user])
    lines = _lines(tmp_path / "traj/t.jsonl")
    assert [r["kind"] for r in lines] == ["step", "end"] and model.remaining == 1
    assert lines[-1]["result"]["reason"] == "error: SandboxUnavailable: install bubblewrap"


class _FailsOnce:
    """A scripted model whose call number `fail_at` raises a transient provider error once, as a 5xx storm would."""

    def __init__(self, model: ScriptedModel, fail_at: int):
        self.model, self.fail_at, self.name = model, fail_at, model.name
        self.context_window, self.supports_images = model.context_window, True

    def complete(self, messages, tools):
        if len(self.model.calls) + 1 == self.fail_at:
            self.fail_at = 0
            raise TransientProviderError("scripted: HTTP 503 storm")
        return self.model.complete(messages, tools)


def test_a_retried_run_resumes_from_its_trajectory_without_repeating_steps(tmp_path):
    model = ScriptedModel.from_calls([
        ("write_file", {"path": "a.txt", "content": "one\n"}),
        ("shell_exec", {"command": "echo two >> a.txt"}),
        ("report_to_user", {"message": "done"}),
    ])
    flaky = _FailsOnce(model, fail_at=3)
    with pytest.raises(TransientProviderError):
        _run(tmp_path, flaky)
    # the retry (a new Agent on the same trajectory, as a Prefect task retry builds it) picks up at step 3
    result, steps, _ = _run(tmp_path, flaky)
    assert result.finished and result.payload == "done"
    assert result.steps == 3 and len(model.calls) == 3  # steps 1-2 were not paid for again
    assert (tmp_path / "a.txt").read_text() == "one\ntwo\n"  # nor their commands run twice
    assert "resuming after step 2" in steps[0]
    resumed = model.calls[2]
    assert [m.role for m in resumed] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert result.usage.total == 3 * 120  # the spend of the first attempt carries over
    ends = [r for r in _lines(tmp_path / "traj" / "t.jsonl") if r["kind"] == "end"]
    assert ends[0]["result"]["reason"].startswith("provider_error") and ends[1]["result"]["finished"]


def test_a_finished_run_is_not_resumed_and_a_killed_step_is_answered_as_interrupted(tmp_path):
    first, _, _ = _run(tmp_path, ScriptedModel.from_calls([("report_to_user", {"message": "first"})]))
    assert first.finished
    fresh = ScriptedModel.from_calls([("report_to_user", {"message": "second"})])
    second, _, _ = _run(tmp_path, fresh)
    assert second.steps == 1 and [m.role for m in fresh.calls[0]] == ["system", "user"]
    # a kill mid-step leaves a step line whose tool call has no result, and no end line
    path = tmp_path / "traj" / "t.jsonl"
    call = {"role": "assistant", "tool_calls": [{"id": "c9", "name": "shell_exec", "arguments": "{}"}]}
    path.write_text(path.read_text() + json.dumps({"kind": "step", "step": 1, "agent": "agent", "messages": [
        {"role": "system", "content": "You are a test agent.", "cache": True},
        {"role": "user", "content": "Do the task."}, call]}) + "\n" + '{"kind": "step", "st')
    after_kill = ScriptedModel.from_calls([("report_to_user", {"message": "third"})])
    third, _, _ = _run(tmp_path, after_kill)
    assert third.finished and third.steps == 2
    answered = after_kill.calls[0][-1]
    assert answered.role == "tool" and answered.tool_call_id == "c9" and answered.is_error
    assert "interrupted" in answered.content
