"""How much of Phase 3's prompt input the providers' prompt caches serve.

    .venv/bin/python bench/prompt_cache.py                          # both providers, time_series, 12 experiments
    .venv/bin/python bench/prompt_cache.py --providers anthropic --experiments 10
    .venv/bin/python bench/prompt_cache.py --domain synthetic         # the test fixture domain: tiny prompts

Runs a whole campaign per provider, every role on it, against the tests' fake model server
(tests/fakes/llm_server.py) with every role played by tests/fakes/role_player.py through the real SDK: `openai`
(Chat Completions: automatic prefix caching) and `anthropic` (Messages: cache_control breakpoints). The fake
accounts each prompt's cached part as the provider documents it (tests/fakes/prompt_cache.py), and the models are
the README's (a strong one for the Strategist, a cheaper one for the rest), each with its own cache.

The domain is the built-in time_series adapter, for its real prompt sizes, on a small synthetic hourly dataset
(harnesses/forecasting/layout.py: 4 series of 8 weeks, 24 hours ahead over 2 rolling windows) with training capped
at a few seconds (both providers: about 5 minutes on 2 cores); `--domain synthetic` takes the Phase 3 fixture
domain instead (one-line prompts, mostly under the caches' 1024-token minimum; well under a minute).

Prints, for Phase 3, the cached share of input tokens as the fake tallied it and as alphalab's own usage ledger
recorded it (usage.jsonl, entries of phase "phase3"), then calls, prompt tokens and the cached share per role
(Workers per task kind; Phases 0-2 too, for comparison; `written`: tokens written to Anthropic's cache, which
OpenAI does not report), and the Phase 3 spend at the default prices. Target: >= 85 % in Phase 3 for both.

The first call of each role, task kind and model finds a cold cache (and Anthropic writes it), so the share grows
with the campaign: 12 experiments is still a small one (6 gave about 83 % for both when measured).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
# Prefect's home must be set before prefect is imported anywhere; the campaign runs on a temporary API
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="alphalab-bench-prefect-"))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")

import yaml  # noqa: E402

from alphalab.cost import UsageLedger  # noqa: E402
from alphalab.workspace import Workspace  # noqa: E402
from fixtures.phase3.library import DOMAIN as SYNTHETIC, install_library, write_data  # noqa: E402
from tests.fakes.llm_server import ANTHROPIC_PATH, KEY_ENV, OPENAI_PATH, FakeLLMServer  # noqa: E402
from tests.fakes.prompt_cache import CacheStats  # noqa: E402
from tests.fakes.role_player import RolePlayer, role_of  # noqa: E402

# the README's models: (the Strategist's, everyone else's)
MODELS = {"openai": ("gpt-5.2", "gpt-5-mini"), "anthropic": ("claude-opus-4-5", "claude-sonnet-4-5")}
PATHS = {"openai": OPENAI_PATH, "anthropic": ANTHROPIC_PATH}
PHASE = {"customizer": 0, "generator": 0, "explorer": 1, "builder": 2, "critic": 2, "tester": 2, "strategist": 3,
         "worker": 3, "supervisor": 3}
TS_SERIES, TS_WEEKS, TS_WINDOWS = 4, 8, 2
TARGET = 0.85


def time_series_campaign(root: Path) -> dict:
    from harnesses.forecasting.layout import generate_dataset

    data = root / "data"
    if not (data / "metadata.json").is_file():
        generate_dataset(data, n_series=TS_SERIES, length=24 * 7 * TS_WEEKS, prediction_length=24, windows=TS_WINDOWS)
    return {
        "domain": "time_series", "data_path": str(data),
        "objective": "Minimize RMSE of 24-hour-ahead forecasts over the rolling test windows; beat seasonal naive.",
        "execution": {"backend": "local", "gpu_slots": ["0", "1"], "experiment_timeout_s": 180},
        "domain_options": {"threads_per_experiment": 1, "train_time_s": 3,
                           "expected_instances": TS_SERIES * TS_WINDOWS},
    }


def synthetic_campaign(root: Path) -> dict:
    adapters, harnesses = install_library(root / "library")
    os.environ["ALPHALAB_ADAPTERS_DIR"], os.environ["ALPHALAB_HARNESSES_DIR"] = str(adapters), str(harnesses)
    return {"domain": SYNTHETIC, "data_path": str(write_data(root)), "objective": "minimize the synthetic loss",
            "execution": {"backend": "local", "gpu_slots": ["0", "1"]}}


def write_config(root: Path, provider: str, server: FakeLLMServer, domain: dict, experiments: int) -> Path:
    strong, cheap = MODELS[provider]
    raw = {
        "name": f"cache-{provider}", **domain, "workspace": str(root / "ws"),
        "models": {"default": server.settings_for(provider, model=cheap).model_dump(mode="json", exclude_none=True),
                   "roles": {"strategist": server.settings_for(provider, model=strong).model_dump(
                       mode="json", exclude_none=True)}},
        "budgets": {"experiments": experiments, "usd": 100.0, "wall_clock_hours": 1.0},
        "agent_limits": {"max_steps": 20, "shell_timeout_s": 300},
        "phase2": {"max_rounds": 1},
        "phase3": {"strategist_every": 3, "proposals_per_turn": 3, "patience": 50, "noise_seeds": 1,
                   "verify_reruns": 1, "max_fix_attempts": 1},
    }
    path = root / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _share(read: int, total: int) -> str:
    return f"{read / total:6.1%}" if total else "     -"


def report(provider: str, server: FakeLLMServer, ws: Workspace, seconds: float) -> float:
    """Print the figures of one campaign; returns Phase 3's cached share as the fake tallied it."""
    by_role: dict[str, CacheStats] = defaultdict(CacheStats)
    fake3 = CacheStats()
    for r in server.requests:
        if r.cache is None:  # not answered with a reply: nothing was cached or charged
            continue
        role = role_of(r.path, r.body)
        by_role[role].add(r.cache)
        if PHASE[role.split(":")[0]] == 3:
            fake3.add(r.cache)
    ledger = UsageLedger(ws.usage_log).summary()
    ours = ledger.by_phase.get("phase3")
    print(f"\n{provider}: {len(server.requests)} requests, {seconds:.0f} s")
    print(f"  phase 3 cached share: fake {_share(fake3.read_tokens, fake3.prompt_tokens)} "
          f"({fake3.read_tokens} of {fake3.prompt_tokens} prompt tokens, {fake3.requests} calls); alphalab ledger "
          + (f"{_share(ours.cached_input_tokens, ours.input_tokens)} ({ours.cached_input_tokens} of "
             f"{ours.input_tokens}), ${ours.cost_usd:.4f}" if ours else "none"))
    print(f"  {'role':20s} {'phase':>5s} {'calls':>6s} {'prompt':>8s} {'cached':>8s} {'share':>6s} {'written':>8s}")
    for role, s in sorted(by_role.items(), key=lambda kv: (PHASE[kv[0].split(":")[0]], kv[0])):
        print(f"  {role:20s} {PHASE[role.split(':')[0]]:5d} {s.requests:6d} {s.prompt_tokens:8d} {s.read_tokens:8d} "
              f"{_share(s.read_tokens, s.prompt_tokens)} {s.written_tokens:8d}")
    return fake3.cached_share


