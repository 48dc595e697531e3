"""`alphalab baseline greedy|single-shot WORKSPACE [--from CAMPAIGN_WORKSPACE] [--budget N]`: run a comparison
baseline flow on a workspace whose Phases 0-2 are done; `--from` first forks one from a campaign's workspace (same
adapter, harness, data and models). Then `alphalab compare CAMPAIGN WORKSPACE` sets them side by side."""

from __future__ import annotations

from pathlib import Path

from alphalab import progress
from alphalab.workspace_fork import fork_workspace
from alphalab.campaign import Campaign
from cli.run import quiet_prefect_console
from alphalab.compare import table_markdown

KINDS = ("greedy", "single-shot")


def register(sub) -> None:
    p = sub.add_parser("baseline", help="run the greedy-loop or single-shot baseline on a workspace after Phase 2")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("workspace", type=Path, help="the baseline's workspace")
    p.add_argument("--from", dest="source", type=Path, help="fork WORKSPACE from this campaign workspace first")
    p.add_argument("--budget", type=int, help="greedy: experiments (default: the campaign's experiment budget)")
    p.add_argument("--verbose", action="store_true", help="also print Prefect's own log lines")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.source is not None:
        ws = fork_workspace(args.source, args.workspace)
        print(f"forked {ws.root} from {Path(args.source).resolve()}")
    ws = Campaign.load(args.workspace).workspace  # a clear error for a folder that is not a workspace
    quiet_prefect_console(args.verbose)
    from flows.baselines import greedy_loop, single_shot

    with progress.subscribed(progress.TerminalReporter()):
        if args.kind == "greedy":
            summary = greedy_loop(str(ws.root), budget=args.budget)
        else:
            summary = single_shot(str(ws.root))
    print(table_markdown([summary]), end="")
    return 0
