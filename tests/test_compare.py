"""`alphalab compare` on hand-made boards: which rows count as run, failed and ranked, the direction of the primary
metric, the running best, spend from the ledger, wall time, and the errors for folders that are not workspaces."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alphalab.board import Board
from alphalab.compare import compare, format_duration, summarize
from alphalab.config import Price
from alphalab.cost import UsageLedger
from alphalab.models.base import Usage
from alphalab.workspace import Workspace
from cli.main import main as cli_main

T0 = 1_700_000_000.0


RUN = "{python} -P -m harness.evaluate --experiment {exp_dir} --mode {mode}"  # never run: compare reads boards


def manifest(direction: str) -> dict:
    return {
        "name": "toy", "metrics": [{"name": "score", "direction": direction, "primary": True},
                                   {"name": "aux", "direction": "min"}],
        "experiment": {"entry_point": "main.py", "required_files": ["main.py"], "smoke_command": RUN,
                       "full_command": RUN, "time_limit_s": 10},
    }


def make_ws(root: Path, direction: str = "min") -> Workspace:
    ws = Workspace(root)
    ws.adapter.mkdir(parents=True)
    (ws.adapter / "manifest.yaml").write_text(yaml.safe_dump(manifest(direction)))
    return ws


def finish(board: Board, name: str, start: float, end: float, *, score: float | None = None, fail: bool = False,
           eval_mode: str = "full", kind: str = "experiment", analyze: bool = True) -> str:
    """Walk one experiment across the board as the Dispatcher would, with chosen timestamps."""
    exp = board.add(name=name, spec={}, kind=kind)
    for state in ("implemented", "checked", "queued"):
        board.transition(exp.id, state)
    board.transition(exp.id, "running", started_at=start)
    if fail:
        board.transition(exp.id, "failed", finished_at=end, error_signature="Boom")
        return exp.id
    metrics = {"aux": 1.0} if score is None else {"score": score, "aux": 1.0}
    board.transition(exp.id, "finished", finished_at=end, metrics=metrics, eval_mode=eval_mode)
    if analyze:
        board.transition(exp.id, "analyzed")
        board.transition(exp.id, "done")
    return exp.id


def test_summary_counts_ranks_and_spend(tmp_path):
    ws = make_ws(tmp_path / "camp", "max")
    board = Board(ws.board_db)
    board.set_meta("method", "greedy loop (baseline policy)")
    a = finish(board, "a", T0 + 10, T0 + 20, score=0.5)
    finish(board, "smoke only", T0 + 20, T0 + 30, score=0.99, eval_mode="smoke")  # never ranked
    finish(board, "crash", T0 + 30, T0 + 35, fail=True)
    b = finish(board, "b", T0 + 40, T0 + 50, score=0.7)
    finish(board, "verify b", T0 + 50, T0 + 100, score=0.95, kind="verify")  # re-runs are not experiments
    finish(board, "not analyzed", T0 + 60, T0 + 70, score=0.9, analyze=False)  # run, but not yet ranked
    dead = finish(board, "crash again", T0 + 70, T0 + 80, fail=True)
    board.transition(dead, "dead")
    board.add(name="waiting", spec={})  # never ran: not counted
    ledger = UsageLedger(ws.usage_log, pricing={"m": Price(input=2.0, cached_input=0.5, output=10.0)})
    ledger.record("worker", "greedy", "m", Usage(input_tokens=1000, output_tokens=100))
    ledger.record("strategist", "phase3", "m", Usage(input_tokens=3000, output_tokens=400))

    s = summarize(ws.root)
    assert (s.best, s.best_id) == (0.7, b)  # higher is better; smoke, verify and unanalyzed rows excluded
    assert (s.experiments, s.failures) == (6, 2)
    assert s.tokens == 4500
    assert s.cost_usd == pytest.approx((1000 * 2 + 100 * 10 + 3000 * 2 + 400 * 10) / 1e6)
    assert s.wall_seconds == pytest.approx(90.0)  # first start (a) to last finish (the verify re-run)
    # in order of finishing: a, smoke, crash, b, unanalyzed, dead
    assert s.running_best == [0.5, 0.5, 0.5, 0.7, 0.7, 0.7]
    assert s.method == "greedy loop (baseline policy)" and s.metric.name == "score"
    assert a != b


def test_direction_min_and_an_empty_board(tmp_path):
    ws = make_ws(tmp_path / "low", "min")
    board = Board(ws.board_db)
    for i, score in enumerate((3.0, 1.0, 2.0)):
        finish(board, f"x{i}", T0 + 10 * i, T0 + 10 * i + 5, score=score)
    s = summarize(ws.root)
    assert s.best == 1.0 and s.running_best == [3.0, 1.0, 1.0] and s.tokens == 0 and s.cost_usd == 0
    empty = make_ws(tmp_path / "empty")
    Board(empty.board_db)
    e = summarize(empty.root)
    assert (e.best, e.experiments, e.wall_seconds, e.running_best) == (None, 0, None, [])
    assert e.method == "alphalab campaign"


def test_compare_writes_table_and_plot(tmp_path):
    first, second = make_ws(tmp_path / "one"), make_ws(tmp_path / "two")
    finish(Board(first.board_db), "a", T0, T0 + 3725, score=2.0)
    b = Board(second.board_db)
    finish(b, "a", T0, T0 + 5, score=4.0)
    finish(b, "b", T0 + 5, T0 + 9, score=1.5)
    out = compare([first.root, second.root], tmp_path / "out")
    lines = out.table.splitlines()
    assert lines[0] == "Primary metric: score (lower is better)"
    assert lines[4].startswith("| one | alphalab campaign | 2 (e001-a) | 1 | 0 | 0 | 0.0000 | 1h 02m 05s |")
    assert lines[5].startswith("| two | alphalab campaign | 1.5 (e002-b) | 2 | 0 | 0 | 0.0000 | 9.0 s |")
    assert out.table in out.table_path.read_text()
    assert out.plot_path.read_bytes()[:4] == b"\x89PNG"


def test_same_folder_names_are_told_apart(tmp_path):
    first, second = make_ws(tmp_path / "a" / "ws"), make_ws(tmp_path / "b" / "ws")
    Board(first.board_db), Board(second.board_db)
    out = compare([first.root, second.root], tmp_path)
    assert [s.label for s in out.summaries] == [str(first.root), str(second.root)]


def test_not_a_workspace_is_an_error_and_nothing_is_written(tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    assert cli_main(["compare", str(bare), "--out", str(tmp_path / "out")]) == 2
    assert "no board.sqlite" in capsys.readouterr().err
    assert list(bare.iterdir()) == []  # reading never creates a board
    ws = Workspace(tmp_path / "noadapter")
    ws.root.mkdir()
    Board(ws.board_db)
    assert cli_main(["compare", str(ws.root)]) == 2
    assert "no adapter/manifest.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("seconds, text", [(None, "-"), (0.04, "0.0 s"), (59.94, "59.9 s"), (61, "1m 01s"),
                                           (3600, "1h 00m 00s"), (2 * 86400 + 5, "48h 00m 05s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
