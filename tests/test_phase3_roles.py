"""The Phase 3 roles on their own: the baseline policies (Optuna Strategist, template Worker, fallback fix,
Supervisor note, Reporter), the Strategist's bounded view, playbook compaction and the Strategist's tools."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from alphalab.execution import JOB_MARKER, recording_pid
from alphalab.experiment_files import SMOKE_PID
from alphalab.campaign import Campaign
from alphalab.phase3.contracts import StrategistInput
from alphalab.playbook import Playbook, compact, split_sections
from alphalab.roles import reporter, strategist, supervisor, worker
from alphalab.roles.base import RoleContext
from alphalab.phase3.contracts import Failure, SupervisorInput
from alphalab.tools.base import ToolContext, ToolError
from alphalab.tools.board_tools import StrategistTurn, strategist_tools
from alphalab.adapters import builtin_adapter_dir, load_adapter
from alphalab.phase3.smoke import smoke_test
from fixtures.phase3.helpers import make_workspace

TIME_SERIES = builtin_adapter_dir("time_series")


@pytest.fixture
def env(tmp_path):
    config, ws = make_workspace(tmp_path)
    return Campaign(config, ws)


def _ctx(env):
    return RoleContext(env.config, env.workspace, log=lambda line: None, phase="phase3")


def _finish(env, exp_id, loss, **others):
    b = env.board
    for s in ("implemented", "checked", "queued", "running"):
        b.transition(exp_id, s)
    b.transition(exp_id, "finished", metrics={"loss": loss, **others}, eval_mode="full")
    b.transition(exp_id, "analyzed")


def test_baseline_strategist_starts_from_reference_and_warm_starts_deterministically(env, tmp_path):
    out = strategist.run(_ctx(env), StrategistInput(turn=1, proposals_wanted=3, budget_left=12))
    rows = env.board.select()
    assert len(out.proposed) == 3 and rows[0].params == {"x": 0.5, "kind": "a", "mode": "ok"}
    assert len({json.dumps(r.params, sort_keys=True) for r in rows}) == 3
    assert all(r.seed == env.seed_for(r.seq) for r in rows)
    for r, loss in zip(rows, (0.1, 0.3, 0.2)):
        _finish(env, r.id, loss)
    # the same board gives the same next proposals: a resumed campaign continues the same study
    config2, ws2 = make_workspace(tmp_path / "copy")
    env2 = Campaign(config2, ws2)
    for r in rows:
        e = env2.board.add(r.name, r.spec)
        _finish(env2, e.id, env.board.get(r.id).metrics["loss"])
    a = strategist.run(_ctx(env), StrategistInput(turn=2, proposals_wanted=2, budget_left=9))
    b = strategist.run(_ctx(env2), StrategistInput(turn=2, proposals_wanted=2, budget_left=9))
    assert [env.board.get(i).params for i in a.proposed] == [env2.board.get(i).params for i in b.proposed]
    assert "Best so far" in env.workspace.playbook.read_text()


def test_strategist_view_is_bounded_and_marks_debriefs_seen(env):
    for i in range(30):
        e = env.board.add(f"exp {i}", {"params": {"x": i / 30, "kind": "a", "mode": "ok"}})
        _finish(env, e.id, 1.0 - i / 100)
        env.exp_dir(e.id).mkdir(parents=True, exist_ok=True)
        (env.exp_dir(e.id) / "debrief.md").write_text("why it worked " * 200)
    Playbook(env.workspace.playbook, 6000).write("## lessons\n" + "- a lesson\n" * 500)
    view = strategist.build_view(env, StrategistInput(turn=5, proposals_wanted=2, budget_left=3),
                                 playbook_chars=len(env.workspace.playbook.read_text()))
    assert len(view.leaderboard) + len(view.recent_debriefs) < strategist.VIEW_BUDGET_CHARS
    assert "top 5 and latest 3" in view.leaderboard and "Earlier results" in view.recent_debriefs
    assert len(view.seen) == 30 and view.budget_tier.startswith("refine")  # 3 of 12 left


def test_budget_tiers_follow_the_share_of_the_budget_left_and_start_with_exploring():
    tiers = [strategist.budget_tier(left, 100, analyzed=10).split(":")[0] for left in (60, 40, 20, 5, 0)]
    assert tiers == ["explore", "focus", "refine", "strong evidence only", "stop"]
    # nothing analyzed yet: nothing to focus on, whatever the budget (the first turn of a small campaign)
    assert strategist.budget_tier(12, 12, analyzed=0).startswith("explore")
    assert strategist.budget_tier(5, 100, analyzed=0).startswith("explore")


def test_playbook_compaction_keeps_recent_sections_and_archives_old_ones(tmp_path):
    pb = Playbook(tmp_path / "playbook.md", max_chars=1500)
    for i in range(40):
        pb.append(f"Turn {i}", f"- finding {i}: " + "detail " * 20)
    text = pb.read()
    assert len(text) <= 1500 and "## Turn 39" in text and "detail" in text.split("## Turn 39")[1]
    assert "moved to playbook.archive.md" in text and "## Turn 0" in pb.archive.read_text()
    small, moved = compact("## a\nx\n", 100)
    assert small == "## a\nx\n" and moved == ""
    assert [s.heading for s in split_sections("intro\n## one\n1\n## two\n2\n")] == ["", "one", "two"]


def test_board_tools_enforce_the_turn_and_the_search_space(env):
    turn = StrategistTurn(proposals_wanted=1)
    ctx = ToolContext(workspace=env.workspace.root)
    _, propose_experiment, cancel_experiment, update_playbook = strategist_tools(
        env.board, Playbook(env.workspace.playbook, 6000), turn, env.manifest, env.seed_for)
    with pytest.raises(ToolError, match="unknown params"):
        propose_experiment(ctx, json.dumps({"name": "n", "hypothesis": "h", "spec": {"params": {"lr": 1}}}))
    assert "proposed e001" in propose_experiment(ctx, json.dumps(
        {"name": "n", "hypothesis": "h", "spec": {"params": {"x": 0.1}}})).text
    with pytest.raises(ToolError, match="at most 1"):
        propose_experiment(ctx, json.dumps({"name": "m", "hypothesis": "h", "spec": {}}))
    cancel_experiment(ctx, json.dumps({"exp_id": "e001-n", "reason": "changed my mind"}))
    with pytest.raises(ToolError):
        cancel_experiment(ctx, json.dumps({"exp_id": "e001-n", "reason": "again"}))
    update_playbook(ctx, json.dumps({"content": "- x small is good", "heading": "Lessons"}))
    assert turn.cancelled == ["e001-n"] and turn.playbook_updated
    assert "x small is good" in env.workspace.playbook.read_text()


def _propose_tool(env, manifest, n=10):
    tools = strategist_tools(env.board, Playbook(env.workspace.playbook, 6000), StrategistTurn(proposals_wanted=n),
                             manifest, env.seed_for)
    return lambda **args: tools[1](ToolContext(workspace=env.workspace.root), json.dumps(args)).text


@pytest.mark.parametrize("params, problem", [
    ({"epochs": 3.5}, "`epochs`: 3.5 is not an integer from 2 to 8"),
    ({"epochs": True}, "`epochs`: True is not an integer from 2 to 8"),
    ({"epochs": 9}, "`epochs`: 9 is outside its range (an integer from 2 to 8)"),
    ({"lr": 0.5}, "`lr`: 0.5 is outside its range (a number from 0.0003 to 0.01, log scale)"),
    ({"model": "NHiTS"}, "`model`: 'NHiTS' is not one of seasonal_naive_24, seasonal_naive_168, DLinear"),
    ({"context_length": "96"}, "`context_length`: '96' is not one of 48, 96, 168, 336"),
    ({"revin": True}, "unknown params ['revin']; the search space has ['model', 'context_length'"),
])
def test_propose_experiment_refuses_params_outside_the_search_space_naming_what_is_allowed(env, params, problem):
    manifest = load_adapter(TIME_SERIES).manifest
    with pytest.raises(ToolError) as e:
        _propose_tool(env, manifest)(name="n", hypothesis="h", spec={"params": params})
    assert problem in str(e.value)
    assert env.board.select() == []


def test_propose_experiment_stores_a_whole_configuration_in_the_parameters_own_types(env):
    manifest = load_adapter(TIME_SERIES).manifest
    propose = _propose_tool(env, manifest)
    # a float takes an int, an integral float is an int, a choice is the choice itself; the rest is the reference
    out = propose(name="a", hypothesis="h", spec={"params": {"dropout": 0, "epochs": 4.0, "context_length": 336.0}})
    first = env.board.select()[0]
    assert first.params == manifest.search_space.reference_params() | {"dropout": 0.0, "epochs": 4,
                                                                        "context_length": 336}
    assert [type(first.params[k]) for k in ("dropout", "epochs", "context_length")] == [float, int, int]
    assert out.startswith(f"proposed {first.id} with params ") and '"epochs": 4' in out
    # what a child leaves out comes from its parent
    propose(name="child", hypothesis="h", spec={"params": {"model": "PatchTST"}}, parent=first.id)
    child = env.board.select()[1]
    assert child.params == first.params | {"model": "PatchTST"} and child.parent == first.id
    # code beyond the template is said in words
    with pytest.raises(ToolError, match="beyond_template"):
        propose(name="c", hypothesis="h", spec={"beyond_template": ""})
    propose(name="nhits", hypothesis="h", spec={"beyond_template": "an N-HiTS model", "params": {}})
    assert env.board.select()[2].spec["beyond_template"] == "an N-HiTS model"


def test_a_beyond_template_experiment_is_smoke_tested_like_any_other(env):
    """A Worker may write more than the template when the spec asks for it; the trusted smoke test judges the
    folder it leaves, whatever files are in it. The baseline Worker cannot write code, so it gives up."""
    exp = env.board.add("helper", {"params": {"x": 0.3, "kind": "a", "mode": "ok"},
                                   "beyond_template": "compute the prediction in a module of its own"})
    d = env.exp_dir(exp.id)
    env.render(exp, exp.params)
    (d / "helper.py").write_text("def prediction(params):\n    return params['x']\n")
    train = (d / "train.py").read_text().replace('{"prediction": params["x"]', '{"prediction": prediction(params)')
    (d / "train.py").write_text("from helper import prediction\n" + train)
    assert smoke_test(env, exp, "implement").ok
    (d / "helper.py").write_text("raise ImportError('the helper is broken')\n")
    broken = smoke_test(env, exp, "implement")
    assert not broken.ok and broken.error_signature == "ImportError"
    baseline = worker.implement(_ctx(env), exp.id)
    assert not baseline.ok and baseline.gave_up and baseline.error_signature == "beyond-template"
    assert worker.fix(_ctx(env), exp.id).gave_up


def test_baseline_worker_implements_fixes_with_fallback_once_and_analyzes(env):
    ctx = _ctx(env)
    bad = env.board.add("bad", {"params": {"x": 0.4, "kind": "b", "mode": "crash"}})
    out = worker.implement(ctx, bad.id)
    assert not out.ok and out.error_signature == "RuntimeError"
    assert (env.exp_dir(bad.id) / "train.py").is_file() and json.loads(
        (env.exp_dir(bad.id) / "config.json").read_text())["mode"] == "crash"
    env.board.transition(bad.id, "failed", error_signature=out.error_signature)
    fixed = worker.fix(ctx, bad.id)
    assert fixed.ok and fixed.spec["params"]["mode"] == "ok" and fixed.spec["fallback_applied"]
    env.board.update(bad.id, spec=fixed.spec)
    again = worker.fix(ctx, bad.id)
    assert again.gave_up and not again.ok
    good = env.board.add("good", {"params": {"x": 0.3, "kind": "a", "mode": "ok"}})
    assert worker.implement(ctx, good.id).ok
    _finish(env, good.id, 0.001)
    worker.analyze(ctx, good.id)
    debrief = (env.exp_dir(good.id) / "debrief.md").read_text()
    for section in ("## Configuration", "## Result", "## Against the best", "## Why", "## Follow-ups"):
        assert section in debrief
    assert "loss = 0.001" in debrief


def test_smoke_test_first_kills_a_crashed_campaigns_orphan_of_the_same_experiment(env):
    exp = env.board.add("orphaned", {"params": {"x": 0.3, "kind": "a", "mode": "ok"}})
    d = env.exp_dir(exp.id)
    d.mkdir(parents=True)
    orphan = subprocess.Popen(["bash", "-c", recording_pid("sleep 60", d / SMOKE_PID)],
                              env={**os.environ, JOB_MARKER: f"{exp.id}:smoke"}, start_new_session=True)
    try:
        pid_file, deadline = d / SMOKE_PID, time.monotonic() + 10
        while not (pid_file.exists() and pid_file.read_text().strip()):  # the orphan has started
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert worker.implement(_ctx(env), exp.id).ok
        assert orphan.wait(timeout=5) == -signal.SIGKILL
    finally:
        if orphan.poll() is None:
            os.killpg(orphan.pid, signal.SIGKILL)


def test_baseline_supervisor_commits_the_most_frequent_error(env):
    inp = SupervisorInput(error_rate=0.6, window=5, failures=[
        Failure(exp_id="e1", error_signature="MemoryError", log_tail="MemoryError: CUDA out of memory"),
        Failure(exp_id="e2", error_signature="MemoryError", log_tail="MemoryError: CUDA out of memory"),
        Failure(exp_id="e3", error_signature="RuntimeError", log_tail="RuntimeError: boom"),
    ])
    out = supervisor.run(_ctx(env), inp)
    assert out.patched and out.signature == "MemoryError"
    knowledge = (env.workspace.adapter / "domain_knowledge.md").read_text()
    assert "2 of the last 5 runs failed with `MemoryError`" in knowledge
    last = env.workspace.git("log", "-1", "--format=%s").stdout
    assert "error rate 60%" in last and "MemoryError" in last


def test_reporter_writes_overview_and_convergence_plot(env):
    for i, loss in enumerate((0.5, 0.3, 0.4, 0.1)):
        e = env.board.add(f"r{i}", {"params": {"x": i / 10}})
        _finish(env, e.id, loss, wall=2.0 + i / 3)
    out = reporter.write_milestone(_ctx(env), 1)
    assert out.plot.read_bytes()[:4] == b"\x89PNG"
    text = out.overview.read_text()
    assert "e004-r3: loss = 0.1 over 1 run(s), spread 0 (provisional)" in text
    # what the harness measured beside the ranked metric is shown, rounded, for comparison
    assert "- its other metrics (not ranked): wall = 3.0\n" in text
    assert "| 3 | 0.4 | 0.3 |" in text and "the best result is not confirmed (provisional)" in text


def test_the_phase3_core_runs_without_prefect():
    import subprocess
    import sys

    code = ("import sys; import alphalab.phase3.dispatcher, alphalab.execution, alphalab.operator,"
            " alphalab.roles.strategist;"
            " assert 'prefect' not in sys.modules, sorted(m for m in sys.modules if m.startswith('prefect'))")
    subprocess.run([sys.executable, "-c", code], check=True)
