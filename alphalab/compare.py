"""Comparing finished workspaces (a campaign, a greedy loop, a single shot...) side by side, from what is on disk.

For each workspace: the best primary metric (the top of its leaderboard, in the manifest's direction), the
experiments run and how many failed (from the board), the tokens and dollars spent (from its usage ledger) and the
wall time from the first experiment start to the last finish. The running best is taken in the order experiments
finished, counting only results the leaderboard ranks, so its last point is the table's best.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel

from alphalab import ranking
from alphalab.board import Board
from alphalab.board_rows import Experiment
from alphalab.cost import UsageLedger
from alphalab.errors import AlphalabError
from alphalab.manifest import Manifest, Metric
from alphalab.workspace import Workspace

RUN_STATES = ("finished", "analyzed", "done", "failed", "dead")
FAILED_STATES = ("failed", "dead")
# board meta key naming what produced a workspace (e.g. "greedy loop (baseline policy)")
METHOD_KEY = "method"
DEFAULT_METHOD = "alphalab campaign"
TABLE_FILE = "compare.md"
PLOT_FILE = "compare.png"


class NotComparable(AlphalabError):
    """A folder that holds no finished work to compare (no board or no adapter manifest)."""


class WorkspaceSummary(BaseModel):
    label: str
    workspace: str
    method: str
    metric: Metric
    best: float | None
    best_id: str | None
    experiments: int
    failures: int
    tokens: int
    cost_usd: float
    wall_seconds: float | None
    # running best after the 1st, 2nd, ... finished experiment (None until the first ranked result)
    running_best: list[float | None]


def read_manifest(ws: Workspace) -> Manifest:
    path = ws.adapter / "manifest.yaml"
    if not path.is_file():
        raise NotComparable(f"{ws.root}: no adapter/manifest.yaml, so no primary metric to compare on")
    return Manifest.model_validate(yaml.safe_load(path.read_text()))


def _order(e: Experiment) -> tuple[float, int]:
    return (e.finished_at or e.updated_at, e.seq)


def running_best(rows: list[Experiment], manifest: Manifest) -> list[float | None]:
    return [p.best for p in ranking.running_best(sorted(rows, key=_order), manifest.primary)]


def wall_seconds(rows: list[Experiment]) -> float | None:
    starts = [e.started_at for e in rows if e.started_at is not None]
    ends = [e.finished_at for e in rows if e.finished_at is not None]
    if not starts or not ends:
        return None
    return max(ends) - min(starts)


def summarize(path: Path | str, label: str | None = None) -> WorkspaceSummary:
    ws = Workspace(Path(path))
    if not ws.board_db.is_file():  # Board() would create one: never write into a folder we only read
        raise NotComparable(f"{ws.root}: no board.sqlite, so no experiments to compare")
    manifest = read_manifest(ws)
    board = Board(ws.board_db)
    run = board.select(*RUN_STATES, kind="experiment")
    best = board.best(manifest.primary)
    spend = UsageLedger(ws.usage_log).summary().total
    return WorkspaceSummary(
        label=label or ws.root.name, workspace=str(ws.root), method=board.get_meta(METHOD_KEY, DEFAULT_METHOD),
        metric=manifest.primary, best=best.value if best else None, best_id=best.id if best else None,
        experiments=len(run), failures=sum(e.state in FAILED_STATES for e in run),
        tokens=spend.input_tokens + spend.output_tokens, cost_usd=spend.cost_usd,
        wall_seconds=wall_seconds(board.select()), running_best=running_best(run, manifest),
    )


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def format_metric(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


TABLE_HEADER = ("workspace", "method", "best", "experiments", "failures", "tokens", "cost (USD)", "wall time")


def table_markdown(summaries: list[WorkspaceSummary]) -> str:
    metrics = sorted({f"{s.metric.name} ({'lower' if s.metric.direction == 'min' else 'higher'} is better)"
                      for s in summaries})
    lines = [f"Primary metric: {', '.join(metrics)}", "",
             "| " + " | ".join(TABLE_HEADER) + " |", "|" + " --- |" * len(TABLE_HEADER)]
    for s in summaries:
        best = format_metric(s.best) + (f" ({s.best_id})" if s.best_id else "")
        cells = (s.label, s.method, best, str(s.experiments), str(s.failures), f"{s.tokens:,}", f"{s.cost_usd:.4f}",
                 format_duration(s.wall_seconds))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_running_best(summaries: list[WorkspaceSummary], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display: the figure only ever goes to a file
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8, 4.5))
    try:
        for s in summaries:
            xs = [i + 1 for i, v in enumerate(s.running_best) if v is not None]
            ys = [v for v in s.running_best if v is not None]
            ax.step(xs, ys, where="post", marker="o", markersize=3, label=f"{s.label} ({s.method})")
        names = sorted({s.metric.name for s in summaries})
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("experiment number (in order of finishing)")
        ax.set_ylabel(f"running best {', '.join(names)}")
        ax.set_title("Running best against experiment number")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path


class Comparison(BaseModel):
    summaries: list[WorkspaceSummary]
    table: str
    table_path: Path
    plot_path: Path


def compare(workspaces: list[Path | str], out_dir: Path | str) -> Comparison:
    """Summarize every workspace, write the table and the running-best plot into `out_dir`."""
    summaries = [summarize(w) for w in workspaces]
    labels = [s.label for s in summaries]
    if len(set(labels)) != len(labels):  # same folder name in different places: tell them apart by full path
        summaries = [s.model_copy(update={"label": s.workspace}) for s in summaries]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = table_markdown(summaries)
    table_path = out / TABLE_FILE
    table_path.write_text(f"# Comparison\n\n{table}\n![running best]({PLOT_FILE})\n")
    plot_path = plot_running_best(summaries, out / PLOT_FILE)
    return Comparison(summaries=summaries, table=table, table_path=table_path, plot_path=plot_path)
