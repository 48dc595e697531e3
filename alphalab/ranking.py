"""What ranks, and in what order: the one rule behind the leaderboard, the best result, the running best and the
stop on convergence.

A result is *measured* when it comes from a full evaluation that recorded the metric and was analyzed (state
`analyzed` or `done`); it *ranks* when it is also an experiment, not a re-run or a noise-floor run (a re-run counts
towards its parent's value and label). Smoke-test metrics never rank. A row's value is the mean over its runs once
its re-runs settled it (`score`), else its one run's value. Ties keep the earlier experiment first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from alphalab.board_rows import TERMINAL, Experiment
from alphalab.manifest import Metric
from alphalab.significance import Label

RANKED_KIND = "experiment"
MEASURED_STATES = ("analyzed", "done")
MEASURED_MODE = "full"


def measured(e: Experiment, metric: Metric) -> bool:
    return e.state in MEASURED_STATES and e.eval_mode == MEASURED_MODE and metric.name in e.metrics


def ranks(e: Experiment, metric: Metric) -> bool:
    return e.kind == RANKED_KIND and measured(e, metric)


def ranked_value(e: Experiment, metric: Metric) -> float | None:
    if not ranks(e, metric):
        return None
    return e.score if e.score is not None else e.metrics[metric.name]


def beats(metric: Metric, a: float, b: float | None) -> bool:
    """True when value `a` is better than `b` in the metric's direction (None: there is no result yet)."""
    if b is None:
        return True
    return a < b if metric.direction == "min" else a > b


def _sign(metric: Metric) -> int:
    return 1 if metric.direction == "min" else -1


def ordered(rows: Iterable[Experiment], metric: Metric) -> list[Experiment]:
    """The rows that rank, best first."""
    return sorted((e for e in rows if ranks(e, metric)), key=lambda e: (_sign(metric) * ranked_value(e, metric), e.seq))


def sql_ranked(metric: Metric) -> tuple[str, list[Any]]:
    """`ranks` as an SQL WHERE clause and ORDER BY over the board's experiments table, with its arguments, so the
    board finds its best row without reading every row (same rule, same order as `ordered`)."""
    path = f'$."{metric.name}"'  # metric names are identifiers (Metric.name's pattern)
    where = (f"kind = ? AND state IN ({','.join('?' * len(MEASURED_STATES))}) AND eval_mode = ? "
             "AND json_type(metrics, ?) IN ('integer', 'real')")
    direction = "ASC" if metric.direction == "min" else "DESC"
    return (f"WHERE {where} ORDER BY COALESCE(score, json_extract(metrics, ?)) {direction}, seq",
            [RANKED_KIND, *MEASURED_STATES, MEASURED_MODE, path, path])


class LeaderboardEntry(BaseModel):
    rank: int
    id: str
    name: str
    value: float  # the mean over its runs
    n: int = 1  # its runs: the first and every re-run that recorded the metric
    spread: float = 0.0  # max - min over those runs
    metrics: dict[str, float]  # of its first run
    label: Label = "provisional"
    # the lead over the next entry is not larger than the domain's noise floor
    within_noise: bool = False
    rerun_values: list[float] = []
    rerun_pending: bool = False  # re-runs of it are on the board and not through yet
    analyzed_seq: int | None = None

    @property
    def verification(self) -> str:
        """The label, or that its re-runs are still running."""
        return "re-run pending" if self.rerun_pending else self.label


def leaderboard(rows: Iterable[Experiment], reruns: Iterable[Experiment], metric: Metric,
                noise_floor: float | None = None) -> list[LeaderboardEntry]:
    """Ranked entries, best first. `reruns` are the verification rows of (at least) these experiments; an entry's
    lead is within the noise when the next row in `rows` is not further than `noise_floor` behind."""
    values: dict[str, list[float]] = {}
    pending: set[str] = set()
    for v in reruns:
        if v.parent and measured(v, metric):
            values.setdefault(v.parent, []).append(v.metrics[metric.name])
        elif v.parent and v.state not in TERMINAL:
            pending.add(v.parent)
    top = ordered(rows, metric)
    out = []
    for i, e in enumerate(top):
        value = ranked_value(e, metric)
        within = (noise_floor is not None and i + 1 < len(top)
                  and abs(value - ranked_value(top[i + 1], metric)) <= noise_floor)
        out.append(LeaderboardEntry(
            rank=i + 1, id=e.id, name=e.name, value=value, n=e.score_n or 1, spread=e.score_spread or 0.0,
            metrics=e.metrics, label=e.label or "provisional", within_noise=within,
            rerun_values=values.get(e.id, []), rerun_pending=e.id in pending, analyzed_seq=e.analyzed_seq,
        ))
    return out


class RunningPoint(BaseModel):
    number: int  # 1-based position in the order given
    value: float | None  # the row's ranked value, None when it does not rank
    best: float | None  # the best ranked value up to and including this row
    improved: bool  # this row set a new best


def running_best(rows: Sequence[Experiment], metric: Metric) -> list[RunningPoint]:
    """The running best over `rows` in the order given (analyzed order for a campaign, finishing order in a
    comparison)."""
    best: float | None = None
    out = []
    for i, e in enumerate(rows, start=1):
        value = ranked_value(e, metric)
        improved = value is not None and beats(metric, value, best)
        best = value if improved else best
        out.append(RunningPoint(number=i, value=value, best=best, improved=improved))
    return out


def since_best(points: Sequence[RunningPoint]) -> int:
    """Rows after the last one that set a new best (all of them when none did)."""
    last = max((i for i, p in enumerate(points) if p.improved), default=-1)
    return len(points) - 1 - last
