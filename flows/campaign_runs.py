"""What every flow run of a campaign carries: a name and a tag after the campaign (`shots · phase 2`, tag
`campaign:shots`), so the UI's run list and its tag filter find a campaign's runs among the others; and, for a
phase, the `alphalab.campaign.phase-failed` event when it fails (tasks/events.py), however it was started.

The name callables read the campaign's name from the run's parameters: a phase's `workspace` holds
`campaign.yaml`, the campaign flow's `config` is one. They also tag their own run: Prefect has no per-run tag on the
flow decorator, and the name callable is the one piece of code that runs in every flow run before its body, however
it was started (a subflow, `alphalab rerun-phase`, a deployment run, a retry). A name that cannot be read never
fails the run: it falls back to the workspace folder's name, and tagging is skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml

from alphalab.workspace import Workspace

SEP = " · "


def campaign_tag(name: str) -> str:
    return f"campaign:{name}"


def campaign_name(parameters: dict[str, Any]) -> str | None:
    """The `name:` of the run's campaign YAML, read without validating the rest (that is the flow's job)."""
    if parameters.get("workspace") and "config" not in parameters:
        path = Workspace(Path(parameters["workspace"])).config_copy
    elif parameters.get("config"):
        path = Path(parameters["config"])
    else:
        return None
    try:
        name = (yaml.safe_load(path.read_text()) or {}).get("name")
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    return name if isinstance(name, str) and name else None


def _tag_this_run(tag: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None or tag in (ctx.flow_run.tags or []):
        return
    tags = [*(ctx.flow_run.tags or []), tag]
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(ctx.flow_run.id, tags=tags)
        ctx.flow_run.tags = tags
    except Exception as e:  # a tag is a convenience: the run goes on without it
        from prefect.logging import get_logger

        get_logger(__name__).warning(f"could not tag flow run {ctx.flow_run.id} with {tag!r}: {e}")


def on_phase_failure(phase: int) -> Callable[..., None]:
    """An `on_failure` hook of phase `phase`'s flow."""
    def hook(flow: Any, flow_run: Any, state: Any) -> None:
        from tasks import events

        name = campaign_name(dict(flow_run.parameters or {}))
        if name is not None:
            events.phase_failed(name, phase, state.message or f"{flow_run.name} failed", flow_run.name)

    hook.__qualname__ = hook.__name__ = f"phase{phase}_failed_event"
    return hook


def run_name(what: str) -> Callable[[], str]:
    """A `flow_run_name` callable: `<campaign> · <what>`."""
    def name() -> str:
        from prefect.context import FlowRunContext

        ctx = FlowRunContext.get()
        parameters = dict(ctx.parameters or {}) if ctx else {}
        campaign = campaign_name(parameters)
        if campaign is None:
            folder = Path(str(parameters.get("workspace") or parameters.get("config") or "campaign")).stem
            return f"{folder}{SEP}{what}"
        _tag_this_run(campaign_tag(campaign))
        return f"{campaign}{SEP}{what}"

    name.__qualname__ = name.__name__ = f"run_name_{what.replace(' ', '_')}"
    return name
