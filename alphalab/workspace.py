"""The campaign workspace: the one place that names every path a phase reads or writes."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ADAPTER_FILES = (
    "manifest.yaml",
    "domain_knowledge.md",
    "phase0_customizer.md",
    "phase0_generator.md",
    "phase1_explorer.md",
    "phase2_builder.md",
    "phase2_critic.md",
    "phase2_tester.md",
    "phase3_strategist.md",
    "phase3_worker.md",
    "phase3_supervisor.md",
)

_VERSIONED = ("alphalab", "prefect", "pydantic", "openai", "anthropic", "torch", "gluonts", "optuna")


@dataclass(frozen=True)
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())

    # phase 0
    @property
    def adapter(self) -> Path:
        return self.root / "adapter"

    # phase 1
    @property
    def plan(self) -> Path:
        return self.root / "plan.md"

    @property
    def scripts(self) -> Path:
        return self.root / "scripts"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def notes(self) -> Path:
        return self.root / "notes"

    @property
    def data_report(self) -> Path:
        return self.root / "data_report"

    @property
    def learnings(self) -> Path:
        return self.root / "learnings.md"

    # phase 2
    @property
    def harness(self) -> Path:
        return self.root / "harness"

    @property
    def harness_tests(self) -> Path:
        return self.harness / "tests"

    @property
    def reviews(self) -> Path:
        return self.root / "reviews"

    def archive_reviews(self) -> Path | None:
        """Move an earlier Phase 2 attempt's verdicts to reviews/history/N/, so only this attempt's are read."""
        earlier = [p for p in self.reviews.iterdir() if p.name != "history"] if self.reviews.is_dir() else []
        if not earlier:
            return None
        history = self.reviews / "history"
        dest = history / str(1 + max((int(p.name) for p in history.glob("[0-9]*") if p.name.isdigit()), default=0))
        dest.mkdir(parents=True)
        for p in earlier:
            p.rename(dest / p.name)
        return dest

    # phase 3
    @property
    def board_db(self) -> Path:
        return self.root / "board.sqlite"

    @property
    def experiments(self) -> Path:
        return self.root / "experiments"

    def experiment(self, exp_id: str) -> Path:
        return self.experiments / exp_id

    @property
    def playbook(self) -> Path:
        return self.root / "playbook.md"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def milestone(self, n: int) -> Path:
        return self.reports / f"milestone_{n:03d}"

    # bookkeeping
    @property
    def meta(self) -> Path:
        return self.root / "workspace.json"

    @property
    def trajectories(self) -> Path:
        return self.root / "trajectories"

    @property
    def usage_log(self) -> Path:
        return self.root / "usage.jsonl"

    @property
    def private(self) -> Path:
        """Harness-only data (held-out targets, validation sets). Never mounted for experiment code."""
        return self.root / ".private"

    @property
    def results(self) -> Path:
        """Where harnesses hand results to the runner: outside every experiment folder, hidden with .private/."""
        return self.private / "results"

    def result_file(self, exp_dir: Path, mode: str) -> Path:
        """The one place a harness writes the result of evaluating `exp_dir` in `mode`, and the runner reads it."""
        exp_dir = Path(exp_dir).resolve()
        if exp_dir.is_relative_to(self.root):
            key = exp_dir.relative_to(self.root).as_posix().replace("/", "__")
        else:  # a folder outside the workspace (a bench, a test): still a fixed place of its own
            key = "ext-" + hashlib.sha256(str(exp_dir).encode()).hexdigest()[:16]
        return self.results / key / f"{mode}.json"

    @property
    def harness_seal(self) -> Path:
        """The hashes of harness/ taken when Phase 2 accepted it, checked before every run."""
        return self.private / "harness_seal.json"

    @property
    def harness_written(self) -> Path:
        """The hashes of harness/ as Phase 2 last left it: a file that differs was edited by hand since."""
        return self.private / "harness_written.json"

    @property
    def harness_import_root(self) -> Path:
        """A folder holding only a link to harness/: what a workspace harness's command gets on sys.path, so that
        nothing else an agent can write in the workspace (a `harnesses/` package, say) becomes importable."""
        return self.private / "import_root"

    @property
    def config_copy(self) -> Path:
        return self.root / "campaign.yaml"

    def create(self, config_hash: str) -> "Workspace":
        """Idempotent: creates missing folders, records versions, initialises git once."""
        for d in (self.root, self.adapter, self.scripts, self.plots, self.notes, self.data_report,
                  self.reviews, self.experiments, self.reports, self.trajectories, self.private):
            d.mkdir(parents=True, exist_ok=True)
        self.meta.write_text(json.dumps({"config_hash": config_hash, "versions": package_versions()}, indent=2))
        if not (self.root / ".git").exists():
            self.git("init", "-q")
            # _io/: a harness's exchange folder inside an experiment (removed after each run; a killed run may leave it)
            (self.root / ".gitignore").write_text(".private/\nboard.sqlite*\ntrajectories/\n__pycache__/\n_io/\n")
            self.commit("workspace created")
        return self

    def git(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", "-c", "user.name=alphalab", "-c", "user.email=alphalab@localhost", *args],
            cwd=self.root, capture_output=True, text=True, check=True,
        )

    def commit(self, message: str, *paths: Path | str) -> bool:
        """Commit the given paths (all changes when none). Returns False when there was nothing to commit."""
        self.git("add", "-A", *(str(p) for p in paths))
        if not self.git("status", "--porcelain", *(str(p) for p in paths)).stdout.strip():
            return False
        self.git("commit", "-q", "-m", message)
        return True


def package_versions() -> dict[str, str]:
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
