"""Phase 3's artifacts as the Prefect UI shows them (rounded numbers, short ids, a board that fits a page, the
milestone's plot inside the markdown), a new version only when content changed, the budget updated in place; runs
named and tagged after their campaign; the events Automations hang on; the terminal's lines and live panel."""

from __future__ import annotations

import io
import re
import threading

import pytest
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401 (a fixture)

from alphalab import progress
from alphalab.board import Board
from alphalab.campaign import Campaign
from alphalab.leaderboard_text import digits_to_tell_apart, shorten, sig
from alphalab.phase3.contracts import Phase3Summary
from alphalab.phase3.progress import budget_count
from fixtures.phase3.helpers import make_workspace
from tasks import artifacts as art
from tasks import events

# a page of the UI gives markdown about 600 px: at 14 px a character is ~7.5 px wide
MAX_LINE_CHARS = 110
LONG_NAME = "PatchTST with a context of 336 hours, learning rate 0.000123456 and dropout 0.1"


def _campaign(tmp_path, **overrides) -> Campaign:
    config, ws = make_workspace(tmp_path, **overrides)
    return Campaign(config, ws)


def _analyzed(board: Board, name: str, loss: float, end: str = "analyzed", **kw) -> str:
    e = board.add(name, {"params": {"x": loss}}, **kw)
    for s in ("implemented", "checked", "queued", "running"):
        board.transition(e.id, s, **({"slot": "0", "started_at": 1.0} if s == "running" else {}))
    board.transition(e.id, "finished", metrics={"loss": loss}, eval_mode="full")
    board.transition(e.id, "analyzed")
    if end == "done":
        board.transition(e.id, "done")
    return e.id


class Recorder:
    """Stands in for prefect.artifacts' functions in tasks.artifacts: what would have been published."""

    def __init__(self, monkeypatch):
        self.calls: list[tuple[str, str, object]] = []
        for fn in ("create_table_artifact", "create_markdown_artifact", "create_progress_artifact"):
            monkeypatch.setattr(art, fn, self._create(fn))
        monkeypatch.setattr(art, "update_progress_artifact", self._update)

    def _create(self, fn):
        def create(data, key, description=None):
            self.calls.append((fn, key, data))
            return f"id-{len(self.calls)}"
        return create

    def _update(self, artifact_id, progress, description=None):
        self.calls.append(("update_progress_artifact", artifact_id, progress))
        return artifact_id

    def keys(self, fn: str) -> list[str]:
        return [k for f, k, _ in self.calls if f == fn]


def test_numbers_are_rounded_to_the_digits_that_tell_rows_apart():
    assert sig(0.040726666666666675) == 0.04073 and sig(12345.678) == 12350.0 and sig(0.0) == 0.0
    assert digits_to_tell_apart([0.1234, 0.5]) == 4
    assert digits_to_tell_apart([0.123412, 0.123447]) == 5  # 4 digits would show a tie that is not one
    assert digits_to_tell_apart([1.0, 1.0]) == 4  # a real tie stays a tie
    assert shorten(LONG_NAME, 36) == "PatchTST with a context of 336…"
    assert shorten("x 0.5", 36) == "x 0.5"


def test_the_leaderboard_has_short_ids_rounded_values_and_few_narrow_columns(tmp_path):
    env = _campaign(tmp_path)
    ids = [_analyzed(env.board, LONG_NAME, 0.040726666666666675),
           _analyzed(env.board, "x 0.55 kind a", 0.06266143999999998)]
    rows = art.leaderboard_rows(env)
    assert [r["id"] for r in rows] == [i.split("-")[0] for i in ids] == ["e001", "e002"]
    assert [r["loss"] for r in rows] == [0.04073, 0.06266]
    assert rows[0]["name"] == "PatchTST with a context of…" and len(rows[0]["name"]) <= art.NAME_CHARS
    assert list(rows[0]) == ["#", "id", "loss", "n", "spread", "label", "name"]
    assert rows[0]["spread"] is None  # one run: no spread to show
    # every cell of a row, as the UI's table writes it (it never wraps), fits a page beside the run's details
    assert max(sum(len(str(v)) for v in r.values()) for r in rows) <= 70


