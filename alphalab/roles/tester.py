"""Phase 2 Tester: writes harness/tests/ and runs them.

LLM: the agent writes the tests (alignment, no overlap, hand-computed metrics, a small end-to-end run) and
reports. Baseline: installs the built-in harness's own tests. Either way the verdict is a pytest run done here,
not the agent's word; its output lands in reviews/tests.txt and the result in reviews/tests.json.
"""

from __future__ import annotations

import shutil
import sys

from pydantic import BaseModel, Field

from alphalab.adapters import builtin_harness_dir, load_adapter
from alphalab.roles.base import RoleContext
from alphalab.roles.llm import report_text, run_llm_role
from alphalab.roles.prompts import RolePrompt, message
from alphalab.sandbox import run_command
from alphalab.supervisor_checks import TESTS_RESULT
from alphalab.tools import general_tools, report_to_user
from alphalab.workspace import Workspace

ROLE = "tester"


class TesterInput(BaseModel):
    reference: str = Field("", description="the reference experiment's run through the harness, as markdown")
    harness: str = Field("", description="the digest of the harness files under test (part of the cache key)")


PYTEST_EXIT = {0: "all tests passed", 1: "some tests failed", 2: "interrupted", 3: "internal error",
               4: "usage error", 5: "no tests were collected"}


class TestReport(BaseModel):
    __test__ = False  # not a pytest class

    passed: bool
    summary: str
    output: str
    report: str
    baseline: bool


def install_builtin_tests(ws: Workspace, harness: str) -> int:
    src = builtin_harness_dir(harness) / "tests"
    if not src.is_dir():
        return 0
    shutil.copytree(src, ws.harness_tests, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return sum(1 for _ in src.rglob("test*.py"))


def run_harness_tests(ctx: RoleContext) -> tuple[bool, str, str]:
    """(passed, summary, output) of pytest over harness/tests/, run from the workspace root."""
    ws = ctx.workspace
    res = run_command(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ws.harness_tests.relative_to(ws.root))],
        cwd=ws.root, timeout_s=ctx.limits.shell_timeout_s, sandbox=ctx.config.sandbox, writable=[ws.root],
        readable=[ctx.config.data_path.resolve()], hidden=[ws.private],
        env={"PYTHONPATH": str(ws.root), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    summary = "timed out" if res.timed_out else PYTEST_EXIT.get(res.returncode, f"exit code {res.returncode}")
    return res.returncode == 0 and not res.timed_out, summary, res.output


def user_message(request: TesterInput) -> str:
    return message(
        "Write an automated test suite for the evaluation harness in harness/tests/ (pytest, files named test_*.py) "
        "that holds it to the manifest-harness contract in your system prompt: the split keeps every held-out "
        "target away from what the experiment sees, each metric matches a value computed by hand on a small "
        "input, every held-out instance is scored, a bad prediction (wrong count, NaN) fails the run, and a small "
        "end-to-end run records a result with the primary metric. The reference experiment's run through the "
        "harness is below: a test may reproduce it on a subset. Run the suite with `python -m pytest -q "
        "harness/tests` from the workspace and fix the tests (or report harness bugs) until it is green, then call "
        "report_to_user.",
        ("The reference experiment", request.reference),
    )


def prompt(request: TesterInput) -> RolePrompt:
    return RolePrompt(template="phase2_tester.md", task=user_message(request), contract=True)


def test(ctx: RoleContext, request: TesterInput) -> TestReport:
    ws = ctx.workspace
    adapter = load_adapter(ws.adapter)
    llm = ctx.uses_llm(ROLE)
    if llm:
        result = run_llm_role(ctx, ROLE, adapter=adapter, prompt=prompt(request),
                              tools=[*general_tools(), report_to_user],
                              label="run")
        report = report_text(result) or f"stopped: {result.reason}"
    elif adapter.manifest.harness:
        report = f"installed {install_builtin_tests(ws, adapter.manifest.harness)} built-in test file(s)"
    else:
        report = "no built-in harness tests to install"
    passed, summary, output = run_harness_tests(ctx)
    ctx.log(f"harness tests: {summary}")
    return TestReport(passed=passed, summary=summary, output=output, report=report, baseline=not llm)


def save_report(ws: Workspace, report: TestReport) -> None:
    ws.reviews.mkdir(parents=True, exist_ok=True)
    (ws.reviews / "tests.txt").write_text(report.output)
    (ws.reviews / TESTS_RESULT).write_text(report.model_dump_json(indent=2, exclude={"output"}))
