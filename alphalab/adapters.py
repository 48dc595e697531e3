"""Domain adapters: the paper's 11 files (manifest, domain knowledge, 9 jinja2 prompt templates).

Loading validates every file and reports every problem at once (AdapterError), so a malformed adapter stops the
campaign before any role runs. Every change to a workspace's adapter is a git commit whose message is the reason.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from alphalab.adapter_checks import (experiment_template_problems, exploration_script_problems, harness_problems,
                                     prompt_render_problems)
from alphalab.config import CampaignConfig
from alphalab.errors import AdapterError
from alphalab.manifest import BEYOND_TEMPLATE, Manifest
from alphalab.workspace import ADAPTER_FILES, Workspace

TEMPLATE_FILES = tuple(f for f in ADAPTER_FILES if f.startswith("phase"))

COMMON_VARIABLES = frozenset({
    "objective", "domain", "data_path", "workspace", "domain_knowledge", "manifest", "primary_metric", "learnings",
})

# A template is the role's system prompt, which providers cache as a prefix across calls: it takes only what is the
# same for every call of the role. What changes with each call goes into the user message the role's code builds.
ROLE_VARIABLES: dict[str, frozenset[str]] = {
    "phase0_customizer.md": frozenset({"adapter_dir"}),
    "phase0_generator.md": frozenset({"reference_adapters", "template_rules"}),
    "phase1_explorer.md": frozenset(),
    "phase2_builder.md": frozenset({"builtin_harness"}),
    "phase2_critic.md": frozenset(),
    "phase2_tester.md": frozenset(),
    "phase3_strategist.md": frozenset({"search_space"}),
    "phase3_worker.md": frozenset({"task"}),  # the task kind: implement, analyze or fix
    "phase3_supervisor.md": frozenset(),
}

# what templates took before the user message carried it, to say where it went
PER_CALL_VARIABLES = frozenset({
    "validation_errors", "round", "review", "harness_files", "leaderboard", "recent_debriefs", "operator_notes",
    "budget_left", "budget_tier", "board_summary", "proposals_wanted", "experiment", "exp_dir", "error_log",
    "metrics", "best", "error_rate", "failure_logs",
})



def template_rules() -> str:
    """The contract of the prompt templates, for the Generator that writes them for a new domain."""
    own = [f"- {name}: {', '.join(sorted(names)) or 'none'}" for name, names in ROLE_VARIABLES.items()]
    return "\n".join([
        "Rules for the 9 prompt templates (jinja2; an undefined variable is an error):",
        "- A template is its role's system prompt, which providers cache as a prefix across the role's calls: it "
        "takes only what is the same for every call of the role. Everything particular to one call reaches the "
        "agent in the user message the role's code builds, the same for every domain: the experiment, its spec, "
        "metrics and error log and the current best (Worker); the turn, budget and tier, board, leaderboard, recent "
        "debriefs and operator notes (Strategist); the round and the Critic's findings (Builder); the harness files "
        "(Critic); the error rate and failure logs (Supervisor); the validation errors (Generator). A template says "
        "where that is (\"the user message gives ...\"), never shows it.",
        "- The campaign appends the playbook to every system prompt as a block of its own (it changes each time "
        "the Strategist records a lesson, and what comes before it stays cached): a template never shows it.",
        "- Order inside a template: the role's intro and rules, then the domain knowledge, then the learnings "
        "(show them only when not empty), and in phase3_worker.md the "
        "instructions for each task kind (implement, analyze, else fix; a branch on `task`) last, so Workers of "
        "every task kind share the longest prefix.",
        "- phase3_strategist.md shows `search_space` (what the experiment template builds and every parameter's "
        "range or choices) and suggests only what it can build, or says that the rest needs a spec's "
        f"`{BEYOND_TEMPLATE}`. The Critic's verdict is only what it passes to submit_review.",
        f"- Variables of every template: {', '.join(sorted(COMMON_VARIABLES))}. Each template's own "
        "(`task` is implement, analyze or fix):",
        *own,
    ])


_REPO_ROOT = Path(__file__).resolve().parents[1]


def builtin_adapters_root() -> Path:
    """`ALPHALAB_ADAPTERS_DIR` points at another library of adapters (one folder per domain)."""
    return Path(os.environ.get("ALPHALAB_ADAPTERS_DIR") or _REPO_ROOT / "adapters")


def builtin_harnesses_root() -> Path:
    return Path(os.environ.get("ALPHALAB_HARNESSES_DIR") or _REPO_ROOT / "harnesses")


def builtin_adapter_names() -> list[str]:
    root = builtin_adapters_root()
    return sorted(p.name for p in root.iterdir() if (p / "manifest.yaml").is_file()) if root.is_dir() else []


def builtin_adapter_dir(name: str) -> Path:
    path = builtin_adapters_root() / name
    if not (path / "manifest.yaml").is_file():
        known = ", ".join(builtin_adapter_names()) or "none installed"
        raise AdapterError([f"no built-in adapter named {name!r} under {builtin_adapters_root()} (known: {known})"])
    return path


def builtin_harness_dir(name: str) -> Path:
    return builtin_harnesses_root() / name


def _environment(root: Path) -> jinja2.Environment:
    # a block tag's own line leaves no blank line behind, so an empty optional section leaves no gap
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)), undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        autoescape=False, trim_blocks=True, lstrip_blocks=True,
    )


class Adapter(BaseModel):
    """A validated adapter folder."""

    model_config = ConfigDict(frozen=True)

    root: Path
    manifest: Manifest
    domain_knowledge: str

    def render(self, template: str, variables: dict[str, Any]) -> str:
        return render_template(self.root, template, variables)


def render_template(root: Path, template: str, variables: dict[str, Any]) -> str:
    """Render one prompt template of the folder `root`; a missing variable raises AdapterError naming the template
    and the variable."""
    try:
        return _environment(root).get_template(template).render(**variables)
    except jinja2.UndefinedError as e:
        raise AdapterError([f"{template}: undefined variable while rendering: {e.message}"], where=str(root)) from None
    except jinja2.TemplateError as e:
        raise AdapterError([f"{template}: {e}"], where=str(root)) from None


class ResolvedAdapter(BaseModel):
    """What Phase 0 hands on: which path resolved the adapter and every change made to it on the way."""

    path: Literal["resume", "customize", "generate"]
    adapter_dir: str
    name: str
    commits: list[str] = []
    report: str = ""
    baseline: bool = False


def _manifest_problems(content: str) -> tuple[Manifest | None, list[str]]:
    try:
        raw = yaml.safe_load(content)
    except yaml.YAMLError as e:
        return None, [f"manifest.yaml: not valid YAML: {e}"]
    if not isinstance(raw, dict):
        return None, ["manifest.yaml: expected a mapping at the top level"]
    try:
        return Manifest.model_validate(raw), []
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"manifest.yaml: field `{loc}`: {msg}")
        return None, problems


def template_problems(name: str, source: str) -> list[str]:
    """Syntax errors and variables the template uses that its role does not provide."""
    try:
        parsed = _environment(Path(".")).parse(source)
    except jinja2.TemplateSyntaxError as e:
        return [f"{name}:{e.lineno}: template syntax error: {e.message}"]
    allowed = COMMON_VARIABLES | ROLE_VARIABLES[name]
    unknown = sorted(jinja2.meta.find_undeclared_variables(parsed) - allowed)
    available = f"(available: {', '.join(sorted(allowed))})"
    return [_misplaced(name, v, available) for v in unknown]


def _misplaced(name: str, variable: str, available: str) -> str:
    if variable == "playbook":
        return (f"{name}: uses `playbook`, which the campaign appends to every system prompt as a block of its own "
                f"(so what comes before it stays cached when it changes): drop it from the template {available}")
    if variable in PER_CALL_VARIABLES:
        return (f"{name}: uses `{variable}`, which changes with every call: the role sends it in the user message, "
                f"and the template (the system prompt, cached across calls) takes only stable variables {available}")
    return f"{name}: uses undefined variable `{variable}` {available}"


def _manifest_file_problems(root: Path, manifest: Manifest) -> list[str]:
    problems = []
    if manifest.exploration_script and not (root / manifest.exploration_script).is_file():
        problems.append(f"manifest.yaml: exploration_script {manifest.exploration_script!r} is not a file in the "
                        "adapter")
    if manifest.experiment.template_dir and not (root / manifest.experiment.template_dir).is_dir():
        problems.append(f"manifest.yaml: experiment.template_dir {manifest.experiment.template_dir!r} "
                        "is not a folder in the adapter")
    return problems + harness_problems(manifest, builtin_harnesses_root(), _builtin_manifests()) + \
        exploration_script_problems(root, manifest)


def _builtin_manifests() -> dict[str, Manifest]:
    """The built-in adapters' valid manifests, by adapter name: what each built-in harness runs."""
    found = {name: _manifest_problems((builtin_adapters_root() / name / "manifest.yaml").read_text())[0]
             for name in builtin_adapter_names()}
    return {name: manifest for name, manifest in found.items() if manifest is not None}


