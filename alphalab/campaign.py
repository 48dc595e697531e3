"""Opening a campaign: validate the config, then create (or reopen) its workspace with a copy of the config inside.

Every phase flow takes only the workspace folder: the config it needs is the copy in `campaign.yaml`, so a single
phase can be rerun from disk.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from alphalab.config import CampaignConfig, load_config
from alphalab.errors import ConfigError
from alphalab.workspace import Workspace


def open_campaign(config_path: str | Path, workspace: str | Path | None = None) -> tuple[CampaignConfig, Workspace]:
    """Validate first: an invalid config raises ConfigError before anything is written."""
    config = load_config(config_path)
    ws = Workspace(Path(workspace) if workspace else config.workspace_dir())
    ws.create(config.config_hash())
    if Path(config_path).resolve() != ws.config_copy.resolve():
        data = config.model_dump(mode="json", exclude_none=True)
        data["data_path"] = str(Path(config.data_path).resolve())
        data["workspace"] = str(ws.root)
        ws.config_copy.write_text(yaml.safe_dump(data, sort_keys=False))
    return config, ws


def load_campaign(workspace: str | Path) -> tuple[CampaignConfig, Workspace]:
    ws = Workspace(Path(workspace))
    if not ws.config_copy.is_file():
        raise ConfigError(f"{ws.root}: not a campaign workspace (no campaign.yaml); "
                          "start it with `alphalab run CONFIG`")
    return load_config(ws.config_copy), ws


