"""The kernel harness on a GPU: every problem, judged with several solutions, timings repeated to show their spread.

    python3 bench/kernels_gpu.py [--problems relu,softmax] [--repeats 3] [--trials 100] [--out DIR]

Per problem, in one process and one run (eager and torch.compile are timed beside each solution):
  - reference copy: the problem's own Model as ModelNew, run trusted (checks off) -> the speedup noise floor, ~1.0
  - template: the cuda_kernel adapter's experiment template (inline CUDA) rendered for the problem, block_size 256
  - fast/*: hand-written kernels from harnesses/kernels/solutions/fast/ whose name starts with the problem's
  - adversarial/*: (diag_matmul) cached output, in-place write, reference call, timer patch, side stream;
    each must be rejected
`--prebuild` only builds the template's CUDA extension (start it in the background to overlap the nvcc build with
torch.compile). Prints a markdown table; with --out also writes table.md and reports.json there.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alphalab.experiment_template import TemplateExperiment, render_template_dir  # noqa: E402
from harnesses.kernels.problem import ProblemRef, list_problems, load_module  # noqa: E402
from harnesses.kernels.runner import ProblemSession  # noqa: E402
from harnesses.kernels.settings import EvalSettings, KernelReport  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = ROOT / "adapters" / "cuda_kernel" / "template"
SOLUTIONS = ROOT / "harnesses" / "kernels" / "solutions"
ADVERSARIAL_PROBLEM = "diag_matmul"
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


def render_template(problem: str, dest: Path) -> Path:
    exp_dir = dest / f"template_{problem}"
    render_template_dir(TEMPLATE_DIR, exp_dir, {"problem": problem, "block_size": BLOCK_SIZE},
                      TemplateExperiment(id=f"bench_{problem}", name=f"template {problem}"))
    return exp_dir / "solution.py"


def reference_copy(problem: ProblemRef, dest: Path) -> Path:
    path = dest / f"reference_{problem.name}.py"
    path.write_text(problem.path.read_text() + "\n\nModelNew = Model\n")
    return path


def fast_solutions(problem: str) -> list[Path]:
    return sorted((SOLUTIONS / "fast").glob(f"{problem}_*.py"))


def adversarial_solutions() -> list[Path]:
    return sorted((SOLUTIONS / "adversarial").glob("*.py"))


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


def prebuild() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        load_module(render_template(ADVERSARIAL_PROBLEM, Path(tmp)))


def run(problems: list[ProblemRef], settings: EvalSettings, work: Path, log, save=lambda rows: None) -> list[Row]:
    sessions = {}
    rows: list[Row] = []

    def judge(problem: ProblemRef, label: str, kind: str, path: Path, trusted: bool = False) -> None:
        started = time.monotonic()
        report = sessions[problem.name].evaluate(path, trusted=trusted)
        row = Row(label=label, kind=kind, report=report)
        rows.append(row)
        log(f"{problem.name:>14} {label:<28} {report.rejected_rule or 'accepted':<16} "
            f"sol={_fmt(report.solution_ms)} eager={_fmt(report.eager_ms)} compile={_fmt(report.compile_ms)} "
            f"spread={_fmt(row.spread_pct, '{:.2f}')}% ({time.monotonic() - started:.1f} s)")
        save(rows)

    # pass 1 needs no nvcc build, so a background --prebuild can finish meanwhile
    for problem in problems:
        sessions[problem.name] = ProblemSession(problem, settings)
        judge(problem, "reference copy", "reference", reference_copy(problem, work), trusted=True)
        for path in fast_solutions(problem.name):
            judge(problem, f"fast/{path.stem}", "fast", path)
        if problem.name == ADVERSARIAL_PROBLEM:
            for path in adversarial_solutions():
                judge(problem, f"adversarial/{path.stem}", "adversarial", path)
    for problem in problems if settings.device == "cuda" else []:  # the template is CUDA: nothing to build on CPU
        judge(problem, "template (inline CUDA)", "template", render_template(problem.name, work))
        if rows[-1].report.rejected_rule == "import_error":
            log("the template's CUDA extension did not build; its other rows would only retry the build")
            break
    order = {p.name: i for i, p in enumerate(problems)}
    kinds = ("reference", "template", "fast", "adversarial")
    return sorted(rows, key=lambda r: (order[r.report.problem], kinds.index(r.kind)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="", help="comma-separated names (default: all built-in problems)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--prebuild", action="store_true")
    args = parser.parse_args(argv)
    if args.prebuild:
        prebuild()
        return 0
    wanted = {p for p in args.problems.split(",") if p}
    problems = [p for p in list_problems() if not wanted or p.name in wanted]
    settings = EvalSettings.for_mode("full", device=args.device, trials=args.trials, repeats=args.repeats)
    def save(rows: list[Row]) -> None:
        # after every solution, so a run cut short still leaves what it measured
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "table.md").write_text(table(rows) + "\n\n" + summary(rows) + "\n")
            (args.out / "reports.json").write_text(json.dumps([r.model_dump(mode="json") for r in rows], indent=1))

    with tempfile.TemporaryDirectory(prefix="kernels-bench-") as tmp:
        rows = run(problems, settings, Path(tmp), lambda line: print(line, flush=True), save)
    save(rows)
    print(table(rows) + "\n\n" + summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
