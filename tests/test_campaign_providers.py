"""Whole campaigns (Phases 0-3, `alphalab run`) with every role on a real provider SDK, against the fake server
played by tests/fakes/role_player.py: once through the OpenAI SDK (openai-compatible), once through Anthropic's.

The domain is the synthetic one installed as a built-in library (tests/fixtures/phase3/library.py), so Phase 0
customizes it, Phase 2 installs its trusted harness, and Phase 3's runs take a fraction of a second. Its search
space includes a configuration that runs out of memory in the full run: the campaign meets a failure the Worker
fixes and a failure rate the Supervisor diagnoses.
"""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from alphalab.adapters import load_adapter
from alphalab.board_rows import slugify
from alphalab.campaign import Campaign
from alphalab.cost import UsageLedger
from cli.main import main
from fixtures.phase3.library import DOMAIN, install_library, write_data
from tests.fakes.llm_server import ANTHROPIC_PATH, OPENAI_PATH, llm_server  # noqa: F401 (fixture)
from tests.fakes.prompt_cache import CacheStats
from tests.fakes.role_player import RolePlayer, role_of

pytestmark = pytest.mark.usefixtures("prefect_harness")

NAME = "providers"
PHASE3_ROLES = ("strategist", "worker", "supervisor")
# every role that talks to a model on this path: the generator only writes adapters for free-text domains, and
# the reporter has no model
LLM_ROLES = {"customizer", "explorer", "builder", "critic", "tester", *PHASE3_ROLES}


