"""The command line every harness entry point shares, so every domain's `evaluate.py` is called the same way:

    python -m harnesses.<domain>.evaluate --experiment EXP_DIR --workspace WS --mode smoke|full [--seed N]
        --data PATH [--sandbox auto|none|bwrap] [--network on|off] [--time-limit S] [--options JSON]
        [--campaign-seed N]

Everything a campaign decides comes in as an argument: the manifest's command passes the campaign's values through
its placeholders ({data}, {sandbox}, {network}, {time_limit}, {options}, {campaign_seed}; see alphalab.manifest). A
harness never reads the campaign config; an argument left out means what a campaign with defaults would mean.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from alphalab.errors import AlphalabError
from alphalab.results import RunResult
from alphalab.sandbox import SandboxConfig
from alphalab.workspace import Workspace
from harnesses.base.errors import EvaluationFailure
from harnesses.base.recording import fail

Options = dict[str, str | int | float | bool]


class HarnessArgs(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    experiment: Path
    workspace: Workspace
    mode: Literal["smoke", "full"]
    seed: int
    data: Path
    sandbox: SandboxConfig
    time_limit_s: float | None = Field(None, description="None: the harness's own limit for this mode")
    options: Options = Field(default_factory=dict, description="the campaign's domain_options")
    campaign_seed: int = 0


def harness_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--experiment", type=Path, required=True, help="the experiment folder (the only writable path)")
    p.add_argument("--workspace", type=Path, required=True, help="the campaign workspace")
    p.add_argument("--mode", choices=("smoke", "full"), default="full")
    p.add_argument("--seed", type=int, default=0)
    # not argparse's `required`: a missing dataset is a usage error harness_main reports like every other one
    p.add_argument("--data", type=Path, default=None, help="dataset path (required; the campaign's data_path)")
    p.add_argument("--sandbox", choices=("auto", "none", "bwrap"), default="auto",
                   help="how the experiment process is isolated (auto: bubblewrap wherever it works)")
    p.add_argument("--network", choices=("on", "off"), default="off", help="network for the sandboxed experiment")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                   help="wall-clock limit of the experiment process (default: the harness's own for this mode)")
    p.add_argument("--options", default="{}", metavar="JSON", help="the campaign's domain_options, a JSON object")
    p.add_argument("--campaign-seed", type=int, default=0, help="the campaign's seed (e.g. of a fixed data split)")
    return p


def _options(text: str) -> Options:
    try:
        return TypeAdapter(Options).validate_python(json.loads(text))
    except ValueError as e:  # bad JSON or a value of another type (pydantic's ValidationError is a ValueError)
        raise AlphalabError(f"--options must be a JSON object of strings, numbers and booleans: {e}") from None


def parse_harness_args(argv: Sequence[str] | None, description: str) -> HarnessArgs:
    ns = harness_parser(description).parse_args(argv)
    if not ns.experiment.is_dir():
        raise AlphalabError(f"experiment folder does not exist: {ns.experiment}")
    if ns.data is None:
        raise AlphalabError("--data is required: the dataset path (a manifest command passes --data {data})")
    return HarnessArgs(experiment=ns.experiment.resolve(), workspace=Workspace(ns.workspace), mode=ns.mode,
                       seed=ns.seed, data=ns.data.resolve(),
                       sandbox=SandboxConfig(mode=ns.sandbox, allow_network=ns.network == "on"),
                       time_limit_s=ns.time_limit, options=_options(ns.options), campaign_seed=ns.campaign_seed)


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
