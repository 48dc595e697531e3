"""`alphalab status|note|cancel` without a running Phase 3 flow: the board is read and written directly."""

from __future__ import annotations

import pytest

from alphalab.campaign import Campaign
from cli.main import main
from fixtures.phase3.helpers import make_workspace


@pytest.fixture
def ws(tmp_path):
    config, ws = make_workspace(tmp_path, budgets={"experiments": 5})
    board = Campaign(config, ws).board
    best = board.add("best", {"params": {"x": 0.3}})
    for s in ("implemented", "checked", "queued", "running"):
        board.transition(best.id, s)
    board.transition(best.id, "finished", metrics={"loss": 0.0123}, eval_mode="full")
    board.transition(best.id, "analyzed")
    board.add("waiting", {"params": {"x": 0.9}})
    return ws, board


def test_status_reports_counts_best_and_budget(ws, capsys):
    workspace, _ = ws
    assert main(["status", "--workspace", str(workspace.root)]) == 0
    out = capsys.readouterr().out
    assert "analyzed 1" in out and "to_implement 1" in out
    assert "e001-best loss=0.0123 over 1 run(s) (provisional)" in out
    assert "noise floor: off (phase3.noise_seeds: 0)" in out
    assert "2/5 experiments" in out and "$0.0000" in out


def test_note_and_cancel_fall_back_to_the_board(ws, capsys):
    workspace, board = ws
    assert main(["note", "--workspace", str(workspace.root), "stop trying kind c"]) == 0
    assert main(["cancel", "--workspace", str(workspace.root), "e002-waiting"]) == 0
    assert "written to the board" in capsys.readouterr().out
    assert [n.text for n in board.notes()] == ["stop trying kind c"]
    assert board.get("e002-waiting").state == "cancelled"
    assert main(["cancel", "--workspace", str(workspace.root), "e001-best"]) == 2  # analyzed: too late
    assert "only" in capsys.readouterr().err


def test_status_before_phase3_is_a_user_error(tmp_path, capsys):
    from fixtures.phase3.helpers import make_workspace as mk

    _, workspace = mk(tmp_path)
    assert main(["status", "--workspace", str(workspace.root)]) == 2
    assert "Phase 3 has not started" in capsys.readouterr().err
