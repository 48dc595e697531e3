"""A campaign's workspace across flow runs: `workspace` may be a template filled per flow run
(`runs/nightly/{name}-{date}`), so a schedule gives every run a fresh folder while a retry of the same run (same
scheduled start) resumes its own; and one run at a time holds a workspace, through a Prefect global concurrency
limit named after it."""

from __future__ import annotations

import hashlib
import string
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Iterator

from pydantic import AfterValidator, Field

from alphalab.errors import AlphalabError

# what a workspace template may name; times are the flow run's scheduled start in UTC, which a retry keeps
WORKSPACE_FIELDS = {
    "name": "the campaign's name",
    "date": "the run's scheduled start date, e.g. 2026-01-31",
    "start": "its scheduled start time, e.g. 20260131-020000",
}
# a run that finds its workspace taken waits this long (a run just ending), then fails saying which workspace
WORKSPACE_WAIT_S = 30.0
# a worker killed without a word frees its workspace after this long (the lease is renewed while the run lives)
WORKSPACE_LEASE_S = 120.0


class WorkspaceInUse(AlphalabError):
    """Another flow run holds the campaign's workspace."""


def _fields(template: str) -> str:
    try:
        named = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as e:  # an unbalanced brace
        raise ValueError(f"workspace template {template!r}: {e}") from None
    unknown = sorted(named - set(WORKSPACE_FIELDS))
    if unknown:
        raise ValueError(f"workspace template {template!r}: unknown field(s) {unknown}; "
                         f"use {', '.join('{' + f + '}' for f in WORKSPACE_FIELDS)}")
    return template


WorkspaceTemplate = Annotated[str, AfterValidator(_fields), Field(
    description="The campaign folder (default: the YAML's `workspace`). It may hold " +
                "; ".join(f"{{{k}}}: {v}" for k, v in WORKSPACE_FIELDS.items()) +
                " (UTC), so that a schedule gives each run a fresh folder.")]


def fill_workspace(template: str, name: str, start: datetime) -> str:
    start = start.astimezone(timezone.utc)
    return _fields(template).format(name=name, date=start.strftime("%Y-%m-%d"), start=start.strftime("%Y%m%d-%H%M%S"))


def workspace_limit_name(root: Path) -> str:
    """The global concurrency limit of one workspace (a path is no valid limit name: '/' is banned)."""
    return "alphalab-workspace-" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


@contextmanager
def workspace_held(root: Path, wait_s: float | None = None) -> Iterator[None]:
    """Holds the workspace's one slot while the campaign runs, so two flow runs never write the same board."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = workspace_limit_name(root)
    with get_client(sync_client=True) as client:
        try:  # read first: a create that collides makes the server log an IntegrityError
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:  # another run made it in between
                pass
    wait_s = WORKSPACE_WAIT_S if wait_s is None else wait_s
    held = False
    try:
        # a lost renewal (an API blip) must not abort a long campaign: the lease only ages until the next one
        with concurrency(name, occupy=1, timeout_seconds=wait_s, strict=True, lease_duration=WORKSPACE_LEASE_S,
                         raise_on_lease_renewal_failure=False):
            held = True
            yield
    except TimeoutError:
        if held:  # the campaign's own
            raise
        raise WorkspaceInUse(f"workspace {root} is in use by another campaign run (global concurrency limit {name}); "
                             f"wait for it to end, or give this run another `workspace`") from None