def adapter_problems(root: Path) -> tuple[Manifest | None, list[str]]:
    """Every problem with the adapter at `root` (empty when valid), and its manifest when that part is valid."""
    root = Path(root)
    if not root.is_dir():
        return None, [f"{root}: adapter folder does not exist"]
    problems = [f"{name}: missing" for name in ADAPTER_FILES if not (root / name).is_file()]
    manifest = None
    if (root / "manifest.yaml").is_file():
        manifest, found = _manifest_problems((root / "manifest.yaml").read_text())
        problems += found
        if manifest is not None:
            problems += _manifest_file_problems(root, manifest)
    if (root / "domain_knowledge.md").is_file() and not (root / "domain_knowledge.md").read_text().strip():
        problems.append("domain_knowledge.md: empty")
    sound = {}
    for name in TEMPLATE_FILES:
        if (root / name).is_file():
            found = template_problems(name, (root / name).read_text())
            problems += found
            if not found:
                sound[name] = COMMON_VARIABLES | ROLE_VARIABLES[name]
    if manifest is not None:
        problems += prompt_render_problems(_environment(root), manifest, sound)
        problems += experiment_template_problems(root, manifest)
    return manifest, problems


def load_adapter(root: Path | str) -> Adapter:
    """Validate all 11 files; raise AdapterError listing every problem at once."""
    root = Path(root).resolve()
    manifest, problems = adapter_problems(root)
    if problems:
        raise AdapterError(problems, where=str(root))
    assert manifest is not None
    return Adapter(root=root, manifest=manifest, domain_knowledge=(root / "domain_knowledge.md").read_text())


