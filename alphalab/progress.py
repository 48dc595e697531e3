"""Live campaign progress for the terminal: "phase N | role | step k | $cost" lines.

Roles emit events here (agent steps, a role starting or finishing); `alphalab run` subscribes a reporter for the
length of the campaign: on a terminal the live view (LiveView: the lines scroll above a panel with the board
counts, the best so far, the spend and the slots), otherwise plain lines (TerminalReporter), for logs and pipes.
With no subscriber (a run on a Prefect worker) events cost nothing: the run logger already carries the same lines
to the UI.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, TextIO

from pydantic import BaseModel

from alphalab.phase3.progress import BudgetCount, budget_count

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from alphalab.campaign import Campaign


class ProgressEvent(BaseModel):
    phase: str  # "phase1", or "campaign" for campaign-level news
    role: str = ""
    step: int | None = None  # None for a role starting or finishing
    cost_usd: float | None = None  # campaign spend so far
    detail: str = ""

    def line(self) -> str:
        parts = [p for p in (self.phase.replace("phase", "phase "), self.role) if p]
        if self.step is not None:
            parts.append(f"step {self.step}")
        if self.cost_usd is not None:
            parts.append(f"${self.cost_usd:.4f}")
        if self.detail:
            parts.append(self.detail)
        return " | ".join(parts)


_subscribers: list[Callable[[ProgressEvent], None]] = []
_lock = threading.Lock()


def emit(event: ProgressEvent) -> None:
    with _lock:
        subscribers = list(_subscribers)
    for fn in subscribers:
        fn(event)


def announce(text: str, phase: str = "campaign") -> None:
    emit(ProgressEvent(phase=phase, detail=text))


@contextmanager
def subscribed(fn: Callable[[ProgressEvent], None]) -> Iterator[None]:
    with _lock:
        _subscribers.append(fn)
    try:
        yield
    finally:
        with _lock:
            _subscribers.remove(fn)


class TerminalReporter:
    """Plain lines, one per event, each whole: a line cut to a width loses the value at its end (a best, an error),
    and a log or a pipe has no width to keep to. A multi-line detail is folded onto its one line."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __enter__(self) -> "TerminalReporter":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, event: ProgressEvent) -> None:
        text = " / ".join(line.strip() for line in event.line().splitlines() if line.strip())
        with self._lock:
            # write, not print: a flow with log_prints would turn a print into a log record
            self.stream.write(text + "\n")
            self.stream.flush()


class Snapshot(BaseModel):
    """What the live view's panel shows, read from the workspace (the board and the usage ledger)."""

    campaign: str
    counts: dict[str, int]
    best: str  # "e003 loss 0.0407 (confirmed, 3 runs) its name" or "none yet"
    budget: "BudgetCount"
    usd_spent: float
    usd_budget: float
    slots: dict[str, str]  # slot -> "e004 its name", "" when free


def snapshot(campaign: "Campaign") -> Snapshot:
    from alphalab.cost import UsageLedger

    config, board, metric = campaign.config, campaign.board, campaign.metric
    best = board.best(metric)
    running = {e.slot: e for e in board.select("running") if e.slot}
    return Snapshot(
        campaign=config.name, counts={k: v for k, v in board.counts().items() if v},
        best=(f"{best.id.split('-', 1)[0]} {metric.name} {best.value:.4g} ({best.verification}, {best.n} "
              f"run{'s' * (best.n > 1)}) {best.name}" if best else "none yet"),
        budget=budget_count(board, config.budgets.experiments),
        usd_spent=UsageLedger(campaign.workspace.usage_log, pricing=config.pricing).total_usd,
        usd_budget=config.budgets.usd,
        slots={s: (f"{running[s].id.split('-', 1)[0]} {running[s].name}" if s in running else "")
               for s in config.execution.gpu_slots},
    )


class LiveView:
    """The terminal's live view for `alphalab run`: each event's line is printed above a panel that rich redraws
    in place. Lines wrap at the terminal's width between words, never cut; the panel's fields wrap the same way.
    The workspace is read at most every `refresh_s` (the board is SQLite in WAL mode: reading never blocks the
    campaign's writes)."""

    def __init__(self, workspace: str | Path, console: "Console | None" = None, refresh_s: float = 1.0):
        from rich.console import Console

        self.workspace = Path(workspace)
        self.console = console or Console()
        self.refresh_s = refresh_s
        self.last: ProgressEvent | None = None
        self._campaign: "Campaign | None" = None
        self._snapshot: Snapshot | None = None
        self._read_at = float("-inf")
        self._lock = threading.Lock()
        self._live = None

    def __enter__(self) -> "LiveView":
        from rich.live import Live

        self._live = Live(self, console=self.console, refresh_per_second=2, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._read_at = float("-inf")  # the panel left on screen shows the end state
        self._live.__exit__(*exc)

    def __call__(self, event: ProgressEvent) -> None:
        from rich.text import Text

        with self._lock:
            self.last = event
        self.console.print(Text(event.line()), overflow="fold")  # rich prints it above the panel

    def current(self) -> Snapshot | None:
        with self._lock:
            if time.monotonic() - self._read_at >= self.refresh_s:
                self._read_at = time.monotonic()
                try:
                    if self._campaign is None:
                        from alphalab.campaign import Campaign

                        self._campaign = Campaign.load(self.workspace)
                    self._snapshot = snapshot(self._campaign)
                except Exception:  # no config or adapter yet (Phase 0), or one half-written: the next refresh reads
                    pass
            return self._snapshot

    def __rich__(self) -> "RenderableType":
        return render_panel(self.current(), self.last)


def render_panel(snap: Snapshot | None, last: ProgressEvent | None) -> "RenderableType":
    from rich.panel import Panel
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    now = " | ".join(p for p in (last.phase.replace("phase", "phase ") if last else "starting",
                                 last.role if last else "", f"step {last.step}" if last and last.step else "") if p)
    grid.add_row("now", now)
    title = "alphalab"
    if snap is not None:
        title = f"alphalab · {snap.campaign}"
        grid.add_row("board", " · ".join(f"{k} {v}" for k, v in snap.counts.items()) or "empty")
        grid.add_row("best", snap.best)
        bar = Table.grid(padding=(0, 1))
        count = snap.budget
        bar.add_row(ProgressBar(total=max(count.budget, 1), completed=count.through, width=24),
                    f"{count.through}/{count.budget} experiments through")
        grid.add_row("budget", bar)
        grid.add_row("spend", f"${snap.usd_spent:.4f} of ${snap.usd_budget:g}")
        for slot, holder in snap.slots.items():
            grid.add_row(f"slot {slot}", holder or "free")
    elif last is not None and last.cost_usd is not None:
        grid.add_row("spend", f"${last.cost_usd:.4f}")
    return Panel(grid, title=title, title_align="left", border_style="cyan")


def reporter_for(workspace: str | Path, stream: TextIO | None = None):
    """The live view on a terminal, plain lines anywhere else."""
    stream = stream or sys.stdout
    if stream.isatty():
        return LiveView(workspace)
    return TerminalReporter()
