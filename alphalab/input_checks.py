"""A campaign's inputs, checked up front: after its config validates, before Prefect starts and before anything is
written. A bad dataset, problem set, workspace location or model choice would otherwise surface phases later, as a
traceback that names no file, in a workspace already created; here every problem is listed at once instead.

The checks of a domain's data belong to its harness, which reads that data: the composition root (cli/run.py) hands
them in by domain name, since the core imports no harness. A free-text domain has no harness yet (Phase 0 writes
its adapter), so its data is checked here when it is CSV, the tabular format users bring most.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from alphalab.adapters import builtin_adapter_names, has_adapter
from alphalab.config import ROLES, CampaignConfig
from alphalab.csv_check import check_csv
from alphalab.errors import ConfigError
from alphalab.workspace import Workspace

# the data path -> one line per problem, each naming the file and the field or line
DataCheck = Callable[[Path], list[str]]


def workspace_problems(root: Path) -> list[str]:
    """The workspace must be a writable folder, or creatable under its nearest existing parent. os.access, not a
    test write: nothing is written before every input is known to be good."""
    root = Path(root).absolute()
    existing = next(p for p in (root, *root.parents) if p.exists())
    where = "the workspace" if existing == root else f"its parent {existing}"
    if not existing.is_dir():
        return [f"{root}: cannot use it as the workspace: {where} is not a folder"]
    if not os.access(existing, os.W_OK | os.X_OK):
        return [f"{root}: cannot use it as the workspace: {where} is not writable"]
    return []


def generator_problems(config_path: Path, config: CampaignConfig, workspace: Path) -> list[str]:
    """Phase 0 generates the adapter of a free-text domain with an LLM (the generator role has no baseline), unless
    the workspace already holds one to resume."""
    names = builtin_adapter_names()
    if config.domain in names or has_adapter(Workspace(workspace)):
        return []
    if config.models.for_role("generator").provider != "baseline":
        return []
    return [f"{config_path}: field `models`: domain {config.domain!r} is not a built-in adapter "
            f"({', '.join(names) or 'none installed'}), so Phase 0 has an LLM generate one, but the generator role "
            "has no model: set `models.roles.generator` or `models.default` to a provider other than baseline"]


def key_problems(config_path: Path, config: CampaignConfig, workspace: Path) -> list[str]:
    """Every API key the campaign's roles will need is set: a missing one would otherwise stop the campaign at its
    first model call, phases in. Roles that will not run here are left out: the generator of a built-in domain (or
    of an adapter to resume), the customizer of a free-text one, the reporter (no model)."""
    builtin = config.domain in builtin_adapter_names()
    skip = {"reporter", "customizer" if not builtin else "generator"}
    if has_adapter(Workspace(workspace)):
        skip |= {"customizer", "generator"}
    missing: dict[tuple[str, str, str], list[str]] = {}
    for role in ROLES:
        settings = config.models.for_role(role)
        if role in skip or settings.provider in ("baseline", "scripted"):
            continue
        env = settings.default_key_env()
        if env and not os.environ.get(env):
            field = f"models.roles.{role}" if role in config.models.roles else "models.default"
            missing.setdefault((field, f"{settings.provider} model {settings.model}", env), []).append(role)
    return [f"{config_path}: field `{field}`: the {model} needs its API key (the {', '.join(roles)} "
            f"use{'s' if len(roles) == 1 else ''} it): set the "
            f"environment variable {env}" for (field, model, env), roles in missing.items()]


def check_inputs(config_path: str | Path, config: CampaignConfig, workspace: str | Path,
                 data_checks: Mapping[str, DataCheck]) -> None:
    """Raise one ConfigError listing every problem found, or return when there is none."""
    config_path, workspace = Path(config_path), Path(workspace)
    problems = (workspace_problems(workspace) + generator_problems(config_path, config, workspace)
                + key_problems(config_path, config, workspace))
    if (check := data_checks.get(config.domain)) is not None:
        problems += check(config.data_path)
    elif config.domain not in builtin_adapter_names():
        problems += check_csv(config.data_path, config.objective, config_path)
    if problems:
        raise ConfigError(f"{config_path}: {len(problems)} problem(s) with the campaign's inputs, nothing was run:\n"
                          + "\n".join(f"  - {p}" for p in problems))