def test_the_kanban_fits_a_page(tmp_path):
    env = _campaign(tmp_path)
    board = env.board
    for i in range(30):
        _analyzed(board, f"{LONG_NAME} {i}", 0.1 + i / 1000, end="done")
    running = board.add("x 0.3 kind b", {})
    for s in ("implemented", "checked", "queued"):
        board.transition(running.id, s)
    board.transition(running.id, "running", slot="1", started_at=1.0)
    board.add("lr<1e-3 | wide", {})  # a model's name: neither a cell's end nor HTML
    text = art.kanban_markdown(board, "loss")
    header, rule, *rows = text.splitlines()
    assert header == "| column | n | experiments |"  # three columns, the cards wrap in the last
    assert len(rows) == 9  # the paper's 9 columns (failed and dead only when they hold something)
    cells = [re.split(r"(?<!\\)\|", r)[1:-1] for r in rows]
    assert all(len(c) == 3 for c in cells)
    assert [c[0].strip() for c in cells][:5] == ["to_implement", "implemented", "checked", "queued", "running"]
    assert cells[0][2].strip() == "**e032** lr&lt;1e-3 \\| wide"
    assert "| running | 1 | **e031** x 0.3 kind b · slot 1 |" in rows
    done = next(r for r in rows if r.startswith("| done |"))
    assert "| done | 30 |" in done and "**e001** PatchTST with a context of 336 hours… · 0.1<br>" in done
    # a card is short, and a line breaks between cards: no cell forces the table wider than a page
    cards = [card for c in cells for card in c[2].split("<br>")]
    assert max(len(re.sub(r"\*\*", "", c.strip())) for c in cards) <= 60
    assert all(len(line) <= MAX_LINE_CHARS for line in (header, rule))


def test_a_key_gets_a_new_version_only_when_its_content_changed(tmp_path, monkeypatch):
    rec = Recorder(monkeypatch)
    env = _campaign(tmp_path, budgets={"experiments": 4})
    published = art.Phase3Artifacts(env, min_interval_s=0, emit=lambda *a, **k: None)
    published.publish()
    published.publish()
    published.publish()  # nothing changed: nothing new
    assert rec.keys("create_markdown_artifact") == ["synthetic-playbook", "synthetic-board"]
    assert rec.keys("create_progress_artifact") == ["synthetic-budget"]
    assert rec.keys("create_table_artifact") == [] and rec.keys("update_progress_artifact") == []
    _analyzed(env.board, "first", 0.5)
    published.publish()
    published.publish()
    assert rec.keys("create_markdown_artifact") == ["synthetic-playbook", "synthetic-board", "synthetic-board"]
    assert rec.keys("create_table_artifact") == ["synthetic-leaderboard"]
    # the budget moved: updated in place, not a new artifact
    assert [(f, k, d) for f, k, d in rec.calls if "progress" in f] == [
        ("create_progress_artifact", "synthetic-budget", 0.0), ("update_progress_artifact", "id-3", 25.0)]
    assert published.versions == {"synthetic-playbook": 1, "synthetic-board": 2, "synthetic-budget": 1,
                                  "synthetic-leaderboard": 1}


def test_changes_close_together_make_one_version_and_the_last_one_is_not_lost(tmp_path, monkeypatch):
    rec = Recorder(monkeypatch)
    env = _campaign(tmp_path)
    # a clock that stands still: every publication after the first falls within the interval, however slow this is
    published = art.Phase3Artifacts(env, min_interval_s=0.2, emit=lambda *a, **k: None, clock=lambda: 100.0)
    published.publish()
    flushed = threading.Event()
    original = published._flush
    monkeypatch.setattr(published, "_flush", lambda: (original(), flushed.set()))
    _analyzed(env.board, "first", 0.5)
    published.publish()  # within the interval: held back until it is up
    _analyzed(env.board, "second", 0.4)
    published.publish()
    assert rec.keys("create_table_artifact") == []
    assert flushed.wait(30)  # then the board as it is by then is published, once
    assert rec.keys("create_table_artifact") == ["synthetic-leaderboard"]
    table = next(d for f, _, d in rec.calls if f == "create_table_artifact")
    assert [r["id"] for r in table] == ["e002", "e001"]


