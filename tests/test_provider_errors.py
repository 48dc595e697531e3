"""A provider that refuses for good (a revoked key, an exhausted quota, an unknown model) stops the campaign at once
and loudly: one line naming the provider, the model, its URL and the key variable, and a non-zero exit. A transient
failure is retried (by the provider loop, then by Prefect's task retries), and every retry is in its task run's log.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from alphalab.campaign import Campaign
from alphalab.config import ModelSettings
from alphalab.errors import AlphalabError, PhaseFailed
from alphalab.models import Message, ProviderError, RetryPolicy, TransientProviderError, get_model
from alphalab.models.retry import ProviderIdentity
from fixtures.phase3.helpers import make_workspace
from fixtures.pipeline_helpers import use_fixture_library, write_config
from tests.fakes.llm_server import (  # noqa: F401 (llm_server is a fixture)
    KEY_ENV,
    FakeLLMServer,
    Reply,
    anthropic_reply,
    error_reply,
    llm_server,
    openai_reply,
)

REPO = Path(__file__).resolve().parents[1]
FAST = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=1.0, timeout_s=10)
TURN = [Message(role="system", content="You are terse."), Message(role="user", content="Say ok.")]
uses_prefect = pytest.mark.usefixtures("prefect_harness")

# OpenAI's answer for an account out of credit: HTTP 429 like a rate limit, but no wait refills it
QUOTA = Reply(status=429, body={"error": {"message": "You exceeded your current quota, please check your plan.",
                                          "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}})
# Anthropic's answer for an account out of credit
BILLING = Reply(status=400, body={"type": "error", "error": {
    "type": "invalid_request_error", "message": "Your credit balance is too low to access the Anthropic API."}})


def _url(server: FakeLLMServer, provider: str) -> str:
    return server.base_url if provider == "anthropic" else server.openai_base_url


def _ok(provider: str) -> Reply:
    return anthropic_reply(text="ok") if provider == "anthropic" else openai_reply(text="ok")


# --- classification ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider, reply, what", [
    ("openai", error_reply(401, "Incorrect API key provided"), "authentication failed"),
    ("anthropic", error_reply(401, "invalid x-api-key"), "authentication failed"),
    ("openai-compatible", error_reply(403, "this project has no access"), "permission denied"),
    ("openai", error_reply(400, "Unsupported parameter: 'temperature'"), "request rejected"),
    ("anthropic", error_reply(404, "model: claude-nope"), "not found"),
    ("openai", QUOTA, "quota exhausted"),
    ("openai-compatible", QUOTA, "quota exhausted"),
    ("anthropic", BILLING, "request rejected"),
])
def test_a_permanent_error_is_not_retried_and_names_what_to_fix_in_one_line(llm_server, provider, reply, what):
    llm_server.enqueue(reply, _ok(provider))  # a retry would succeed: only the classification stops it
    model = get_model(llm_server.settings_for(provider, model="m-test"), retry=FAST)
    with pytest.raises(ProviderError) as err:
        model.complete(TURN, [])
    message = str(err.value)
    assert not isinstance(err.value, TransientProviderError) and isinstance(err.value, AlphalabError)
    assert message.startswith(f"{provider}: {what} for model m-test at {_url(llm_server, provider)} "
                              f"(HTTP {reply.status}): ")
    assert KEY_ENV in message and "\n" not in message
    assert reply.body["error"]["message"] in message  # the provider's own words, e.g. "credit balance is too low"
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_rate_limits_and_server_errors_are_transient(llm_server, provider):
    llm_server.enqueue(error_reply(429, "slow down", headers={"retry-after": "0"}), error_reply(500, "boom"),
                       error_reply(503, "overloaded"))
    with pytest.raises(TransientProviderError) as err:
        get_model(llm_server.settings_for(provider, model="m-test"), retry=FAST).complete(TURN, [])
    assert str(err.value).startswith(f"{provider}: gave up on model m-test at {_url(llm_server, provider)} after 3 "
                                     "attempts; last error: HTTP 503")
    assert len(llm_server.requests) == 3


def test_the_url_named_is_the_one_the_sdk_calls(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://proxy.example/anthropic")
    who = ProviderIdentity.of("openai", ModelSettings(provider="openai", model="gpt-x"))
    assert (who.base_url, who.key_env) == ("https://api.openai.com/v1", "OPENAI_API_KEY")
    assert ProviderIdentity.of("anthropic", ModelSettings(provider="anthropic", model="c")).base_url \
        == "https://proxy.example/anthropic"
    mine = ModelSettings(provider="openai-compatible", model="q", base_url="http://gpu:8000/v1")
    assert ProviderIdentity.of("openai-compatible", mine) == ("openai-compatible", "q", None, "http://gpu:8000/v1")


# --- Prefect: task retries and run logs --------------------------------------------------------------------------


@uses_prefect
def test_prefect_retries_a_role_task_on_transient_provider_errors_only():
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    from tasks.common import ROLE_TASK_OPTIONS

    calls: Counter = Counter()

    @task(**{**ROLE_TASK_OPTIONS, "retry_delay_seconds": 0, "cache_policy": NO_CACHE, "persist_result": False})
    def role(kind: str) -> str:
        calls[kind] += 1
        if calls[kind] == 1:
            raise {"transient": TransientProviderError, "permanent": ProviderError}[kind](f"{kind} failure")
        return "ok"

    assert role("transient") == "ok" and calls["transient"] == 2
    with pytest.raises(ProviderError, match="permanent failure"):
        role("permanent")
    assert calls["permanent"] == 1


@uses_prefect
def test_a_provider_retry_is_logged_to_its_task_run(llm_server):
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTaskRunId
    from prefect.logging.handlers import APILogHandler

    llm_server.enqueue(error_reply(429, "slow down", headers={"retry-after": "0"}), openai_reply(text="ok"))

    @task
    def ask() -> str:
        return get_model(llm_server.settings_for("openai"), retry=FAST).complete(TURN, []).text

    @flow
    def one_question():
        return ask(return_state=True)

    state = one_question()
    assert state.result() == "ok"
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(
            task_run_id=LogFilterTaskRunId(any_=[state.state_details.task_run_id])))
    retries = [(log.name, log.level, log.message) for log in logs if log.name == "alphalab.models.retry"]
    assert retries == [("alphalab.models.retry", logging.WARNING,
                        f"openai: HTTP 429: Error code: 429 - slow down on model fake-model at "
                        f"{llm_server.openai_base_url}; retry 1/2 in 0.00 s")]


# --- Phase 3 on Prefect ------------------------------------------------------------------------------------------


@uses_prefect
def test_phase3_flow_fails_with_the_strategists_provider_error(tmp_path, llm_server):
    from flows.phase3_experiments import phase3_experiments

    llm_server.enqueue(error_reply(401, "Incorrect API key provided"), openai_reply(text="never reached"))
    strategist = llm_server.settings_for("openai-compatible").model_dump(mode="json", exclude_none=True)
    _, ws = make_workspace(tmp_path, models={"roles": {"strategist": strategist}})
    state = phase3_experiments(str(ws.root), return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, ProviderError) and not isinstance(error, TransientProviderError)
    assert str(error).startswith(f"openai-compatible: authentication failed for model fake-model at "
                                 f"{llm_server.openai_base_url} (HTTP 401): check {KEY_ENV}")
    assert len(llm_server.requests) == 1  # neither Prefect nor the Dispatcher asked again
    board = Campaign.load(str(ws.root)).board
    assert board.select() == []  # nothing was proposed, nothing failed


@uses_prefect
def test_phase3_that_analyzed_nothing_fails_and_says_why(tmp_path):
    from flows.phase3_experiments import phase3_experiments

    _, ws = make_workspace(tmp_path, budgets={"usd": 0.0})
    state = phase3_experiments(str(ws.root), return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, PhaseFailed)
    assert str(error) == ("phase 3 analyzed no experiment: it stopped on usd_budget (the USD budget was spent first: "
                          "raise budgets.usd); board: no experiment")


# --- what the user sees: `alphalab run` in its own process -------------------------------------------------------


def _alphalab_run(tmp_path: Path, config: Path) -> subprocess.CompletedProcess:
    """`alphalab run CONFIG` as a user starts it (its own logging setup, no test settings), on the test's Prefect
    API so the runs it leaves can be read back."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_LOGGING_")}
    env.update(PREFECT_API_URL=PREFECT_API_URL.value(), PREFECT_HOME=str(tmp_path / "prefect-home"))
    return subprocess.run([sys.executable, "-m", "cli.main", "run", str(config)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240)


def _with_llm_role(config: Path, role: str, settings: ModelSettings) -> Path:
    data = yaml.safe_load(config.read_text())
    data["models"]["roles"][role] = settings.model_dump(mode="json", exclude_none=True)
    config.write_text(yaml.safe_dump(data))
    return config


def _api_logs(since: datetime, name: str | None = None, level: int = 0) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterLevel, LogFilterTimestamp

    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(level=LogFilterLevel(ge_=level),
                                                     timestamp=LogFilterTimestamp(after_=since)))
    return [log for log in logs if name is None or log.name == name]


