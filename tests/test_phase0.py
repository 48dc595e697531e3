"""Phase 0: the resume, customize and generate paths, with the scripted model and with the baseline policy."""

from __future__ import annotations

import shutil

import pytest
import yaml

from alphalab import harness_contract
from alphalab.campaign import Campaign
from alphalab.errors import AdapterError, PhaseFailed
from alphalab.workspace import ADAPTER_FILES
from fixtures.pipeline_helpers import TINY_ADAPTER, TINY_DATA, ScriptBook, use_fixture_library, write_config

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _open(tmp_path, monkeypatch, **kw):
    use_fixture_library(monkeypatch)
    ws = Campaign.open(write_config(tmp_path, **kw)).workspace
    return ws


def _log(ws):
    return ws.git("log", "--format=%s").stdout.splitlines()


def test_customize_baseline_appends_measured_data_facts_as_a_commit(tmp_path, monkeypatch):
    from flows.phase0_adapter import phase0_adapter

    ws = _open(tmp_path, monkeypatch)
    result = phase0_adapter(str(ws.root))
    assert (result.path, result.baseline, result.name) == ("customize", True, "tiny")
    knowledge = (ws.adapter / "domain_knowledge.md").read_text()
    assert "Values are small integers" in knowledge  # the built-in text is kept
    assert f"files: 1, total size: {(TINY_DATA / 'series.csv').stat().st_size} bytes" in knowledge
    assert result.commits == ["phase 0: copy built-in adapter 'tiny'", _log(ws)[0]]
    assert "record measured data facts" in _log(ws)[0]


def test_customize_llm_samples_the_data_and_patches_with_reasons(tmp_path, monkeypatch):
    from flows.phase0_adapter import phase0_adapter

    ws = _open(tmp_path, monkeypatch, llm_roles=("customizer",))
    book = ScriptBook().add("customizer", [
        ("shell_exec", {"command": f"wc -w {TINY_DATA}/series.csv"}),
        ("read_adapter", {"file": "domain_knowledge.md"}),
        ("patch_adapter_file", {"file": "domain_knowledge.md", "old_text": "Values are small integers",
                                "new_text": "Values are the integers 1-8 (8 values in one CSV)",
                                "reason": "record the measured value range"}),
        ("patch_adapter_file", {"file": "manifest.yaml", "old_text": "time_limit_s: 60",
                                "new_text": "time_limit_s: 30", "reason": "tiny data needs less time"}),
        ("report_to_user", {"message": "patched domain knowledge and the time limit"}),
    ]).install(monkeypatch)
    result = phase0_adapter(str(ws.root))
    assert result.path == "customize" and not result.baseline
    assert result.commits == ["phase 0: copy built-in adapter 'tiny'", "record the measured value range",
                              "tiny data needs less time"]
    assert "integers 1-8" in (ws.adapter / "domain_knowledge.md").read_text()
    # the agent saw the shell output of its sampling command
    assert "8 " in book.used["customizer"][0].calls[1][-1].content
    assert result.report == "patched domain knowledge and the time limit"


def test_resume_uses_the_adapter_on_disk_without_running_a_role(tmp_path, monkeypatch):
    from flows.phase0_adapter import phase0_adapter

    ws = _open(tmp_path, monkeypatch, llm_roles=("customizer",))
    shutil.copytree(TINY_ADAPTER, ws.adapter, dirs_exist_ok=True)
    book = ScriptBook().install(monkeypatch)
    result = phase0_adapter(str(ws.root))
    assert result.path == "resume" and result.name == "tiny"
    assert book.model_calls("customizer") == 0
    assert _log(ws)[0] == "phase 0: resume the adapter found in adapter/"


def _write_all(manifest_text: str) -> list[tuple[str, dict]]:
    calls = [("read_reference_adapter", {"adapter": "tiny", "file": "manifest.yaml"})]
    for name in (*ADAPTER_FILES, "explore.py", "template/strategy.py.j2"):
        content = manifest_text if name == "manifest.yaml" else (TINY_ADAPTER / name).read_text()
        calls.append(("write_adapter_file", {"file": name, "content": content, "reason": f"generate {name}"}))
    return calls + [("report_to_user", {"message": "wrote the adapter"})]


