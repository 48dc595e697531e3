"""The `work-pool` execution backend: each run is a flow run of the `run-experiment` deployment on a GPU work pool.

Each slot has its own work queue in the pool (`gpu-<slot>`, `queue_for_slot`), served by the one worker that owns
that GPU (`prefect worker start --pool alphalab-gpu --work-queue gpu-0 --limit 1`), so a slot's runs never land on
another GPU or host. A slot named by GPU indexes ("0", "2,3") is also pinned in the run's job variables
(`{"env": {"CUDA_VISIBLE_DEVICES": slot}}`); any other name ("b0", for GPU 0 of a second host) leaves the GPU to the
environment of the worker that serves its queue (`CUDA_VISIBLE_DEVICES=0 prefect worker start ...`), which a process
worker passes on to its runs. Each run is a subflow of the Phase 3 flow run that submitted it, named and tagged after
its campaign (`<campaign> · e007-...-a0`, tags `campaign:<name>`, `experiment:<id>`).

The idempotency key is the experiment id, its attempt and its launch stamp from the board, so after a crash of the
campaign the same request finds the same flow run again (adopted) instead of starting a second one.
Results come back through the shared workspace (`Workspace.result_file`, outside the experiment folder), written by
the trusted harness.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
import time
from dataclasses import dataclass
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterIdempotencyKey
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Cancelling, State

from alphalab.config import load_config
from alphalab.execution import OnDone, RunOutcome, RunRequest, fresh_result
from alphalab.workspace import Workspace

LOG_TAIL = 4000


_GPU_INDEXES = re.compile(r"\d+(,\d+)*")


def queue_for_slot(slot: str) -> str | None:
    """The work queue of a GPU slot; none for a run on no slot (it goes to the deployment's own queue)."""
    return f"gpu-{slot}" if slot else None


def job_variables_for_slot(slot: str) -> dict:
    return {"env": {"CUDA_VISIBLE_DEVICES": slot}} if _GPU_INDEXES.fullmatch(slot) else {}


def campaign_tags(campaign: str, exp_id: str) -> list[str]:
    return [f"campaign:{campaign}", f"experiment:{exp_id}"]


@dataclass
class _Watched:
    request: RunRequest
    on_done: OnDone
    submitted: float


class WorkPoolRunner:
    def __init__(self, slots: list[str], deployment: str, workspace: str, poll_s: float = 0.5,
                 campaign: str | None = None):
        self.slots = list(slots)
        self.deployment = deployment
        self.workspace = workspace
        self.campaign = campaign or load_config(Workspace(workspace).config_copy).name
        self.poll_s = poll_s
        self._watched: dict[UUID, _Watched] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # submitted-at and started-at of every flow run, for the pickup-latency benchmark
        self.pickups: dict[str, tuple[float, float | None]] = {}

    def run_name(self, request: RunRequest) -> str:
        return f"{self.campaign} · {request.exp_id}-a{request.attempt}"

    def _deploy(self, request: RunRequest) -> FlowRun:
        # as a subflow, the run shows under the Phase 3 run that started it (and Prefect's cancellation service
        # cancels it when that run is cancelled)
        return run_deployment(
            name=self.deployment,
            parameters={"workspace": self.workspace, "exp_id": request.exp_id, "attempt": request.attempt,
                        "mode": request.mode},
            job_variables=job_variables_for_slot(request.slot),
            work_queue_name=queue_for_slot(request.slot),
            tags=campaign_tags(self.campaign, request.exp_id),
            idempotency_key=request.idempotency_key, timeout=0, as_subflow=True,
            flow_run_name=self.run_name(request),
        )

    def submit(self, request: RunRequest, on_done: OnDone) -> str:
        flow_run = self._deploy(request)
        self._watch(flow_run.id, _Watched(request, on_done, time.time()))
        return str(flow_run.id)

    def cancel(self, job_id: str) -> None:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(UUID(job_id), Cancelling(), force=True)

    def recover(self, request: RunRequest, job_id: str | None, on_done: OnDone) -> str | None:
        if job_id:
            with get_client(sync_client=True) as client:
                flow_run = client.read_flow_run(UUID(job_id))
        else:  # the crash came between the board update and the submission: same key, same flow run
            flow_run = self._find(request) or self._deploy(request)
        if flow_run.state is not None and flow_run.state.is_completed():
            return None  # its result is in the workspace
        launched = float(request.launch) if request.launch else 0.0
        self._watch(flow_run.id, _Watched(request, on_done, launched))
        return str(flow_run.id)

    def _find(self, request: RunRequest) -> FlowRun | None:
        """The flow run of a request submitted just before a crash, found by its key: submitting it again would return
        the same run but leave a second link, never closed, in this Phase 3 run."""
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                idempotency_key=FlowRunFilterIdempotencyKey(any_=[request.idempotency_key])))
        # keys are unique per flow, not per campaign: the parameters say whose run it is
        return next((r for r in runs if r.parameters.get("workspace") == self.workspace
                     and r.parameters.get("exp_id") == request.exp_id), None)

    # ---- watching flow runs ----------------------------------------------------------------------------------
    def _watch(self, flow_run_id: UUID, watched: _Watched) -> None:
        with self._lock:
            self._watched[flow_run_id] = watched
            self.pickups.setdefault(str(flow_run_id), (watched.submitted, None))
            if self._thread is None or not self._thread.is_alive():
                # the caller's context carries its Prefect settings (API URL) into the watcher thread
                self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._loop,),
                                                daemon=True, name="work-pool-watch")
                self._thread.start()
        self._wake.set()

    def _loop(self) -> None:
        with get_client(sync_client=True) as client:
            while True:
                with self._lock:
                    ids = list(self._watched)
                    if not ids:
                        self._thread = None
                        return
                runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
                for run in runs:
                    self._observe(run, client)
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def _observe(self, run: FlowRun, client) -> None:
        key = str(run.id)
        submitted, started = self.pickups.get(key, (time.time(), None))
        if started is None and run.start_time is not None:
            self.pickups[key] = (submitted, run.start_time.timestamp())
        if run.state is None or not run.state.is_final():
            return
        with self._lock:
            watched = self._watched.pop(run.id, None)
        if watched is None:
            return
        if run.parent_task_run_id is not None:  # before the callback, which may end the Phase 3 run
            _close_link(client, run)
        request = watched.request
        log = request.log_file
        tail = log.read_text(errors="replace")[-LOG_TAIL:] if log.is_file() else ""
        # a failed flow run may still have recorded a (failed) result; a cancelled or crashed one is not read
        ended = run.state.is_completed() or run.state.is_failed()
        result = fresh_result(request, since=watched.submitted) if ended else None
        watched.on_done(RunOutcome(
            exp_id=request.exp_id, attempt=request.attempt, slot=request.slot, job_id=key,
            returncode=0 if run.state.is_completed() else 1, timed_out=False,
            started_at=run.start_time.timestamp() if run.start_time else watched.submitted,
            finished_at=run.end_time.timestamp() if run.end_time else time.time(),
            output_tail=tail or f"flow run ended {run.state.type.value}: {run.state.message or ''}", result=result,
        ))


def _close_link(client, run: FlowRun) -> None:
    """`run_deployment` links a subflow through a task run of the parent that it leaves Pending (it does not wait):
    it takes the run's final state, so the Phase 3 run shows each experiment as it ended."""
    try:
        client.set_task_run_state(run.parent_task_run_id, State(type=run.state.type, name=run.state.name,
                                                                message=run.state.message), force=True)
    except Exception as e:  # cosmetic: the result is already with the Dispatcher
        logging.getLogger(__name__).warning(f"could not close the link of flow run {run.name}: {e}")
