"""The Supervisor's check between phases: does the workspace hold what the finished phase promised?

Each check returns the list of what is missing (empty when all is there); `require` turns that into a PhaseFailed
whose message names every missing artifact, so the operator knows what to fix or which phase to rerun.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from alphalab import reference_check
from alphalab.adapters import adapter_problems
from alphalab.errors import PhaseFailed
from alphalab.workspace import Workspace

_ITEM = re.compile(r"^\s*[-*]\s+\[( |x|X)\]\s*(.*)$")
TESTS_RESULT = "tests.json"


def plan_items(plan: Path) -> list[tuple[bool, str]]:
    """(checked, text) for every `- [ ]` / `- [x]` line of a plan."""
    return [(m[1] != " ", m[2].strip()) for m in map(_ITEM.match, plan.read_text().splitlines()) if m]


def _nonempty_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.stat().st_size > 0] if folder.is_dir() else []


def _has(folder: Path, pattern: str) -> bool:
    return folder.is_dir() and any(folder.glob(pattern))


def phase0_problems(ws: Workspace) -> list[str]:
    return adapter_problems(ws.adapter)[1]


def phase1_problems(ws: Workspace) -> list[str]:
    problems = []
    if not ws.plan.is_file():
        problems.append("plan.md is missing (the Explorer writes its checklist there first)")
    else:
        items = plan_items(ws.plan)
        open_items = [text for checked, text in items if not checked]
        if not items:
            problems.append("plan.md has no checklist items (`- [ ] ...` / `- [x] ...`)")
        elif open_items:
            problems.append(f"plan.md has {len(open_items)} unchecked item(s): "
                            + "; ".join(repr(t) for t in open_items))
    if not ws.learnings.is_file() or not ws.learnings.read_text().strip():
        problems.append("learnings.md is missing or empty (Phases 2 and 3 read it)")
    if not _nonempty_files(ws.data_report):
        problems.append("data_report/ holds no report (write the formal deliverables there)")
    return problems


def latest_review(ws: Workspace) -> dict | None:
    reviews = sorted(ws.reviews.glob("round_*.json"))
    return json.loads(reviews[-1].read_text()) if reviews else None


def phase2_problems(ws: Workspace) -> list[str]:
    problems = []
    if not _has(ws.harness, "**/*.py"):
        problems.append("harness/ holds no Python files")
    review = latest_review(ws)
    if review is None:
        problems.append("reviews/ holds no Critic review")
    elif review.get("verdict") != "PASS":
        problems.append(f"the latest Critic review (round {review.get('round')}) is {review.get('verdict')!r}, "
                        "not PASS")
    if not _has(ws.harness_tests, "**/test*.py"):
        problems.append("harness/tests/ holds no tests")
    result = ws.reviews / TESTS_RESULT
    if not result.is_file() or not json.loads(result.read_text()).get("passed"):
        problems.append("the harness tests have not passed (see reviews/tests.txt)")
    reference = reference_check.load(ws)
    if reference is None:
        problems.append("reviews/reference.json is missing: the reference experiment has not run through the harness")
    elif not reference.passed:
        problems.append("the reference experiment failed: " + "; ".join(reference.problems))
    elif not reference.current(ws):
        problems.append("harness/ or the manifest changed after the reference experiment ran through them")
    return problems


_CHECKS = {0: phase0_problems, 1: phase1_problems, 2: phase2_problems}


def require(phase: int, ws: Workspace, extra: list[str] | None = None) -> None:
    """Raise PhaseFailed naming everything missing after `phase` (plus `extra` problems the caller found)."""
    problems = list(extra or []) + _CHECKS[phase](ws)
    if problems:
        raise PhaseFailed(f"Phase {phase} check failed in {ws.root}:\n" + "\n".join(f"  - {p}" for p in problems))
