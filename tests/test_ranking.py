"""The ranking rule is one rule: the board's SQL `best()` agrees with the ranked leaderboard on boards of every kind
of row, the running best and the convergence count follow it, and the Dispatcher's counters survive as one record."""

from __future__ import annotations

import random

import pytest

from alphalab import ranking
from alphalab.board import Board
from alphalab.board_rows import Experiment
from alphalab.manifest import Metric
from alphalab.phase3.contracts import Phase3Progress
from alphalab.phase3.progress import load_progress, save_progress

LOSS = Metric(name="loss", direction="min", primary=True)
ACC = Metric(name="acc", direction="max", primary=True)


def _run(board: Board, name: str, metrics: dict, mode: str = "full", end: str = "analyzed", **kw) -> str:
    e = board.add(name, {}, **kw)
    for s in ("implemented", "checked", "queued", "running"):
        board.transition(e.id, s)
    board.transition(e.id, "finished", metrics=metrics, eval_mode=mode)
    if end in ("analyzed", "done"):
        board.transition(e.id, "analyzed")
    if end == "done":
        board.transition(e.id, "done")
    return e.id


def _random_board(tmp_path, seed: int) -> Board:
    rng = random.Random(seed)
    board = Board(tmp_path / f"b{seed}.sqlite", noise_floor=rng.choice([None, 0.05]))
    for i in range(rng.randint(0, 12)):
        value = rng.choice([0.1, 0.2, 0.3, round(rng.random(), 2)])  # ties on purpose
        kind = rng.choice(["experiment"] * 4 + ["verify"])
        metrics = rng.choice([{"loss": value, "acc": 1 - value}, {"other": value}, {"loss": value}])
        _run(board, f"x{i}", metrics, mode=rng.choice(["full", "full", "smoke"]),
             end=rng.choice(["analyzed", "done", "finished"]), kind=kind)
    return board


@pytest.mark.parametrize("seed", range(12))
def test_sql_best_is_the_top_of_the_ranked_leaderboard(tmp_path, seed):
    board = _random_board(tmp_path, seed)
    for metric in (LOSS, ACC):
        board_rows = board.leaderboard(metric)
        python_order = [e.id for e in ranking.ordered(board.select(), metric)]
        assert [e.id for e in board_rows] == python_order
        top = board.best(metric)
        assert (top.model_dump() if top else None) == (board_rows[0].model_dump() if board_rows else None)


def test_only_analyzed_full_experiments_with_the_metric_rank(tmp_path):
    board = Board(tmp_path / "b.sqlite")
    ok = _run(board, "ok", {"loss": 0.5}, end="done")
    _run(board, "smoke", {"loss": 0.1}, mode="smoke")
    _run(board, "not analyzed", {"loss": 0.1}, end="finished")
    _run(board, "other metric", {"acc": 0.1})
    _run(board, "verify", {"loss": 0.1}, kind="verify")
    _run(board, "nan", {"loss": float("nan")})  # a NaN is no result: dropped when stored
    assert [e.id for e in board.leaderboard(LOSS)] == [ok] and board.best(LOSS).id == ok
    assert board.select()[-1].metrics == {}


def _row(seq: int, loss: float | None) -> Experiment:
    return Experiment(id=f"e{seq}", seq=seq, name="x", state="done", eval_mode="full", created_at=0, updated_at=0,
                      metrics={} if loss is None else {"loss": loss})


def test_running_best_and_the_count_since_the_last_gain():
    points = ranking.running_best([_row(i, v) for i, v in enumerate([0.5, None, 0.7, 0.4, 0.4, 0.6])], LOSS)
    assert [p.best for p in points] == [0.5, 0.5, 0.5, 0.4, 0.4, 0.4]
    assert [p.improved for p in points] == [True, False, False, True, False, False]  # a tie is no gain
    assert ranking.since_best(points) == 2 and ranking.since_best([]) == 0
    assert ranking.since_best(ranking.running_best([_row(0, None), _row(1, None)], LOSS)) == 2


def test_progress_is_one_record_and_a_board_from_before_it_still_resumes(tmp_path):
    board = Board(tmp_path / "b.sqlite")
    assert load_progress(board) == Phase3Progress()
    for key, value in {"phase3_started_at": "12.5", "strategist_turns": "3", "milestones": "2",
                       "supervisor_at_run": "8", "phase3_stop_reason": "converged"}.items():
        board.set_meta(key, value)  # the counters as a board written before the record kept them
    old = load_progress(board)
    assert (old.started_at, old.strategist_turns, old.milestones, old.supervisor_at_run, old.stop_reason) == \
        (12.5, 3, 2, 8, "converged")
    save_progress(board, old.model_copy(update={"strategist_turns": 4}))
    assert load_progress(board).strategist_turns == 4