def test_generate_retries_with_the_validation_errors_until_the_adapter_validates(tmp_path, monkeypatch):
    from flows.phase0_adapter import phase0_adapter

    ws = _open(tmp_path, monkeypatch, domain="forecast the next reading of a tiny sensor", llm_roles=("generator",))
    good = (TINY_ADAPTER / "manifest.yaml").read_text()
    bad = yaml.safe_load(good)
    bad["metrics"][0]["direction"] = "lower"
    book = ScriptBook()
    book.add("generator", _write_all(yaml.safe_dump(bad)))
    book.add("generator", [
        ("write_adapter_file", {"file": "manifest.yaml", "content": good, "reason": "fix the metric direction"}),
        ("report_to_user", {"message": "fixed"}),
    ])
    book.install(monkeypatch)
    result = phase0_adapter(str(ws.root))
    assert result.path == "generate" and result.name == "tiny"
    assert result.commits[-1] == "fix the metric direction" and len(result.commits) == 14
    first, second = (m.calls[0] for m in book.used["generator"])
    assert "metrics.0.direction" in second[-1].content and "does not validate" not in first[-1].content
    # the system prompt is alphalab's own generator template, then the harness contract, the same for both attempts
    # (a cacheable prefix); the errors are the second attempt's user message
    assert first[:2] == second[:2] and "metrics.0.direction" not in second[0].content + second[1].content
    assert first[0].content.startswith("You are the Generator (Phase 0)") and "user message" in first[0].content
    assert first[1].content == harness_contract.text()


def test_generate_gives_up_after_the_attempt_limit_with_every_problem(tmp_path, monkeypatch):
    from alphalab.roles.generator import MAX_ATTEMPTS
    from flows.phase0_adapter import phase0_adapter

    ws = _open(tmp_path, monkeypatch, domain="free text domain", llm_roles=("generator",))
    book = ScriptBook()
    for _ in range(MAX_ATTEMPTS):
        book.add("generator", [("write_adapter_file", {"file": "domain_knowledge.md", "content": "facts"}),
                               ("report_to_user", {"message": "done"})])
    book.install(monkeypatch)
    with pytest.raises(AdapterError) as e:
        phase0_adapter(str(ws.root))
    assert f"after {MAX_ATTEMPTS} attempts" in str(e.value) and "manifest.yaml: missing" in str(e.value)
    assert len(e.value.problems) == 10  # every file but domain_knowledge.md


def test_generate_without_an_llm_refuses_clearly(tmp_path, monkeypatch):
    from flows.phase0_adapter import phase0_adapter

    ws = _open(tmp_path, monkeypatch, domain="forecast exchange rates")
    with pytest.raises(PhaseFailed, match="needs an LLM"):
        phase0_adapter(str(ws.root))


def test_a_malformed_adapter_stops_the_campaign_before_any_role_runs(tmp_path, monkeypatch):
    from flows.campaign import campaign

    ws = _open(tmp_path, monkeypatch, llm_roles=("explorer",))
    shutil.copytree(TINY_ADAPTER, ws.adapter, dirs_exist_ok=True)
    (ws.adapter / "phase2_builder.md").unlink()
    (ws.adapter / "phase1_explorer.md").write_text("{{ undefined_thing }}")
    (ws.adapter / "manifest.yaml").write_text((TINY_ADAPTER / "manifest.yaml").read_text().replace(
        "gpus_per_experiment: 0", "gpus_per_experiment: -1"))
    book = ScriptBook().install(monkeypatch)
    with pytest.raises(AdapterError) as e:
        campaign(str(tmp_path / "campaign.yaml"))
    assert len(e.value.problems) == 3
    assert "phase2_builder.md: missing" in e.value.problems
    assert any("undefined_thing" in p for p in e.value.problems)
    assert any("gpus_per_experiment" in p for p in e.value.problems)
    assert book.model_calls("explorer") == 0 and not ws.plan.exists()