def test_the_budget_counts_experiments_through_not_proposed(tmp_path):
    env = _campaign(tmp_path, budgets={"experiments": 4})
    for name in ("a", "b", "c", "d"):
        env.board.add(name, {})  # the Strategist's first turn proposes the whole budget
    assert budget_count(env.board, 4).percent == 0.0
    _analyzed(env.board, "e", 0.3)
    count = budget_count(env.board, 4)
    assert count.percent == 25.0 and count.proposed == 5
    assert art.budget_description(count).startswith("1 of 4 experiments through (1 analyzed); 5 proposed")


def test_the_milestone_plot_is_embedded_small(tmp_path):
    from alphalab.ranking import RunningPoint
    from alphalab.roles.reporter import plot_convergence

    plot_convergence([RunningPoint(number=i, value=1 / i, best=1 / i, improved=True) for i in range(1, 30)], "loss",
                     tmp_path / "convergence.png")
    text = art.embed_images("## Convergence\n![convergence](convergence.png)\n![web](https://x.org/a.png)\n",
                            tmp_path)
    data = re.search(r"!\[convergence\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", text)
    assert data and len(data.group(1)) < 80_000 and "![web](https://x.org/a.png)" in text


def test_the_progress_artifact_is_updated_in_place_on_the_api(tmp_path, prefect_harness):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    env = _campaign(tmp_path, name="in-place", budgets={"experiments": 2})

    @flow
    def publish_twice() -> None:
        published = art.Phase3Artifacts(env, min_interval_s=0, emit=lambda *a, **k: None)
        published.publish()
        _analyzed(env.board, "first", 0.5)
        published.publish()

    publish_twice()
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["in-place-budget"])))
        latest = client.read_latest_artifacts()
    assert len(found) == 1 and found[0].data == 50.0
    assert "1 of 2 experiments through" in found[0].description
    assert next(a for a in latest if a.key == "in-place-budget").data == 50.0  # the key's page shows it too


def test_phase_runs_are_named_and_tagged_after_the_campaign(tmp_path, prefect_harness):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    from flows.campaign import campaign

    config, ws = make_workspace(tmp_path, name="named")
    summary = campaign(config=str(tmp_path / "campaign-input.yaml"), workspace=str(ws.root), stop_after=0)
    assert summary.phases_done == [0]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["campaign:named"])))
    assert sorted(r.name for r in runs) == ["named · campaign", "named · phase 0"]


def test_a_phase_run_started_alone_still_carries_the_campaign(tmp_path, prefect_harness):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from flows.phase0_adapter import phase0_adapter

    config, ws = make_workspace(tmp_path, name="alone")
    phase0_adapter(str(ws.root))
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["alone · phase 0"])))
    assert "campaign:alone" in run.tags


def _events(worker, name: str) -> list:
    worker.drain()
    return [e for e in worker._client.events if e.event == name]


def _summary(stop_reason: str) -> Phase3Summary:
    return Phase3Summary(stop_reason=stop_reason, analyzed=3, best_id="e002", best_value=0.1, counts={},
                         strategist_turns=1, milestones=0)


def test_events_name_the_campaign(prefect_harness, asserting_events_worker):  # noqa: F811
    events.phase3_stopped("c1", _summary("usd_budget"))
    events.phase3_stopped("c1", _summary("no_proposals"))  # not a budget: no event
    events.finished("c1", [0, 1, 2, 3], 1.25)
    (budget,) = _events(asserting_events_worker, events.BUDGET_EXHAUSTED)
    assert budget.resource.id == "alphalab.campaign.c1" and budget.resource["alphalab.budget"] == "usd"
    assert budget.payload["analyzed"] == 3
    (done,) = _events(asserting_events_worker, events.FINISHED)
    assert done.payload == {"phases_done": [0, 1, 2, 3], "cost_usd": 1.25}


