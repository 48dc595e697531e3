"""Phase 3: the Strategist proposes, Workers implement, run, analyze and fix, the playbook accumulates lessons.

The flow wires the pure-Python Dispatcher to Prefect: role calls become task runs (fanned out concurrently from
the Dispatcher's worker threads), runs go to the configured backend (local subprocesses, or flow runs on a GPU work
pool), artifacts are republished as the board moves, and operator notes arrive as flow-run input.

The flow run fails (and so does the campaign) when a provider error stopped the Dispatcher, or when not one
experiment was analyzed: a campaign that produced nothing must not end as if it had succeeded.
"""

from __future__ import annotations

import sys
from typing import Callable
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.input.actions import delete_flow_run_input, filter_flow_run_input
from prefect.runtime import flow_run

from alphalab import harness_seal, progress
from alphalab.campaign import Campaign
from alphalab.config import CampaignConfig
from alphalab.cost import UsageLedger
from alphalab.errors import PhaseFailed
from alphalab.execution import ExperimentRunner, LocalRunner
from alphalab.operator import FLOW_RUN_META, OPERATOR_KEY_PREFIX
from alphalab.phase3.contracts import InboxItem, Phase3Summary
from alphalab.phase3.dispatcher import Dispatcher
from alphalab.progress import ProgressEvent
from flows.campaign_runs import on_phase_failure, run_name
from tasks import events
from tasks.artifacts import Phase3Artifacts
from tasks.experiment_roles import prefect_roles

INBOX_BATCH = 50
# why a Phase 3 can end with nothing analyzed, by its stop reason
_WHY_NOTHING = {
    "no_proposals": "the Strategist proposed no experiment that could run",
    "experiment_budget": "every experiment of the budget failed or was cancelled before its analysis",
    "usd_budget": "the USD budget was spent first: raise budgets.usd",
    "wall_clock": "the wall-clock budget ran out first: raise budgets.wall_clock_hours",
}


def make_runner(config: CampaignConfig, workspace: str) -> ExperimentRunner:
    if config.execution.backend == "work-pool":
        from tasks.work_pool import WorkPoolRunner

        return WorkPoolRunner(config.execution.gpu_slots, config.execution.deployment, workspace)
    return LocalRunner(config.execution.gpu_slots)


def _decode(value: object) -> InboxItem:
    return InboxItem.model_validate_json(value) if isinstance(value, (str, bytes)) else InboxItem.model_validate(value)


def operator_inbox(flow_run_id: UUID):
    """Reads (and removes) the operator messages sent to this flow run since the last call."""
    log = get_run_logger()

    def read() -> list[InboxItem]:
        items = []
        for fri in filter_flow_run_input(key_prefix=OPERATOR_KEY_PREFIX, limit=INBOX_BATCH, flow_run_id=flow_run_id):
            try:
                items.append(_decode(fri.value))
            except ValueError as e:
                log.warning(f"ignored a malformed operator message {fri.key}: {e}")
            delete_flow_run_input(key=fri.key, flow_run_id=flow_run_id)
        return items

    return read


def _reporting(campaign: Campaign, ledger: UsageLedger, log: Callable[[str], None]) -> Callable[[str], None]:
    """Every Dispatcher event goes to the run log (the UI) and, under `alphalab run`, to the terminal."""
    def report(message: str) -> None:
        log(message)
        progress.emit(ProgressEvent(phase="phase3", role="dispatcher", cost_usd=ledger.total_usd,
                                    detail=f"[{campaign.progress_line()}] {message}"))
    return report


@flow(name="phase3-experiments", flow_run_name=run_name("phase 3"),
      on_failure=[on_phase_failure(3)], log_prints=True)
def phase3_experiments(workspace: str) -> Phase3Summary:
    campaign = Campaign.load(workspace)
    config, ws = campaign.config, campaign.workspace
    log = get_run_logger()
    run_id = UUID(flow_run.get_id())
    campaign.board.set_meta(FLOW_RUN_META, str(run_id))
    ledger = UsageLedger(ws.usage_log, pricing=config.pricing)
    artifacts = Phase3Artifacts(campaign)
    report = _reporting(campaign, ledger, log.info)
    if harness_seal.ensure(ws):
        report("harness/ sealed: every run checks it against these hashes")
    dispatcher = Dispatcher(
        campaign, make_runner(config, str(ws.root)), prefect_roles(str(ws.root)), inbox=operator_inbox(run_id),
        usd_spent=lambda: ledger.total_usd, on_change=artifacts.publish, log=report,
    )
    summary = dispatcher.run()
    artifacts.publish(force=True)
    events.phase3_stopped(config.name, summary)
    report(f"phase 3 stopped ({summary.stop_reason}): {summary.analyzed} analyzed, best {summary.best_id} "
           f"= {summary.best_value}")
    if dispatcher.provider_error is not None:
        raise dispatcher.provider_error
    if summary.analyzed == 0:
        raise nothing_analyzed(summary)
    return summary


def nothing_analyzed(summary: Phase3Summary) -> PhaseFailed:
    board = ", ".join(f"{n} {state}" for state, n in summary.counts.items() if n) or "no experiment"
    why = summary.stop_cause or _WHY_NOTHING.get(summary.stop_reason, "see the board artifact")
    return PhaseFailed(f"phase 3 analyzed no experiment: it stopped on {summary.stop_reason} ({why}); board: {board}")


if __name__ == "__main__":
    phase3_experiments(sys.argv[1])