def run(provider: str, domain: str, experiments: int, root: Path) -> float:
    from flows.campaign import campaign

    root.mkdir(parents=True, exist_ok=True)
    os.environ[KEY_ENV] = "fake-key"
    with FakeLLMServer() as server:
        spec = time_series_campaign(root) if domain == "time_series" else synthetic_campaign(root)
        config = write_config(root, provider, server, spec, experiments)
        server.respond_with(RolePlayer(root / "ws"))
        started = time.monotonic()
        campaign(config=str(config))
        return report(provider, server, Workspace(root / "ws"), time.monotonic() - started)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--providers", nargs="+", choices=sorted(MODELS), default=sorted(MODELS, reverse=True))
    ap.add_argument("--domain", choices=["time_series", "synthetic"], default="time_series")
    ap.add_argument("--experiments", type=int, default=12, help="the experiment budget of each campaign")
    ap.add_argument("--root", type=Path, help="where the campaigns are written (default: a temp dir)")
    args = ap.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="alphalab-cache-"))
    print(f"domain {args.domain}, {args.experiments} experiments per campaign, in {root}")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        shares = {p: run(p, args.domain, args.experiments, root / p) for p in args.providers}
    print("\nphase 3 cached share (target >= 85 %): "
          + ", ".join(f"{p} {s:.1%}{'' if s >= TARGET else ' (below)'}" for p, s in shares.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
