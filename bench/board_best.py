"""What one progress line costs: the board's best entry read with the ranking rule in SQL (`Board.best`, two rows and
the top's re-runs) against building the whole ranked leaderboard and taking its top (what every Phase 3 progress
line did before), on boards of growing size, side by side in one run.

    .venv/bin/python bench/board_best.py [--sizes 50 200 1000] [--repeat 20]

Prints, per size, the median milliseconds of each and their ratio, and checks both give the same entry.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alphalab import ranking  # noqa: E402
from alphalab.board import Board  # noqa: E402
from alphalab.manifest import Metric  # noqa: E402

LOSS = Metric(name="loss", direction="min", primary=True)


def fill(board: Board, n: int, rng: random.Random) -> None:
    """`n` experiments through the board's states, a tenth of them smoke-only, plus a re-run per twentieth."""
    for i in range(n):
        e = board.add(f"exp {i}", {"params": {"x": i}}, kind="verify" if i % 20 == 19 else "experiment")
        for s in ("implemented", "checked", "queued", "running"):
            board.transition(e.id, s)
        board.transition(e.id, "finished", metrics={"loss": rng.random(), "mae": rng.random()},
                         eval_mode="smoke" if i % 10 == 9 else "full")
        board.transition(e.id, "analyzed")
        board.transition(e.id, "done")


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000])
    p.add_argument("--repeat", type=int, default=20)
    args = p.parse_args()
    rng = random.Random(0)
    print(f"{'experiments':>11}  {'leaderboard()[0] ms':>19}  {'best() ms':>9}  ratio")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            board = Board(Path(tmp) / f"board-{n}.sqlite", noise_floor=0.01)
            fill(board, n, rng)
            full = median_ms(lambda: board.leaderboard(LOSS)[0], args.repeat)
            sql = median_ms(lambda: board.best(LOSS), args.repeat)
            same = board.best(LOSS) == board.leaderboard(LOSS)[0]
            ranked = len(ranking.ordered(board.select(), LOSS))
            print(f"{n:>11}  {full:>19.2f}  {sql:>9.2f}  {full / sql:5.1f}x  ({ranked} ranked; same entry: {same})")


if __name__ == "__main__":
    main()
