"""`alphalab run CONFIG` starts a campaign; `alphalab rerun-phase N --workspace DIR` reruns one phase from disk.

Both run the Prefect flows in this process: on an ephemeral Prefect API by default, or on the server at
PREFECT_API_URL when it is set (the runs then show in its UI). Progress goes to stdout while it runs: on a terminal a
live view (the progress lines scroll above a panel of board counts, best so far, spend and slots), otherwise plain
lines ("phase N | role | step k | $cost").
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from alphalab import progress
from alphalab.adapters import check_start
from alphalab.campaign import Campaign
from alphalab.config import load_config
from alphalab.input_checks import DataCheck, check_inputs
from alphalab.sandbox import sandbox_notice

PHASES = (0, 1, 2, 3)
# the loggers of flow and task runs: they send every record to the API themselves, and propagate to the console
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


def quiet_prefect_console(verbose: bool) -> None:
    """Unless verbose, the progress lines carry the story and the console shows only warnings; run logs stay off it
    (a failed run's "Encountered exception" traceback included: the CLI prints the error once, in one line). All of
    it still reaches the API, and its UI."""
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()  # Prefect configures its logging once, reading the level above; what follows then holds
    for name in RUN_LOGGERS:
        logging.getLogger(name).propagate = verbose


def _where() -> str:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url  # from the environment or the active Prefect profile
    return f"the Prefect server at {url}" if url else "an ephemeral Prefect API (set PREFECT_API_URL for a server)"


def data_checks(domain_options: Mapping[str, object]) -> dict[str, DataCheck]:
    """The built-in domains' data checks, from the harnesses that read the data (the speedrun corpus as the campaign's
    `domain_options` say): imported on use, as they load pandas and GluonTS, which the other commands do without."""
    from harnesses.forecasting.dataset_check import check_dataset
    from harnesses.kernels.problem import check_problems
    from harnesses.speedrun.dataset_check import check_dataset as check_corpus

    return {"time_series": check_dataset, "cuda_kernel": check_problems,
            "llm_speedrun": partial(check_corpus, options=domain_options)}


def start_campaign(config: str | Path, workspace: str | Path | None = None, *, stop_after: int = 3,
                   verbose: bool = False):
    """Run the campaign flow in this process with live progress; the demo starts campaigns the same way."""
    cfg = load_config(config)  # a bad config fails here, before Prefect starts or anything is written
    # and so do bad inputs (data, workspace location, models), every problem listed
    check_inputs(config, cfg, workspace or cfg.workspace_dir(), data_checks(cfg.domain_options))
    check_start(cfg.domain, workspace or cfg.workspace_dir())  # and an invalid adapter, with all its problems
    quiet_prefect_console(verbose)
    if (notice := sandbox_notice(cfg.sandbox)) is not None:  # once per campaign, before anything runs unconfined
        print(notice, flush=True)
    print(f"starting the campaign on {_where()}", flush=True)
    from flows.campaign import campaign

    with progress.reporter_for(workspace or cfg.workspace_dir()) as reporter, progress.subscribed(reporter):
        summary = campaign(config=str(Path(config).resolve()),
                           workspace=str(Path(workspace).resolve()) if workspace else None, stop_after=stop_after)
    print(f"workspace: {summary.workspace}")
    return summary


def _run(args: argparse.Namespace) -> int:
    start_campaign(args.config, args.workspace, stop_after=args.stop_after, verbose=args.verbose)
    return 0


def phase_flow(n: int):
    from flows.phase0_adapter import phase0_adapter
    from flows.phase1_explore import phase1_explore
    from flows.phase2_evaluation import phase2_evaluation
    from flows.phase3_experiments import phase3_experiments

    return (phase0_adapter, phase1_explore, phase2_evaluation, phase3_experiments)[n]


def _rerun(args: argparse.Namespace) -> int:
    workspace = str(Path(args.workspace).resolve())
    Campaign.load(workspace)  # a clear error for a folder that is not a campaign workspace
    quiet_prefect_console(args.verbose)
    print(f"rerunning phase {args.phase} on {_where()}", flush=True)
    flow = phase_flow(args.phase)
    # a rerun recomputes: the role tasks' cache would otherwise replay the previous (failed) answers
    kwargs = {"refresh_cache": True} if "refresh_cache" in flow.parameters.properties else {}
    with progress.reporter_for(workspace) as reporter, progress.subscribed(reporter):
        flow(workspace=workspace, **kwargs)
    print(f"phase {args.phase} done in {workspace}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="start a campaign from its YAML config")
    run.add_argument("config", help="campaign YAML")
    run.add_argument("--workspace", help="campaign folder (default: the config's `workspace`, else runs/NAME)")
    run.add_argument("--stop-after", type=int, choices=PHASES, default=3, help="end the campaign after this phase")
    run.add_argument("--verbose", action="store_true", help="also print Prefect's own log lines")
    run.set_defaults(func=_run)

    rerun = sub.add_parser("rerun-phase", help="rerun one phase from the inputs on disk, leaving the others alone")
    rerun.add_argument("phase", type=int, choices=PHASES)
    rerun.add_argument("--workspace", required=True, help="the campaign folder")
    rerun.add_argument("--verbose", action="store_true", help="also print Prefect's own log lines")
    rerun.set_defaults(func=_rerun)
