"""The leaderboard as text, for the Strategist's prompt, `alphalab demo` and the milestone report: the top entries
and the latest, each with its value (the mean over its runs), n, spread and label, under a line that says what the
gains are read against (the noise floor and the domain's trivial baseline) and what the labels mean."""

from __future__ import annotations

import math
from collections.abc import Iterable

from alphalab.campaign import Campaign
from alphalab.phase3.noise_runs import describe

TOP_ENTRIES = 5
LATEST_ENTRIES = 3
LEGEND = ("labels: provisional = one run; confirmed = its fresh-seed re-runs beat the previous confirmed best (or "
          "the noise floor's reference runs) by a one-sided t-test at alpha {alpha}; within noise = better on "
          "average, not distinguishable from noise; refuted = the re-runs do not reproduce a gain")


def sig(value: float, digits: int = 4) -> float:
    """`value` rounded to `digits` significant digits, still a number (tables sort and compare it)."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def digits_to_tell_apart(values: Iterable[float], fewest: int = 4, most: int = 6) -> int:
    """The fewest significant digits, from `fewest` up to `most`, at which values that differ still differ once
    rounded: a leaderboard must not show two rows as tied that are not."""
    distinct = set(values)
    for digits in range(fewest, most):
        if len({sig(v, digits) for v in distinct}) == len(distinct):
            return digits
    return most


def short_id(exp_id: str) -> str:
    """`e007` for `e007-patchtst-context-96`: the board's sequence number is unique, the slug repeats the name."""
    return exp_id.split("-", 1)[0]


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut between words (a number is never cut in half)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:-") + "…"


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
