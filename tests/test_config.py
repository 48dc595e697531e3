import importlib.metadata
import json
import textwrap
from pathlib import Path

import pytest

from alphalab.campaign import Campaign
from alphalab.config import load_config
from alphalab.errors import ConfigError


def write_config(tmp_path: Path, body: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    path = tmp_path / "campaign.yaml"
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """
name: demo-ts
domain: time_series
data_path: data
objective: minimise RMSE
workspace: ws
models:
  default: {provider: baseline}
  roles:
    strategist: {provider: anthropic, model: claude-sonnet-4-5, temperature: 0.2}
execution: {gpu_slots: ["0", "1"]}
"""


def test_good_config_resolves_paths_and_roles(tmp_path):
    cfg = load_config(write_config(tmp_path, GOOD))
    assert cfg.data_path == tmp_path / "data"
    assert cfg.models.for_role("strategist").provider == "anthropic"
    assert cfg.models.for_role("worker").provider == "baseline"
    assert cfg.models.for_role("strategist").default_key_env() == "ANTHROPIC_API_KEY"
    assert cfg.execution.gpu_slots == ["0", "1"]


@pytest.mark.parametrize(
    "patch, field",
    [
        ("budgetz: {experiments: 3}", "budgetz"),  # unknown key
        ("budgets: {experiments: many}", "budgets.experiments"),  # wrong type
        ("sandbox: {mode: docker}", "sandbox.mode"),
        ("models: {default: {provider: openai}}", "models.default"),  # provider without model
    ],
)
def test_bad_config_names_file_and_field(tmp_path, patch, field):
    path = write_config(tmp_path, GOOD + patch + "\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert str(path) in msg and f"`{field}" in msg


def test_missing_data_path_creates_no_workspace(tmp_path):
    path = write_config(tmp_path, GOOD.replace("data_path: data", "data_path: nowhere"))
    with pytest.raises(ConfigError, match="data_path"):
        Campaign.open(path)
    assert not (tmp_path / "ws").exists()


def test_workspace_is_idempotent_git_repo_with_versions(tmp_path):
    path = write_config(tmp_path, GOOD)
    campaign = Campaign.open(path)
    cfg, ws = campaign.config, campaign.workspace
    meta = json.loads(ws.meta.read_text())
    assert meta["config_hash"] == cfg.config_hash()
    assert meta["versions"]["prefect"] == importlib.metadata.version("prefect")
    assert (ws.root / ".git").is_dir()
    log1 = ws.git("log", "--oneline").stdout
    campaign = Campaign.open(path)  # second open changes nothing in history
    cfg2, ws2 = campaign.config, campaign.workspace
    assert ws2.git("log", "--oneline").stdout == log1
    reloaded = Campaign.load(ws.root).config
    assert reloaded.model_dump() == cfg2.model_dump()


@pytest.mark.parametrize(
    "patch, field",
    [("colour: blue", "colour"), ("seed: seven", "seed"), ("data_path: nowhere", "data_path")],
)
def test_alphalab_run_with_a_bad_config_exits_nonzero_naming_the_field(tmp_path, capsys, patch, field):
    from cli.main import main

    body = GOOD.replace("data_path: data", "") + patch + "\n"
    path = write_config(tmp_path, body)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"`{field}`" in err and str(path) in err
    assert not (tmp_path / "ws").exists()
