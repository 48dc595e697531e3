"""`alphalab` command line: the composition root, the only code that imports Prefect, flows, tasks and harnesses
together (the core under alphalab/ never imports the layers above it). Each subcommand lives in cli/<name>.py and
exposes `register(subparsers)`, which adds its parser with `set_defaults(func=handler)`; a handler returns the exit
code."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from alphalab import watchdog
from alphalab.errors import AlphalabError

_COMMANDS = ("doctor", "agent", "run", "operator", "demo", "compare", "baseline")


def _defaults() -> None:
    # Prefect telemetry fails offline and its ephemeral server needs longer than the default to start on 2 cores.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")
    # alphalab's own loggers (provider retries) reach the log of the task run they happen in, as Prefect's own do;
    # read when prefect is first imported, which no command does before this. Outside a run they stay local.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "alphalab")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alphalab", description="An autonomous research lab on Prefect.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _defaults()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    # a command may start Prefect's ephemeral API server, harness runs and agent shells: none of them may outlive
    # it, even when it is killed with SIGKILL and can clean up nothing itself
    watchdog.guard()
    try:
        return int(args.func(args) or 0)
    except AlphalabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; everything finished so far is saved in the workspace", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
