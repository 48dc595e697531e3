"""The cuda_kernel adapter: manifest, prompt templates, experiment template and exploration script."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
from pathlib import Path

import pytest
import yaml

from alphalab.adapters import COMMON_VARIABLES, ROLE_VARIABLES, TEMPLATE_FILES, load_adapter
from alphalab.manifest import Manifest
from alphalab.workspace import ADAPTER_FILES, Workspace
from prompt_rendering import render_prompt
from alphalab.experiment_template import TemplateExperiment, render_template_dir
from harnesses.kernels.problem import list_problems
from harnesses.kernels.static_check import check_source

ADAPTER = Path(__file__).resolve().parents[1] / "adapters" / "cuda_kernel"


def manifest() -> Manifest:
    return Manifest.model_validate(yaml.safe_load((ADAPTER / "manifest.yaml").read_text()))


def test_the_adapter_has_all_11_files_and_loads():
    assert all((ADAPTER / f).is_file() for f in ADAPTER_FILES)
    adapter = load_adapter(ADAPTER)
    assert adapter.manifest.primary.name == "speedup_vs_compile" and adapter.manifest.primary.direction == "max"
    assert adapter.manifest.harness == "kernels"
    assert "atol = rtol = 1e-4" in adapter.domain_knowledge


def test_the_search_space_samples_every_built_in_problem():
    m = manifest()
    params = {p.name: p for p in m.search_space.params}
    assert sorted(params["problem"].choices) == [p.name for p in list_problems()]
    assert m.search_space.reference["problem"] in params["problem"].choices
    assert m.search_space.fallback["block_size"] in params["block_size"].choices
    assert m.experiment.entry_point == "solution.py" and "problem.txt" in m.experiment.required_files
    assert "harnesses.kernels.evaluate" in m.experiment.full_command
    assert "problems_dir" in m.options


def _dummy(name: str):
    m = manifest()
    values = {
        "objective": "beat torch.compile", "domain": "cuda_kernel", "data_path": "/data/KernelBench",
        "workspace": "/ws", "domain_knowledge": "<domain knowledge>", "manifest": m, "primary_metric": m.primary,
        "learnings": "L", "task": "implement",
        "adapter_dir": "/ws/adapter", "reference_adapters": ["cuda_kernel", "time_series"],
        "template_rules": "RULES", "builtin_harness": "kernels", "search_space": m.search_space_text(),
    }
    return values[name]


@pytest.mark.parametrize("template", TEMPLATE_FILES)
def test_every_prompt_renders_with_exactly_the_documented_variables(template):
    names = COMMON_VARIABLES | set().union(*ROLE_VARIABLES.values())
    rendered = render_prompt(ADAPTER, template, {v: _dummy(v) for v in names})
    for text in rendered.values():
        assert ("<domain knowledge>" in text) == (template != "phase0_generator.md")
    if template == "phase3_worker.md":  # each task gets its own instructions, after everything they share
        prefix = os.path.commonprefix(list(rendered.values()))
        assert "<domain knowledge>" in prefix
        assert "a build error" in rendered["fix"] and "a build error" not in rendered["implement"]
        assert "debrief.md" in rendered["analyze"] and "problem.txt" in rendered["implement"]


@pytest.mark.parametrize("problem", [p.name for p in list_problems()])
def test_the_experiment_template_renders_a_clean_solution_for_every_problem(problem, tmp_path):
    written = render_template_dir(ADAPTER / manifest().experiment.template_dir, tmp_path,
                                {"problem": problem, "block_size": 128}, TemplateExperiment(id="e1", name="t"))
    assert sorted(p.name for p in written) == ["problem.txt", "solution.py"]
    assert (tmp_path / "problem.txt").read_text().strip() == problem
    source = (tmp_path / "solution.py").read_text()
    assert check_source(source) == []
    tree = ast.parse(source)
    model_new = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ModelNew")
    assert "NotImplementedError" not in ast.unparse(model_new)  # every built-in problem has a kernel
    assert "BLOCK_SIZE = 128" in source


def test_the_exploration_script_writes_the_problem_inventory(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("cuda_kernel_explore", ADAPTER / "explore.py")
    explore = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(explore)
    ws = Workspace(tmp_path / "ws")
    explore.main([str(tmp_path / "no-data"), str(ws.root)])
    stats = {s["name"]: s for s in json.loads((ws.data_report / "problems.json").read_text())}
    assert len(stats) == len(list_problems())
    assert stats["relu"]["bound"] == "memory" and stats["matmul_relu"]["bound"] == "compute"
    # 2 * M * N * K for the 2048^3 GEMM
    assert stats["matmul_relu"]["flops"] >= 2 * 2048 ** 3
    assert stats["diag_matmul"]["inputs"] == ["float32[4096]", "float32[4096, 4096]"]
    assert "| diag_matmul |" in (ws.data_report / "problems.md").read_text()
    assert "memory-bound" in capsys.readouterr().out