def _config(tmp_path, settings, domain: str = DOMAIN) -> str:
    raw = {
        "name": NAME, "domain": domain, "data_path": str(write_data(tmp_path)),
        "objective": "minimize the synthetic loss", "workspace": str(tmp_path / "ws"),
        "models": {"default": settings.model_dump(mode="json", exclude_none=True)},
        "pricing": {"fake-model": {"input": 1.0, "cached_input": 0.1, "output": 4.0}},
        "budgets": {"experiments": 5, "usd": 100.0, "wall_clock_hours": 1.0},
        "execution": {"backend": "local", "gpu_slots": ["0", "1"]},
        "agent_limits": {"max_steps": 12, "shell_timeout_s": 60},
        "phase2": {"max_rounds": 1},
        "phase3": {"strategist_every": 3, "reporter_every": 4, "patience": 50, "proposals_per_turn": 4,
                   "noise_seeds": 1, "verify_reruns": 1, "max_fix_attempts": 1, "supervisor_window": 3,
                   "supervisor_threshold": 0.2},
    }
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def _artifact_keys() -> set[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    keys = [f"{NAME}-{k}" for k in ("leaderboard", "playbook", "board", "budget")]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
    return {a.key for a in found}


def _wire_format(path: str, requests: list) -> None:
    """Every request is in the endpoint's own format, tool results included, and carries the SDK's key header."""
    bodies = [r.body for r in requests]
    assert all(r.headers["authorization"] == "Bearer fake-key" for r in requests)
    if path == OPENAI_PATH:
        assert all(b["tools"][0]["type"] == "function" and b["messages"][0]["role"] == "system" for b in bodies)
        results = [m for b in bodies for m in b["messages"] if m["role"] == "tool"]
        assert results and all(m["tool_call_id"].startswith("call_") for m in results)
    else:
        assert all(r.headers["anthropic-version"] for r in requests)
        assert all("input_schema" in b["tools"][0] and b["system"][-1]["cache_control"] == {"type": "ephemeral"}
                   for b in bodies)
        blocks = [c for b in bodies for m in b["messages"] if m["role"] == "user" for c in m["content"]]
        results = [c for c in blocks if c["type"] == "tool_result"]
        assert results and all(c["tool_use_id"].startswith("toolu_") for c in results)


@pytest.fixture
def library(tmp_path, monkeypatch):
    adapters, harnesses = install_library(tmp_path / "library")
    monkeypatch.setenv("ALPHALAB_ADAPTERS_DIR", str(adapters))
    monkeypatch.setenv("ALPHALAB_HARNESSES_DIR", str(harnesses))
    return adapters


@pytest.mark.parametrize(("provider", "path"), [("openai-compatible", OPENAI_PATH), ("anthropic", ANTHROPIC_PATH)])
def test_a_whole_campaign_through_the_provider_sdk(provider, path, tmp_path, library, llm_server):  # noqa: F811
    config = _config(tmp_path, llm_server.settings_for(provider))
    llm_server.respond_with(RolePlayer(tmp_path / "ws"))

    assert main(["run", config]) == 0

    env = Campaign.load(tmp_path / "ws")
    board, ws, metric = env.board, env.workspace, env.metric.name
    analyzed = [e for e in board.select("analyzed", "done", kind="experiment") if metric in e.metrics]
    assert len(analyzed) >= 4
    assert all((env.exp_dir(e.id) / "debrief.md").read_text().startswith(f"# Debrief: {e.id}") for e in analyzed)
    assert board.best(env.metric) is not None and "## Turn 1" in ws.playbook.read_text()
    assert {f"{NAME}-leaderboard", f"{NAME}-playbook"} <= _artifact_keys()
    # the configuration that runs out of memory was fixed by a Worker, and the Supervisor recorded the cause
    oom = next(e for e in board.select(kind="experiment") if e.params.get("mode") == "smoke-ok")
    assert oom.attempts == 1 and oom.state in ("analyzed", "done") and metric in oom.metrics
    assert "## Supervisor note\nMemoryError" in (ws.adapter / "domain_knowledge.md").read_text()

    requests = llm_server.requests
    assert {r.path for r in requests} == {path}
    assert all(r.cache is not None for r in requests)  # every request got a reply: the player never failed
    _wire_format(path, requests)
    ledger = UsageLedger(ws.usage_log, pricing=env.config.pricing).summary()
    assert set(ledger.by_role) == LLM_ROLES and all(t.calls > 0 for t in ledger.by_role.values())
    assert ledger.total.calls == len(requests) and ledger.total.cost_usd > 0

    # Phase 3's prompts are partly served from the cache, and alphalab's ledger records what the fake reported
    played: Counter[str] = Counter()
    phase3 = CacheStats()
    for r in requests:
        role = role_of(r.path, r.body)
        played[role] += 1
        if role.split(":")[0] in PHASE3_ROLES:
            phase3.add(r.cache)
    assert {"worker:implement", "worker:analyze", "worker:fix"} <= set(played)
    ours = ledger.by_phase["phase3"]
    assert phase3.read_tokens > 0
    assert (ours.cached_input_tokens, ours.input_tokens) == (phase3.read_tokens, phase3.prompt_tokens)


def test_the_generator_writes_an_adapter_that_validates(tmp_path, library, llm_server):  # noqa: F811
    domain = "guess a hidden number from noisy probes"
    config = _config(tmp_path, llm_server.settings_for("openai-compatible"), domain=domain)
    llm_server.respond_with(RolePlayer(tmp_path / "ws"))

    assert main(["run", config, "--stop-after", "0"]) == 0

    ws = Campaign.load(tmp_path / "ws").workspace
    adapter = load_adapter(ws.adapter)
    assert adapter.manifest.name == slugify(domain, 30) and adapter.manifest.harness == DOMAIN
    reference = sorted(p.relative_to(library / DOMAIN) for p in (library / DOMAIN).rglob("*") if p.is_file())
    assert sorted(p.relative_to(ws.adapter) for p in ws.adapter.rglob("*") if p.is_file()) == reference
    assert "phase 0: manifest.yaml after the reference adapter" in ws.git("log", "--format=%s").stdout
    assert set(UsageLedger(ws.usage_log).summary().by_role) == {"generator"}