def test_a_new_best_is_an_event_once(tmp_path):
    env = _campaign(tmp_path)
    _analyzed(env.board, "before this run", 0.5)
    sent = []
    published = art.Phase3Artifacts(env, min_interval_s=3600, emit=lambda *a: sent.append(a))
    published._publish_now = lambda: None  # the events alone
    published.publish()
    assert sent == []  # the best this run started with is no news
    better = _analyzed(env.board, "better", 0.25)
    published.publish()
    published.publish()
    _analyzed(env.board, "worse", 0.75)
    published.publish()
    assert [(a[0], a[1], a[2]["id"], a[3]["alphalab.label"]) for a in sent] == [
        (events.NEW_BEST, "synthetic", better, "provisional")]


def test_a_failed_phase_is_an_event(tmp_path, prefect_harness, asserting_events_worker):  # noqa: F811
    from flows.phase0_adapter import phase0_adapter

    config, ws = make_workspace(tmp_path, name="broken")
    (ws.adapter / "manifest.yaml").write_text("name: [unclosed\n")
    with pytest.raises(Exception):
        phase0_adapter(str(ws.root))
    (failed,) = _events(asserting_events_worker, events.PHASE_FAILED)
    assert failed.resource.id == "alphalab.campaign.broken" and failed.resource["alphalab.phase"] == "0"
    assert "manifest.yaml" in failed.payload["error"]


def test_plain_lines_are_whole_and_one_per_event():
    buf = io.StringIO()
    reporter = progress.TerminalReporter(stream=buf)
    detail = "e004 finished: {'loss': 0.06266143999999998, 'wall': 0.19372} " + "x" * 200
    reporter(progress.ProgressEvent(phase="phase3", role="dispatcher", cost_usd=0.5, detail=detail))
    reporter(progress.ProgressEvent(phase="phase2", role="critic", detail="NEEDS FIXES\n- harness/a.py:3: leak"))
    assert buf.getvalue().splitlines() == [
        f"phase 3 | dispatcher | $0.5000 | {detail}", "phase 2 | critic | NEEDS FIXES / - harness/a.py:3: leak"]
    assert isinstance(progress.reporter_for("unused", stream=buf), progress.TerminalReporter)  # not a terminal


def test_the_live_panel_shows_board_best_spend_and_slots(tmp_path):
    from rich.console import Console

    env = _campaign(tmp_path, budgets={"experiments": 4})
    _analyzed(env.board, "x 0.25 kind a", 0.0407266666)
    running = env.board.add("x 0.9 kind c mode smoke-ok", {})
    for s in ("implemented", "checked", "queued"):
        env.board.transition(running.id, s)
    env.board.transition(running.id, "running", slot="1", started_at=1.0)
    out = io.StringIO()
    console = Console(file=out, width=60, force_terminal=False, color_system=None)
    view = progress.LiveView(env.workspace.root, console=console)
    view(progress.ProgressEvent(phase="phase3", role="dispatcher", cost_usd=0.0,
                                detail="[1/4 analyzed, best loss 0.04073] e002 started on slot 1 (job local-e002)"))
    console.print(view)
    text = out.getvalue()
    lines = text.splitlines()
    # wrapped between words, not cut
    assert "best loss 0.04073] e002 started on slot 1" in " ".join(line.strip() for line in lines[:2])
    assert all(len(line) <= 60 for line in lines)
    panel = " ".join(lines[2:])
    for shown in ("synthetic", "analyzed 1", "running 1", "e001 loss 0.04073 (provisional, 1 run)",
                  "1/4 experiments through", "$0.0000 of $100", "slot 0", "free", "slot 1",
                  "e002 x 0.9 kind c mode smoke-ok"):
        assert shown in re.sub(r"\s*│\s*", " ", panel), shown
