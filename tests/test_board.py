"""The board: legal transitions in one place, the leaderboard's rules, and safety under concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from alphalab.board import Board, IllegalTransition, TRANSITIONS, UnknownExperiment
from alphalab.manifest import Metric

LOSS = Metric(name="loss", direction="min", primary=True)
ACC = Metric(name="acc", direction="max", primary=True)


def _through(board: Board, exp_id: str, *states: str, **last_fields) -> None:
    for i, s in enumerate(states):
        board.transition(exp_id, s, **(last_fields if i == len(states) - 1 else {}))


def _analyzed(board: Board, name: str, value: float, mode: str = "full", metric: str = "loss") -> str:
    e = board.add(name, {"params": {"x": value}})
    _through(board, e.id, "implemented", "checked", "queued", "running")
    board.transition(e.id, "finished", metrics={metric: value}, eval_mode=mode)
    board.transition(e.id, "analyzed")
    return e.id


def test_lifecycle_and_illegal_moves(tmp_path):
    board = Board(tmp_path / "b.sqlite")
    e = board.add("first idea", {"params": {"x": 1}}, hypothesis="h")
    assert e.id == "e001-first-idea" and e.state == "to_implement"
    with pytest.raises(IllegalTransition):
        board.transition(e.id, "running")  # must be implemented, checked and queued first
    _through(board, e.id, "implemented", "checked", "queued", "running", "finished", "analyzed", "done")
    with pytest.raises(IllegalTransition):
        board.transition(e.id, "queued")  # done is terminal
    with pytest.raises(IllegalTransition):
        board.cancel(e.id, "too late")
    with pytest.raises(UnknownExperiment):
        board.get("nope")
    with pytest.raises(IllegalTransition):
        board.transition(board.add("b", {}).id, "queued", expect="checked")
    assert all(not TRANSITIONS[s] for s in ("done", "cancelled", "dead"))


def test_failed_fix_and_dead_paths(tmp_path):
    board = Board(tmp_path / "b.sqlite")
    e = board.add("x", {})
    board.transition(e.id, "failed", error_signature="RuntimeError")
    board.transition(e.id, "checked", attempts=1)
    _through(board, e.id, "queued", "running", "failed")
    board.transition(e.id, "dead", attempts=2)
    got = board.get(e.id)
    assert (got.state, got.attempts, got.error_signature) == ("dead", 2, "RuntimeError")


def test_leaderboard_full_only_direction_noise_and_verification(tmp_path):
    board = Board(tmp_path / "b.sqlite", noise_floor=0.01)
    a = _analyzed(board, "a", 0.50)
    b = _analyzed(board, "b", 0.305)
    c = _analyzed(board, "c", 0.30)
    _analyzed(board, "smoke only", 0.01, mode="smoke")
    rows = board.leaderboard(LOSS)
    assert [r.id for r in rows] == [c, b, a]  # the smoke result never enters, lower is better
    assert rows[0].within_noise and not rows[1].within_noise
    assert [r.verification for r in rows] == ["provisional"] * 3 and [r.n for r in rows] == [1, 1, 1]
    v = board.add("verify c", {}, parent=c, kind="verify", state="checked")
    _through(board, v.id, "queued", "running")
    assert [r.verification for r in board.leaderboard(LOSS)] == ["re-run pending", "provisional", "provisional"]
    board.transition(v.id, "finished", metrics={"loss": 0.302}, eval_mode="full")
    board.transition(v.id, "analyzed")
    # what verification settles: the label and the value as the mean over the runs, which ranks the row
    board.update(c, label="confirmed", verified=True, score=0.301, score_n=2, score_spread=0.002)
    top = board.best(LOSS)
    assert (top.id, top.value, top.n, top.spread, top.rerun_values, top.verification) == (
        c, 0.301, 2, 0.002, [0.302], "confirmed")
    board.update(c, label="refuted", verified=False, score=0.31)
    assert board.best(LOSS).id == b and [r.id for r in board.leaderboard(LOSS)] == [b, c, a]
    assert board.leaderboard(LOSS)[1].verification == "refuted"
    assert all(r.id != v.id for r in board.leaderboard(LOSS))  # re-runs are not entries of their own
    assert board.leaderboard(ACC) == []


def test_maximize_metric(tmp_path):
    board = Board(tmp_path / "b.sqlite")
    low, high = _analyzed(board, "low", 0.2, metric="acc"), _analyzed(board, "high", 0.9, metric="acc")
    assert [r.id for r in board.leaderboard(ACC)] == [high, low]


def test_notes_meta_and_runs(tmp_path):
    board = Board(tmp_path / "b.sqlite")
    board.add_note("focus on kind a")
    board.add_note("avoid kind c")
    assert [n.text for n in board.notes(limit=1)] == ["avoid kind c"]
    board.set_meta("k", "1")
    board.set_meta("k", "2")
    assert board.get_meta("k") == "2" and board.get_meta("missing", "d") == "d"
    board.record_run("e1", 0, "0", False, "OOM", 1.0)
    board.record_run("e2", 0, "1", True, None, 2.0)
    assert [r.ok for r in board.recent_runs(5)] == [True, False] and board.run_count() == 2


def _writer(path: str, n: int) -> None:
    board = Board(Path(path))
    for i in range(n):
        e = board.add(f"w{i}", {"i": i})
        board.transition(e.id, "implemented")
        board.transition(e.id, "checked")


def test_concurrent_writers_from_processes(tmp_path):
    path = tmp_path / "b.sqlite"
    Board(path)
    procs = [mp.get_context("spawn").Process(target=_writer, args=(str(path), 15)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = Board(path).select()
    assert len(rows) == 60 and len({r.seq for r in rows}) == 60
    assert {r.state for r in rows} == {"checked"}
    assert Board(path).get_meta("x") is None
    with __import__("sqlite3").connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
