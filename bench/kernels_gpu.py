"""The kernel harness on a GPU: every problem, judged with several solutions, timings repeated to show their spread.

    python3 bench/kernels_gpu.py [--problems relu,softmax] [--repeats 3] [--trials 100] [--out DIR]

Every solution goes through the harness's entry point (evaluate_experiment: the pristine reference process, the
solution's own process, the verdict in this one), in one workspace, so each problem's eager and torch.compile
baselines are measured once, where no solution ran, and every solution of that problem is set against them:
  - reference copy: the problem's own Model as ModelNew, judged trusted (static and fallback checks off) -> the
    speedup noise floor, ~1.0
  - template: the cuda_kernel adapter's experiment template (inline CUDA) rendered for the problem, block_size 256
  - fast/*: hand-written kernels from harnesses/kernels/solutions/fast/ whose name starts with the problem's
  - adversarial/*: every attack in harnesses/kernels/adversarial/ (on diag_matmul, or the problem it names); each
    must be rejected
Prints a markdown table; with --out also writes table.md and reports.json there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alphalab.experiment_template import TemplateExperiment, render_template_dir  # noqa: E402
from alphalab.workspace import Workspace  # noqa: E402
from harnesses.base import EvaluationFailure  # noqa: E402
from harnesses.kernels.evaluate import ENTRY_POINT, PROBLEM_FILE, evaluate_experiment  # noqa: E402
from harnesses.kernels.problem import ProblemRef, list_problems  # noqa: E402
from harnesses.kernels.settings import KernelReport  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = ROOT / "adapters" / "cuda_kernel" / "template"
SOLUTIONS = ROOT / "harnesses" / "kernels" / "solutions"
ADVERSARIAL = ROOT / "harnesses" / "kernels" / "adversarial"
ADVERSARIAL_PROBLEM = "diag_matmul"
# attacks on another problem than ADVERSARIAL_PROBLEM
ADVERSARIAL_TARGETS = {"alias_patch_functional": "gelu"}
BLOCK_SIZE = 256


class Row(BaseModel):
    label: str
    kind: str  # reference | template | fast | adversarial
    report: KernelReport

    @property
    def spread_pct(self) -> float | None:
        times = self.report.solution_ms_repeats
        if len(times) < 2 or not self.report.solution_ms:
            return None
        return 100.0 * (max(times) - min(times)) / self.report.solution_ms


def render_template(problem: str, exp_dir: Path) -> Path:
    render_template_dir(TEMPLATE_DIR, exp_dir, {"problem": problem, "block_size": BLOCK_SIZE},
                        TemplateExperiment(id=f"bench_{problem}", name=f"template {problem}"))
    return exp_dir / ENTRY_POINT


def reference_copy(problem: ProblemRef, dest: Path) -> Path:
    path = dest / f"reference_{problem.name}.py"
    path.write_text(problem.path.read_text() + "\n\nModelNew = Model\n")
    return path


def fast_solutions(problem: str) -> list[Path]:
    return sorted((SOLUTIONS / "fast").glob(f"{problem}_*.py"))


def adversarial_solutions(problem: str) -> list[Path]:
    return [p for p in sorted(ADVERSARIAL.glob("*.py"))
            if not p.name.startswith("_") and ADVERSARIAL_TARGETS.get(p.stem, ADVERSARIAL_PROBLEM) == problem]


def _fmt(value: float | None, pattern: str = "{:.4f}") -> str:
    return "-" if value is None else pattern.format(value)


def table(rows: list[Row]) -> str:
    head = ("| problem | solution | correct | verdict | eager ms | compile ms | solution ms | vs eager | vs compile "
            "| spread % (3 repeats) | reverified |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        r = row.report
        verdict = r.rejected_rule or "accepted"
        lines.append(f"| {r.problem} | {row.label} | {'yes' if r.accepted else 'no'} | {verdict} | "
                     f"{_fmt(r.eager_ms)} | {_fmt(r.compile_ms)} | {_fmt(r.solution_ms)} | "
                     f"{_fmt(r.speedup_vs_eager, '{:.2f}')} | {_fmt(r.speedup_vs_compile, '{:.2f}')} | "
                     f"{_fmt(row.spread_pct, '{:.2f}')} | {'-' if r.reverified is None else r.reverified} |")
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    adversarial = [r for r in rows if r.kind == "adversarial"]
    rejected = [r for r in adversarial if not r.report.accepted]
    spreads = [(r.spread_pct, f"{r.report.problem}/{r.label}") for r in rows if r.spread_pct is not None]
    worst = max(spreads) if spreads else (None, "-")
    env = next((r.report.env for r in rows if r.report.env), None)
    return "\n".join([
        f"environment: {env.model_dump_json() if env else '-'}",
        f"adversarial rejected: {len(rejected)}/{len(adversarial)} "
        f"({', '.join(f'{r.label}: {r.report.rejected_rule}' for r in adversarial)})",
        f"largest spread of a solution's median over repeats: {_fmt(worst[0], '{:.2f}')}% ({worst[1]})",
        f"spreads <= 2%: {sum(1 for s, _ in spreads if s <= 2.0)}/{len(spreads)}",
    ])


KINDS = ("reference", "template", "fast", "adversarial")


def run(problems: list[ProblemRef], device: str, trials: int, repeats: int, work: Path, log,
        save=lambda rows: None, kinds: tuple[str, ...] = KINDS) -> list[Row]:
    ws = Workspace(work / "ws")
    rows: list[Row] = []

    def judge(problem: ProblemRef, label: str, kind: str, solution: Path, trusted: bool = False) -> None:
        if kind not in kinds:
            return
        exp = ws.experiment(f"{problem.name}-{len(rows)}")
        if solution.parent != exp:
            exp.mkdir(parents=True)
            shutil.copy(solution, exp / ENTRY_POINT)
            (exp / PROBLEM_FILE).write_text(problem.name + "\n")
        checks = {"static_check": False, "fallback_check": False} if trusted else {}
        started = time.monotonic()
        try:
            details = evaluate_experiment(exp, ws, "full", device=device, trials=trials, repeats=repeats,
                                          **checks).details
            report = KernelReport.model_validate(details)
        except EvaluationFailure as exc:  # the harness's own failure (the reference's process): the row says so
            report = KernelReport(problem=problem.name, solution=str(solution), device=device, mode="full",
                                  rejected_rule=exc.signature, reason=exc.message)
        row = Row(label=label, kind=kind, report=report)
        rows.append(row)
        log(f"{problem.name:>14} {label:<34} {report.rejected_rule or 'accepted':<20} "
            f"sol={_fmt(report.solution_ms)} eager={_fmt(report.eager_ms)} compile={_fmt(report.compile_ms)} "
            f"spread={_fmt(row.spread_pct, '{:.2f}')}% ({time.monotonic() - started:.1f} s)")
        save(rows)

    for problem in problems:
        judge(problem, "reference copy", "reference", reference_copy(problem, work), trusted=True)
        for path in fast_solutions(problem.name):
            judge(problem, f"fast/{path.stem}", "fast", path)
        for path in adversarial_solutions(problem.name):
            judge(problem, f"adversarial/{path.stem}", "adversarial", path)
    for problem in problems if device == "cuda" and "template" in kinds else []:  # CUDA: nothing to build on CPU
        judge(problem, "template (inline CUDA)", "template",
              render_template(problem.name, ws.experiment(f"{problem.name}-{len(rows)}")))
        if rows[-1].report.rejected_rule == "import_error":
            log("the template's CUDA extension did not build; its other rows would only retry the build")
            break
    order = {p.name: i for i, p in enumerate(problems)}
    return sorted(rows, key=lambda r: (order[r.report.problem], KINDS.index(r.kind)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="", help="comma-separated names (default: all built-in problems)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"which solutions to judge (default: {','.join(KINDS)})")
    args = parser.parse_args(argv)
    wanted = {p for p in args.problems.split(",") if p}
    problems = [p for p in list_problems() if not wanted or p.name in wanted]

    def save(rows: list[Row]) -> None:
        # after every solution, so a run cut short still leaves what it measured
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "table.md").write_text(table(rows) + "\n\n" + summary(rows) + "\n")
            (args.out / "reports.json").write_text(json.dumps([r.model_dump(mode="json") for r in rows], indent=1))

    with tempfile.TemporaryDirectory(prefix="kernels-bench-") as tmp:
        kinds = tuple(k for k in args.kinds.split(",") if k)
        unknown = set(kinds) - set(KINDS)
        if unknown:
            parser.error(f"--kinds: unknown {sorted(unknown)} (known: {', '.join(KINDS)})")
        rows = run(problems, args.device, args.trials, args.repeats, Path(tmp), lambda line: print(line, flush=True),
                   save, kinds)
    save(rows)
    print(table(rows) + "\n\n" + summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
