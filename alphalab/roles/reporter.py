"""The Reporter: a milestone report (`reports/milestone_NNN/overview.md`) with the best result so far, the
convergence (running best against experiment number, also as `convergence.png`), flagged experiments and
recommendations for the Strategist. Deterministic: the adapter has no Reporter prompt, and every number in the
report comes from the board.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from alphalab.board import Experiment
from alphalab.phase3 import Phase3Env
from alphalab.roles.base import RoleContext

OVERVIEW = "overview.md"
PLOT = "convergence.png"


class MilestoneOutcome(BaseModel):
    number: int
    overview: Path
    plot: Path
    markdown: str


def running_best(env: Phase3Env, analyzed: list[Experiment]) -> list[tuple[int, float | None, float | None]]:
    """(experiment number, its value, best so far) in the order experiments were analyzed."""
    metric, best, out = env.metric.name, None, []
    for i, e in enumerate(analyzed, start=1):
        value = e.metrics.get(metric) if e.eval_mode == "full" else None
        if value is not None and env.manifest.better(value, best):
            best = value
        out.append((i, value, best))
    return out


def plot_convergence(points: list[tuple[int, float | None, float | None]], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    xs = [p[0] for p in points if p[1] is not None]
    ax.scatter(xs, [p[1] for p in points if p[1] is not None], s=14, alpha=0.5, label="experiment")
    best = [(p[0], p[2]) for p in points if p[2] is not None]
    if best:
        ax.step([b[0] for b in best], [b[1] for b in best], where="post", color="C3", label="running best")
    ax.set_xlabel("experiment number (analyzed order)")
    ax.set_ylabel(metric)
    ax.set_title("convergence")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def flagged(env: Phase3Env) -> list[str]:
    board, metric = env.board, env.metric
    out = []
    for e in board.leaderboard(metric, limit=10):
        if e.within_noise:
            out.append(f"{e.id}: its lead over the next entry is within the noise floor")
        if e.verified is False:
            out.append(f"{e.id}: a fresh-seed re-run did not reproduce the gain ({e.rerun_value})")
    best = board.best(metric)
    if best is not None and best.verified is None:
        out.append(f"{best.id}: best result not verified yet")
    for e in board.select("analyzed", "done", kind="experiment"):
        if e.eval_mode != "full":
            out.append(f"{e.id}: smoke-test metrics only (excluded from the leaderboard)")
    out += [f"{e.id}: dead after {e.attempts} fix attempts [{e.error_signature}]"
            for e in board.select("dead", kind="experiment")]
    return out


def recommendations(env: Phase3Env, points: list[tuple[int, float | None, float | None]]) -> list[str]:
    patience = env.config.phase3.patience
    last_gain = max((i for i, (n, v, b) in enumerate(points) if v is not None and v == b), default=None)
    since = len(points) - 1 - last_gain if last_gain is not None else len(points)
    out = []
    if since >= patience // 2:
        out.append(f"{since} experiments without improvement: refine around the best or try a different family "
                   f"before the convergence stop ({patience})")
    else:
        out.append("still improving: keep exploring around the recent gains")
    dead = env.board.select("dead", kind="experiment")
    if dead:
        out.append(f"{len(dead)} experiment(s) dead: read their logs and steer away from the failing settings")
    return out


def write_milestone(ctx: RoleContext, number: int) -> MilestoneOutcome:
    env = Phase3Env(ctx.config, ctx.workspace)
    folder = ctx.workspace.milestone(number)
    folder.mkdir(parents=True, exist_ok=True)
    metric = env.metric
    analyzed = env.board.analyzed()
    points = running_best(env, analyzed)
    plot_convergence(points, metric.name, folder / PLOT)
    best = env.board.best(metric)
    counts = {k: v for k, v in env.board.counts().items() if v}
    lines = [f"# Milestone {number:03d}", "", f"{len(analyzed)} experiments analyzed; board: "
             + ", ".join(f"{k} {v}" for k, v in counts.items()), "", "## Best so far"]
    if best is None:
        lines.append("- no full-evaluation result yet")
    else:
        lines.append(f"- {best.id}: {metric.name} = {best.value:.6g} ({best.verification}) -- {best.name}")
    lines += ["", "## Convergence", f"![convergence]({PLOT})", "", "| experiment | value | running best |",
              "| --- | --- | --- |"]
    lines += [f"| {n} | {'-' if v is None else f'{v:.6g}'} | {'-' if b is None else f'{b:.6g}'} |"
              for n, v, b in points[-15:]]
    lines += ["", "## Flagged experiments"] + ([f"- {f}" for f in flagged(env)] or ["- none"])
    lines += ["", "## Recommendations"] + [f"- {r}" for r in recommendations(env, points)]
    markdown = "\n".join(lines) + "\n"
    (folder / OVERVIEW).write_text(markdown)
    ctx.log(f"milestone {number:03d} written to {folder}")
    return MilestoneOutcome(number=number, overview=folder / OVERVIEW, plot=folder / PLOT, markdown=markdown)