@uses_prefect
def test_a_revoked_key_in_phase3_ends_alphalab_run_with_one_error_line(tmp_path, monkeypatch, llm_server):
    use_fixture_library(monkeypatch)
    llm_server.enqueue(error_reply(401, "Incorrect API key provided"))
    config = _with_llm_role(write_config(tmp_path, phase3={"noise_seeds": 0}), "strategist",
                            llm_server.settings_for("openai-compatible"))
    since = datetime.now(timezone.utc)
    res = _alphalab_run(tmp_path, config)
    assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-3000:]
    assert res.stderr.splitlines() == [
        f"error: openai-compatible: authentication failed for model fake-model at {llm_server.openai_base_url} "
        f"(HTTP 401): check {KEY_ENV}. Error code: 401 - Incorrect API key provided"]
    assert "Traceback" not in res.stdout
    assert "phase 2 | tester | $0.0000 | done" in res.stdout  # the earlier phases ran, with their progress lines
    # what the terminal left out is in the runs' logs, for the UI
    failures = [log.message for log in _api_logs(since, level=logging.ERROR)]
    assert any(m.startswith("Encountered exception during execution: ProviderError('openai-compatible: "
                            "authentication failed") and "Traceback" in m for m in failures)
    assert len(llm_server.requests) == 1


