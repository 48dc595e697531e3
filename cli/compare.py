"""`alphalab compare WORKSPACE... [--out DIR]`: a table (best primary metric, experiments, failures, tokens, cost,
wall time) and a plot of the running best for each workspace, e.g. a campaign against its greedy-loop and
single-shot baselines."""

from __future__ import annotations

import argparse
from pathlib import Path

from alphalab.compare import compare


def register(sub) -> None:
    p = sub.add_parser("compare", help="compare workspaces: best metric, experiments, failures, spend, wall time",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("workspaces", nargs="+", type=Path, metavar="WORKSPACE", help="campaign or baseline workspaces")
    p.add_argument("--out", type=Path, default=Path("."), help="folder for compare.md and compare.png")
    p.set_defaults(func=run)


def run(args) -> int:
    result = compare(args.workspaces, args.out)
    print(result.table, end="")
    print(f"\nwrote {result.table_path} and {result.plot_path}")
    return 0
