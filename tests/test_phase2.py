"""Phase 2: Builder, a fresh Critic, the fix loop up to max_rounds, then the Tester's suite run for real."""

from __future__ import annotations

import json
import shutil

import pytest

from alphalab.campaign import Campaign
from alphalab.errors import PhaseFailed
from fixtures.pipeline_helpers import TINY_ADAPTER, ScriptBook, use_fixture_library, write_config

pytestmark = pytest.mark.usefixtures("prefect_harness")

BUGGY = "def mae(pred, target):\n    return sum(abs(p - t) for p, t in zip(pred, target)) / (len(target) - 1)\n"
FIXED = "def mae(pred, target):\n    return sum(abs(p - t) for p, t in zip(pred, target)) / len(target)\n"
TEST_MAE = "from harness.metrics import mae\n\n\ndef test_mae_by_hand():\n    assert mae([1, 2], [2, 4]) == {}\n"
FINDING = {"file": "harness/metrics.py", "line": 2, "issue": "MAE divides by n-1 instead of n"}


def phase1_done(tmp_path, monkeypatch, **kw):
    use_fixture_library(monkeypatch)
    ws = Campaign.open(write_config(tmp_path, **kw)).workspace
    shutil.copytree(TINY_ADAPTER, ws.adapter, dirs_exist_ok=True)
    ws.plan.write_text("- [x] look at the data\n")
    ws.learnings.write_text("- 8 values, mean 4.5\n")
    (ws.data_report / "statistics.md").write_text("8 values\n")
    return ws


def _build(content, message):
    return [("write_file", {"path": "harness/metrics.py", "content": content}),
            ("report_to_user", {"message": message})]


def _review(verdict, *findings):
    return [("read_file", {"path": "harness/metrics.py"}),
            ("submit_review", {"verdict": verdict, "findings": list(findings), "summary": f"{verdict} summary"})]


def _tests(expected):
    return [("write_file", {"path": "harness/tests/test_metrics.py", "content": TEST_MAE.format(expected)}),
            ("shell_exec", {"command": "python -m pytest -q harness/tests"}),
            ("report_to_user", {"message": "tests written"})]


LLM_ROLES = ("builder", "critic", "tester")


def test_needs_fixes_once_then_pass_then_green_tests(tmp_path, monkeypatch):
    from flows.phase2_evaluation import phase2_evaluation

    ws = phase1_done(tmp_path, monkeypatch, llm_roles=LLM_ROLES)
    book = ScriptBook()
    book.add("builder", _build(BUGGY, "built")).add("critic", _review("NEEDS FIXES", FINDING))
    book.add("builder", _build(FIXED, "fixed the denominator")).add("critic", _review("PASS"))
    book.add("tester", _tests("1.5"))
    book.install(monkeypatch)

    report = phase2_evaluation(str(ws.root))
    assert report.passed and report.summary == "all tests passed" and "1 passed" in report.output
    assert (ws.harness / "evaluate.py").is_file()  # the trusted harness was installed first
    assert "`harness/metrics.py:2`: MAE divides by n-1" in (ws.reviews / "round_01.md").read_text()
    assert json.loads((ws.reviews / "round_02.json").read_text())["verdict"] == "PASS"
    # the Builder's second round got the findings; each Critic started from a fresh context
    builder1, builder2 = (m.calls[0] for m in book.used["builder"])
    assert "MAE divides by n-1" in builder2[1].content and builder2[1].content.startswith("Builder round 2")
    assert builder1[0].content == builder2[0].content  # the round and the findings are the user message's
    for critic in book.used["critic"]:
        assert [m.role for m in critic.calls[0]] == ["system", "user"]
        assert "built" not in critic.calls[0][1].content
    critic2 = book.used["critic"][1].calls[0]
    assert "- harness/metrics.py" in critic2[1].content and "round 2" in critic2[1].content
    assert critic2[0].content == book.used["critic"][0].calls[0][0].content
    assert json.loads((ws.reviews / "tests.json").read_text())["passed"] is True


def test_a_critic_that_never_passes_fails_the_phase_clearly(tmp_path, monkeypatch):
    from flows.phase2_evaluation import phase2_evaluation

    ws = phase1_done(tmp_path, monkeypatch, llm_roles=LLM_ROLES, phase2={"max_rounds": 2})
    book = ScriptBook()
    for _ in range(2):
        book.add("builder", _build(BUGGY, "built")).add("critic", _review("NEEDS FIXES", FINDING))
    book.install(monkeypatch)
    with pytest.raises(PhaseFailed) as e:
        phase2_evaluation(str(ws.root))
    message = str(e.value)
    assert "did not PASS the harness in 2 round(s)" in message
    assert "harness/metrics.py:2: MAE divides by n-1" in message and "rerun-phase 2" in message
    assert sorted(p.name for p in ws.reviews.glob("round_*.md")) == ["round_01.md", "round_02.md"]
    assert book.model_calls("tester") == 0


def test_red_tests_fail_the_phase(tmp_path, monkeypatch):
    from flows.phase2_evaluation import phase2_evaluation

    ws = phase1_done(tmp_path, monkeypatch, llm_roles=LLM_ROLES)
    book = ScriptBook().add("builder", _build(BUGGY, "built")).add("critic", _review("PASS"))
    book.add("tester", _tests("1.5")).install(monkeypatch)
    with pytest.raises(PhaseFailed, match="tests are not green \\(some tests failed\\)"):
        phase2_evaluation(str(ws.root))
    assert json.loads((ws.reviews / "tests.json").read_text())["passed"] is False


def test_phase2_needs_phase1_outputs(tmp_path, monkeypatch):
    from flows.phase2_evaluation import phase2_evaluation

    ws = phase1_done(tmp_path, monkeypatch)
    ws.learnings.unlink()
    with pytest.raises(PhaseFailed, match="learnings.md is missing"):
        phase2_evaluation(str(ws.root))


def test_baseline_installs_audits_and_tests_the_trusted_harness(tmp_path, monkeypatch):
    from flows.phase2_evaluation import phase2_evaluation

    ws = phase1_done(tmp_path, monkeypatch)
    report = phase2_evaluation(str(ws.root))
    assert report.passed and report.baseline and "2 passed" in report.output
    assert (ws.harness / "evaluate.py").is_file() and (ws.harness_tests / "test_evaluate.py").is_file()
    review = json.loads((ws.reviews / "round_01.json").read_text())
    assert review["verdict"] == "PASS" and review["baseline"]
    assert "every harness Python file compiles" in review["checks"]


def test_baseline_critic_points_at_a_broken_file(tmp_path, monkeypatch):
    from alphalab.roles.base import RoleContext
    from alphalab.roles.critic import CriticInput, review

    ws = phase1_done(tmp_path, monkeypatch)
    (ws.harness).mkdir(exist_ok=True)
    (ws.harness / "split.py").write_text("def split(x):\n    return x[:\n")
    from alphalab.campaign import Campaign

    config = Campaign.load(ws.root).config
    out = review(RoleContext(config=config, workspace=ws, phase="phase2"), CriticInput(round=1))
    assert out.verdict == "NEEDS FIXES"
    assert [(f.file, f.line) for f in out.findings] == [("harness/split.py", 2)]
