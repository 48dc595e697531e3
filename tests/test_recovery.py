"""Recovering from what a user can fix, the way a user recovers: `alphalab rerun-phase N` after a failed phase, or
the same campaign run again after fixing a file by hand. On the session's Prefect API (a server on 127.0.0.1)."""

from __future__ import annotations

import shutil

import pytest

from alphalab import harness_seal
from alphalab.workspace import Workspace
from cli.main import main
from fixtures.pipeline_helpers import TINY_ADAPTER, ScriptBook, use_fixture_library, write_config
from test_campaign import BUILD, FINDING, TESTS, _review, terminal  # noqa: F401 (fixture)
from tests.fakes.llm_server import llm_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_rerun_after_a_critic_failure_reads_only_this_attempts_reviews(tmp_path, monkeypatch):
    from flows.campaign import campaign

    use_fixture_library(monkeypatch)
    config = write_config(tmp_path, llm_roles=("builder", "critic", "tester"), phase2={"max_rounds": 2})
    book = ScriptBook()
    for _ in range(2):
        book.add("builder", BUILD).add("critic", _review("NEEDS FIXES", FINDING))
    book.install(monkeypatch)
    with pytest.raises(Exception, match="did not PASS in 2 round"):
        campaign(str(config), stop_after=2)
    ws = Workspace(tmp_path / "ws")

    # this time round 1 passes: the failed attempt's round 2 (NEEDS FIXES) must not stand for this attempt
    book.add("builder", BUILD).add("critic", _review("PASS")).add("tester", TESTS)
    assert main(["rerun-phase", "2", "--workspace", str(ws.root)]) == 0
    assert sorted(p.name for p in ws.reviews.glob("round_*.json")) == ["round_01.json"]
    earlier = ws.reviews / "history" / "1"
    assert sorted(p.name for p in earlier.glob("round_*.json")) == ["round_01.json", "round_02.json"]
    assert (earlier / "round_02.md").read_text().startswith("# Critic review, round 2: NEEDS FIXES")


def test_the_campaign_run_again_after_a_fix_by_hand_reviews_the_fixed_harness_and_keeps_it(tmp_path, monkeypatch):
    from flows.campaign import campaign

    use_fixture_library(monkeypatch)
    config = write_config(tmp_path, llm_roles=("builder", "critic", "tester"), phase2={"max_rounds": 1})
    book = ScriptBook().add("builder", BUILD).add("critic", _review("NEEDS FIXES", FINDING)).install(monkeypatch)
    with pytest.raises(Exception, match="harness/extra.py:1: unused"):
        campaign(str(config), stop_after=2)
    ws = Workspace(tmp_path / "ws")
    fixed = "X = 1\nprint(X)  # used now: fixed by hand\n"
    (ws.harness / "extra.py").write_text(fixed)

    book.add("critic", _review("PASS")).add("tester", TESTS)
    assert campaign(str(config), stop_after=2).phases_done == [0, 1, 2]
    # the Builder's round came back from cache (its answer stands, the fix stays on disk); the Critic reviewed the
    # fixed harness instead of replaying its verdict on the one before
    assert len(book.used["builder"]) == 1 and len(book.used["critic"]) == 2
    assert (ws.harness / "extra.py").read_text() == fixed and harness_seal.changes(ws) == []
    assert (ws.reviews / "round_01.md").read_text().startswith("# Critic review, round 1: PASS")


def test_rerun_phase_2_keeps_a_hand_edit_of_the_trusted_harness_and_says_so(tmp_path, monkeypatch, terminal):  # noqa: F811
    from flows.campaign import campaign

    use_fixture_library(monkeypatch)
    campaign(str(write_config(tmp_path)), stop_after=2)  # the baseline roles: the trusted harness as is
    ws = Workspace(tmp_path / "ws")
    edited = (ws.harness / "evaluate.py").read_text() + "# tuned by hand\n"
    (ws.harness / "evaluate.py").write_text(edited)

    assert main(["rerun-phase", "2", "--workspace", str(ws.root)]) == 0
    assert (ws.harness / "evaluate.py").read_text() == edited and harness_seal.changes(ws) == []
    assert ("keeping harness files edited by hand since Phase 2 last wrote them: harness/evaluate.py"
            in terminal.getvalue())


def test_a_deleted_output_runs_its_role_again_instead_of_replaying_the_cache(tmp_path, monkeypatch):
    from flows.campaign import campaign

    use_fixture_library(monkeypatch)
    config = write_config(tmp_path)
    campaign(str(config), stop_after=1)
    ws = Workspace(tmp_path / "ws")
    ws.learnings.unlink()
    assert campaign(str(config), stop_after=1).phases_done == [0, 1]
    assert ws.learnings.is_file()


def test_phase0_run_again_after_fixing_the_generated_adapter_by_hand(tmp_path, monkeypatch):
    from alphalab.errors import AdapterError
    from alphalab.roles.generator import MAX_ATTEMPTS
    from flows.campaign import campaign

    use_fixture_library(monkeypatch)
    config = write_config(tmp_path, domain="forecast a tiny sensor", llm_roles=("generator",))
    book = ScriptBook()
    for _ in range(MAX_ATTEMPTS):  # a generator that never writes a manifest
        book.add("generator", [("write_adapter_file", {"file": "domain_knowledge.md", "content": "facts"}),
                               ("report_to_user", {"message": "done"})])
    book.install(monkeypatch)
    with pytest.raises(AdapterError):
        campaign(str(config), stop_after=0)
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(TINY_ADAPTER, ws.adapter, dirs_exist_ok=True)  # the user writes the adapter by hand
    assert campaign(str(config), stop_after=0).phases_done == [0]
    assert len(book.used["generator"]) == MAX_ATTEMPTS  # resumed from disk: no generator call spent on it


def test_rerun_phase_3_after_fixing_the_key_a_provider_refused(tmp_path, llm_server):  # noqa: F811
    from alphalab.campaign import Campaign
    from fixtures.phase3.helpers import make_workspace
    from flows.phase3_experiments import phase3_experiments
    from tests.fakes.llm_server import error_reply
    from tests.fakes.role_player import RolePlayer

    strategist = llm_server.settings_for("openai-compatible").model_dump(mode="json", exclude_none=True)
    _, ws = make_workspace(tmp_path, models={"roles": {"strategist": strategist}}, budgets={"experiments": 2})
    ws.learnings.write_text("- a synthetic loss over x and kind\n")  # Phase 1's, which the Strategist reads
    llm_server.enqueue(error_reply(401, "Incorrect API key provided"))
    assert phase3_experiments(str(ws.root), return_state=True).is_failed()
    assert Campaign.load(ws.root).board.select() == []

    llm_server.respond_with(RolePlayer(ws.root))  # the key is fixed: the provider answers
    assert main(["rerun-phase", "3", "--workspace", str(ws.root)]) == 0
    env = Campaign.load(ws.root)
    assert len(env.board.select("analyzed", "done", kind="experiment")) >= 2 and env.board.best(env.metric)
