"""`alphalab status|note|cancel --workspace DIR`: watch and steer a running Phase 3.

A note or a cancellation goes to the running Phase 3 flow through Prefect flow-run input (the flow applies it
between Dispatcher steps; the Strategist sees a note at its next turn). When no Phase 3 flow run is running, or the
Prefect API cannot be reached, it is written straight to the board, where the next Phase 3 picks it up.
"""

from __future__ import annotations

from uuid import UUID

from alphalab import operator
from alphalab.phase3.contracts import InboxItem


def register(sub) -> None:
    p = sub.add_parser("status", help="board counts, best result, budget and cost of a campaign")
    p.add_argument("--workspace", required=True)
    p.set_defaults(func=_status)
    p = sub.add_parser("note", help="send a note to the running Phase 3 (the Strategist reads it at its next turn)")
    p.add_argument("--workspace", required=True)
    p.add_argument("text")
    p.set_defaults(func=_note)
    p = sub.add_parser("cancel", help="cancel an experiment of the running Phase 3")
    p.add_argument("--workspace", required=True)
    p.add_argument("exp_id")
    p.add_argument("--reason", default="cancelled by the operator")
    p.set_defaults(func=_cancel)


def _status(args) -> int:
    print(operator.status(args.workspace).text())
    return 0


def _running_flow_run(workspace: str) -> UUID | None:
    flow_run_id = operator.phase3_flow_run_id(workspace)
    if not flow_run_id:
        return None
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return None  # an ephemeral API would start a server of its own and find nothing

    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
    except Exception:
        return None
    return UUID(flow_run_id) if state is not None and state.is_running() else None


def deliver(workspace: str, item: InboxItem) -> str:
    flow_run_id = _running_flow_run(workspace)
    if flow_run_id is None:
        return operator.apply(workspace, item) + " (written to the board)"
    from prefect.input import RunInput, send_input

    message = RunInput.subclass_from_base_model_type(InboxItem)(**item.model_dump())
    send_input(message, flow_run_id=flow_run_id, key_prefix=operator.OPERATOR_KEY_PREFIX, sender="alphalab-cli")
    return f"sent to the running Phase 3 (flow run {flow_run_id})"


def _note(args) -> int:
    print(deliver(args.workspace, InboxItem(kind="note", text=args.text)))
    return 0


def _cancel(args) -> int:
    print(deliver(args.workspace, InboxItem(kind="cancel", exp_id=args.exp_id, text=args.reason)))
    return 0
