"""The leaderboard as text, for the Strategist's prompt, `alphalab demo` and the milestone report: the top entries
and the latest, each with its value (the mean over its runs), n, spread and label, under a line that says what the
gains are read against (the noise floor and the domain's trivial baseline) and what the labels mean."""

from __future__ import annotations

from alphalab.campaign import Campaign
from alphalab.phase3.noise_runs import describe

TOP_ENTRIES = 5
LATEST_ENTRIES = 3
LEGEND = ("labels: provisional = one run; confirmed = its fresh-seed re-runs beat the previous confirmed best (or "
          "the noise floor's reference runs) by a one-sided t-test at alpha {alpha}; within noise = better on "
          "average, not distinguishable from noise; refuted = the re-runs do not reproduce a gain")


def noise_line(campaign: Campaign) -> str:
    if campaign.config.phase3.noise_seeds == 0:
        return "noise floor: off (phase3.noise_seeds: 0): no gain can be confirmed"
    floor = campaign.noise_floor()
    return f"noise floor: {describe(floor)}" if floor is not None else "noise floor: not measured yet"


def leaderboard_markdown(campaign: Campaign) -> str:
    metric = campaign.metric
    entries = campaign.board.leaderboard(metric)
    head = [noise_line(campaign), LEGEND.format(alpha=campaign.config.phase3.confirm_alpha)]
    if not entries:
        return "\n".join(head + ["(no full-evaluation results yet)"])
    shown = entries[:TOP_ENTRIES]
    latest = sorted(entries, key=lambda e: e.analyzed_seq or 0)[-LATEST_ENTRIES:]
    shown += [e for e in latest if e not in shown]
    lines = head + [f"{metric.name} ({'lower' if metric.direction == 'min' else 'higher'} is better; the mean over a "
                    f"row's runs); {len(entries)} ranked in all, top {TOP_ENTRIES} and latest {LATEST_ENTRIES} shown",
                    f"| rank | id | {metric.name} | n | spread | label | flags | name |",
                    "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for e in shown:
        flags = "lead within the noise floor" if e.within_noise else ""
        lines.append(f"| {e.rank} | {e.id} | {e.value:.6g} | {e.n} | {e.spread:.3g} | {e.verification} | {flags} "
                     f"| {e.name} |")
    return "\n".join(lines)
