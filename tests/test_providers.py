"""Providers driven through the real OpenAI and Anthropic SDKs against a local fake server."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest

from alphalab.config import ModelSettings
from alphalab.models import (
    ImagePart,
    Message,
    Model,
    ProviderError,
    RetryPolicy,
    ToolSpec,
    TransientProviderError,
    get_model,
)
from alphalab.models.anthropic_provider import AnthropicModel
from alphalab.models.compat import OpenAICompatibleModel, parse_text_tool_calls
from alphalab.models.openai_provider import OpenAIModel
from alphalab.models.retry import parse_retry_after
from tests.fakes.llm_server import (  # noqa: F401 (llm_server is a fixture)
    ANTHROPIC_PATH,
    OPENAI_PATH,
    FakeLLMServer,
    anthropic_reply,
    error_reply,
    llm_server,
    openai_reply,
)

READ_FILE = ToolSpec(
    name="read_file",
    description="Read a file from the workspace.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
FAST = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=5.0, timeout_s=10)


@pytest.fixture(autouse=True)
def _keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-anthropic")


def make(provider: str, server: FakeLLMServer, sleeps: list[float] | None = None, **settings):
    """A provider pointed at the fake server; waits go to `sleeps` instead of sleeping."""
    cls = {"openai": OpenAIModel, "anthropic": AnthropicModel, "openai-compatible": OpenAICompatibleModel}[provider]
    # the providers' default key variables, so error messages can be checked against them
    s = server.settings_for(provider, **{"model": "m-test", "api_key_env": None, **settings})
    return cls(s, retry=FAST, sleep=(sleeps.append if sleeps is not None else lambda _: None))


def reply_for(provider: str, **kw):
    if provider == "anthropic":
        return anthropic_reply(text=kw.get("text", ""), tool_uses=kw.get("tools", ()))
    return openai_reply(text=kw.get("text", ""), tool_calls=kw.get("tools", ()))


def first_turn() -> list[Message]:
    return [
        Message(role="system", content="You are a careful analyst."),
        Message(role="user", content="What does a.txt say?"),
    ]


def second_turn(messages: list[Message], response, result: str) -> list[Message]:
    call = response.tool_calls[0]
    return messages + [
        Message(role="assistant", content=response.text, tool_calls=response.tool_calls),
        Message(role="tool", tool_call_id=call.id, name=call.name, content=result),
    ]


# --- two-turn tool loops -------------------------------------------------------------------------


def test_openai_two_turn_tool_loop(llm_server):
    llm_server.enqueue(
        openai_reply(tool_calls=[("read_file", {"path": "a.txt"})], prompt_tokens=120, cached_tokens=64),
        openai_reply(text="It says hello.", completion_tokens=7),
    )
    model = make("openai", llm_server, temperature=0.2, reasoning_effort="low", max_output_tokens=333)

    r1 = model.complete(first_turn(), [READ_FILE])
    assert r1.stop_reason == "tool_use"
    assert [(c.name, json.loads(c.arguments)) for c in r1.tool_calls] == [("read_file", {"path": "a.txt"})]
    assert (r1.usage.input_tokens, r1.usage.cached_input_tokens) == (120, 64)

    r2 = model.complete(second_turn(first_turn(), r1, "hello"), [READ_FILE])
    assert (r2.text, r2.stop_reason, r2.tool_calls) == ("It says hello.", "end_turn", [])
    assert r2.usage.output_tokens == 7

    req1, req2 = llm_server.requests
    assert req1.path == OPENAI_PATH and req1.headers["authorization"] == "Bearer sk-test-openai"
    assert req1.body["tools"][0]["function"]["name"] == "read_file"
    assert req1.body["max_completion_tokens"] == 333
    assert (req1.body["temperature"], req1.body["reasoning_effort"]) == (0.2, "low")
    assert [m["role"] for m in req2.body["messages"]] == ["system", "user", "assistant", "tool"]
    assistant, tool = req2.body["messages"][2:]
    assert assistant["tool_calls"][0]["id"] == tool["tool_call_id"] == r1.tool_calls[0].id
    assert assistant["tool_calls"][0]["function"]["arguments"] == r1.tool_calls[0].arguments
    assert tool["content"] == "hello"


def test_openai_omits_unset_options(llm_server):
    llm_server.enqueue(openai_reply(text="ok"))
    make("openai", llm_server).complete(first_turn(), [])
    body = llm_server.bodies()[0]
    assert "temperature" not in body and "reasoning_effort" not in body and "tools" not in body


def test_anthropic_two_turn_tool_loop(llm_server):
    llm_server.enqueue(
        anthropic_reply(
            text="Let me look.",
            tool_uses=[("read_file", {"path": "a.txt"})],
            input_tokens=10,
            cache_read_input_tokens=80,
            cache_creation_input_tokens=10,
        ),
        anthropic_reply(text="It says hello."),
    )
    model = make("anthropic", llm_server, max_output_tokens=444, temperature=0.5)

    r1 = model.complete(first_turn(), [READ_FILE])
    assert (r1.text, r1.stop_reason) == ("Let me look.", "tool_use")
    assert [(c.name, json.loads(c.arguments)) for c in r1.tool_calls] == [("read_file", {"path": "a.txt"})]
    assert (r1.usage.input_tokens, r1.usage.cached_input_tokens) == (100, 80)

    r2 = model.complete(second_turn(first_turn(), r1, "hello"), [READ_FILE])
    assert (r2.text, r2.stop_reason) == ("It says hello.", "end_turn")

    req1, req2 = llm_server.requests
    assert req1.path == ANTHROPIC_PATH and req1.headers["authorization"] == "Bearer sk-test-anthropic"
    assert req1.body["tools"] == [
        {"name": "read_file", "description": READ_FILE.description, "input_schema": READ_FILE.parameters}
    ]
    assert req1.body["max_tokens"] == 444
    assert "temperature" not in req1.body  # API 2026-10-21 rejects sampling parameters
    assert req1.body["system"][0]["text"] == "You are a careful analyst."
    assert [m["role"] for m in req2.body["messages"]] == ["user", "assistant", "user"]
    assistant, result = req2.body["messages"][1:]
    tool_use = assistant["content"][-1]
    assert (tool_use["type"], tool_use["input"]) == ("tool_use", {"path": "a.txt"})
    assert result["content"][0]["type"] == "tool_result"
    assert result["content"][0]["tool_use_id"] == tool_use["id"] == r1.tool_calls[0].id
    assert result["content"][0]["content"] == "hello"


def test_compat_two_turn_tool_loop_with_bare_json_call(llm_server):
    fenced = '```json\n{"name": "read_file", "arguments": {"path": "a.txt"}}\n```'
    llm_server.enqueue(openai_reply(text=fenced), openai_reply(text="It says hello."))
    model = make("openai-compatible", llm_server, model="qwen2.5-coder")

    r1 = model.complete(first_turn(), [READ_FILE])
    assert (r1.text, r1.stop_reason) == ("", "tool_use")
    assert [(c.name, json.loads(c.arguments)) for c in r1.tool_calls] == [("read_file", {"path": "a.txt"})]

    r2 = model.complete(second_turn(first_turn(), r1, "hello"), [READ_FILE])
    assert r2.text == "It says hello."
    # the recovered call goes back in the structured form the server expects next turn
    assistant, tool = llm_server.bodies()[1]["messages"][2:]
    assert assistant["tool_calls"][0]["id"] == tool["tool_call_id"] == r1.tool_calls[0].id
    first = llm_server.requests[0]
    assert first.headers["authorization"] == "Bearer not-needed"
    assert first.body["max_tokens"] == 4096 and "max_completion_tokens" not in first.body


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"name": "read_file", "arguments": {"path": "b"}}', [("read_file", {"path": "b"})]),
        ('<tool_call>{"name": "read_file", "parameters": {"path": "c"}}</tool_call>', [("read_file", {"path": "c"})]),
        ('[{"name": "read_file", "arguments": "{\\"path\\": \\"d\\"}"}]', [("read_file", {"path": "d"})]),
        ('{"name": "delete_everything", "arguments": {}}', []),  # not an offered tool: stays text
        ('{"answer": 42}', []),
        ("The file says hello.", []),
    ],
)
def test_compat_text_tool_call_parsing(text, expected):
    calls = parse_text_tool_calls(text, {"read_file"})
    assert [(c.name, json.loads(c.arguments)) for c in calls] == expected


def test_compat_plain_answer_stays_text(llm_server):
    llm_server.enqueue(openai_reply(text='{"answer": 42}'))
    r = make("openai-compatible", llm_server).complete(first_turn(), [READ_FILE])
    assert (r.text, r.tool_calls, r.stop_reason) == ('{"answer": 42}', [], "end_turn")


# --- malformed arguments, stop reasons, usage ----------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "openai-compatible"])
def test_malformed_tool_arguments_pass_through_unchanged(llm_server, provider):
    broken = '{"path": "a.txt", '
    llm_server.enqueue(openai_reply(tool_calls=[("read_file", broken)]))
    r = make(provider, llm_server).complete(first_turn(), [READ_FILE])
    assert [(c.name, c.arguments) for c in r.tool_calls] == [("read_file", broken)]


def test_anthropic_string_tool_input_passes_through_unchanged(llm_server):
    broken = '{"path": "a.txt", '
    llm_server.enqueue(anthropic_reply(tool_uses=[("read_file", broken)]))
    r = make("anthropic", llm_server).complete(first_turn(), [READ_FILE])
    assert [(c.name, c.arguments) for c in r.tool_calls] == [("read_file", broken)]


@pytest.mark.parametrize(
    "provider, wire, expected",
    [
        ("openai", "length", "max_tokens"),
        ("openai", "content_filter", "other"),
        ("anthropic", "max_tokens", "max_tokens"),
        ("anthropic", "stop_sequence", "end_turn"),
        ("anthropic", "refusal", "other"),
    ],
)
def test_stop_reason_mapping(llm_server, provider, wire, expected):
    reply = anthropic_reply(text="x", stop_reason=wire) if provider == "anthropic" else openai_reply(
        text="x", finish_reason=wire
    )
    llm_server.enqueue(reply)
    assert make(provider, llm_server).complete(first_turn(), []).stop_reason == expected


# --- prompt caching and images -------------------------------------------------------------------


def test_anthropic_cache_control_marks_each_system_tier_and_the_latest_turn(llm_server):
    llm_server.enqueue(anthropic_reply(text="ok"))
    messages = [
        Message(role="system", content="You are the Strategist. Domain knowledge ..."),
        Message(role="system", content="Playbook ..."),
        Message(role="user", content="Strategist turn 1"),
        Message(role="assistant", content="Understood."),
        Message(role="user", content="Propose the next experiments."),
    ]
    make("anthropic", llm_server).complete(messages, [READ_FILE])
    body = llm_server.bodies()[0]
    # the template and the playbook stay two blocks, each ending a cached prefix
    assert body["system"] == [
        {"type": "text", "text": "You are the Strategist. Domain knowledge ...", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Playbook ...", "cache_control": {"type": "ephemeral"}},
    ]
    marked = [
        (i, block["text"])
        for i, m in enumerate(body["messages"])
        for block in m["content"]
        if "cache_control" in block
    ]
    # the previous request's end and the newest turn, which rolls
    assert marked == [(0, "Strategist turn 1"), (2, "Propose the next experiments.")]


def test_anthropic_cache_breakpoints_stay_within_the_api_limit(llm_server):
    llm_server.enqueue(anthropic_reply(text="ok"))
    messages = [Message(role="system", content=f"sys{i}") for i in range(3)]
    for i in range(6):
        messages += [Message(role="user", content=f"u{i}"), Message(role="assistant", content=f"a{i}")]
    messages.append(Message(role="user", content="u6"))
    make("anthropic", llm_server).complete(messages, [])
    body = llm_server.bodies()[0]
    marked = [b["text"] for m in body["messages"] for b in m["content"] if "cache_control" in b]
    # the last two system blocks, the last block (u6) and the previous request's end (u5): four in all
    assert marked == ["u5", "u6"]
    assert ["cache_control" in b for b in body["system"]] == [False, True, True]


def test_openai_joins_the_system_tiers_into_one_message(llm_server):
    llm_server.enqueue(openai_reply(text="ok"))
    messages = [Message(role="system", content="template"), Message(role="system", content="playbook"),
                Message(role="user", content="go")]
    make("openai-compatible", llm_server).complete(messages, [])
    sent = llm_server.bodies()[0]["messages"]
    assert sent == [{"role": "system", "content": "template\n\nplaybook"}, {"role": "user", "content": "go"}]


PNG = ImagePart(media_type="image/png", data_b64="iVBORw0KGgo=")


def test_openai_images_as_data_urls(llm_server):
    llm_server.enqueue(openai_reply(text="ok"))
    messages = first_turn() + [
        Message(role="assistant", tool_calls=[{"id": "c1", "name": "view_image", "arguments": "{}"}]),
        Message(role="tool", tool_call_id="c1", name="view_image", content="plot.png", images=[PNG]),
    ]
    make("openai", llm_server).complete(messages, [])
    wire = llm_server.bodies()[0]["messages"]
    # tool messages cannot hold images: they follow as a user message once the tool replies are done
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "tool", "user"]
    assert wire[3]["content"] == "plot.png"
    assert wire[4]["content"][-1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def test_anthropic_images_as_base64_blocks(llm_server):
    llm_server.enqueue(anthropic_reply(text="ok"))
    messages = first_turn() + [
        Message(role="assistant", tool_calls=[{"id": "c1", "name": "view_image", "arguments": "{}"}]),
        Message(role="tool", tool_call_id="c1", name="view_image", content="plot.png", images=[PNG], is_error=False),
        Message(role="user", content="And this one?", images=[PNG]),
    ]
    make("anthropic", llm_server).complete(messages, [])
    last = llm_server.bodies()[0]["messages"][-1]
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    result, text, user_image = last["content"]  # tool result and the next user turn merge into one message
    assert result["content"] == [{"type": "text", "text": "plot.png"}, image]
    assert text == {"type": "text", "text": "And this one?"}
    assert user_image == {**image, "cache_control": {"type": "ephemeral"}}  # the latest turn is a cache breakpoint


# --- retries and errors --------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_rate_limit_is_retried_after_the_servers_wait(llm_server, provider):
    llm_server.enqueue(error_reply(429, "slow down", headers={"retry-after": "3"}), reply_for(provider, text="ok"))
    sleeps: list[float] = []
    r = make(provider, llm_server, sleeps).complete(first_turn(), [])
    assert r.text == "ok"
    assert sleeps == [3.0]
    assert len(llm_server.requests) == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_server_error_storm_gives_up_after_the_budget(llm_server, provider):
    llm_server.enqueue(*[error_reply(500, "boom") for _ in range(5)])
    sleeps: list[float] = []
    with pytest.raises(TransientProviderError, match=r"after 3 attempts.*HTTP 500") as err:
        make(provider, llm_server, sleeps).complete(first_turn(), [])
    assert f"{provider}: gave up on model m-test" in str(err.value)
    assert len(llm_server.requests) == 3 and len(sleeps) == 2
    assert all(0 < s <= FAST.max_delay_s for s in sleeps)


def test_connection_errors_are_transient():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = ModelSettings(provider="openai", model="m-test", base_url=f"http://127.0.0.1:{port}/v1")
    model = OpenAIModel(settings, retry=FAST, sleep=lambda _: None)
    with pytest.raises(TransientProviderError, match="after 3 attempts"):
        model.complete(first_turn(), [])


@pytest.mark.parametrize(
    "provider, status, expected",
    [
        ("openai", 401, "openai: authentication failed for model m-test .*check OPENAI_API_KEY"),
        ("anthropic", 401, "anthropic: authentication failed for model m-test .*check ANTHROPIC_API_KEY"),
        ("anthropic", 403, "anthropic: permission denied for model m-test .*check ANTHROPIC_API_KEY"),
        ("openai", 404, "openai: not found for model m-test at http://[^ ]+/v1 \\(HTTP 404\\).*OPENAI_API_KEY"),
    ],
)
def test_permanent_errors_name_provider_model_and_key(llm_server, provider, status, expected):
    llm_server.enqueue(error_reply(status, "nope"), reply_for(provider, text="never reached"))
    with pytest.raises(ProviderError, match=expected) as err:
        make(provider, llm_server).complete(first_turn(), [])
    assert not isinstance(err.value, TransientProviderError)
    assert len(llm_server.requests) == 1


def test_compat_auth_error_names_the_configured_key_env(llm_server, monkeypatch):
    monkeypatch.setenv("VLLM_KEY", "k")
    llm_server.enqueue(error_reply(401, "bad key"))
    with pytest.raises(ProviderError, match="openai-compatible: authentication failed .*check VLLM_KEY"):
        make("openai-compatible", llm_server, api_key_env="VLLM_KEY").complete(first_turn(), [])
    assert llm_server.requests[0].headers["authorization"] == "Bearer k"


@pytest.mark.parametrize("provider, env", [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")])
def test_missing_key_at_construction_names_the_env_var(monkeypatch, provider, env):
    monkeypatch.delenv(env)
    with pytest.raises(ProviderError, match=f"{provider}: no API key for model m-test at https://.+: set the "
                                            f"environment variable {env}"):
        get_model(ModelSettings(provider=provider, model="m-test"))


def test_parse_retry_after_forms():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after({"retry-after": "7"}, now) == 7.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}, now) == 0.25
    assert parse_retry_after({"retry-after": "Thu, 01 Jan 2026 12:00:30 GMT"}, now) == 30.0
    assert parse_retry_after({"retry-after": "Thu, 01 Jan 2026 11:00:00 GMT"}, now) == 0.0
    assert parse_retry_after({"retry-after": "soon"}, now) is None
    assert parse_retry_after({}, now) is None


def test_retry_after_is_capped_by_the_policy(llm_server):
    llm_server.enqueue(error_reply(429, headers={"retry-after": "3600"}), openai_reply(text="ok"))
    sleeps: list[float] = []
    make("openai", llm_server, sleeps).complete(first_turn(), [])
    assert sleeps == [FAST.max_delay_s]


# --- registry ------------------------------------------------------------------------------------


def test_registry_builds_each_provider(tmp_path: Path):
    script = tmp_path / "strategist.yaml"
    script.write_text("- {tool: read_file, args: {path: a.txt}}\n- {text: done}\n")
    cases = {
        "openai": ModelSettings(provider="openai", model="gpt-4.1"),
        "anthropic": ModelSettings(provider="anthropic", model="claude-sonnet-4-5"),
        "openai-compatible": ModelSettings(provider="openai-compatible", model="qwen", base_url="http://x/v1"),
    }
    built = {p: get_model(s) for p, s in cases.items()}
    assert all(isinstance(m, Model) for m in built.values())
    assert {p: (m.name, m.supports_images) for p, m in built.items()} == {
        "openai": ("openai:gpt-4.1", True),
        "anthropic": ("anthropic:claude-sonnet-4-5", True),
        "openai-compatible": ("openai-compatible:qwen", False),
    }
    scripted = get_model(ModelSettings(provider="scripted", script=script))
    assert scripted.complete([], []).tool_calls[0].name == "read_file"
    with pytest.raises(ValueError, match="baseline"):
        get_model(ModelSettings(provider="baseline"))


def test_fixture_settings_drive_get_model_end_to_end(llm_server):
    llm_server.enqueue(anthropic_reply(text="hi"), openai_reply(text="hello"))
    assert get_model(llm_server.settings_for("anthropic")).complete(first_turn(), []).text == "hi"
    assert get_model(llm_server.settings_for("openai")).complete(first_turn(), []).text == "hello"
    assert [r.headers["authorization"] for r in llm_server.requests] == ["Bearer fake-key"] * 2
    assert llm_server.pending == 0
