"""Phase 3 as Prefect artifacts, updated as the campaign moves: `<campaign>-leaderboard` (table), `-playbook`
(markdown), `-board` (markdown kanban, the paper's 9 columns), `-budget` (progress) and `-milestone-NNN` (markdown).

They are read in the Prefect UI, whose artifact page gives the content a column of about 600 px beside the run's
details: so the tables keep to a few narrow columns, numbers are rounded to the digits that tell rows apart, ids are
short (`e007`) beside a readable name, the board lists each column's cards as wrapping text, and the milestone's
plot travels inside the markdown as a data: URI (the browser showing the UI cannot load a file of this machine).

Called from the flow's thread between Dispatcher steps. A key gets a new version only when its content changed,
and changes closer together than `min_interval_s` make one version (the last of them is published when the
interval is up, so the UI never lags for long); the budget is one progress artifact updated in place.
"""

from __future__ import annotations

import base64
import contextvars
import io
import json
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact, create_progress_artifact, create_table_artifact, update_progress_artifact,
)

from alphalab.board import Board
from alphalab.board_rows import COLUMNS, Experiment
from alphalab.campaign import Campaign
from alphalab.leaderboard_text import digits_to_tell_apart, noise_line, shorten, short_id, sig
from alphalab.phase3.progress import BudgetCount, budget_count
from alphalab.roles.reporter import OVERVIEW
from tasks import events

MAX_CHARS = 900_000  # artifacts stay under ~1 MB
CARDS_PER_COLUMN = 40
LEADERBOARD_ROWS = 100
NAME_CHARS = 30  # the leaderboard's name column: the UI's table cells never wrap
CARD_NAME_CHARS = 40
IMAGE_WIDTH_PX = 640  # about the width the UI gives markdown
# what each leaderboard column holds, for the artifact's description
LEGEND = ("n: runs averaged (its first and its fresh-seed re-runs); spread: max - min over them; label: provisional "
          "(one run), confirmed (re-runs beat the previous best by a t-test), within noise, refuted; * its lead over "
          "the next row is within the noise floor")


def leaderboard_rows(env: Campaign) -> list[dict]:
    metric = env.metric
    entries = env.board.leaderboard(metric, limit=LEADERBOARD_ROWS)
    digits = digits_to_tell_apart(e.value for e in entries)
    return [
        {"#": e.rank, "id": short_id(e.id), metric.name: sig(e.value, digits), "n": e.n,
         "spread": sig(e.spread, 2) if e.n > 1 else None,
         "label": e.verification + (" *" if e.within_noise else ""), "name": shorten(e.name, NAME_CHARS)}
        for e in entries
    ]


def leaderboard_description(env: Campaign) -> str:
    metric = env.metric
    better = "lower" if metric.direction == "min" else "higher"
    return (f"**{metric.name}** ({better} is better; the mean over a row's runs); full evaluations only. "
            f"{noise_line(env)}. {LEGEND}")


