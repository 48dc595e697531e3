"""Phase 3 as Prefect artifacts, updated as the campaign moves: `<campaign>-leaderboard` (table), `-playbook`
(markdown), `-board` (markdown kanban, the paper's 9 columns), `-budget` (progress) and `-milestone-NNN` (markdown).

Called from the flow's thread between Dispatcher steps; throttled so a burst of events costs one publication.
"""

from __future__ import annotations

import time

from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact

from alphalab.board import Board
from alphalab.board_rows import COLUMNS
from alphalab.campaign import Campaign
from alphalab.leaderboard_text import noise_line
from alphalab.roles.reporter import OVERVIEW

MAX_CHARS = 900_000  # artifacts stay under ~1 MB
CARDS_PER_COLUMN = 40


def leaderboard_rows(env: Campaign) -> list[dict]:
    metric = env.metric
    return [
        {"rank": e.rank, "id": e.id, metric.name: e.value, "n": e.n, "spread": e.spread, "label": e.verification,
         "lead_within_noise_floor": e.within_noise, "reruns": ", ".join(f"{v:.6g}" for v in e.rerun_values),
         "name": e.name}
        for e in env.board.leaderboard(metric, limit=100)
    ]


def kanban_markdown(board: Board, metric: str) -> str:
    rows = board.select()
    by_state: dict[str, list[str]] = {c: [] for c in (*COLUMNS, "failed", "dead")}
    for e in rows:
        value = f" {metric}={e.metrics[metric]:.4g}" if metric in e.metrics else ""
        slot = f" [slot {e.slot}]" if e.state == "running" and e.slot else ""
        by_state[e.state].append(f"{e.id}{value}{slot}")
    depth = min(CARDS_PER_COLUMN, max((len(v) for v in by_state.values()), default=0))
    lines = ["| " + " | ".join(f"{c} ({len(by_state[c])})" for c in COLUMNS) + " |",
             "|" + " --- |" * len(COLUMNS)]
    for i in range(depth):
        lines.append("| " + " | ".join(by_state[c][i] if i < len(by_state[c]) else "" for c in COLUMNS) + " |")
    for extra in ("failed", "dead"):
        if by_state[extra]:
            lines.append(f"\n**{extra}** ({len(by_state[extra])}): " + ", ".join(by_state[extra][:CARDS_PER_COLUMN]))
    return "\n".join(lines)


class Phase3Artifacts:
    def __init__(self, env: Campaign, min_interval_s: float = 2.0):
        self.env = env
        self.prefix = env.config.name
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._milestones: set[int] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return
        self._last = now
        env = self.env
        rows = leaderboard_rows(env)
        if rows:
            create_table_artifact(rows, key=self.key("leaderboard"),
                                  description=f"{env.metric.name} ({env.metric.direction}); full evaluations "
                                              f"only; {noise_line(env)}")
        playbook = env.workspace.playbook.read_text() if env.workspace.playbook.is_file() else "(empty)"
        create_markdown_artifact(playbook[:MAX_CHARS], key=self.key("playbook"), description="the playbook")
        create_markdown_artifact(kanban_markdown(env.board, env.metric.name)[:MAX_CHARS], key=self.key("board"),
                                 description="experiment board")
        budget = env.config.budgets.experiments
        used = env.board.experiments_used()
        apart = {k: len(env.board.select(kind=k)) for k in ("noise", "verify")}
        create_progress_artifact(min(100.0, 100.0 * used / budget), key=self.key("budget"),
                                 description=f"{used} of {budget} experiments (apart from the budget: "
                                             f"{apart['noise']} noise-floor runs, {apart['verify']} re-runs)")
        self._publish_milestones()

    def _publish_milestones(self) -> None:
        reports = self.env.workspace.reports
        for folder in sorted(reports.glob("milestone_*")) if reports.is_dir() else []:
            n = int(folder.name.split("_")[1])
            overview = folder / OVERVIEW
            if n in self._milestones or not overview.is_file():
                continue
            self._milestones.add(n)
            create_markdown_artifact(overview.read_text()[:MAX_CHARS], key=self.key(f"milestone-{n:03d}"),
                                     description=f"milestone report {n:03d}")
