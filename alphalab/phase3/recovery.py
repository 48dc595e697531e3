"""Resuming after a crash: the board is the whole state. A run the board says is `running` is adopted when the
runner still has it (on a slot that is still ours), taken as finished when the harness already recorded its result,
and re-queued otherwise; every other state simply leads to its next task again."""

from __future__ import annotations

import time
from typing import Callable

from pydantic import BaseModel

from alphalab.campaign import Campaign
from alphalab.execution import ExperimentRunner, OnDone, RunOutcome, fresh_result


class Adopted(BaseModel):
    exp_id: str
    job_id: str
    slot: str


class Recovered(BaseModel):
    adopted: list[Adopted] = []
    finished: list[RunOutcome] = []  # runs whose result the harness recorded before the crash


def recover_running(campaign: Campaign, runner: ExperimentRunner, on_done: OnDone,
                    log: Callable[[str], None]) -> Recovered:
    board, out = campaign.board, Recovered()
    taken: set[str] = set()
    for exp in board.select("running"):
        slot = exp.slot if exp.slot in runner.slots and exp.slot not in taken else None
        request = campaign.run_request(exp, slot or runner.slots[0])
        # also without a job id: the crash may have come between the submission and recording its id
        job_id = runner.recover(request, exp.job_id, on_done)
        if job_id is not None and slot is not None:
            taken.add(slot)
            board.update(exp.id, job_id=job_id)
            out.adopted.append(Adopted(exp_id=exp.id, job_id=job_id, slot=slot))
            log(f"{exp.id}: adopted job {job_id} still running on slot {slot}")
            continue
        if job_id is not None:  # its slot is no longer one of ours (the configuration changed): start over
            runner.cancel(job_id)
        result = fresh_result(request, since=exp.started_at or 0.0)
        if result is None:
            board.transition(exp.id, "queued", note="run lost in a crash; re-queued")
            log(f"{exp.id}: run lost in a crash; re-queued")
            continue
        out.finished.append(RunOutcome(
            exp_id=exp.id, attempt=exp.attempts, slot=request.slot, job_id="recovered",
            returncode=0 if result.status == "ok" else 1, started_at=exp.started_at or 0.0,
            finished_at=time.time(), result=result,
        ))
        log(f"{exp.id}: result recorded before the crash kept")
    return out
