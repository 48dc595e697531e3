"""Phase 0: resolve the domain adapter. Three paths, chosen from what is on disk and in the config:
resume (the workspace holds an adapter: it must validate), customize (the domain names a built-in adapter),
generate (the domain is free text)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from alphalab import adapters, supervisor_checks
from alphalab.adapters import ResolvedAdapter
from alphalab.campaign import Campaign
from flows.campaign_runs import on_phase_failure, run_name
from tasks.setup_roles import campaign_key, customize_adapter, generate_adapter


@flow(name="phase0-adapter", flow_run_name=run_name("phase 0"),
      on_failure=[on_phase_failure(0)])
def phase0_adapter(workspace: str, refresh_cache: bool = False) -> ResolvedAdapter:
    campaign = Campaign.load(workspace)
    config, ws = campaign.config, campaign.workspace
    log = get_run_logger()
    if adapters.has_adapter(ws):
        # an invalid adapter stops here with every problem listed: nothing else runs on it
        adapter = adapters.load_adapter(ws.adapter)
        ws.commit("phase 0: resume the adapter found in adapter/", ws.adapter)
        log.info(f"Phase 0: resuming the adapter {adapter.manifest.name!r} already in {ws.adapter} (to resolve it "
                 "again, delete that folder and rerun phase 0)")
        return ResolvedAdapter(path="resume", adapter_dir=str(adapter.root), name=adapter.manifest.name)
    role = customize_adapter if config.domain in adapters.builtin_adapter_names() else generate_adapter
    if refresh_cache:
        role = role.with_options(refresh_cache=True)
    result = role(workspace, campaign_key(ws))
    supervisor_checks.require(0, ws)
    log.info(f"Phase 0: adapter {result.name!r} by the {result.path} path; changes: {result.commits}")
    return result
