"""What ranks, and in what order: the one rule behind the leaderboard, the best result, the running best and the
stop on convergence.

A result is *measured* when it comes from a full evaluation that recorded the metric and was analyzed (state
`analyzed` or `done`); it *ranks* when it is also an experiment, not a verification re-run (a re-run only sets its
parent's `verified` flag). Smoke-test metrics never rank. Ties keep the earlier experiment first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from alphalab.board_rows import TERMINAL, Experiment
from alphalab.manifest import Metric

RANKED_KIND = "experiment"
MEASURED_STATES = ("analyzed", "done")
MEASURED_MODE = "full"


def measured(e: Experiment, metric: Metric) -> bool:
    return e.state in MEASURED_STATES and e.eval_mode == MEASURED_MODE and metric.name in e.metrics


def ranks(e: Experiment, metric: Metric) -> bool:
    return e.kind == RANKED_KIND and measured(e, metric)


def ranked_value(e: Experiment, metric: Metric) -> float | None:
    return e.metrics[metric.name] if ranks(e, metric) else None


def beats(metric: Metric, a: float, b: float | None) -> bool:
    """True when value `a` is better than `b` in the metric's direction (None: there is no result yet)."""
    if b is None:
        return True
    return a < b if metric.direction == "min" else a > b


def _sign(metric: Metric) -> int:
    return 1 if metric.direction == "min" else -1


def ordered(rows: Iterable[Experiment], metric: Metric) -> list[Experiment]:
    """The rows that rank, best first."""
    return sorted((e for e in rows if ranks(e, metric)), key=lambda e: (_sign(metric) * e.metrics[metric.name], e.seq))


def sql_ranked(metric: Metric) -> tuple[str, list[Any]]:
    """`ranks` as an SQL WHERE clause and ORDER BY over the board's experiments table, with its arguments, so the
    board finds its best row without reading every row (same rule, same order as `ordered`)."""
    path = f'$."{metric.name}"'  # metric names are identifiers (Metric.name's pattern)
    where = (f"kind = ? AND state IN ({','.join('?' * len(MEASURED_STATES))}) AND eval_mode = ? "
             "AND json_type(metrics, ?) IN ('integer', 'real')")
    direction = "ASC" if metric.direction == "min" else "DESC"
    return (f"WHERE {where} ORDER BY json_extract(metrics, ?) {direction}, seq",
            [RANKED_KIND, *MEASURED_STATES, MEASURED_MODE, path, path])


class LeaderboardEntry(BaseModel):
    rank: int
    id: str
    name: str
    value: float
    metrics: dict[str, float]
    verified: bool | None
    # the lead over the next entry is not larger than the domain's noise floor
    within_noise: bool = False
    rerun_value: float | None = None
    rerun_pending: bool = False  # its verification re-run is on the board and not through yet
    analyzed_seq: int | None = None

    @property
    def verification(self) -> str:
        """What a reader of the leaderboard needs: verified, refuted, waiting for its re-run, or never re-run (only
        a new best is)."""
        if self.verified:
            return "verified"
        if self.verified is False:
            return "refuted by its re-run" if self.rerun_value is not None else "re-run failed"
        return "re-run pending" if self.rerun_pending else "not re-run"


def leaderboard(rows: Iterable[Experiment], reruns: Iterable[Experiment], metric: Metric,
                noise_floor: float | None = None) -> list[LeaderboardEntry]:
    """Ranked entries, best first. `reruns` are the verification rows of (at least) these experiments; an entry's
    lead is within the noise when the next row in `rows` is not further than `noise_floor` behind."""
    values: dict[str, float] = {}
    pending: set[str] = set()
    for v in reruns:
        if v.parent and measured(v, metric):
            values[v.parent] = v.metrics[metric.name]
        elif v.parent and v.state not in TERMINAL:
            pending.add(v.parent)
    top = ordered(rows, metric)
    out = []
    for i, e in enumerate(top):
        value = e.metrics[metric.name]
        within = (noise_floor is not None and i + 1 < len(top)
                  and abs(value - top[i + 1].metrics[metric.name]) <= noise_floor)
        out.append(LeaderboardEntry(
            rank=i + 1, id=e.id, name=e.name, value=value, metrics=e.metrics, verified=e.verified,
            within_noise=within, rerun_value=values.get(e.id), rerun_pending=e.id in pending,
            analyzed_seq=e.analyzed_seq,
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
