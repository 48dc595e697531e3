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
    text = adapter.render("phase2_critic.md", _vars(round=2, harness_files=["harness/a.py", "harness/b.py"]))
    assert "Round 2. Files: harness/a.py, harness/b.py" in text


def test_render_with_a_missing_variable_names_template_and_variable(monkeypatch):
    use_fixture_library(monkeypatch)
    adapter = adapters.load_adapter(TINY_ADAPTER)
    with pytest.raises(AdapterError) as e:
        adapter.render("phase2_critic.md", _vars(round=1))  # harness_files missing
    assert "phase2_critic.md" in str(e.value) and "harness_files" in str(e.value)


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
    assert "{{ validation_errors }}" in _call(read_reference_adapter, ws, adapter="tiny", file="phase0_generator.md")


@pytest.mark.parametrize("name", BUILTIN_DOMAINS)
def test_builtin_adapters_load_and_validate(name):
    adapter = adapters.load_adapter(adapters.builtin_adapter_dir(name))
    assert adapter.manifest.harness and adapter.manifest.exploration_script
