"""The flow a GPU work pool runs: one experiment's evaluation on the GPU its job variables pin
(`CUDA_VISIBLE_DEVICES`), with its own timeout and process-group kill; output to `experiments/<id>/run.log`.
The trusted harness writes the result into the shared workspace, where the campaign reads it back.

Cancelling the flow run stops the experiment's whole process tree within seconds: the worker's SIGTERM reaches
`execute` (Prefect raises it in the flow as TerminationSignal), which stops the harness's reaper, which kills and
sweeps everything the harness started, detached processes included. Should this process die before it can (the
worker's SIGKILL after its grace period, a crash), the reaper is told by the kernel (PR_SET_PDEATHSIG) and does the
same. The cancel and crash hooks, which the worker runs on this host once the flow-run process is gone, then kill
the run's recorded process group if anything of it still runs."""

from __future__ import annotations

import os

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from alphalab.campaign import Campaign
from alphalab.execution import RunOutcome, execute, stop_job


def _stop_leftovers(flow, flow_run, state) -> None:  # Prefect passes these by name
    params = flow_run.parameters
    stop_job(params["workspace"], params["exp_id"], int(params["attempt"]), params.get("mode", "full"))


@flow(name="run-experiment", on_cancellation=[_stop_leftovers], on_crashed=[_stop_leftovers])
def run_experiment(workspace: str, exp_id: str, attempt: int, mode: str = "full") -> RunOutcome:
    env = Campaign.load(workspace)
    exp = env.board.get(exp_id)
    if exp.attempts != attempt:
        raise RuntimeError(f"{exp_id}: asked to run attempt {attempt}, the board is at attempt {exp.attempts}")
    request = env.run_request(exp, slot=os.environ.get("CUDA_VISIBLE_DEVICES", ""), mode=mode)
    log = get_run_logger()
    log.info(f"{exp_id} attempt {attempt} ({mode}) on CUDA_VISIBLE_DEVICES={request.slot!r}")
    outcome = execute(request, job_id=str(flow_run.get_id()))
    log.info(f"{exp_id}: exit {outcome.returncode}, result {outcome.result.metrics if outcome.result else None}")
    if not outcome.ok:
        raise RuntimeError(f"{exp_id} failed ({outcome.error_signature}): {outcome.error[-1000:]}")
    return outcome
