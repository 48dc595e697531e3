"""Issue 16's acceptance test: a whole campaign (`alphalab run`, Phases 0-3) on a free-text domain, every role on
a fake model through the OpenAI SDK, to a leaderboard whose best beats predicting the mean.

The domain is a tabular regression the campaign has no built-in adapter for: a CSV with a known signal
(tests/fixtures/tabular/data.py). The fake model (tests/fakes/role_player.py) knows the domain the way a competent
model would, from tests/fixtures/tabular/: its Generator writes the adapter (adapter/), its Builder the workspace
harness (harness/), and every later role works on what they wrote, as on any other domain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from alphalab.adapters import adapter_problems
from alphalab.campaign import Campaign
from alphalab.cost import UsageLedger
from alphalab.results import read_result
from cli.main import main
from fixtures.tabular.data import read_csv, write_csv
from tests.fakes.llm_server import OPENAI_PATH, llm_server  # noqa: F401 (fixture)
from tests.fakes.role_player import RolePlayer, role_of

pytestmark = pytest.mark.usefixtures("prefect_harness")

NAME = "tabular"
LIBRARY = Path(__file__).parent / "fixtures" / "tabular"
DOMAIN = "tabular regression: predict y from x1..x4"
# every role that talks to a model on a free-text domain (no customizer: there is no built-in adapter to customize;
# the Supervisor only when failures pile up, the reporter has no model)
LLM_ROLES = {"generator", "explorer", "builder", "critic", "tester", "strategist", "worker"}


def _config(tmp_path: Path, settings) -> str:
    raw = {
        "name": NAME, "domain": DOMAIN, "data_path": str(write_csv(tmp_path / "data" / "table.csv")),
        "objective": "predict the column `y` from the other columns; minimize RMSE on held-out rows",
        "workspace": str(tmp_path / "ws"),
        "models": {"default": settings.model_dump(mode="json", exclude_none=True)},
        "pricing": {"fake-model": {"input": 1.0, "cached_input": 0.1, "output": 4.0}},
        "budgets": {"experiments": 4, "usd": 100.0, "wall_clock_hours": 1.0},
        "execution": {"backend": "local", "gpu_slots": ["0", "1"]},
        "agent_limits": {"max_steps": 12, "shell_timeout_s": 60},
        "phase2": {"max_rounds": 1},
        "phase3": {"strategist_every": 4, "reporter_every": 4, "patience": 50, "proposals_per_turn": 4,
                   "noise_seeds": 1, "verify_reruns": 1, "max_fix_attempts": 1},
    }
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def test_a_campaign_on_a_free_text_domain_beats_the_mean(tmp_path, llm_server):  # noqa: F811
    config = _config(tmp_path, llm_server.settings_for("openai-compatible"))
    llm_server.respond_with(RolePlayer(tmp_path / "ws", library=LIBRARY))

    assert main(["run", config]) == 0

    env = Campaign.load(tmp_path / "ws")
    ws, metric = env.workspace, env.metric
    # Phase 0 generated the adapter (no built-in harness: the workspace's own), Phase 2's Builder wrote harness/
    assert env.manifest.name == "tabular-regression" and env.manifest.harness is None
    known, written = _files(LIBRARY / "adapter"), _files(ws.adapter)
    knowledge = known.pop("domain_knowledge.md")  # the Supervisor may have appended a note
    assert known.items() <= written.items() and written["domain_knowledge.md"].startswith(knowledge)
    assert _files(LIBRARY / "harness").items() <= _files(ws.harness).items()
    assert "phase 0: manifest.yaml for this domain" in ws.git("log", "--format=%s").stdout

    # the leaderboard's best beats predicting the mean by far: the model found the signal. The mean's RMSE is the
    # target's spread, computed here from the CSV; the harness's own figure on the held-out rows agrees with it
    _, y = read_csv(env.config.data_path)
    mean_rmse = float(np.std(y))
    board = env.board.leaderboard(metric)
    assert len(board) >= 3 and metric.name == "rmse"
    best = board[0]
    assert best.value < 0.5 * mean_rmse, (best, mean_rmse)
    recorded = read_result(ws, env.exp_dir(best.id), "full")
    assert recorded.details["n_test"] == 60 and abs(recorded.details["train_mean_rmse"] / mean_rmse - 1) < 0.2
    # a polynomial that captures the x3*x4 interaction beats the linear reference
    params = {e.id: env.board.get(e.id).params for e in board}
    linear = [e.value for e in board if params[e.id]["degree"] == 1]
    assert params[best.id]["degree"] >= 2 and linear and best.value < min(linear)
    full = [e for e in env.board.select(kind="experiment") if e.state in ("analyzed", "done")]
    assert all((env.exp_dir(e.id) / "debrief.md").is_file() for e in full)

    # every LLM role made its requests through the fake server, and the ledger accounts for each
    requests = llm_server.requests
    assert {r.path for r in requests} == {OPENAI_PATH}
    assert all(r.cache is not None for r in requests)  # every request got a reply: the player never failed
    played = {role_of(r.path, r.body).split(":")[0] for r in requests}
    assert LLM_ROLES <= played <= LLM_ROLES | {"supervisor"}
    ledger = UsageLedger(ws.usage_log, pricing=env.config.pricing).summary()
    assert LLM_ROLES <= set(ledger.by_role) <= LLM_ROLES | {"supervisor"}
    assert all(t.calls > 0 for t in ledger.by_role.values()) and ledger.total.calls == len(requests)

    print(f"\nroles {sorted(played)}; mean-prediction RMSE {mean_rmse:.4f} (held-out rows: "
          f"{recorded.details['train_mean_rmse']:.4f}); leaderboard:")
    for e in board:
        print(f"  {e.rank}. {e.id} {params[e.id]} rmse={e.value:.4f} ({e.verification})")


def test_the_domain_the_fake_knows_is_a_valid_adapter():
    """What the Generator writes validates as it stands (so a failure above is not the fixture's)."""
    manifest, problems = adapter_problems(LIBRARY / "adapter")
    assert problems == [] and manifest.name == "tabular-regression" and manifest.harness is None
