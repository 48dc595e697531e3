"""Checks of an adapter beyond the shape of its files: that its built-in harness exists and fits it, and that its
prompt templates, experiment template and exploration script work when tried the way a campaign uses them later.

A mistake they catch would otherwise surface only in Phase 1 or 3 (an attribute a template reads that the manifest
lacks, a rendered experiment that does not compile, a command that runs a module recording no metrics), after the
campaign spent its budget on the phases before. Each problem is one line naming the file and, where known, its line.
"""

from __future__ import annotations

import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any, Iterator

import jinja2

from alphalab.experiment_template import TemplateExperiment, render_file, template_environment, template_files
from alphalab.harness_contract import cite
from alphalab.manifest import Manifest, harness_module

COMMANDS = ("smoke_command", "full_command")
_TASKS = ("implement", "analyze", "fix")


def _line(error: BaseException, filename: str) -> str:
    """`:N`, the template line `error` was raised at: jinja2 rewrites its traceback to point into the template."""
    lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    return f":{lines[-1]}" if lines else ""


def _why(error: Exception) -> str:
    return getattr(error, "message", None) or f"{type(error).__name__}: {error}"


def _syntax_problems(source: str, name: str, rendered: str | None = None) -> list[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a SyntaxWarning (an invalid escape) still runs
            compile(source, name, "exec", dont_inherit=True)
    except SyntaxError as e:
        where = f": the rendered {rendered} has a Python syntax error at line {e.lineno}" if rendered else \
            f":{e.lineno}: Python syntax error"
        return [f"{name}{where}: {e.msg}"]
    except ValueError as e:  # null bytes
        return [f"{name}: not Python source: {e}"]
    return []


def harness_problems(manifest: Manifest, harnesses_root: Path, references: dict[str, Manifest]) -> list[str]:
    """The built-in harness the manifest names: that it exists, that the commands' modules are its entry points, and
    that it is the harness of this kind of experiment (`references`: the built-in adapters' manifests by name)."""
    if not manifest.harness:
        return []
    if not (harnesses_root / manifest.harness).is_dir():
        return [f"manifest.yaml: harness {manifest.harness!r} is not a built-in harness under {harnesses_root}"]
    problems = []
    fields: dict[str, list[str]] = {}
    for field in COMMANDS:
        fields.setdefault(harness_module(field, getattr(manifest.experiment, field)), []).append(field)
    for module, names in fields.items():
        if not module.startswith("harnesses."):
            continue  # the workspace's harness/, which Phase 2 builds
        path = harnesses_root.joinpath(*module.split(".")[1:]).with_suffix(".py")
        where = f"manifest.yaml: experiment.{' and experiment.'.join(names)} runs `{module}`"
        if not path.is_file():
            problems.append(f"{where}, which is not a module of the built-in harness (no {path}) {cite(4)}")
        elif "__main__" not in path.read_text():
            # `python -m` of a module without a main block exits 0 having run nothing: no metrics, scored as a run
            problems.append(f"{where}, which has no `if __name__ == \"__main__\":` block: it would run no experiment "
                            f"{cite(4)}")
    same = {name: ref for name, ref in references.items() if ref.harness == manifest.harness}
    # the harness loads the experiment's entry point by name; the metrics it records may be more than its adapter's
    if same and all(ref.experiment.entry_point != manifest.experiment.entry_point for ref in same.values()):
        name, ref = next(iter(same.items()))
        problems.append(
            f"manifest.yaml: harness {manifest.harness!r} is the built-in harness of the {name!r} adapter, which runs "
            f"an experiment's {ref.experiment.entry_point}, but `experiment.entry_point` is "
            f"{manifest.experiment.entry_point!r}: name the built-in harness of this domain, or none (a generated "
            f"domain builds its own in Phase 2) {cite(4)}")
    return problems


def _examples(names: frozenset[str], manifest: Manifest) -> Iterator[dict[str, Any]]:
    """Values a role may pass: the manifest itself, and every other value once filled and once empty, so that each
    branch on an optional value (learnings, a harness) and on the Worker's task renders."""
    for filler in ("x", ""):
        for task in _TASKS if "task" in names else ("",):
            values: dict[str, Any] = {n: filler for n in names}
            values |= {"manifest": manifest, "primary_metric": manifest.primary, "task": task,
                       "reference_adapters": [filler] if filler else [],
                       "search_space": manifest.search_space_text()}
            yield {n: v for n, v in values.items() if n in names}


def prompt_render_problems(env: jinja2.Environment, manifest: Manifest,
                           templates: dict[str, frozenset[str]]) -> list[str]:
    """Render each of `templates` (name: the variables its role passes) with example values: an attribute the
    manifest lacks or a filter that fails shows only at render time."""
    problems = []
    for name, names in templates.items():
        template = env.get_template(name)
        for values in _examples(names, manifest):
            try:
                template.render(**values)
            except Exception as e:
                problems.append(f"{name}{_line(e, template.filename or name)}: fails to render with example values: "
                                f"{_why(e)}")
                break
    return problems


def experiment_template_problems(root: Path, manifest: Manifest) -> list[str]:
    """Render the experiment template with the search space's reference parameters, as the first experiment will be,
    and compile every Python file it writes."""
    rel = manifest.experiment.template_dir
    if not rel or not (root / rel).is_dir():
        return []
    template_dir = root / rel
    env = template_environment(template_dir)
    params = manifest.search_space.reference_params() if manifest.search_space else {}
    experiment = TemplateExperiment(id="reference", name="reference", seed=0)
    problems = []
    with tempfile.TemporaryDirectory() as out:
        for src in template_files(template_dir):
            name = f"{rel}/{src.relative_to(template_dir).as_posix()}"
            try:
                dst = render_file(env, template_dir, src, Path(out), params, experiment)
            except jinja2.TemplateSyntaxError as e:
                problems.append(f"{name}:{e.lineno}: template syntax error: {e.message}")
                continue
            except Exception as e:
                problems.append(f"{name}{_line(e, str(src))}: fails to render with the search space's reference "
                                f"parameters: {_why(e)}")
                continue
            if dst.suffix == ".py":
                problems += _syntax_problems(dst.read_text(), name, dst.name if src.suffix == ".j2" else None)
    return problems


def exploration_script_problems(root: Path, manifest: Manifest) -> list[str]:
    script = manifest.exploration_script
    if not script or not script.endswith(".py") or not (root / script).is_file():
        return []
    return _syntax_problems((root / script).read_text(), script)
