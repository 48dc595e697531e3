"""Adapter format: load/validate all 11 files at once, strict template rendering, committed patches, the tools."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from alphalab import adapters
from alphalab.config import BUILTIN_DOMAINS
from alphalab.errors import AdapterError
from alphalab.tools.adapter_tools import patch_adapter_file, read_adapter, read_reference_adapter, write_adapter_file
from alphalab.tools.base import ToolContext, ToolError
from alphalab.workspace import Workspace
from fixtures.pipeline_helpers import TINY_ADAPTER, use_fixture_library


@pytest.fixture
def ws(tmp_path, monkeypatch):
    use_fixture_library(monkeypatch)
    workspace = Workspace(tmp_path / "ws").create("test")
    adapters.copy_builtin("tiny", workspace)
    return workspace


def _vars(**role_vars):
    base = {k: "x" for k in adapters.COMMON_VARIABLES}
    manifest = adapters.load_adapter(TINY_ADAPTER).manifest
    return base | {"manifest": manifest, "primary_metric": manifest.primary} | role_vars


def test_tiny_adapter_loads_and_renders(monkeypatch):
    use_fixture_library(monkeypatch)
    adapter = adapters.load_adapter(TINY_ADAPTER)
    assert adapter.manifest.primary.name == "rmse"
    text = adapter.render("phase2_builder.md", _vars(builtin_harness="harnesses/tiny"))
    assert "Trusted harness: harnesses/tiny.\n" in text


def test_render_with_a_missing_variable_names_template_and_variable(monkeypatch):
    use_fixture_library(monkeypatch)
    adapter = adapters.load_adapter(TINY_ADAPTER)
    with pytest.raises(AdapterError) as e:
        adapter.render("phase2_builder.md", _vars())  # builtin_harness missing
    assert "phase2_builder.md" in str(e.value) and "builtin_harness" in str(e.value)


def test_a_template_showing_per_call_content_fails_validation_saying_where_it_goes(tmp_path, monkeypatch):
    """A template is the role's cached system prompt: what changes with each call is the user message's."""
    use_fixture_library(monkeypatch)
    bad = tmp_path / "bad"
    shutil.copytree(TINY_ADAPTER, bad)
    (bad / "phase3_worker.md").write_text("Task {{ task }} for {{ experiment.id }}: {{ error_log }}")
    _, problems = adapters.adapter_problems(bad)
    worker = sorted(p for p in problems if p.startswith("phase3_worker.md"))
    assert len(worker) == 2 and all("changes with every call" in p and "user message" in p for p in worker)
    assert "`error_log`" in worker[0] and "`experiment`" in worker[1] and "task" in worker[0]
    (bad / "phase3_worker.md").write_text("Task {{ task }} on {{ dataset_size }}")
    _, problems = adapters.adapter_problems(bad)
    assert [p for p in problems if p.startswith("phase3_worker.md")] == [
        "phase3_worker.md: uses undefined variable `dataset_size` (available: " + ", ".join(
            sorted(adapters.COMMON_VARIABLES | {"task"})) + ")"]


def test_malformed_adapter_reports_every_problem_at_once(tmp_path, monkeypatch):
    use_fixture_library(monkeypatch)
    bad = tmp_path / "bad"
    shutil.copytree(TINY_ADAPTER, bad)
    manifest = yaml.safe_load((bad / "manifest.yaml").read_text())
    manifest["metrics"][0]["direction"] = "up"
    (bad / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    (bad / "phase1_explorer.md").write_text("Look at {{ dataset_size }} rows of {{ data_path }}.")
    (bad / "phase3_worker.md").unlink()
    (bad / "phase2_tester.md").write_text("{% if objective %}unclosed")

    with pytest.raises(AdapterError) as e:
        adapters.load_adapter(bad)
    problems = e.value.problems
    assert len(problems) == 4, problems
    assert any("phase3_worker.md: missing" == p for p in problems)
    assert any("metrics.0.direction" in p for p in problems)
    assert any("phase1_explorer.md" in p and "dataset_size" in p for p in problems)
    assert any(p.startswith("phase2_tester.md:") and "syntax" in p for p in problems)


def test_manifest_referring_to_missing_files_is_invalid(tmp_path, monkeypatch):
    use_fixture_library(monkeypatch)
    bad = tmp_path / "bad"
    shutil.copytree(TINY_ADAPTER, bad)
    (bad / "explore.py").unlink()
    manifest = yaml.safe_load((bad / "manifest.yaml").read_text())
    manifest["harness"] = "no_such_harness"
    (bad / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    _, problems = adapters.adapter_problems(bad)
    assert len(problems) == 2 and "exploration_script" in problems[0] and "no_such_harness" in problems[1]


def test_patch_is_a_commit_with_the_reason(ws):
    assert adapters.patch_file(ws, "domain_knowledge.md", "lower RMSE is better", "lower RMSE wins",
                               "clarify the metric direction")
    assert "lower RMSE wins" in (ws.adapter / "domain_knowledge.md").read_text()
    assert ws.git("log", "-1", "--format=%s").stdout.strip() == "clarify the metric direction"


def test_a_patch_that_would_break_the_adapter_is_refused_and_not_written(ws):
    before = (ws.adapter / "manifest.yaml").read_text()
    head = adapters.head_commit(ws)
    with pytest.raises(AdapterError) as e:
        adapters.patch_file(ws, "manifest.yaml", "primary: true", "primary: maybe", "break it")
    assert "metrics.0.primary" in str(e.value)
    assert (ws.adapter / "manifest.yaml").read_text() == before
    assert adapters.head_commit(ws) == head


def _call(tool, ws, **args):
    return tool(ToolContext(workspace=ws.root), json.dumps(args)).text


def test_adapter_tools(ws):
    assert "manifest.yaml" in _call(read_adapter, ws)
    assert "Tiny domain" in _call(read_adapter, ws, file="domain_knowledge.md")
    with pytest.raises(ToolError):
        _call(read_adapter, ws, file="../campaign.yaml")
    out = _call(patch_adapter_file, ws, file="domain_knowledge.md", old_text="", new_text="- 8 values\n",
                reason="record the value count")
    assert "committed" in out and ws.git("log", "-1", "--format=%s").stdout.strip() == "record the value count"
    with pytest.raises(ToolError) as e:
        _call(patch_adapter_file, ws, file="phase1_explorer.md", old_text="", new_text="{{ nope }}", reason="x")
    assert "nope" in str(e.value)
    _call(write_adapter_file, ws, file="notes.md", content="draft", reason="draft notes")
    assert (ws.adapter / "notes.md").read_text() == "draft"
    assert _call(read_reference_adapter, ws) == "tiny"
    assert "phase0_generator.md" in _call(read_reference_adapter, ws, adapter="tiny")
    assert "{{ template_rules }}" in _call(read_reference_adapter, ws, adapter="tiny", file="phase0_generator.md")


@pytest.mark.parametrize("name", BUILTIN_DOMAINS)
def test_builtin_adapters_load_and_validate(name):
    adapter = adapters.load_adapter(adapters.builtin_adapter_dir(name))
    assert adapter.manifest.harness and adapter.manifest.exploration_script
