"""The command line every harness entry point shares, so every domain's `evaluate.py` is called the same way:

    python -m harnesses.<domain>.evaluate --experiment EXP_DIR --workspace WS --mode smoke|full [--seed N]
                                          [--data PATH] [--sandbox auto|none|bwrap]

`--data` defaults to the campaign's `data_path` and `--sandbox` to its `sandbox.mode`, both read from the workspace's
copy of the campaign config (`WS/campaign.yaml`).
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alphalab.config import CampaignConfig, SandboxConfig, load_config
from alphalab.errors import AlphalabError
from alphalab.results import RunResult
from alphalab.workspace import Workspace
from harnesses.base.errors import EvaluationFailure
from harnesses.base.recording import fail


class HarnessArgs(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    experiment: Path
    workspace: Workspace
    mode: Literal["smoke", "full"]
    seed: int
    data: Path
    sandbox: SandboxConfig
    campaign: CampaignConfig | None = None


def harness_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--experiment", type=Path, required=True, help="the experiment folder (the only writable path)")
    p.add_argument("--workspace", type=Path, required=True, help="the campaign workspace")
    p.add_argument("--mode", choices=("smoke", "full"), default="full")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, default=None, help="dataset path (default: data_path of WS/campaign.yaml)")
    p.add_argument("--sandbox", choices=("auto", "none", "bwrap"), default=None,
                   help="default: sandbox.mode of WS/campaign.yaml, else auto (bubblewrap wherever it works)")
    return p


def load_campaign(workspace: Workspace) -> CampaignConfig | None:
    path = workspace.config_copy
    return load_config(path) if path.is_file() else None


def parse_harness_args(argv: Sequence[str] | None, description: str) -> HarnessArgs:
    ns = harness_parser(description).parse_args(argv)
    if not ns.experiment.is_dir():
        raise AlphalabError(f"experiment folder does not exist: {ns.experiment}")
    ws = Workspace(ns.workspace)
    campaign = load_campaign(ws)
    data = ns.data or (campaign.data_path if campaign else None)
    if data is None:
        raise AlphalabError(f"no dataset: pass --data or put a campaign config with data_path at {ws.config_copy}")
    sandbox = campaign.sandbox if campaign else SandboxConfig()
    if ns.sandbox is not None:
        sandbox = sandbox.model_copy(update={"mode": ns.sandbox})
    return HarnessArgs(experiment=ns.experiment.resolve(), workspace=ws, mode=ns.mode, seed=ns.seed,
                       data=Path(data).resolve(), sandbox=sandbox, campaign=campaign)


def harness_main(
    evaluate: Callable[[HarnessArgs], RunResult], argv: Sequence[str] | None, *, name: str, description: str,
) -> int:
    """Parse the common arguments, run `evaluate`, and make sure a result is recorded whatever happens.

    Exit code 0 when the result is ok, 1 when it was recorded as failed, 2 on a usage error.
    """
    try:
        args = parse_harness_args(argv, description)
    except AlphalabError as e:
        print(f"error: {e}")
        return 2
    start = time.monotonic()
    try:
        result = evaluate(args)
    except EvaluationFailure as e:
        result = fail(args.workspace, args.experiment, args.mode, e.message, e.signature, harness=name, seed=args.seed,
                      wall_seconds=round(time.monotonic() - start, 3))
    except Exception as e:  # a harness bug must still leave a failed result, never a stale one
        traceback.print_exc()
        result = fail(args.workspace, args.experiment, args.mode, f"harness error: {type(e).__name__}: {e}",
                      f"harness_error:{type(e).__name__}", harness=name, seed=args.seed,
                      wall_seconds=round(time.monotonic() - start, 3))
    print(f"{name}: {result.status} ({result.eval_mode})" + (f": {result.error}" if result.error else "")
          + "".join(f" {k}={v:.6g}" for k, v in result.metrics.items()))
    return 0 if result.status == "ok" else 1
