"""A campaign as every piece of it sees one: its validated config, its workspace, and what they derive (the adapter,
the board, seeds, the request that runs an experiment). Built once per flow or task and passed down, so the adapter
is validated and the board opened once, not by every function that needs them.

Opening a campaign validates the config, then creates (or reopens) its workspace with a copy of the config inside.
Every phase flow takes only the workspace folder: the config it needs is the copy in `campaign.yaml`, so a single
phase can be rerun from disk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Self

import yaml

from alphalab.adapters import Adapter, load_adapter
from alphalab.board import Board
from alphalab.board_rows import Experiment
from alphalab.config import CampaignConfig, load_config
from alphalab.errors import AdapterError, ConfigError
from alphalab.execution import RunRequest, harness_command
from alphalab.experiment_template import TemplateExperiment, render_template_dir
from alphalab.harness_inputs import HarnessInputs
from alphalab.manifest import Manifest, Metric
from alphalab.noise_floor import NoiseFloor
from alphalab.workspace import Workspace

# seeds never repeat: an experiment runs with seed + seq, its re-runs and the noise runs with their own seq offset
VERIFY_SEED_OFFSET = 10_000
NOISE_SEED_OFFSET = 20_000


@dataclass
class Campaign:
    config: CampaignConfig
    workspace: Workspace

    @classmethod
    def open(cls, config_path: str | Path, workspace: str | Path | None = None) -> Self:
        """Validate first: an invalid config raises ConfigError before anything is written."""
        config = load_config(config_path)
        ws = Workspace(Path(workspace) if workspace else config.workspace_dir())
        ws.create(config.config_hash())
        if Path(config_path).resolve() != ws.config_copy.resolve():
            data = config.model_dump(mode="json", exclude_none=True)
            data["data_path"] = str(Path(config.data_path).resolve())
            data["workspace"] = str(ws.root)
            ws.config_copy.write_text(yaml.safe_dump(data, sort_keys=False))
        return cls(config, ws)

    @classmethod
    def load(cls, workspace: str | Path, **fields: Any) -> Self:
        """The campaign of a workspace from its copy of the config; `fields` are a subclass's own (RoleContext)."""
        ws = Workspace(Path(workspace))
        if not ws.config_copy.is_file():
            raise ConfigError(f"{ws.root}: not a campaign workspace (no campaign.yaml); "
                              "start it with `alphalab run CONFIG`")
        return cls(load_config(ws.config_copy), ws, **fields)

    @cached_property
    def adapter(self) -> Adapter:
        return load_adapter(self.workspace.adapter)

    @property
    def manifest(self) -> Manifest:
        return self.adapter.manifest

    @property
    def metric(self) -> Metric:
        return self.manifest.primary

    @cached_property
    def board(self) -> Board:
        floor = self.noise_floor()
        return Board(self.workspace.board_db, noise_floor=floor.spread if floor else None)

    def noise_key(self) -> str:
        """What a noise floor is measured on: the sealed harness (its hashes) and the dataset (path and mtime)."""
        ws, data = self.workspace, self.config.data_path
        seal = ws.harness_seal.read_bytes() if ws.harness_seal.is_file() else b""
        stamp = f"{data.resolve()}:{data.stat().st_mtime_ns if data.exists() else 0}".encode()
        return hashlib.sha256(seal + b"\0" + stamp).hexdigest()[:16]

    def noise_floor(self) -> NoiseFloor | None:
        """The noise floor measured on this harness and data (alphalab.phase3.noise_runs), if there is one."""
        try:
            floor = NoiseFloor.read(self.workspace)
        except ValueError:
            return None
        return floor if floor is not None and floor.key == self.noise_key() else None

    def progress_line(self) -> str:
        """One line for the terminal: how far the campaign is and its best result."""
        best = self.board.best(self.metric)
        shown = f"best {self.metric.name} {best.value:.6g}" if best else "no result yet"
        return f"{self.board.analyzed_count()}/{self.config.budgets.experiments} analyzed, {shown}"

    def exp_dir(self, exp_id: str) -> Path:
        return self.workspace.experiment(exp_id)

    def seed_for(self, seq: int, verify: bool = False, noise: bool = False) -> int:
        return self.config.seed + seq + (VERIFY_SEED_OFFSET if verify else NOISE_SEED_OFFSET if noise else 0)

    @cached_property
    def harness_inputs(self) -> HarnessInputs:
        return HarnessInputs.of(self.config, self.manifest)

    def render(self, exp: Experiment, params: dict[str, Any]) -> list[str]:
        """Render the adapter's experiment template with `params` into the experiment's folder (the baseline Worker,
        the greedy loop, the noise floor); returns the files written, folder-relative."""
        rel = self.manifest.experiment.template_dir
        if not rel:
            raise AdapterError([f"{self.manifest.name}: the manifest has no experiment.template_dir to render "
                                f"{exp.id} from"], where=str(self.workspace.adapter / "manifest.yaml"))
        dest = self.exp_dir(exp.id)
        written = render_template_dir(self.adapter.root / rel, dest, params,
                                      TemplateExperiment(id=exp.id, name=exp.name, seed=exp.seed or 0))
        return [p.relative_to(dest).as_posix() for p in written]

    def run_seed(self, exp: Experiment) -> int:
        return exp.seed if exp.seed is not None else self.config.seed

    def command(self, template: str, exp: Experiment, mode: str) -> str:
        return self.filled(template, self.exp_dir(exp.id), mode, self.run_seed(exp))

    def filled(self, template: str, exp_dir: Path, mode: str, seed: int) -> str:
        """The filled harness command for a run of `exp_dir`; an AdapterError when it would drop the campaign's
        sandbox settings (a manifest written before the harness took them as arguments)."""
        missing = self.harness_inputs.missing_from(template)
        if missing:
            sandbox = self.config.sandbox
            raise AdapterError([
                f"experiment.{mode}_command does not pass " + ", ".join(f"{{{m}}}" for m in missing)
                + f", so its harness would run without the campaign's sandbox (sandbox.mode: {sandbox.mode}, "
                f"allow_network: {str(sandbox.allow_network).lower()}); add `--sandbox {{sandbox}} --network "
                "{network}` to both commands, or rerun Phases 0 and 2",
            ], where=str(self.workspace.adapter / "manifest.yaml"))
        return harness_command(template, self.harness_inputs, self.workspace, exp_dir, mode, seed)

    def run_request(self, exp: Experiment, slot: str, mode: str = "full") -> RunRequest:
        spec = self.manifest.experiment
        template = spec.full_command if mode == "full" else spec.smoke_command
        return RunRequest(
            exp_id=exp.id, attempt=exp.attempts, mode=mode, seed=self.run_seed(exp), slot=slot,
            command=self.command(template, exp, mode), exp_dir=self.exp_dir(exp.id), workspace=self.workspace.root,
            timeout_s=self.harness_inputs.time_limit_s(mode),
            launch=f"{exp.started_at:.3f}" if exp.started_at else "",
        )

