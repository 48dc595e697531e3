"""Prompt caching: the fake server's accounting, the Anthropic breakpoints, and an agent run that reads its cache."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from alphalab.agent import Agent
from alphalab.config import AgentLimits
from alphalab.cost import UsageLedger
from alphalab.models import ProviderError
from alphalab.models.anthropic_provider import MAX_BREAKPOINTS, AnthropicModel, to_wire
from alphalab.models.base import Message, ToolCall
from alphalab.models.openai_provider import OpenAIModel
from alphalab.tools import ToolContext, read_file, report_to_user, write_file
from tests.fakes.llm_server import (  # noqa: F401 (llm_server is a fixture)
    ANTHROPIC_PATH,
    OPENAI_PATH,
    Reply,
    anthropic_reply,
    llm_server,
    openai_reply,
)
from tests.fakes.prompt_cache import AnthropicCache, OpenAICache, canonical, part_tokens

EPHEMERAL = {"type": "ephemeral"}


# --- OpenAI: automatic prefix caching --------------------------------------------------------------------------


def openai_message(tokens: int, fill: str = "x", head: str = "") -> dict[str, Any]:
    """A user message of exactly `tokens` estimated tokens: `head`, then the character `fill` repeated."""
    overhead = len(canonical({"role": "user", "content": ""}))
    message = {"role": "user", "content": head + fill * (tokens * 4 - overhead - len(head))}
    assert part_tokens(message) == tokens
    return message


def openai_body(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"model": "m", "messages": list(messages)}


def test_openai_caches_nothing_below_1024_tokens():
    cache = OpenAICache()
    body = openai_body(openai_message(900))
    assert [cache.account(body).read_tokens for _ in range(2)] == [0, 0]
    assert cache.account(body).prompt_tokens == 900


def test_openai_repeated_prompt_caches_the_largest_128_step_it_holds():
    cache, body = OpenAICache(), openai_body(openai_message(3000))
    first, second = cache.account(body), cache.account(body)
    assert (first.prompt_tokens, first.read_tokens) == (3000, 0)
    assert (second.prompt_tokens, second.read_tokens) == (3000, 1024 + 128 * 15)  # 2944 <= 3000 < 3072
    assert second.written_tokens == 0  # OpenAI reports (and charges) no cache writes


def test_openai_caches_only_the_shared_prefix():
    # the JSON prefix `{"content":"` is 12 characters: 12 + 5988 "a"s are exactly the first 1500 tokens
    cache = OpenAICache()
    cache.account(openai_body(openai_message(3000, head="a" * 5988, fill="b")))
    assert cache.account(openai_body(openai_message(3000, head="a" * 5988, fill="c"))).read_tokens == 1408
    assert cache.account(openai_body(openai_message(3000, fill="z"))).read_tokens == 0
    assert cache.account({"model": "other", **openai_body(openai_message(3000))}).read_tokens == 0  # per model


# --- Anthropic: explicit breakpoints, 20-position lookback -----------------------------------------------------


def text(tokens: int, fill: str = "x", cache: bool = False) -> dict[str, Any]:
    """A user text block of exactly `tokens` estimated tokens, a breakpoint when `cache`."""
    overhead = len(canonical({"role": "user", "type": "text", "text": ""}))
    block: dict[str, Any] = {"type": "text", "text": fill * (tokens * 4 - overhead)}
    assert part_tokens({"role": "user", **block}) == tokens
    return {**block, "cache_control": EPHEMERAL} if cache else block


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": list(blocks)}]}


def split(cache: AnthropicCache, body: dict[str, Any]) -> tuple[int, int, int]:
    a = cache.account(body)
    return a.read_tokens, a.written_tokens, a.uncached_tokens


def test_anthropic_without_a_breakpoint_caches_nothing():
    cache, body = AnthropicCache(), user(text(1500), text(1500))
    assert split(cache, body) == split(cache, body) == (0, 0, 3000)


def test_anthropic_repeated_request_reads_its_breakpoint():
    cache, body = AnthropicCache(), user(text(1500, cache=True), text(100, "q"))
    assert split(cache, body) == (0, 1500, 100)
    assert split(cache, body) == (1500, 0, 100)


def test_anthropic_prefix_under_the_minimum_is_not_cached():
    cache, body = AnthropicCache(), user(text(900, cache=True), text(100, "q"))
    assert split(cache, body) == split(cache, body) == (0, 0, 1000)


def test_anthropic_rolling_breakpoint_lets_the_next_turn_read_this_one():
    cache = AnthropicCache()
    assert split(cache, user(text(1200), text(50, "a", cache=True))) == (0, 1250, 0)
    # turn n+1 moves its breakpoint to its own end; the lookback finds turn n's entry
    assert split(cache, user(text(1200), text(50, "a"), text(50, "b"), text(50, "c", cache=True))) == (1250, 100, 0)


def test_anthropic_lookback_is_20_positions_counting_the_breakpoint():
    def second_turn(added: int) -> tuple[int, int, int]:
        cache = AnthropicCache()
        cache.account(user(text(1200, cache=True)))
        small = [text(10, "y") for _ in range(added)]
        small[-1]["cache_control"] = EPHEMERAL
        return split(cache, user(text(1200), *small))

    assert second_turn(19) == (1200, 190, 0)  # the entry is the 20th position back: found
    assert second_turn(20) == (0, 1400, 0)  # 21st: out of the window, the whole prefix is written again


def test_anthropic_lookback_counts_a_run_of_tool_blocks_as_one_position():
    cache = AnthropicCache()
    cache.account(user(text(1200, cache=True)))
    uses = [{"type": "tool_use", "id": f"t{i}", "name": "read_file", "input": {"path": f"{i}"}} for i in range(25)]
    results = [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"} for i in range(25)]
    results[-1]["cache_control"] = EPHEMERAL
    body = {"model": "m", "messages": [{"role": "user", "content": [text(1200)]},
                                       {"role": "assistant", "content": uses}, {"role": "user", "content": results}]}
    assert cache.account(body).read_tokens == 1200


def test_anthropic_request_with_five_breakpoints_is_rejected_without_spending_a_reply(llm_server):
    llm_server.enqueue(anthropic_reply(text="never"))
    client = anthropic.Anthropic(api_key="k", base_url=llm_server.base_url, max_retries=0)
    blocks = [{"type": "text", "text": f"b{i}", "cache_control": EPHEMERAL} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError, match="A maximum of 4 blocks with cache_control"):
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": blocks}])
    assert llm_server.pending == 1


# --- through the server and the SDKs ---------------------------------------------------------------------------


def test_openai_usage_reports_the_simulated_cache_unless_the_reply_sets_it(llm_server):
    llm_server.enqueue(openai_reply(text="a"), openai_reply(text="b"), openai_reply(text="c", cached_tokens=7))
    model = OpenAIModel(llm_server.settings_for("openai"))
    messages = [Message(role="system", content="s" * 8000), Message(role="user", content="hi")]
    first, second, scripted = (model.complete(messages, []) for _ in range(3))
    prompt = llm_server.requests[0].cache.prompt_tokens
    assert prompt > 2000 and first.usage.input_tokens == second.usage.input_tokens == prompt
    assert first.usage.cached_input_tokens == 0
    assert second.usage.cached_input_tokens == llm_server.requests[1].cache.read_tokens
    assert second.usage.cached_input_tokens > 1024 and second.usage.cache_write_tokens == 0
    assert (scripted.usage.input_tokens, scripted.usage.cached_input_tokens) == (100, 7)  # explicit numbers win
    stats = llm_server.cache_stats(OPENAI_PATH)
    assert (stats.requests, stats.prompt_tokens) == (3, 3 * prompt) and 0 < stats.cached_share < 1


def test_reply_function_answers_after_the_queue_and_per_endpoint(llm_server):
    seen: list[str] = []

    def play(path: str, body: Any) -> Reply:
        seen.append(path)
        last = body["messages"][-1]["content"]
        if last == "boom":
            raise RuntimeError("no idea")
        # a reply for the other endpoint is refused, as a queued one is
        return openai_reply(text=f"echo {last}") if last != "wrong" else anthropic_reply(text="x")

    llm_server.enqueue(openai_reply(text="queued"))
    llm_server.respond_with(play)
    model = OpenAIModel(llm_server.settings_for("openai"))
    ask = lambda content: model.complete([Message(role="user", content=content)], [])  # noqa: E731
    assert [ask("one").text, ask("two").text] == ["queued", "echo two"]
    with pytest.raises(ProviderError, match="reply function failed .*RuntimeError: no idea"):
        ask("boom")
    with pytest.raises(ProviderError, match="next reply is for /v1/messages"):
        ask("wrong")
    assert seen == [OPENAI_PATH] * 3
    llm_server.respond_with(None)
    with pytest.raises(ProviderError, match="no scripted reply left"):
        ask("three")


# --- Anthropic breakpoints ------------------------------------------------------------------------------------


def marked(system: list[dict[str, Any]], wire: list[dict[str, Any]]) -> list[str]:
    blocks = system + [b for m in wire for b in m["content"]]
    return [b.get("text") or b.get("tool_use_id") or b.get("id") for b in blocks if "cache_control" in b]


def tool_turn(i: int) -> list[Message]:
    call = ToolCall(id=f"c{i}", name="read_file", arguments='{"path": "a"}')
    return [Message(role="assistant", content=f"step {i}", tool_calls=[call]),
            Message(role="tool", tool_call_id=f"c{i}", name="read_file", content=f"result {i}")]


def test_breakpoints_mark_the_system_the_latest_turn_and_the_previous_request():
    messages = [Message(role="system", content="sys"), Message(role="user", content="task")]
    assert marked(*to_wire(messages)) == ["sys", "task"]
    messages += tool_turn(1)
    assert marked(*to_wire(messages)) == ["sys", "task", "c1"]  # "task" ended the previous request
    messages += tool_turn(2)
    assert marked(*to_wire(messages)) == ["sys", "c1", "c2"]


def test_breakpoints_never_exceed_the_api_limit_with_a_playbook_tier():
    messages = [Message(role="system", content="template"), Message(role="system", content="playbook"),
                Message(role="user", content="task")]
    for i in range(6):
        messages += tool_turn(i)
    # both system tiers, the previous request's end (result 4, the tool result before the newest turn) and the last
    assert marked(*to_wire(messages)) == ["template", "playbook", "c4", "c5"]
    assert len(marked(*to_wire(messages))) == MAX_BREAKPOINTS


# --- an agent run through the Anthropic provider ---------------------------------------------------------------


def test_agent_run_reads_a_rising_share_of_its_prompt_from_the_cache(llm_server, tmp_path):
    steps = 5
    llm_server.enqueue(
        *[anthropic_reply(tool_uses=[("write_file", {"path": f"f{i}.txt", "content": f"note {i}"})])
          for i in range(steps - 1)],
        anthropic_reply(tool_uses=[("report_to_user", {"message": "done"})]),
    )
    model = AnthropicModel(llm_server.settings_for("anthropic", model="claude-haiku-4-5"))
    ledger = UsageLedger(tmp_path / "usage.jsonl")
    (tmp_path / "ws").mkdir()
    agent = Agent(model, [read_file, write_file, report_to_user], ToolContext(workspace=tmp_path / "ws"),
                  AgentLimits(), tmp_path / "traj.jsonl", ledger=ledger)
    result = agent.run("You are a careful note taker. " * 200, "Write four notes, then report.")
    assert result.finished and result.steps == steps

    accounts = [r.cache for r in llm_server.requests]
    shares = [a.read_tokens / a.prompt_tokens for a in accounts]
    assert shares[0] == 0 and accounts[0].written_tokens == accounts[0].prompt_tokens
    assert all(later > earlier for earlier, later in zip(shares, shares[1:])), shares
    # from step 2 on, each request reads everything the previous one sent
    assert all(a.read_tokens == prev.prompt_tokens for prev, a in zip(accounts, accounts[1:]))
    assert llm_server.cache_stats(ANTHROPIC_PATH).cached_share > 0.5

    # priced as Anthropic bills it: writes at 1.25x the input price, reads at 0.1x (claude-haiku-4-5: $1/M in)
    expected = sum(a.uncached_tokens * 1.0 + a.read_tokens * 0.1 + a.written_tokens * 1.25 + 20 * 5.0
                   for a in accounts) / 1e6
    assert result.cost_usd == pytest.approx(expected) and ledger.total_usd == pytest.approx(expected)
    total = ledger.summary().total
    assert total.cache_write_tokens == sum(a.written_tokens for a in accounts) == result.usage.cache_write_tokens
    assert total.cached_input_tokens == sum(a.read_tokens for a in accounts)
    assert total.input_tokens == sum(a.prompt_tokens for a in accounts)
