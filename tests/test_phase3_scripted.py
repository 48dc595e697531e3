"""A whole Phase 3 with scripted models for the Strategist, the Workers and the Supervisor (no Prefect: the
Dispatcher with plain role calls). Covers a Strategist cancellation, a failure fixed on the second attempt, a
failure that ends dead, a Supervisor patch committed to git, a milestone report with its plot, an operator note
reaching the Strategist's prompt, and the convergence stop."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest

from alphalab.phase3.contracts import InboxItem
from alphalab.phase3.dispatcher import Dispatcher
from alphalab.roles.phase3 import local_roles
from alphalab.execution import LocalRunner
from alphalab.models.scripted import ScriptedModel
from alphalab.campaign import Campaign
from alphalab.roles.base import RoleContext
from fixtures.phase3.helpers import ADAPTER, make_workspace

NOTE = "operator says: prefer kind a"
SUPERVISOR_REASON = "supervisor: repeated MemoryError in full runs; documented the smoke-ok trap"
TRAIN_PY = re.sub(r"\{\{.*?\}\}", "scripted", (ADAPTER / "experiment" / "train.py.j2").read_text())
EXP_ID = re.compile(r"[Ee]xperiment (e\d{3}-[a-z0-9-]+)")
# fix attempt n of these experiments writes this mode
FIX_PLAN = {"flaky": ["smoke-ok", "ok"], "doomed": ["smoke-ok", "smoke-ok"]}
# the noise floor's rows come first on the board (they take e001-e003)
NOISE_SEEDS = 3


def _propose(name, x, kind, mode="ok"):
    # the search space offers mode ok only: how a run fails is for the scripted Workers to build (spec.run_mode)
    return ("propose_experiment", {"name": name, "hypothesis": f"{name} helps",
                                   "spec": {"params": {"x": x, "kind": kind}, "run_mode": mode}})


def _turns() -> list[list[tuple[str, dict]]]:
    done = ("report_to_user", {"message": "turn done"})
    turns = [
        [_propose("wide", 0.9, "a"), _propose("flaky", 0.8, "a", "crash"), _propose("doomed", 0.65, "c", "smoke-ok"),
         _propose("unlikely", 0.99, "c"),
         ("cancel_experiment", {"exp_id": f"e{4 + NOISE_SEEDS:03d}-unlikely", "reason": "kind c at the edge will not help"}),
         ("update_playbook", {"heading": "Turn 1", "content": "- start wide; kind c looks weak"}), done],
        [_propose("a75", 0.75, "a"), _propose("a70", 0.7, "a"), _propose("a65", 0.65, "a"), _propose("c95", 0.95, "c"),
         done],
        [_propose("best", 0.3, "a"), _propose("c90", 0.9, "c"), _propose("c85", 0.85, "c"), _propose("c80", 0.8, "c"),
         ("update_playbook", {"mode": "replace", "content": "## Lessons\n- kind a near x=0.3 is best"}), done],
    ]
    for t in range(4, 12):
        turns.append([_propose(f"worse{t}-{i}", 0.6 + i / 10, "c") for i in range(4)] + [done])
    return turns


class Router:
    """Stands in for the model registry: each role invocation gets a scripted model chosen by what it is asked."""

    def __init__(self, env: Campaign):
        self.env = env
        self.turns = _turns()
        self.used: dict[str, list[ScriptedModel]] = defaultdict(list)

    def __call__(self, settings, **_):
        return _Routed(self, settings.model)

    def script(self, role: str, task: str) -> list[tuple[str, dict]]:
        done = ("report_to_user", {"message": f"{role} done"})
        if role == "strategist":
            return self.turns.pop(0)
        if role == "supervisor":
            return [("patch_adapter_file", {"file": "domain_knowledge.md", "old_text": "", "reason": SUPERVISOR_REASON,
                                            "new_text": "\n## Supervisor\nmode smoke-ok runs out of memory in full "
                                                        "runs: use mode ok.\n"}), done]
        exp = self.env.board.get(EXP_ID.search(task)[1])
        folder = f"experiments/{exp.id}"
        if task.startswith("Implement"):
            config = exp.params | {"mode": exp.spec["run_mode"]}
            return [("write_file", {"path": f"{folder}/config.json", "content": json.dumps(config)}),
                    ("write_file", {"path": f"{folder}/train.py", "content": TRAIN_PY}), done]
        if task.startswith("Analyze"):
            return [("write_file", {"path": f"{folder}/debrief.md",
                                    "content": f"# {exp.id}\nloss {exp.metrics.get('loss')}\n"}), done]
        mode = FIX_PLAN.get(exp.name, ["ok", "ok"])[exp.attempts]
        return [("write_file", {"path": f"{folder}/config.json", "content": json.dumps(exp.params | {"mode": mode})}),
                done]


def _task(messages) -> str:
    """The call's user message (after the system prompt's tiers: the template, then the playbook once written)."""
    return next(m.content for m in messages if m.role == "user")


class _Routed:
    supports_images = True
    context_window = 200_000

    def __init__(self, router: Router, role: str):
        self.router, self.role, self.name, self.inner = router, role, f"scripted:{role}", None

    def complete(self, messages, tools):
        if self.inner is None:
            self.inner = ScriptedModel.from_calls(self.router.script(self.role, _task(messages)), name=self.name)
            self.router.used[self.role].append(self.inner)
        return self.inner.complete(messages, tools)


@pytest.fixture
def campaign(tmp_path, monkeypatch):
    scripted = {"provider": "scripted", "script": str(tmp_path / "unused.yaml")}
    config, ws = make_workspace(
        tmp_path,
        budgets={"experiments": 40},
        models={"roles": {r: {**scripted, "model": r} for r in ("strategist", "worker", "supervisor")}},
        phase3={"patience": 8, "reporter_every": 6, "supervisor_window": 6, "supervisor_threshold": 0.3,
                "proposals_per_turn": 4, "strategist_every": 5, "noise_seeds": NOISE_SEEDS, "verify_reruns": 2},
    )
    env = Campaign(config, ws)
    router = Router(env)
    monkeypatch.setattr("alphalab.roles.llm.get_model", router)
    return env, router


def test_scripted_phase3(campaign):
    env, router = campaign
    board, ws = env.board, env.workspace
    sent = []

    def inbox():
        if not sent and len(board.analyzed()) >= 3:
            sent.append(NOTE)
            return [InboxItem(kind="note", text=NOTE)]
        return []

    ctx = RoleContext(env.config, ws, log=lambda line: None, phase="phase3")
    summary = Dispatcher(env, LocalRunner(["0", "1"]), local_roles(ctx), inbox=inbox, log=lambda line: None).run()

    rows = {e.name: e for e in board.select(kind="experiment")}
    assert summary.stop_reason == "converged"
    assert len(rows) >= 12 and summary.analyzed >= 9
    # the Strategist's cancellation
    assert rows["unlikely"].state == "cancelled" and "kind c at the edge" in rows["unlikely"].note
    # a failure fixed on the second attempt, and one that ends dead
    assert rows["flaky"].attempts == 2 and rows["flaky"].state in ("analyzed", "done")
    assert rows["flaky"].metrics["loss"] == pytest.approx(0.25, abs=0.002)
    assert rows["doomed"].state == "dead" and rows["doomed"].attempts == 2
    assert rows["doomed"].error_signature == "MemoryError"
    # the noise floor was measured first, and the best is confirmed by its fresh-seed re-runs against it
    noise = board.select(kind="noise")
    assert len(noise) == NOISE_SEEDS and all(e.state == "done" for e in noise)
    assert max(e.started_at for e in noise) <= min(e.started_at for e in board.select(kind="experiment")
                                                   if e.started_at)
    best = board.best(env.metric)
    assert best.id == rows["best"].id and best.verification == "confirmed"
    assert len(best.rerun_values) == 2 and best.n == 3
    # the Supervisor's patch is a git commit with its reason
    log = ws.git("log", "--format=%s").stdout
    assert SUPERVISOR_REASON in log
    assert "use mode ok" in (ws.adapter / "domain_knowledge.md").read_text()
    # a milestone report with its convergence plot
    milestone = ws.milestone(1)
    assert (milestone / "convergence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Best so far" in (milestone / "overview.md").read_text()
    # the operator note reached a later Strategist turn's user message, not the first
    turns = [_task(m.calls[0]) for m in router.used["strategist"]]
    assert NOTE not in turns[0] and any(NOTE in p for p in turns[1:])
    # the system prompt carries nothing of a turn: every turn's starts with the same text through the search space
    systems = [m.calls[0][0].content for m in router.used["strategist"]]
    space = env.manifest.search_space_text()
    stable = systems[0][:systems[0].index(space) + len(space)]
    assert all(s.startswith(stable) and NOTE not in s for s in systems)
    # the playbook the Strategist replaced is what later prompts carry
    assert "kind a near x=0.3 is best" in ws.playbook.read_text()
    # every analyzed experiment has its debrief, and nothing is left half-way
    assert all((env.exp_dir(e.id) / "debrief.md").is_file() for e in board.analyzed())
    assert not board.select("to_implement", "implemented", "checked", "queued", "running", "finished", "failed")
