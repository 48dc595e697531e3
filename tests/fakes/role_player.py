"""A fake model that plays every alphalab role competently, from one request body in a real SDK's wire format.

    player = RolePlayer(workspace)
    server.respond_with(player)          # fn(path, body) -> Reply, on tests/fakes/llm_server.py

The player is stateless: each request carries the whole conversation so far, and the player decides from it alone,
plus what a model would find on disk through its tools (the campaign's config, manifest, board and files, read
from the workspace it is given). It parses the request (`/v1/chat/completions`: system, user, assistant and tool
messages; `/v1/messages`: system blocks, tool_use and tool_result blocks) into a provider-neutral `Conversation`:

- the role comes from the tools offered: submit_review, the Critic; propose_experiment, the Strategist;
  write_adapter_file, the Generator; patch_adapter_file with shell_exec, the Customizer, without it the Supervisor;
  the general tools (view_image among them), the Explorer (its task names plan.md), the Tester (harness/tests or
  "test suite") or else the Builder; read/write/grep/shell alone, a Worker, whose task is the first of implement,
  analyze or fix ("failed" counts as fix) in its user message, on the experiment id found by `e\\d{3}-...`;
- the step is the number of assistant turns so far: each role follows a fixed plan of 3-6 steps (one step may make
  several tool calls, as models do in parallel), and later steps work from the results earlier ones got.

Beyond those keys (and the Strategist's "up to N" proposals) it reads no prompt wording, so a reworded prompt does
not change what it does. Experiments come from the adapter's experiment template (every built-in adapter has one):
the files the campaign rendered are read and checked against the spec, or the template is read, rendered with the
spec's params and written; then the smoke command runs through shell_exec. Proposals start from the search space's
reference and change one parameter at a time around the best so far. Usage in the replies is left to the server,
which accounts tokens and cache hits as each provider documents.

`RolePlayer(workspace, library=folder)` gives the player a competent model's knowledge of a domain that has no
built-in adapter: `folder/adapter/` (the 11 adapter files and what the manifest names) and `folder/harness/` (the
workspace harness). Its Generator then samples the data and writes every adapter file from there, and its Builder,
finding no Python file in harness/, writes every harness file from there, parses them and reports; a Builder that
finds a harness (a later round) reviews it as without a library. Every other role plays as without one.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel, Field

from alphalab.board_rows import Experiment, slugify
from alphalab.campaign import Campaign
from alphalab.manifest import SearchParam, harness_module
from alphalab.workspace import ADAPTER_FILES
from tests.fakes.llm_server import ANTHROPIC_PATH, OPENAI_PATH, Reply, anthropic_reply, error_reply, openai_reply

Call = tuple[str, dict[str, Any]]
EXP_ID = re.compile(r"\be\d{3}-[a-z0-9-]+")
WORKER_TASK = re.compile(r"\b(implement|analy[sz]e|fix|failed)\b", re.IGNORECASE)
WANTED = re.compile(r"\bup to (\d+)\b")
TURN = re.compile(r"Strategist turn (\d+)", re.IGNORECASE)
ERROR_NAME = re.compile(r"\b([A-Z][A-Za-z]*(?:Error|Exception))\b")
# read_file numbers its lines as "{n:6d}\t{line}"
NUMBERED = re.compile(r"^ *\d+\t")
FILES_SHOWN = 8  # files a reviewing role reads in one step


class ToolRun(BaseModel):
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    output: str = ""
    is_error: bool = False


class Conversation(BaseModel):
    """One request, provider-neutral."""

    system: str
    task: str  # the first user message
    tools: list[str]
    steps: list[list[ToolRun]]  # one entry per assistant turn: its tool calls, each with the result it got

    def runs(self, name: str) -> list[ToolRun]:
        return [r for step in self.steps for r in step if r.name == name]

    def last(self, name: str) -> ToolRun:
        found = self.runs(name)
        if not found:
            raise ValueError(f"no {name} call in the conversation so far")
        return found[-1]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text")


def _arguments(raw: str) -> dict[str, Any]:
    value = json.loads(raw or "{}")
    return value if isinstance(value, dict) else {}


def from_openai(body: dict[str, Any]) -> Conversation:
    messages = body["messages"]
    results = {m["tool_call_id"]: _text(m["content"]) for m in messages if m["role"] == "tool"}
    steps = [
        [ToolRun(name=c["function"]["name"], args=_arguments(c["function"]["arguments"]),
                 output=results.get(c["id"], ""), is_error=results.get(c["id"], "").startswith("error:"))
         for c in m.get("tool_calls") or []]
        for m in messages if m["role"] == "assistant"
    ]
    return Conversation(
        system="\n".join(_text(m["content"]) for m in messages if m["role"] == "system"),
        task=next(_text(m["content"]) for m in messages if m["role"] == "user"),
        tools=[t["function"]["name"] for t in body.get("tools", [])], steps=steps,
    )


def from_anthropic(body: dict[str, Any]) -> Conversation:
    messages = body["messages"]
    results = {b["tool_use_id"]: b for m in messages if m["role"] == "user" and isinstance(m["content"], list)
               for b in m["content"] if b.get("type") == "tool_result"}
    steps = [
        [ToolRun(name=b["name"], args=b["input"], output=_text(results[b["id"]]["content"]) if b["id"] in results
                 else "", is_error=bool(results.get(b["id"], {}).get("is_error")))
         for b in m["content"] if b.get("type") == "tool_use"]
        for m in messages if m["role"] == "assistant"
    ]
    system = body.get("system") or ""
    return Conversation(system=_text(system), task=_text(messages[0]["content"]),
                        tools=[t["name"] for t in body.get("tools", [])], steps=steps)


# ---- what a model finds on disk through its tools ------------------------------------------------------------------

def _numbered_to_text(output: str) -> str:
    """A file's text back from read_file's numbered listing."""
    lines = [ln for ln in output.splitlines() if not ln.startswith("[lines ")]
    return "\n".join(NUMBERED.sub("", ln, count=1) for ln in lines) + "\n"


def _template_files(env: Campaign) -> list[str]:
    """Workspace-relative paths of the adapter's experiment template files."""
    root = env.workspace.adapter / env.manifest.experiment.template_dir
    return sorted(p.relative_to(env.workspace.root).as_posix() for p in root.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def _rendered(env: Campaign, exp: Experiment, reads: list[ToolRun], params: dict[str, Any]) -> list[Call]:
    """write_file calls for the experiment folder: each template file read earlier, rendered with `params`."""
    template_root = f"adapter/{env.manifest.experiment.template_dir}/"
    folder = f"experiments/{exp.id}"
    experiment = {"id": exp.id, "name": exp.name, "seed": exp.seed or 0}
    calls = []
    for read in reads:
        rel = read.args["path"].removeprefix(template_root)
        source = _numbered_to_text(read.output)
        if rel.endswith(".j2"):
            rel = rel.removesuffix(".j2")
            source = jinja2.Template(source, undefined=jinja2.StrictUndefined,
                                     keep_trailing_newline=True).render(params=params, experiment=experiment)
        calls.append(("write_file", {"path": f"{folder}/{rel}", "content": source}))
    return calls


def _smoke(env: Campaign, exp: Experiment) -> Call:
    # as the manifest writes it: shell_exec makes a workspace harness importable, as the trusted runner does
    command = env.command(env.manifest.experiment.smoke_command, exp, "smoke")
    return ("shell_exec", {"command": command, "timeout_s": env.harness_inputs.time_limit_s("smoke")})


def _last_line(output: str) -> str:
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _find_py(where: str, depth: str = "") -> Call:
    return ("shell_exec", {"command": f"find {where} {depth} -type f -size +0c -name '*.py' "
                                      "-not -path '*/__pycache__/*' | sort"})


def _listed(output: str) -> list[str]:
    """Paths a `find` printed after shell_exec's status line, a folder's own files before its subfolders'."""
    found = [ln.strip() for ln in output.splitlines()[1:] if ln.strip().endswith(".py")]
    return sorted(found, key=lambda f: (f.count("/"), f))


def _report(message: str) -> list[Call]:
    return [("report_to_user", {"message": message})]


@dataclass
class Turn:
    """What a role's step decides from."""

    conv: Conversation
    env: Campaign

    @property
    def data(self) -> str:
        return str(self.env.config.data_path.resolve())

    def experiment(self) -> Experiment:
        found = EXP_ID.search(self.conv.task)
        if found is None:
            raise ValueError(f"no experiment id in the Worker's task: {self.conv.task[:200]!r}")
        return self.env.board.get(found[0])


Step = Callable[[Turn], list[Call]]


# ---- Phase 0 ---------------------------------------------------------------------------------------------------------

def _record_facts(t: Turn) -> list[Call]:
    # `wc -c` lines of absolute paths: not its total, nor the data sample printed after them
    sizes = [int(m[1]) for m in re.finditer(r"^\s*(\d+) /", t.conv.last("shell_exec").output, re.MULTILINE)]
    facts = f"{len(sizes)} files, {sum(sizes)} bytes"
    return [("patch_adapter_file", {"file": "domain_knowledge.md", "old_text": "",
                                    "new_text": f"\n## Data facts (measured by the customizer)\n- {facts} under "
                                                f"`{t.data}`\n",
                                    "reason": f"phase 0: record the measured data layout ({facts})"})]


CUSTOMIZER: list[Step] = [
    lambda t: [("shell_exec", {"command": f"find {shlex.quote(t.data)} -type f | sort | head -n 50 | xargs -d '\\n' "
                                          f"wc -c; find {shlex.quote(t.data)} -type f | sort | head -n 1 | "
                                          "xargs -d '\\n' head -c 600"})],
    lambda t: [("read_adapter", {"file": "domain_knowledge.md"})],
    _record_facts,
    lambda t: _report("Sampled the data and recorded its layout in domain_knowledge.md."),
]


def _copy_reference(t: Turn) -> list[Call]:
    calls = []
    for read in t.conv.steps[2]:
        content = read.output
        if read.args["file"] == "manifest.yaml":
            manifest = yaml.safe_load(content)
            manifest["name"] = slugify(t.env.config.domain, 30)
            content = yaml.safe_dump(manifest, sort_keys=False)
        calls.append(("write_adapter_file", {"file": read.args["file"], "content": content,
                                             "reason": f"phase 0: {read.args['file']} after the reference adapter"}))
    return calls


def _reference_listing(t: Turn) -> list[Call]:
    adapter = t.conv.steps[1][0].args["adapter"]
    files = [ln.strip() for ln in t.conv.steps[1][0].output.splitlines() if ln.strip()]
    return [("read_reference_adapter", {"adapter": adapter, "file": f}) for f in files]


GENERATOR: list[Step] = [
    lambda t: [("read_reference_adapter", {})],
    lambda t: [("read_reference_adapter", {"adapter": t.conv.steps[0][0].output.split()[0]})],
    _reference_listing,
    _copy_reference,
    lambda t: _report(f"Wrote the {len(ADAPTER_FILES)} adapter files (and the files the manifest names), "
                      "following the reference adapter's format."),
]


# ---- Phase 1 ---------------------------------------------------------------------------------------------------------

PLAN_ITEMS = ("Measure every data file (count, size, numeric ranges)", "Record the findings in learnings.md",
              "Write the data report in data_report/")
PROFILE_SCRIPT = '''"""Profile a dataset: each file's size and lines, and the count, range and mean of its numbers."""
import gzip
import re
import sys
from pathlib import Path

NUMBER = re.compile(rb"-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?")
root = Path(sys.argv[1])
files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
print(f"{len(files)} files, {sum(p.stat().st_size for p in files)} bytes")
for p in files[:50]:
    raw = gzip.open(p).read(5_000_000) if p.suffix == ".gz" else p.read_bytes()[:5_000_000]
    lines = raw.count(b"\\n")
    values = [float(v) for v in NUMBER.findall(raw)]
    line = f"{p.relative_to(root) if p != root else p.name}: {p.stat().st_size} bytes, {lines} lines"
    if values:
        mean = sum(values) / len(values)
        line += f", {len(values)} numbers in [{min(values):.6g}, {max(values):.6g}], mean {mean:.6g}"
    print(line)
'''


def _plan(done: bool) -> str:
    return "# Plan\n\n" + "\n".join(f"- [{'x' if done else ' '}] {item}" for item in PLAN_ITEMS) + "\n"


def _findings(t: Turn) -> list[Call]:
    output = t.conv.last("shell_exec").output.split("\n", 1)[-1].strip()
    return [
        ("write_file", {"path": "learnings.md", "content": f"# Learnings\n\nProfile of `{t.data}` "
                                                         f"(scripts/profile_data.py):\n\n{output}\n"}),
        ("write_file", {"path": "data_report/profile.md",
                        "content": f"# Data report\n\n```\n{output}\n```\n"}),
    ]


EXPLORER: list[Step] = [
    lambda t: [("write_file", {"path": "plan.md", "content": _plan(False)})],
    lambda t: [("write_file", {"path": "scripts/profile_data.py", "content": PROFILE_SCRIPT})],
    lambda t: [("shell_exec", {"command": f"python scripts/profile_data.py {shlex.quote(t.data)}"})],
    _findings,
    lambda t: [("write_file", {"path": "plan.md", "content": _plan(True)})],
    lambda t: _report("Profiled the data; findings in learnings.md and data_report/profile.md."),
]


# ---- Phase 2 ---------------------------------------------------------------------------------------------------------

def _read_listed(t: Turn) -> list[Call]:
    files = _listed(t.conv.steps[0][0].output)
    return [("read_file", {"path": f}) for f in files[:FILES_SHOWN]] or [("read_file", {"path": "learnings.md"})]


def _parse(files: list[str]) -> list[Call]:
    quoted = " ".join(shlex.quote(f) for f in files)
    return [("shell_exec", {"command": "python -c \"import ast, sys; [ast.parse(open(f).read(), f) for f in "
                                       f"sys.argv[1:]]; print('parsed', len(sys.argv) - 1, 'files')\" {quoted}"})]


def _parse_check(t: Turn) -> list[Call]:
    return _parse(_listed(t.conv.steps[0][0].output))


BUILDER: list[Step] = [
    lambda t: [_find_py("harness")],
    _read_listed,
    _parse_check,
    lambda t: _report(f"Reviewed the trusted harness in harness/ against learnings.md: "
                      f"{_last_line(t.conv.last('shell_exec').output)}; it runs the experiment in its own process "
                      "and records the metrics itself, so no change was needed."),
]


def _review(t: Turn) -> list[Call]:
    read = t.conv.runs("read_file")
    hits = t.conv.last("grep_file").output
    n = 0 if hits.startswith("no match") else len(hits.splitlines())
    return [("submit_review", {"verdict": "PASS", "findings": [], "summary": (
        f"Read {len(read)} harness file(s): the experiment runs in its own process, the harness scores its output "
        f"and records the result itself; {n} line(s) touch held-out paths or targets, all on the harness side.")})]


CRITIC: list[Step] = [
    lambda t: [_find_py("harness")],
    _read_listed,
    lambda t: [("grep_file", {"pattern": r"\.private|targets?\b|/test\b", "path": "harness", "glob": "*.py"})],
    _review,
]

TESTS_FILE = '''"""The harness's modules import, and its entry point answers --help (written by the Tester)."""
import importlib
import subprocess
import sys

import pytest

MODULES = {modules!r}


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name):
    assert importlib.import_module(name) is not None


def test_entry_point_answers_help():
    proc = subprocess.run([sys.executable, "-m", {entry!r}, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--experiment" in proc.stdout
'''


def _write_tests(t: Turn) -> list[Call]:
    modules = [f.removesuffix(".py").replace("/", ".") for f in _listed(t.conv.steps[0][0].output)
               if not f.endswith("__init__.py")]
    entry = harness_module("smoke_command", t.env.manifest.experiment.smoke_command)
    return [("write_file", {"path": "harness/tests/test_harness_modules.py",
                            "content": TESTS_FILE.format(modules=modules, entry=entry)})]


TESTER: list[Step] = [
    lambda t: [_find_py("harness", "-maxdepth 1")],
    _write_tests,
    lambda t: [("shell_exec", {"command": "python -m pytest -q -p no:cacheprovider harness/tests"})],
    lambda t: _report(f"Wrote harness/tests/test_harness_modules.py; pytest: "
                      f"{_last_line(t.conv.last('shell_exec').output)}"),
]


# ---- Phase 3: Strategist ---------------------------------------------------------------------------------------------

def _neighbours(p: SearchParam, value: Any) -> list[Any]:
    if p.type == "categorical":
        return [c for c in p.choices if c != value]
    step = (p.high - p.low) / 4
    out = []
    for v in (value - step, value + step):
        v = min(max(v, p.low), p.high)
        v = int(round(v)) if p.type == "int" else float(f"{v:.4g}")
        if v != value:
            out.append(v)
    return out


def _key(params: dict[str, Any]) -> tuple:
    return tuple(sorted(params.items()))


def proposals(env: Campaign, wanted: int) -> list[tuple[str, dict[str, Any], str | None]]:
    """(name, params, parent): the reference first, then one change at a time around the best so far, round-robin
    over the parameters, skipping what was tried and values that already failed."""
    space = env.manifest.search_space
    rows = env.board.select(kind="experiment")
    tried = {_key(e.params) for e in rows}
    reference = space.reference_params()
    # what a failed experiment changed from the reference is what to avoid
    failed = {(k, v) for e in rows if e.error_signature for k, v in e.params.items() if reference.get(k) != v}
    out: list[tuple[str, dict[str, Any], str | None]] = []
    if _key(reference) not in tried:
        out.append(("reference", reference, None))
        tried.add(_key(reference))
    best = env.board.best(env.metric)
    base, parent = (env.board.get(best.id).params, best.id) if best else (reference, None)
    options = [[(p, v) for v in _neighbours(p, base[p.name]) if (p.name, v) not in failed] for p in space.params]
    for i in range(max(map(len, options), default=0)):
        for p, v in (opts[i] for opts in options if i < len(opts)):
            params = base | {p.name: v}
            if _key(params) not in tried:
                tried.add(_key(params))
                out.append((f"{p.name}={v}", params, parent))
    return out[:wanted]


def _propose(t: Turn) -> list[Call]:
    found = WANTED.search(t.conv.task)
    chosen = proposals(t.env, int(found[1]) if found else 1)
    if not chosen:  # the neighbourhood of the best is exhausted: look at what is still queued instead
        return [("read_board", {"state": "queued"})]
    return [("propose_experiment", {"name": name, "spec": {"params": params}, "hypothesis": (
        "the search space's reference configuration" if parent is None and name == "reference"
        else f"changing {name.split('=')[0]} from the best so far moves {t.env.metric.name}"),
        **({"parent": parent} if parent else {})}) for name, params, parent in chosen]


def _evidence(t: Turn) -> list[Call]:
    """The best experiment's full debrief; before there is one, Phase 1's data report (the learnings are in the
    system prompt already)."""
    ws = t.env.workspace
    best = t.env.board.best(t.env.metric)
    found = [ws.experiment(best.id) / "debrief.md"] if best else []
    found += sorted(p for p in ws.data_report.rglob("*") if p.is_file()) if ws.data_report.is_dir() else []
    found.append(ws.learnings)
    path = next(p for p in found if p.is_file())
    return [("read_file", {"path": path.relative_to(ws.root).as_posix()})]


def _lessons(t: Turn) -> list[Call]:
    env, metric = t.env, t.env.metric
    best = env.board.best(metric)
    lines = [f"- best so far: {best.id} {metric.name}={best.value:.6g} ({best.name})" if best
             else "- no full result yet: start from the reference"]
    dead = Counter(e.error_signature for e in env.board.select(kind="experiment") if e.error_signature)
    lines += [f"- {sig}: {n} failure(s); avoid the values that caused it" for sig, n in dead.most_common(3)]
    proposed = [r.output for r in t.conv.runs("propose_experiment") if not r.is_error]
    lines.append(f"- this turn: {', '.join(proposed) or 'nothing new to propose'}")
    turn = TURN.search(t.conv.task)
    return [("update_playbook", {"heading": f"Turn {turn[1] if turn else len(t.conv.steps)}",
                                 "content": "\n".join(lines)})]


STRATEGIST: list[Step] = [
    lambda t: [("read_board", {})],
    _evidence,
    _propose,
    _lessons,
    lambda t: _report(f"Proposed {len([r for r in t.conv.runs('propose_experiment') if not r.is_error])} "
                      "experiment(s) around the best so far; playbook updated."),
]


# ---- Phase 3: Worker and Supervisor ----------------------------------------------------------------------------------

def _read_templates(t: Turn) -> list[Call]:
    return [("read_file", {"path": f}) for f in _template_files(t.env)]


def _template_reads(t: Turn) -> list[ToolRun]:
    root = f"adapter/{t.env.manifest.experiment.template_dir}/"
    return [r for r in t.conv.runs("read_file") if r.args["path"].startswith(root) and not r.is_error]


def _required(t: Turn) -> list[str]:
    return [f"experiments/{t.experiment().id}/{f}" for f in t.env.manifest.experiment.required_files]


def _start(t: Turn) -> list[Call]:
    """The files the campaign already rendered from the template, when it did; else the template itself."""
    rendered = _required(t)
    if all((t.env.workspace.root / f).is_file() for f in rendered):
        return [("read_file", {"path": f}) for f in rendered]
    return _read_templates(t)


def _build(t: Turn) -> list[Call]:
    exp = t.experiment()
    reads = _template_reads(t)
    if reads:
        return _rendered(t.env, exp, reads, exp.params)
    # the folder was rendered already: check that the spec's params landed in it
    pattern = "|".join(re.escape(str(v)) for v in exp.params.values()) or "."
    return [("grep_file", {"pattern": pattern, "path": f"experiments/{exp.id}"})]


IMPLEMENT: list[Step] = [
    _start,
    _build,
    lambda t: [_smoke(t.env, t.experiment())],
    lambda t: _report(f"Implemented {t.experiment().id} from the adapter's template with {t.experiment().params}; "
                      f"smoke: {_last_line(t.conv.last('shell_exec').output)}"),
]


def _debrief(t: Turn) -> list[Call]:
    env, exp, metric = t.env, t.experiment(), t.env.metric
    value = exp.metrics.get(metric.name)
    best = next((e for e in env.board.leaderboard(metric) if e.id != exp.id), None)
    lines = [f"# Debrief: {exp.id}", "", f"- configuration: {json.dumps(exp.params, sort_keys=True)}",
             f"- hypothesis: {exp.hypothesis}",
             f"- result: {metric.name} = {value}" if value is not None else f"- no {metric.name} recorded"]
    if best is not None and value is not None:
        delta = value - best.value
        lines.append(f"- against the best {best.id} ({best.value:.6g}): {delta:+.6g}")
        better = delta < 0 if metric.direction == "min" else delta > 0
        lines.append("- follow-up: " + ("explore around this configuration" if better
                                        else "deprioritize this change"))
    lines.append(f"- last log line: {_last_line(_numbered_to_text(t.conv.last('read_file').output))}")
    return [("write_file", {"path": f"experiments/{exp.id}/debrief.md", "content": "\n".join(lines) + "\n"})]


ANALYZE: list[Step] = [
    lambda t: [("read_file", {"path": f"experiments/{t.experiment().id}/run.log"})],
    _debrief,
    lambda t: _report(f"Debrief of {t.experiment().id} written: {t.experiment().metrics}"),
]


def _main_error(log_lines: str) -> tuple[str, int]:
    """The error name found most often in grep output, and how often."""
    found = Counter(ERROR_NAME.findall(log_lines)).most_common(1)
    return found[0] if found else ("an unknown error", 0)


def _fixed_params(t: Turn) -> dict[str, Any]:
    space = t.env.manifest.search_space
    return t.experiment().params | (space.fallback if space else {})


FIX: list[Step] = [
    lambda t: [("grep_file", {"pattern": "Error|Exception|Traceback", "path": f"experiments/{t.experiment().id}",
                              "glob": "*.log"})],
    _read_templates,
    lambda t: _rendered(t.env, t.experiment(), _template_reads(t), _fixed_params(t)),
    lambda t: [_smoke(t.env, t.experiment())],
    lambda t: _report(f"{t.experiment().id} failed with {_main_error(t.conv.last('grep_file').output)[0]}; applied "
                      f"the search space's fallback ({_fixed_params(t)}); smoke: "
                      f"{_last_line(t.conv.last('shell_exec').output)}"),
]



def _supervisor_note(t: Turn) -> list[Call]:
    hits = t.conv.last("grep_file").output
    name, n = _main_error(hits)
    ids = sorted(set(EXP_ID.findall(hits)))
    return [("patch_adapter_file", {
        "file": "domain_knowledge.md", "old_text": "",
        "new_text": f"\n## Supervisor note\n{name} in {n} log line(s) ({', '.join(ids) or 'no ids'}): configurations "
                    "that pass the smoke test can still fail the full run; apply the search space's fallback.\n",
        "reason": f"supervisor: recurring {name} in full runs"})]


SUPERVISOR: list[Step] = [
    lambda t: [("read_adapter", {"file": "domain_knowledge.md"})],
    lambda t: [("grep_file", {"pattern": "Error|Exception", "path": "experiments", "glob": "*.log"})],
    _supervisor_note,
    lambda t: _report("Diagnosed the recent failures and recorded the cause in domain_knowledge.md."),
]


# ---- a domain the player knows (RolePlayer's `library`) -------------------------------------------------------------

def _library_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def _sample_data(t: Turn) -> list[Call]:
    path = shlex.quote(t.data)
    return [("shell_exec", {"command": f"if [ -d {path} ]; then find {path} -type f | sort | head -n 20; "
                                       f"else wc -l {path}; head -n 5 {path}; fi"})]


def library_generator(library: Path) -> list[Step]:
    """Sample the data, write every file of `library/adapter` (subfolders included), report."""
    root = library / "adapter"

    def write_all(t: Turn) -> list[Call]:
        return [("write_adapter_file", {"file": f.relative_to(root).as_posix(), "content": f.read_text(),
                                        "reason": f"phase 0: {f.relative_to(root).as_posix()} for this domain"})
                for f in _library_files(root)]

    return [
        _sample_data,
        write_all,
        lambda t: _report(f"Sampled the data ({_last_line(t.conv.last('shell_exec').output)}) and wrote "
                          f"{len(t.conv.runs('write_adapter_file'))} adapter files: the manifest, the domain "
                          "knowledge, the 9 prompt templates, the exploration script and the experiment template."),
    ]


def library_builder(library: Path) -> list[Step]:
    """harness/ holds no Python file: write every file of `library/harness` there, parse them, report."""
    root = library / "harness"

    def written(t: Turn) -> list[str]:
        return [r.args["path"] for r in t.conv.runs("write_file") if not r.is_error]

    return [
        lambda t: [_find_py("harness")],
        lambda t: [("write_file", {"path": f"harness/{f.relative_to(root).as_posix()}", "content": f.read_text()})
                   for f in _library_files(root)],
        lambda t: _parse([f for f in written(t) if f.endswith(".py")]),
        lambda t: _report(f"Wrote the evaluation harness: {', '.join(written(t))}; "
                          f"{_last_line(t.conv.last('shell_exec').output)}. harness/evaluate.py splits the rows once "
                          "per campaign seed, runs the experiment's model.py in its own process with the training "
                          "rows and the test features only, and scores RMSE and MAE itself."),
    ]


# ---- choosing the role -----------------------------------------------------------------------------------------------

def plan_for(conv: Conversation) -> tuple[str, list[Step]]:
    tools = set(conv.tools)
    if "submit_review" in tools:
        return "critic", CRITIC
    if "propose_experiment" in tools:
        return "strategist", STRATEGIST
    if "write_adapter_file" in tools:
        return "generator", GENERATOR
    if "patch_adapter_file" in tools:
        return ("customizer", CUSTOMIZER) if "shell_exec" in tools else ("supervisor", SUPERVISOR)
    if "view_image" in tools:  # the general tools: Phases 1 and 2
        if "plan.md" in conv.task:
            return "explorer", EXPLORER
        if "harness/tests" in conv.task or "test suite" in conv.task:
            return "tester", TESTER
        return "builder", BUILDER
    task = WORKER_TASK.search(conv.task)
    if task is None:
        raise ValueError(f"cannot tell the Worker's task from {conv.task[:200]!r}")
    kind = task[1].lower().replace("failed", "fix").replace("analyse", "analyze")
    return f"worker:{kind}", {"implement": IMPLEMENT, "analyze": ANALYZE, "fix": FIX}[kind]


def conversation(path: str, body: dict[str, Any]) -> Conversation:
    return from_openai(body) if path == OPENAI_PATH else from_anthropic(body)


def role_of(path: str, body: dict[str, Any]) -> str:
    """The role a request is from (a Worker's with its task: `worker:implement`), as the player reads it."""
    return plan_for(conversation(path, body))[0]


class RolePlayer:
    """`player(path, body)` -> the next Reply for that endpoint, for FakeLLMServer.respond_with."""

    def __init__(self, workspace: Path | str, library: Path | str | None = None):
        self.workspace = Path(workspace)
        self.library = Path(library) if library is not None else None

    def plan(self, conv: Conversation) -> list[Step]:
        role, plan = plan_for(conv)
        if self.library is None:
            return plan
        if role == "generator":
            return library_generator(self.library)
        # the Builder's first step lists harness/'s Python files: none there, it writes the harness it knows
        if role == "builder" and conv.steps and not _listed(conv.steps[0][0].output):
            return library_builder(self.library)
        return plan

    def decide(self, conv: Conversation) -> list[Call]:
        plan = self.plan(conv)
        step = plan[min(len(conv.steps), len(plan) - 1)]
        return step(Turn(conv=conv, env=Campaign.load(self.workspace)))

    def __call__(self, path: str, body: Any) -> Reply:
        if path not in (OPENAI_PATH, ANTHROPIC_PATH):
            return error_reply(404, f"role player: no endpoint {path}")
        calls = self.decide(conversation(path, body))
        return openai_reply(tool_calls=calls) if path == OPENAI_PATH else anthropic_reply(tool_uses=calls)