def check_start(domain: str, workspace: Path | str) -> None:
    """Validate the adapter a campaign would start on, before anything runs: the workspace's own (Phase 0 resumes
    it), else the built-in one `domain` names; a free-text domain's is written in Phase 0 and checked there."""
    own = Workspace(Path(workspace)).adapter
    if (own / "manifest.yaml").is_file() or domain in builtin_adapter_names():
        load_adapter(own if (own / "manifest.yaml").is_file() else builtin_adapter_dir(domain))


def has_adapter(ws: Workspace) -> bool:
    return (ws.adapter / "manifest.yaml").is_file()


def copy_builtin(name: str, ws: Workspace) -> Adapter:
    """Copy a built-in adapter (validated first) into the workspace, as one commit."""
    src = load_adapter(builtin_adapter_dir(name))
    shutil.copytree(src.root, ws.adapter, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    ws.commit(f"phase 0: copy built-in adapter {name!r}", ws.adapter)
    return load_adapter(ws.adapter)


def adapter_path(ws: Workspace, file: str) -> Path:
    """A path inside the workspace's adapter; refuses anything that escapes it."""
    path = (ws.adapter / file).resolve()
    if path == ws.adapter.resolve() or ws.adapter.resolve() not in path.parents:
        raise AdapterError([f"{file!r} is not a file inside the adapter"])
    return path


def file_problems(ws: Workspace, file: str, content: str) -> list[str]:
    """Problems the new `content` of one adapter file would introduce, checked before it is written."""
    name = Path(file).as_posix()
    if name == "manifest.yaml":
        manifest, problems = _manifest_problems(content)
        return problems if manifest is None else _manifest_file_problems(ws.adapter, manifest)
    if name in TEMPLATE_FILES:
        return template_problems(name, content)
    if name == "domain_knowledge.md" and not content.strip():
        return ["domain_knowledge.md: empty"]
    return []


def write_file(ws: Workspace, file: str, content: str, reason: str, *, check: bool = True) -> bool:
    """Write one adapter file and commit it with `reason` as the message. With `check`, a change that would
    make the file invalid is refused (AdapterError) and nothing is written."""
    path = adapter_path(ws, file)
    if check:
        problems = file_problems(ws, file, content)
        if problems:
            raise AdapterError(problems, where=f"refused change to {file}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # replaced in one step: Phase 3 roles load the adapter while the Supervisor patches it
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content)
    tmp.replace(path)
    return ws.commit(reason.strip() or f"adapter: update {file}", ws.adapter)


def patch_file(ws: Workspace, file: str, old: str, new: str, reason: str) -> bool:
    """Replace the one occurrence of `old` with `new` (append `new` when `old` is empty), then commit."""
    path = adapter_path(ws, file)
    if not path.is_file():
        raise AdapterError([f"{file}: no such adapter file"])
    text = path.read_text()
    if not old:
        updated = text + ("" if text.endswith("\n") or not text else "\n") + new
    else:
        count = text.count(old)
        if count != 1:
            raise AdapterError([f"{file}: the text to replace occurs {count} times; it must occur exactly once"])
        updated = text.replace(old, new, 1)
    return write_file(ws, file, updated, reason)


def common_variables(config: CampaignConfig, ws: Workspace, adapter: Adapter | None) -> dict[str, Any]:
    """The variables every template gets (see the preamble's contract)."""
    manifest = adapter.manifest if adapter is not None else None
    return {
        # without its final period, so a template can end the sentence it puts the objective in
        "objective": config.objective.strip().removesuffix("."),
        "domain": config.domain,
        "data_path": str(config.data_path),
        "workspace": str(ws.root),
        "domain_knowledge": adapter.domain_knowledge if adapter is not None else "",
        "manifest": manifest,
        "primary_metric": manifest.primary if manifest is not None else None,
        "learnings": ws.learnings.read_text() if ws.learnings.is_file() else "",
    }


def head_commit(ws: Workspace) -> str:
    return ws.git("rev-parse", "HEAD").stdout.strip()


def adapter_commits_since(ws: Workspace, since: str) -> list[str]:
    """Messages of the commits that touched adapter/ after `since`, oldest first."""
    out = ws.git("log", "--reverse", "--format=%s", f"{since}..HEAD", "--", "adapter").stdout
    return [line for line in out.splitlines() if line.strip()]
