"""The campaign flow: the whole Phase 0-2 pipeline, `alphalab run`, `alphalab rerun-phase`, and cache replay."""

from __future__ import annotations

import hashlib
import io
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from alphalab import progress
from alphalab.workspace import Workspace
from cli.main import main
from fixtures.pipeline_helpers import ScriptBook, use_fixture_library, write_config

uses_prefect = pytest.mark.usefixtures("prefect_harness")

PLAN = "- [x] count the values\n"
EXPLORER = [
    ("write_file", {"path": "plan.md", "content": PLAN}),
    ("write_file", {"path": "learnings.md", "content": "- 8 values\n"}),
    ("write_file", {"path": "data_report/findings.md", "content": "8 values\n"}),
    ("report_to_user", {"message": "explored"}),
]
CUSTOMIZER = [
    ("patch_adapter_file", {"file": "domain_knowledge.md", "old_text": "", "new_text": "- 8 values\n",
                            "reason": "record the value count"}),
    ("report_to_user", {"message": "customized"}),
]
BUILD = [("write_file", {"path": "harness/extra.py", "content": "X = 1\n"}), ("report_to_user", {"message": "b"})]
FINDING = {"file": "harness/extra.py", "line": 1, "issue": "unused"}
TESTS = [("write_file", {"path": "harness/tests/test_x.py", "content": "def test_x():\n    assert 1 + 1 == 2\n"}),
         ("report_to_user", {"message": "t"})]


def _review(verdict, *findings):
    return [("submit_review", {"verdict": verdict, "findings": list(findings)})]


def _snapshot(ws: Workspace) -> dict[str, str]:
    """Hashes of every file of Phase 0 (adapter/) and Phase 1 (plan, scripts, plots, notes, report, learnings)."""
    roots = [ws.adapter, ws.scripts, ws.plots, ws.data_report, ws.plan, ws.learnings]
    files = [p for r in roots for p in ([r] if r.is_file() else r.rglob("*")) if p.is_file()]
    files += [p for p in ws.notes.rglob("*") if p.is_file() and p.name != "reports.md"]
    return {str(p.relative_to(ws.root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture
def terminal(monkeypatch):
    """What the progress reporter prints. (Not capsys: Prefect's console handler would keep its closed stream.)"""
    buf = io.StringIO()
    reporter = progress.TerminalReporter
    monkeypatch.setattr("alphalab.progress.TerminalReporter", lambda: reporter(stream=buf))
    return buf


@uses_prefect
def test_alphalab_run_drives_phases_0_to_2(tmp_path, monkeypatch, terminal):
    use_fixture_library(monkeypatch)
    config = write_config(tmp_path)
    assert main(["run", str(config), "--stop-after", "2"]) == 0
    out = terminal.getvalue()
    assert "roles on the baseline policy (no LLM): customizer, generator, explorer" in out
    for line in ("phase 0 | customizer | $0.0000 | start (baseline policy)\n", "phase 1 | explorer | $0.0000 | done\n",
                 "phase 2 | tester | $0.0000 | done\n"):
        assert line in out
    assert "campaign 'tiny-test': phases [0, 1, 2] done" in out
    ws = Workspace(tmp_path / "ws")
    assert (ws.reviews / "tests.json").is_file() and ws.learnings.is_file()
    subjects = ws.git("log", "--format=%s").stdout
    assert "phase 1: exploration" in subjects and "phase 2: evaluation harness" in subjects


@uses_prefect
def test_rerun_phase_2_completes_it_and_leaves_phases_0_and_1_untouched(tmp_path, monkeypatch, terminal):
    from flows.campaign import campaign

    use_fixture_library(monkeypatch)
    config = write_config(tmp_path, llm_roles=("explorer", "builder", "critic", "tester"), phase2={"max_rounds": 1})
    book = ScriptBook().add("explorer", EXPLORER).add("builder", BUILD).add("critic", _review("NEEDS FIXES", FINDING))
    book.install(monkeypatch)
    with pytest.raises(Exception, match="did not PASS"):
        campaign(str(config), stop_after=2)
    ws = Workspace(tmp_path / "ws")
    before = _snapshot(ws)
    assert "adapter/manifest.yaml" in before and "learnings.md" in before

    book.add("builder", BUILD).add("critic", _review("PASS")).add("tester", TESTS)
    assert main(["rerun-phase", "2", "--workspace", str(ws.root)]) == 0
    out = terminal.getvalue()
    assert "phase 2 | critic | $0.0000 | done\n" in out
    assert "phase 2 | builder | step 1 | $0.0000 | write_file(" in out  # each agent step, live
    assert _snapshot(ws) == before
    assert len(book.used["explorer"]) == 1  # Phase 1 did not run again
    assert (ws.reviews / "round_01.md").read_text().startswith("# Critic review, round 1: PASS")


@uses_prefect
def test_retrying_a_failed_campaign_replays_phases_0_and_1_from_cache(tmp_path, monkeypatch):
    from flows.campaign import campaign

    use_fixture_library(monkeypatch)
    config = write_config(tmp_path, llm_roles=("customizer", "explorer", "builder", "critic", "tester"))
    book = ScriptBook().add("customizer", CUSTOMIZER).add("explorer", EXPLORER).add("builder", BUILD)
    book.add("critic", [])  # the Critic's provider fails (not transiently): the run fails in Phase 2
    book.install(monkeypatch)
    with pytest.raises(Exception, match="script exhausted"):
        campaign(str(config), stop_after=2)
    calls_before = book.model_calls("customizer", "explorer", "builder")

    cached_before = _cached_task_runs()
    book.add("critic", _review("PASS")).add("tester", TESTS)
    summary = campaign(str(config), stop_after=2)
    assert summary.phases_done == [0, 1, 2]
    assert book.model_calls("customizer", "explorer", "builder") == calls_before  # no new Phase 0/1 role calls
    assert len(book.used["explorer"]) == 1 and len(book.used["builder"]) == 1 and len(book.used["critic"]) == 2

    cached = _cached_task_runs()
    # Phase 1's explorer and the Builder's round 1 came back from cache; the failed Critic ran again
    assert {role: cached[role] - cached_before[role] for role in cached} == {"explorer": 1, "builder": 1}


def _cached_task_runs() -> Counter:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return Counter(r.name.split("-")[0] for r in client.read_task_runs() if r.state and r.state.name == "Cached")


def test_rerun_phase_refuses_a_folder_that_is_not_a_campaign(tmp_path, capsys):
    assert main(["rerun-phase", "1", "--workspace", str(tmp_path)]) == 2
    assert "not a campaign workspace (no campaign.yaml)" in capsys.readouterr().err


@pytest.mark.slow
def test_prefect_deploy_all_succeeds_against_a_real_server():
    """scripts/check_deploy.sh starts and stops its own server on 127.0.0.1 (about 20 s)."""
    repo = Path(__file__).resolve().parents[1]
    res = subprocess.run(["bash", str(repo / "scripts" / "check_deploy.sh")], cwd=repo, capture_output=True,
                         text=True, timeout=280)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "deploy check: ok (8 deployments; campaign cron '0 2 * * *', inactive)" in res.stdout
