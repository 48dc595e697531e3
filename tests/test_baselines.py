"""The greedy loop and the single shot as flows, on the time-series domain with a generated dataset: each with the
baseline policy and with a scripted model; then `alphalab compare` on their four workspaces, every figure of its
table checked against the boards and ledgers read straight from disk."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from alphalab import adapters
from alphalab.workspace_fork import fork_workspace
from alphalab.roles.baselines import single_shot
from alphalab.roles.baselines.greedy import config_key, iterations_done, mutate
from alphalab.roles.baselines.trial import prepare
from alphalab.board import Board
from alphalab.campaign import Campaign
from alphalab.compare import format_duration, summarize
from alphalab.errors import AlphalabError, PhaseFailed
from alphalab.manifest import SearchSpace
from alphalab.roles.base import RoleContext
from alphalab.roles.builder import install_trusted_harness
from alphalab.workspace import Workspace
from cli.main import main as cli_main
from harnesses.forecasting.layout import generate_dataset
from tests.fixtures.pipeline_helpers import ScriptBook

BUDGET = 3
CONVERGE_BUDGET = 6
PRICE = {"input": 1000.0, "cached_input": 100.0, "output": 2000.0}  # USD per million tokens: visible in the table
# a cheap search space: models that fit in no time, so each run is a second or two
SPACE = {
    "params": [
        {"name": "model", "type": "categorical", "choices": ["seasonal_naive_24", "seasonal_naive_168"]},
        {"name": "context_length", "type": "categorical", "choices": [48, 96]},
    ],
    "reference": {"model": "seasonal_naive_24", "context_length": 48},
    "fallback": {"context_length": 96},
}
WEEKLY = "from harnesses.forecasting.baselines import SeasonalNaive168 as Strategy\n"
CRASHES = ("from harnesses.forecasting.strategy import Strategy as Base\n\n\nclass Strategy(Base):\n"
           "    def fit(self, train):\n        raise RuntimeError('diverged')\n")
# passes the smoke test, then fails the full run: the shape error only shows on the full evaluation
WRONG_SHAPE_IN_FULL = (
    "import numpy as np\nfrom harnesses.forecasting.strategy import Strategy as Base\n\n\n"
    "class Strategy(Base):\n    def predict(self, contexts, prediction_length):\n"
    "        extra = 1 if self.settings.mode == 'full' else 0\n"
    "        return np.zeros((len(contexts), prediction_length + extra))\n")


def make_workspace(root: Path, data: Path, name: str, model: str | None) -> Path:
    """Phases 0-2 as the baseline policy leaves them: the built-in adapter (its search space cut down to cheap
    models) and the trusted forecasting harness installed."""
    models = {"roles": {"worker": {"provider": "scripted", "model": model}}} if model else {}
    config = {"name": name, "domain": "time_series", "data_path": str(data), "objective": "forecast the series",
              "workspace": str(root / name), "models": models, "budgets": {"experiments": BUDGET},
              "pricing": {model: PRICE} if model else {}, "execution": {"experiment_timeout_s": 120},
              "agent_limits": {"max_steps": 6, "shell_timeout_s": 60}}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    ws = Campaign.open(path).workspace
    adapters.copy_builtin("time_series", ws)
    manifest = yaml.safe_load((ws.adapter / "manifest.yaml").read_text())
    manifest["search_space"] = SPACE
    adapters.write_file(ws, "manifest.yaml", yaml.safe_dump(manifest, sort_keys=False), "test: cheap search space")
    install_trusted_harness(ws, "forecasting")
    return ws.root


def write(exp_id: str, content: str) -> tuple[str, dict]:
    return ("write_file", {"path": f"experiments/{exp_id}/strategy.py", "content": content})


def report(message: str) -> tuple[str, dict]:
    return ("report_to_user", {"message": message})


@pytest.fixture(scope="module")
def runs(tmp_path_factory, prefect_harness):
    """The four baseline runs, once: {name: (workspace, its WorkspaceSummary)}, and the ScriptBook under "book"."""
    from flows.baselines import greedy_loop
    from flows.baselines import single_shot as single_shot_flow

    root = tmp_path_factory.mktemp("baselines")
    data = generate_dataset(root / "data", n_series=4, length=24 * 7 * 4, windows=2, seed=3)
    book = ScriptBook()
    # greedy, LLM: e001 is the rendered reference; e002 reads its copy of e001 and switches to a weekly season;
    # e003 (a copy of the new best e002) crashes, so it is reverted
    book.add("greedy-worker", [("read_file", {"path": "experiments/e002-greedy-edit-2/strategy.py"}),
                               write("e002-greedy-edit-2", WEEKLY), report("weekly seasonal naive")])
    book.add("greedy-worker", [write("e003-greedy-edit-3", CRASHES), report("a model that diverges")])
    # single shot, LLM: the call's forecasts have the wrong shape in the full run; the retry sees the error, fixes it
    book.add("shot-worker", [write("e001-single-shot", WRONG_SHAPE_IN_FULL), report("wrote strategy.py")])
    book.add("shot-worker", [write("e001-single-shot", WEEKLY), report("fixed the forecast shape")])
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        book.install(mp)
        for name, flow, model in (("greedy-policy", greedy_loop, None), ("greedy-llm", greedy_loop, "greedy-worker"),
                                  ("shot-llm", single_shot_flow, "shot-worker")):
            ws = make_workspace(root, data, name, model)
            # the policy's loop gets room to converge: the cut-down space has only four configurations
            summary = flow(str(ws), budget=CONVERGE_BUDGET) if name == "greedy-policy" else flow(str(ws))
            out[name] = (ws, summary)
        # the command line, forking the baseline's workspace from one whose Phases 0-2 are done
        source = make_workspace(root, data, "after-phase2", None)
        assert cli_main(["baseline", "single-shot", str(root / "shot-policy"), "--from", str(source),
                         "--verbose"]) == 0
        out["shot-policy"] = (root / "shot-policy", summarize(root / "shot-policy"))
    out["book"] = book
    return out


def rows(ws: Path) -> list[dict]:
    with closing(sqlite3.connect(ws / "board.sqlite")) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) | {"metrics": json.loads(r["metrics"]), "spec": json.loads(r["spec"])}
                for r in con.execute("SELECT * FROM experiments ORDER BY seq")]


def metrics_file(ws: Path, exp_id: str) -> dict:
    workspace = Workspace(ws)
    return json.loads(workspace.result_file(workspace.experiment(exp_id), "full").read_text())


def test_greedy_policy_changes_one_parameter_of_the_best_and_keeps_only_improvements(runs):
    ws, summary = runs["greedy-policy"]
    exps = rows(ws)
    assert all(e["state"] in ("done", "dead") for e in exps)
    assert exps[0]["spec"]["params"] == SPACE["reference"] and exps[0]["parent"] is None
    best_id, best = exps[0]["id"], exps[0]["metrics"]["rmse"]
    configs = [exps[0]["spec"]["params"]]
    for e in exps[1:]:
        assert e["parent"] == best_id  # always a change of the best so far
        parent = next(x for x in exps if x["id"] == best_id)["spec"]["params"]
        changed = {k for k in e["spec"]["params"] if e["spec"]["params"][k] != parent[k]}
        assert len(changed) == 1 and e["spec"]["params"] not in configs
        configs.append(e["spec"]["params"])
        value = e["metrics"]["rmse"]
        assert value == pytest.approx(metrics_file(ws, e["id"])["metrics"]["rmse"])  # the harness's number
        if value < best:
            assert e["note"].startswith("kept")
            best_id, best = e["id"], value
        else:
            assert e["note"].startswith("reverted")
    assert (summary.best_id, summary.best) == (best_id, best)
    assert summary.method == "greedy loop (baseline policy)"
    # it stopped before its budget because every one-parameter change of the best had been tried
    assert len(exps) < CONVERGE_BUDGET
    best_params = next(x for x in exps if x["id"] == best_id)["spec"]["params"]
    for p in SPACE["params"]:
        for choice in p["choices"]:
            assert best_params | {p["name"]: choice} in configs


def test_greedy_llm_edits_a_copy_of_the_best_and_reverts_a_crash(runs):
    ws, summary = runs["greedy-llm"]
    exps = {e["id"]: e for e in rows(ws)}
    assert list(exps) == ["e001-reference", "e002-greedy-edit-2", "e003-greedy-edit-3"]
    ref, weekly, crash = exps.values()
    assert ref["spec"]["params"] == SPACE["reference"]
    assert weekly["parent"] == ref["id"] and weekly["note"].startswith("kept")
    assert weekly["metrics"]["rmse"] < ref["metrics"]["rmse"]
    assert crash["parent"] == weekly["id"] and crash["state"] == "dead" and crash["note"].startswith("reverted")
    assert "RuntimeError" in crash["error_signature"]
    first, second = runs["book"].used["greedy-worker"]
    # the agent's folder started as a copy of the best: reading it showed the reference's rendered strategy
    assert "seasonal_naive_24" in first.calls[1][-1].content
    prompt = "\n".join(m.content for m in second.calls[0])
    assert "copy of the current best experiment e002-greedy-edit-2" in prompt and "weekly seasonal naive" in prompt
    assert (summary.best_id, summary.experiments, summary.failures) == (weekly["id"], 3, 1)


def test_single_shot_policy_renders_the_reference_once(runs):
    ws, summary = runs["shot-policy"]
    (exp,) = rows(ws)
    assert exp["state"] == "done" and exp["attempts"] == 0 and exp["eval_mode"] == "full"
    assert exp["spec"]["params"] == SPACE["reference"]
    assert exp["metrics"]["rmse"] == pytest.approx(metrics_file(ws, exp["id"])["metrics"]["rmse"])
    assert summary.best == exp["metrics"]["rmse"] and summary.tokens == 0


def test_single_shot_llm_retries_once_with_the_error(runs):
    ws, summary = runs["shot-llm"]
    (exp,) = rows(ws)
    assert exp["state"] == "done" and exp["attempts"] == 1 and exp["spec"] == {}
    call, retry = runs["book"].used["shot-worker"]
    assert "predictions have shape" not in "\n".join(m.content for m in call.calls[0])
    assert "predictions have shape (4, 25)" in "\n".join(m.content for m in retry.calls[0])  # the full run's error
    with closing(sqlite3.connect(ws / "board.sqlite")) as con:
        assert con.execute("SELECT attempt, ok FROM runs ORDER BY rowid").fetchall() == [(0, 0), (1, 1)]
    assert summary.best == pytest.approx(exp["metrics"]["rmse"])
    assert summary.tokens > 0 and summary.cost_usd > 0


def _ledger(ws: Path) -> tuple[int, float]:
    path = ws / "usage.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []
    return sum(x["input_tokens"] + x["output_tokens"] for x in lines), sum(x["cost_usd"] for x in lines)


def test_compare_table_matches_the_boards(runs, tmp_path, capsys):
    names = ["greedy-policy", "greedy-llm", "shot-policy", "shot-llm"]
    code = cli_main(["compare", *(str(runs[n][0]) for n in names), "--out", str(tmp_path)])
    assert code == 0
    printed = capsys.readouterr().out
    table = [line for line in printed.splitlines() if line.startswith("| ") and "---" not in line]
    assert table[0].startswith("| workspace | method | best |")
    cells = {r.split(" | ")[0][2:]: [c.strip() for c in r.strip("| ").split(" | ")] for r in table[1:]}
    for name in names:
        ws = runs[name][0]
        exps = [e for e in rows(ws) if e["kind"] == "experiment"]
        run = [e for e in exps if e["state"] in ("finished", "analyzed", "done", "failed", "dead")]
        ranked = [e for e in exps if e["state"] in ("analyzed", "done") and e["eval_mode"] == "full"]
        best = min(ranked, key=lambda e: e["metrics"]["rmse"])
        tokens, cost = _ledger(ws)
        wall = max(e["finished_at"] for e in exps if e["finished_at"]) - min(e["started_at"] for e in exps
                                                                                if e["started_at"])
        row = cells[name]
        assert row[2] == f"{best['metrics']['rmse']:.6g} ({best['id']})"
        assert row[3:] == [str(len(run)), str(sum(e["state"] in ("failed", "dead") for e in run)), f"{tokens:,}",
                           f"{cost:.4f}", format_duration(wall)]
    assert cells["greedy-llm"][4] == "1" and float(cells["shot-llm"][6]) > 0
    assert (tmp_path / "compare.md").read_text().count("| ") >= 5 * 8
    assert (tmp_path / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mutate_changes_one_parameter_and_stops_when_every_neighbour_was_tried():
    space = SearchSpace.model_validate({"params": [
        {"name": "kind", "type": "categorical", "choices": ["a", "b"]},
        {"name": "depth", "type": "int", "low": 1, "high": 9},
        {"name": "lr", "type": "float", "low": 1e-4, "high": 1e-1, "log": True}]})
    base = {"kind": "a", "depth": 5, "lr": 0.01}
    rng = random.Random(0)
    for _ in range(50):
        params, change = mutate(base, space, rng, set())
        (name,) = [k for k in base if params[k] != base[k]]
        assert change.startswith(f"{name}: ") and 1 <= params["depth"] <= 9 and 1e-4 <= params["lr"] <= 1e-1
    tiny = SearchSpace.model_validate({"params": [{"name": "kind", "type": "categorical", "choices": ["a", "b"]}]})
    assert mutate({"kind": "a"}, tiny, rng, set())[0] == {"kind": "b"}
    assert mutate({"kind": "a"}, tiny, rng, {config_key({"kind": "b"})}) is None


def test_prepare_refuses_a_workspace_without_harness_and_settles_an_interrupted_run(tmp_path):
    data = generate_dataset(tmp_path / "data", n_series=2, length=24 * 7 * 2, windows=1)
    ws = make_workspace(tmp_path, data, "resumed", None)
    ctx = RoleContext.load(ws)
    board = Board(ws / "board.sqlite")
    states = {}
    for name, path in (("crashed", ("running",)), ("lost", ("running", "failed")), ("unread", ("running", "finished"))):
        exp = board.add(name=name, spec={})
        for state in ("implemented", "checked", "queued", *path):
            fields = {"metrics": {"rmse": 1.0}, "eval_mode": "full"} if state == "finished" else {}
            board.transition(exp.id, state, **fields)
        (ws / "experiments" / exp.id).mkdir(parents=True)
        states[name] = exp.id
    prepare(ctx, "greedy loop")
    assert [board.get(states[n]).state for n in ("crashed", "lost", "unread")] == ["cancelled", "dead", "done"]
    assert (ws / "experiments" / states["unread"] / "debrief.md").is_file()
    assert iterations_done(ctx) == 2 and board.get_meta("method") == "greedy loop (baseline policy)"
    shutil.rmtree(ws / "harness")
    with pytest.raises(PhaseFailed, match="harness/ holds no Python files"):
        prepare(ctx, "greedy loop")


def test_fork_copies_phases_0_to_2_and_nothing_of_phase_3(tmp_path):
    data = generate_dataset(tmp_path / "data", n_series=2, length=24 * 7 * 2, windows=1)
    source = make_workspace(tmp_path, data, "campaign", None)
    (source / "learnings.md").write_text("weekly cycle\n")
    Board(source / "board.sqlite").add(name="x", spec={})
    (source / "usage.jsonl").write_text("")
    ws = fork_workspace(source, tmp_path / "fork")
    assert (ws.learnings.read_text(), ws.board_db.exists(), ws.usage_log.exists()) == ("weekly cycle\n", False, False)
    assert (ws.adapter / "manifest.yaml").read_text() == (source / "adapter" / "manifest.yaml").read_text()
    assert sorted(p.name for p in ws.harness.glob("*.py")) == sorted(p.name for p in (source / "harness").glob("*.py"))
    config = Campaign.load(ws.root).config
    assert config.workspace == ws.root and config.name == "campaign"
    with pytest.raises(AlphalabError, match="not empty"):
        fork_workspace(source, tmp_path / "fork")


def test_single_shot_policy_retries_with_the_fallback(tmp_path):
    """Without a model the retry is the search space's fallback: here the reference's context is too short."""
    data = generate_dataset(tmp_path / "data", n_series=2, length=24 * 7 * 2, windows=1)
    ws = make_workspace(tmp_path, data, "fallback", None)
    template = ("{% if params.context_length == 48 %}raise RuntimeError('context too short'){% endif %}\n"
                "from harnesses.forecasting.baselines import SeasonalNaive as Strategy\n")
    (ws / "adapter" / "template" / "strategy.py.j2").write_text(template)
    ctx = RoleContext.load(ws)
    exp_id = single_shot.start(ctx)
    assert not single_shot.implement(ctx, exp_id).ok
    assert single_shot.retry(ctx, exp_id).ok
    assert single_shot.run(ctx, exp_id, last_chance=True).ok
    (exp,) = rows(ws)
    assert (exp["state"], exp["attempts"], exp["spec"]["params"]["context_length"]) == ("done", 1, 96)
    assert "context too short" not in (ws / "experiments" / exp_id / "strategy.py").read_text()
    assert single_shot.start(ctx) is None  # a finished single shot is not run twice
