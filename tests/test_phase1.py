"""Phase 1: the Explorer works a plan to completion; the Supervisor check fails a run that leaves work undone."""

from __future__ import annotations

import shutil

import pytest

from alphalab.campaign import Campaign
from alphalab.errors import PhaseFailed
from alphalab.supervisor_checks import plan_items
from fixtures.pipeline_helpers import TINY_ADAPTER, ScriptBook, use_fixture_library, write_config

pytestmark = pytest.mark.usefixtures("prefect_harness")

PLAN = "# Plan\n- [{a}] Count the values\n- [{b}] Plot the series\n"
STATS = "import sys\nv = [float(x) for x in open(sys.argv[1]).read().split()]\nprint(len(v), sum(v) / len(v))\n"


def _workspace(tmp_path, monkeypatch, **kw):
    use_fixture_library(monkeypatch)
    ws = Campaign.open(write_config(tmp_path, **kw)).workspace
    shutil.copytree(TINY_ADAPTER, ws.adapter, dirs_exist_ok=True)
    return ws


def _explorer_calls(*, finish_plan: bool) -> list[tuple[str, dict]]:
    calls = [
        ("write_file", {"path": "plan.md", "content": PLAN.format(a=" ", b=" ")}),
        ("write_file", {"path": "scripts/stats.py", "content": STATS}),
        ("shell_exec", {"command": "python scripts/stats.py $(python -c \"import yaml;print(yaml.safe_load("
                                   "open('campaign.yaml'))['data_path'])\")/series.csv"}),
        ("write_file", {"path": "learnings.md", "content": "- 8 values, mean 4.5\n"}),
        ("write_file", {"path": "plan.md", "content": PLAN.format(a="x", b=" ")}),
        ("write_file", {"path": "data_report/statistics.md", "content": "# Statistics\n8 values, mean 4.5\n"}),
    ]
    if finish_plan:
        calls += [("write_file", {"path": "plots/series.txt", "content": "a plot"}),
                  ("write_file", {"path": "plan.md", "content": PLAN.format(a="x", b="x")})]
    return calls + [("report_to_user", {"message": "explored: 8 values"})]


def test_explorer_works_its_plan_to_completion(tmp_path, monkeypatch):
    from flows.phase1_explore import phase1_explore

    ws = _workspace(tmp_path, monkeypatch, llm_roles=("explorer",))
    book = ScriptBook()
    book.add("explorer", _explorer_calls(finish_plan=True)).install(monkeypatch)
    result = phase1_explore(str(ws.root))
    assert result.finished and result.report == "explored: 8 values" and not result.baseline
    assert plan_items(ws.plan) == [(True, "Count the values"), (True, "Plot the series")]
    # the analysis script really ran: its output reached the agent
    assert "8 4.5" in book.used["explorer"][0].calls[3][-1].content
    assert ws.git("log", "-1", "--format=%s").stdout.strip() == "phase 1: exploration"
    # the system prompt is the adapter's explorer template rendered for this campaign
    assert book.used["explorer"][0].calls[0][0].content.startswith("You are the phase1_explorer for tiny.")


def test_unchecked_plan_items_fail_the_supervisor_check(tmp_path, monkeypatch):
    from flows.phase1_explore import phase1_explore

    ws = _workspace(tmp_path, monkeypatch, llm_roles=("explorer",))
    ScriptBook().add("explorer", _explorer_calls(finish_plan=False)).install(monkeypatch)
    with pytest.raises(PhaseFailed) as e:
        phase1_explore(str(ws.root))
    assert "Phase 1 check failed" in str(e.value)
    assert "1 unchecked item(s): 'Plot the series'" in str(e.value)
    assert "learnings" not in str(e.value) and "data_report" not in str(e.value)


def test_supervisor_names_every_missing_artifact(tmp_path, monkeypatch):
    from flows.phase1_explore import phase1_explore

    ws = _workspace(tmp_path, monkeypatch, llm_roles=("explorer",), agent_limits={"max_steps": 1})
    ScriptBook().add("explorer", [("write_file", {"path": "plan.md", "content": "- [ ] look\n"})]).install(monkeypatch)
    with pytest.raises(PhaseFailed) as e:
        phase1_explore(str(ws.root))
    message = str(e.value)
    for expected in ("stopped before report_to_user", "'look'", "learnings.md is missing", "data_report/ holds no"):
        assert expected in message


def test_baseline_explorer_runs_the_adapters_exploration_script(tmp_path, monkeypatch):
    from flows.phase1_explore import phase1_explore

    ws = _workspace(tmp_path, monkeypatch)
    result = phase1_explore(str(ws.root))
    assert result.baseline and "8 values, mean 4.50" in result.report
    assert "8 values, mean 4.50" in ws.learnings.read_text()
    assert "8 values, mean 4.50" in (ws.data_report / "exploration.md").read_text()
    assert (ws.scripts / "explore.py").is_file()
    items = plan_items(ws.plan)
    assert len(items) == 3 and all(checked for checked, _ in items)
