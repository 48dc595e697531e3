"""Phase 2: Builder, a fresh Critic, the fix loop up to max_rounds, then the Tester's suite run for real."""

from __future__ import annotations

import json
import shutil

import pytest

from alphalab.campaign import Campaign
from alphalab.errors import PhaseFailed
from alphalab.harness_contract import cite
from fixtures.pipeline_helpers import FIXTURES, TINY_ADAPTER, ScriptBook, use_fixture_library, write_config

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
    assert "MAE divides by n-1" in builder2[-1].content and builder2[-1].content.startswith("Builder round 2")
    assert builder1[:2] == builder2[:2]  # the round and the findings are the user message's
    for critic in book.used["critic"]:
        assert [m.role for m in critic.calls[0]] == ["system", "system", "user"]  # the template, the contract
        assert "built" not in critic.calls[0][-1].content
        # the Critic audits with the reference experiment's result in hand: the mean of the last 3 values predicts
        # 3 for 5 and 6.5 for 8, so rmse = sqrt((2² + 1.5²) / 2) and mae = (2 + 1.5) / 2
        assert "## The reference experiment" in critic.calls[0][-1].content
        assert "- full: ok, rmse=1.76777, mae=1.75" in critic.calls[0][-1].content
    critic2 = book.used["critic"][1].calls[0]
    assert "- harness/metrics.py" in critic2[-1].content and "round 2" in critic2[-1].content
    assert critic2[:2] == book.used["critic"][0].calls[0][:2]
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
    assert "the harness did not PASS in 2 round(s)" in message
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


# ---- the gate: the reference experiment must leave a result with the primary metric -------------------------------

def _harness_source(**swaps: str) -> str:
    source = (FIXTURES / "harnesses" / "tiny" / "evaluate.py").read_text()
    for old, new in swaps.items():
        assert old in source
        source = source.replace(old, new)
    return source


WRONG_NAME = {'"rmse": rmse(pred, targets)': '"RMSE": rmse(pred, targets)'}  # a name the manifest does not have


def _write_harness(source, message):
    return [("write_file", {"path": "harness/evaluate.py", "content": source}),
            ("report_to_user", {"message": message})]


def _test_evaluate(*first):
    test = "from harness.evaluate import rmse\n\n\ndef test_rmse_by_hand():\n    assert rmse([0.0], [3.0]) == 3.0\n"
    return [*first, ("write_file", {"path": "harness/tests/test_evaluate.py", "content": test}),
            ("shell_exec", {"command": "python -m pytest -q harness/tests"}), ("report_to_user", {"message": "tested"})]


def test_the_builder_gets_the_gate_failure_without_a_critic_and_fixes_it(tmp_path, monkeypatch):
    from flows.phase2_evaluation import phase2_evaluation

    ws = phase1_done(tmp_path, monkeypatch, llm_roles=LLM_ROLES, phase2={"max_rounds": 2})
    book = ScriptBook().add("builder", _write_harness(_harness_source(**WRONG_NAME), "built"))
    book.add("builder", _write_harness(_harness_source(), "records rmse")).add("critic", _review("PASS"))
    book.add("tester", _test_evaluate()).install(monkeypatch)

    report = phase2_evaluation(str(ws.root))
    assert report.passed
    # round 1: no Critic read a harness that records no primary metric; the Builder got why, at the entry point
    round1 = json.loads((ws.reviews / "round_01.json").read_text())
    assert round1["verdict"] == "NEEDS FIXES" and [f["file"] for f in round1["findings"]] == ["harness/evaluate.py"]
    problem = ("the reference experiment's full result has no `rmse`, the manifest's primary metric (it recorded: "
               f"RMSE, mae): the leaderboard would stay empty {cite(8)}")
    assert round1["findings"][0]["issue"] == problem
    builder2 = book.used["builder"][1].calls[0][-1].content
    assert builder2.startswith("Builder round 2") and problem in builder2
    assert len(book.used["critic"]) == 1 and "- full: ok, rmse=1.76777" in book.used["critic"][0].calls[0][-1].content
    # the Tester saw the result too, and what was sealed is what produced it
    assert "## The reference experiment" in book.used["tester"][0].calls[0][-1].content
    reference = json.loads((ws.reviews / "reference.json").read_text())
    assert reference["problems"] == []
    assert reference["results"]["full"]["metrics"]["rmse"] == pytest.approx(1.76777, 1e-5)
    assert ws.harness_seal.is_file()


def test_a_harness_that_records_nothing_fails_the_phase_even_under_the_baseline_critic(tmp_path, monkeypatch):
    from flows.phase2_evaluation import phase2_evaluation

    # it compiles, exits 0 and records no result: the baseline Critic's static audit alone would pass it
    ws = phase1_done(tmp_path, monkeypatch, llm_roles=("builder",), phase2={"max_rounds": 1})
    ScriptBook().add("builder", _write_harness("print('evaluated')\n", "built")).install(monkeypatch)
    with pytest.raises(PhaseFailed) as e:
        phase2_evaluation(str(ws.root))
    message = str(e.value)
    assert "the harness did not PASS in 1 round(s)" in message
    assert "harness/evaluate.py:0: the reference experiment's smoke run failed (no-result)" in message
    assert cite(9) in message and "reviews/reference/smoke.log" in message
    assert not ws.harness_seal.exists() and not (ws.reviews / "tests.json").exists()


def test_a_tester_that_breaks_the_harness_fails_the_phase(tmp_path, monkeypatch):
    from flows.phase2_evaluation import phase2_evaluation

    ws = phase1_done(tmp_path, monkeypatch, llm_roles=LLM_ROLES)
    book = ScriptBook().add("builder", _build(FIXED, "built")).add("critic", _review("PASS"))
    book.add("tester", _test_evaluate(
        ("write_file", {"path": "harness/evaluate.py", "content": _harness_source(**WRONG_NAME)}))).install(monkeypatch)
    with pytest.raises(PhaseFailed) as e:
        phase2_evaluation(str(ws.root))
    assert str(e.value).startswith("Phase 2: after the Tester's changes to harness/, the reference experiment fails: "
                                   "the reference experiment's full result has no `rmse`")
    assert not ws.harness_seal.exists()