@uses_prefect
def test_a_bad_key_in_phase0_gives_one_error_line_and_its_retries_reach_the_run_log(tmp_path, monkeypatch,
                                                                                      llm_server):
    use_fixture_library(monkeypatch)
    llm_server.enqueue(error_reply(429, "slow down", headers={"retry-after": "0"}), error_reply(401, "bad key"))
    config = _with_llm_role(write_config(tmp_path), "customizer", llm_server.settings_for("openai"))
    since = datetime.now(timezone.utc)
    res = _alphalab_run(tmp_path, config)
    assert res.returncode == 2, res.stdout[-3000:] + res.stderr[-3000:]
    retry, error = res.stderr.splitlines()  # the retry is a warning on the console too; then the one error line
    assert "WARNING | alphalab.models.retry - openai: HTTP 429" in retry
    assert error == (f"error: openai: authentication failed for model fake-model at {llm_server.openai_base_url} "
                     f"(HTTP 401): check {KEY_ENV}. Error code: 401 - bad key")
    assert "Traceback" not in res.stdout + res.stderr
    deadline = time.monotonic() + 10  # the process flushed its logs on exit; the server may still be writing them
    while not (logged := _api_logs(since, name="alphalab.models.retry")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [log.message for log in logged] == [retry.split(" - ", 1)[1]]
    assert all(log.task_run_id is not None for log in logged)  # under the customizer's task run, in the UI
