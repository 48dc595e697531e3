"""The greedy loop and the single shot as flows, on the time-series domain with a generated dataset: each with the
baseline policy and with a scripted model; then `alphalab compare` on their four workspaces, every figure of its
table checked against the boards and ledgers read straight from disk."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
import yaml

from alphalab import adapters
from alphalab.campaign import open_campaign
from alphalab.cli import main as cli_main
from alphalab.compare import format_duration
from alphalab.baselines.greedy import config_key, mutate
from alphalab.manifest import SearchSpace
from alphalab.roles.builder import install_trusted_harness
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
WRONG_SHAPE = ("import numpy as np\nfrom harnesses.forecasting.strategy import Strategy as Base\n\n\n"
               "class Strategy(Base):\n    def predict(self, contexts, prediction_length):\n"
               "        return np.zeros((len(contexts), prediction_length + 1))\n")


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
    _, ws = open_campaign(path)
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
    """The four baseline runs, once: {name: (workspace, the scripted models it used)}."""
    from flows.baselines import greedy_loop, single_shot

    root = tmp_path_factory.mktemp("baselines")
    data = generate_dataset(root / "data", n_series=4, length=24 * 7 * 4, windows=2, seed=3)
    book = ScriptBook()
    # greedy, LLM: e001 is the rendered reference; e002 reads its copy of e001 and switches to a weekly season;
    # e003 (a copy of the new best e002) crashes, so it is reverted
    book.add("greedy-worker", [("read_file", {"path": "experiments/e002-greedy-edit-2/strategy.py"}),
                               write("e002-greedy-edit-2", WEEKLY), report("weekly seasonal naive")])
    book.add("greedy-worker", [write("e003-greedy-edit-3", CRASHES), report("a model that diverges")])
    # single shot, LLM: the call writes forecasts of the wrong shape; the retry sees the error and fixes it
    book.add("shot-worker", [write("e001-single-shot", WRONG_SHAPE), report("wrote strategy.py")])
    book.add("shot-worker", [write("e001-single-shot", WEEKLY), report("fixed the forecast shape")])
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        book.install(mp)
        for name, flow, model in (("greedy-policy", greedy_loop, None), ("greedy-llm", greedy_loop, "greedy-worker"),
                                  ("shot-policy", single_shot, None), ("shot-llm", single_shot, "shot-worker")):
            ws = make_workspace(root, data, name, model)
            # the policy's loop gets room to converge: the cut-down space has only four configurations
            summary = flow(str(ws), budget=CONVERGE_BUDGET) if name == "greedy-policy" else flow(str(ws))
            out[name] = (ws, summary)
    out["book"] = book
    return out


def rows(ws: Path) -> list[dict]:
    con = sqlite3.connect(ws / "board.sqlite")
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) | {"metrics": json.loads(r["metrics"]), "spec": json.loads(r["spec"])}
                for r in con.execute("SELECT * FROM experiments ORDER BY seq")]
    finally:
        con.close()


def metrics_file(ws: Path, exp_id: str) -> dict:
    return json.loads((ws / "experiments" / exp_id / "metrics.json").read_text())


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
    assert exp["state"] == "done" and exp["attempts"] == 1
    call, retry = runs["book"].used["shot-worker"]
    retry_prompt = "\n".join(m.content for m in retry.calls[0])
    assert "prediction_length" in retry_prompt or "shape" in retry_prompt  # the smoke test's error reached it
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
