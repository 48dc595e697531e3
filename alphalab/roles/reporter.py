"""The Reporter: a milestone report (`reports/milestone_NNN/overview.md`) with the best result so far, the
convergence (running best against experiment number, also as `convergence.png`), flagged experiments and
recommendations for the Strategist. Deterministic: the adapter has no Reporter prompt, and every number in the
report comes from the board.
"""

from __future__ import annotations

from pathlib import Path

from alphalab.campaign import Campaign
from alphalab.leaderboard_text import digits_to_tell_apart, noise_line, sig
from alphalab.phase3.contracts import MilestoneOutcome
from alphalab.ranking import RunningPoint, running_best, since_best
from alphalab.roles.base import RoleContext

OVERVIEW = "overview.md"
PLOT = "convergence.png"


def plot_convergence(points: list[RunningPoint], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4))
    scored = [p for p in points if p.value is not None]
    ax.scatter([p.number for p in scored], [p.value for p in scored], s=14, alpha=0.5, label="experiment")
    best = [p for p in points if p.best is not None]
    if best:
        ax.step([p.number for p in best], [p.best for p in best], where="post", color="C3", label="running best")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # experiments are counted, never fractional
    ax.set_xlabel("experiment number (analyzed order)")
    ax.set_ylabel(metric)
    ax.set_title("convergence")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def flagged(env: Campaign) -> list[str]:
    board, metric = env.board, env.metric
    out = []
    for e in board.leaderboard(metric, limit=10):
        if e.within_noise:
            out.append(f"{e.id}: its lead over the next entry is within the noise floor")
        if e.label == "refuted":
            reruns = ", ".join(f"{v:.6g}" for v in e.rerun_values) or "none recorded"
            out.append(f"{e.id}: refuted, its fresh-seed re-runs ({reruns}) do not reproduce the gain")
        elif e.label == "within noise":
            out.append(f"{e.id}: within noise, its gain is not distinguishable from the noise")
    best = board.best(metric)
    if best is not None and best.label != "confirmed":
        out.append(f"{best.id}: the best result is not confirmed ({best.verification})")
    for e in board.select("analyzed", "done", kind="experiment"):
        if e.eval_mode != "full":
            out.append(f"{e.id}: smoke-test metrics only (excluded from the leaderboard)")
    out += [f"{e.id}: dead after {e.attempts} fix attempts [{e.error_signature}]"
            for e in board.select("dead", kind="experiment")]
    return out


def recommendations(env: Campaign, points: list[RunningPoint]) -> list[str]:
    patience = env.config.phase3.patience
    since = since_best(points)
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
    folder = ctx.workspace.milestone(number)
    folder.mkdir(parents=True, exist_ok=True)
    metric = ctx.metric
    analyzed = ctx.board.analyzed()
    points = running_best(analyzed, metric)
    plot_convergence(points, metric.name, folder / PLOT)
    best = ctx.board.best(metric)
    counts = {k: v for k, v in ctx.board.counts().items() if v}
    lines = [f"# Milestone {number:03d}", "", f"{len(analyzed)} experiments analyzed; board: "
             + ", ".join(f"{k} {v}" for k, v in counts.items()), "", "## Best so far"]
    if best is None:
        lines.append("- no full-evaluation result yet")
    else:
        lines.append(f"- {best.id}: {metric.name} = {best.value:.6g} over {best.n} run(s), spread {best.spread:.3g} "
                     f"({best.verification}) -- {best.name}")
        # what the harness measured beside the ranked metric (another suite's protocol, say), for comparison only
        recorded = ctx.board.get(best.id).metrics
        others = [f"{m.name} = {sig(recorded[m.name])}" for m in ctx.manifest.metrics
                  if not m.primary and m.name in recorded]
        if others:
            lines.append(f"- its other metrics (not ranked): {', '.join(others)}")
    lines.append(f"- {noise_line(ctx)}")
    lines += ["", "## Convergence", f"![convergence]({PLOT})", "", "| experiment | value | running best |",
              "| --- | --- | --- |"]
    shown = points[-15:]
    digits = digits_to_tell_apart(v for p in shown for v in (p.value, p.best) if v is not None)
    lines += [f"| {p.number} | {'-' if p.value is None else sig(p.value, digits)} | "
              f"{'-' if p.best is None else sig(p.best, digits)} |" for p in shown]
    lines += ["", "## Flagged experiments"] + ([f"- {f}" for f in flagged(ctx)] or ["- none"])
    lines += ["", "## Recommendations"] + [f"- {r}" for r in recommendations(ctx, points)]
    markdown = "\n".join(lines) + "\n"
    (folder / OVERVIEW).write_text(markdown)
    ctx.log(f"milestone {number:03d} written to {folder}")
    return MilestoneOutcome(number=number, overview=folder / OVERVIEW, plot=folder / PLOT, markdown=markdown)