def _cell(text: str) -> str:
    """Text a model wrote, safe in a table cell: a `|` would end the cell, a `<` open HTML (the UIs render it)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _card(e: Experiment, metric: str) -> str:
    if e.kind == "noise":
        what = "trivial baseline" if e.spec.get("trivial_baseline") else "noise floor"
    elif e.kind == "verify":
        what = f"re-run of {short_id(e.parent or '')}"
    else:
        what = _cell(shorten(e.name, CARD_NAME_CHARS))
    bits = [f"**{short_id(e.id)}** {what}"]
    if metric in e.metrics:
        bits.append(f"{sig(e.metrics[metric], 4):g}")
    if e.state == "running" and e.slot:
        bits.append(f"slot {e.slot}")
    return " · ".join(bits)


def kanban_markdown(board: Board, metric: str) -> str:
    """One row per board column, its cards as text that wraps: nine columns side by side need ~1900 px."""
    by_state: dict[str, list[Experiment]] = {c: [] for c in (*COLUMNS, "failed", "dead")}
    for e in board.select():
        by_state[e.state].append(e)
    lines = ["| column | n | experiments |", "| --- | --- | --- |"]
    for state, cards in by_state.items():
        if state in ("failed", "dead") and not cards:
            continue
        shown = [_card(e, metric) for e in cards[-CARDS_PER_COLUMN:]]
        if len(cards) > CARDS_PER_COLUMN:
            shown.insert(0, f"({len(cards) - CARDS_PER_COLUMN} earlier)")
        lines.append(f"| {state} | {len(cards)} | {'<br>'.join(shown)} |")
    return "\n".join(lines)


def budget_description(count: BudgetCount) -> str:
    parts = [f"{count.analyzed} analyzed"] + [f"{n} {what}" for n, what in ((count.dead, "dead"),
                                                                             (count.cancelled, "cancelled")) if n]
    return (f"{count.through} of {count.budget} experiments through ({', '.join(parts)}); {count.proposed} proposed "
            f"so far. Apart from the budget: {count.noise_runs} noise-floor runs, {count.reruns} re-runs")


def small_png(path: Path, width: int = IMAGE_WIDTH_PX) -> bytes:
    """The plot at about the width it is shown, on a palette: a few tens of KB inside the markdown."""
    from PIL import Image

    img = Image.open(path).convert("RGB")
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return out.getvalue()


def embed_images(markdown: str, folder: Path) -> str:
    """Local PNGs that the markdown links (`![alt](plot.png)`) as data: URIs, which both Prefect UIs render."""
    def embed(m: re.Match) -> str:
        path = folder / m.group(2)
        if ":" in m.group(2) or path.suffix.lower() != ".png" or not path.is_file():
            return m.group(0)
        data = base64.b64encode(small_png(path)).decode()
        return f"![{m.group(1)}](data:image/png;base64,{data})"

    return re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", embed, markdown)


class Phase3Artifacts:
    def __init__(self, env: Campaign, min_interval_s: float = 5.0, emit: Callable[..., object] = events.emit,
                 clock: Callable[[], float] = time.monotonic):
        self.env = env
        self.clock = clock
        self.prefix = env.config.name
        self.min_interval_s = min_interval_s
        self.emit = emit
        self._last = float("-inf")
        self._milestones: set[int] = set()
        self._content: dict[str, str] = {}  # the last content published per key
        self._budget_id: UUID | None = None
        self._lock = threading.RLock()
        self._timer: threading.Timer | None = None
        self.versions: Counter[str] = Counter()  # new versions per key from this run (updates in place excluded)
        self._best = self._best_now()  # a best already on the board when this run starts is no news

    def key(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def publish(self, force: bool = False) -> None:
        with self._lock:
            self._check_best()
            wait = self.min_interval_s - (self.clock() - self._last)
            if not force and wait > 0:
                self._publish_later(wait)
                return
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._last = self.clock()
            self._publish_now()

    def _publish_later(self, wait: float) -> None:
        if self._timer is not None:
            return
        # the flow run's context goes along, so the artifacts still belong to its run
        ctx = contextvars.copy_context()
        self._timer = threading.Timer(wait, ctx.run, args=(self._flush,))
        self._timer.daemon = True
        self._timer.start()

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            self.publish(force=True)

    def _publish_now(self) -> None:
        env = self.env
        if rows := leaderboard_rows(env):
            description = leaderboard_description(env)
            self._once("leaderboard", json.dumps([rows, description]),
                       lambda: create_table_artifact(rows, key=self.key("leaderboard"), description=description))
        playbook = env.workspace.playbook.read_text() if env.workspace.playbook.is_file() else "(empty)"
        self._markdown("playbook", playbook, "the playbook")
        self._markdown("board", kanban_markdown(env.board, env.metric.name),
                       f"experiment board; {env.metric.name} of the full evaluation where there is one")
        self._budget(budget_count(env.board, env.config.budgets.experiments))
        self._publish_milestones()

    def _once(self, name: str, content: str, create: Callable[[], object]) -> None:
        if self._content.get(name) == content:
            return
        create()
        self._content[name] = content
        self.versions[self.key(name)] += 1

    def _markdown(self, name: str, text: str, description: str) -> None:
        text = text[:MAX_CHARS]
        self._once(name, text + "\0" + description,
                   lambda: create_markdown_artifact(text, key=self.key(name), description=description))

    def _budget(self, count: BudgetCount) -> None:
        description = budget_description(count)
        content = f"{count.percent}\0{description}"
        if self._content.get("budget") == content:
            return
        if self._budget_id is None:
            self._budget_id = create_progress_artifact(count.percent, key=self.key("budget"), description=description)
            self.versions[self.key("budget")] += 1
        else:  # in place: a budget's history is no use as versions, and the key's page shows the latest
            update_progress_artifact(self._budget_id, count.percent, description=description)
        self._content["budget"] = content

    def _publish_milestones(self) -> None:
        reports = self.env.workspace.reports
        for folder in sorted(reports.glob("milestone_*")) if reports.is_dir() else []:
            n = int(folder.name.split("_")[1])
            overview = folder / OVERVIEW
            if n in self._milestones or not overview.is_file():
                continue
            self._milestones.add(n)
            self._markdown(f"milestone-{n:03d}", embed_images(overview.read_text(), folder),
                           f"milestone report {n:03d}")

    # ---- events ----------------------------------------------------------------------------------------------
    def _best_now(self) -> tuple[str, str] | None:
        best = self.env.board.best(self.env.metric)
        return (best.id, best.label) if best else None

    def _check_best(self) -> None:
        best = self.env.board.best(self.env.metric)
        now = (best.id, best.label) if best else None
        if best is None or now == self._best:
            self._best = now
            return
        self._best = now
        self.emit(events.NEW_BEST, self.prefix,
                  {"id": best.id, "name": best.name, "metric": self.env.metric.name, "value": best.value,
                   "n": best.n, "label": best.label, "within_noise": best.within_noise},
                  {"alphalab.experiment": best.id, "alphalab.label": best.label})
