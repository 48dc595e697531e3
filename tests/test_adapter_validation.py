"""Adapter validation catches at load time what would otherwise fail only in Phase 1 or 3: each mistake planted in a
copy of a fixture or built-in adapter is one problem line naming the file and the field or line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from alphalab import adapters, harness_contract
from alphalab.errors import AdapterError
from alphalab.harness_contract import cite
from alphalab.manifest import PLACEHOLDERS
from fixtures.pipeline_helpers import FIXTURES, TINY_ADAPTER, use_fixture_library, write_config

PHASE3_ADAPTER = FIXTURES / "phase3" / "adapter"


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "adapter"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def _edit_manifest(root: Path, **experiment) -> None:
    manifest = yaml.safe_load((root / "manifest.yaml").read_text())
    manifest["experiment"] |= experiment
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest))


def _problems(root: Path) -> list[str]:
    with pytest.raises(AdapterError) as e:
        adapters.load_adapter(root)
    return e.value.problems


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    use_fixture_library(monkeypatch)
    return _copy(TINY_ADAPTER, tmp_path)


def test_the_fixture_adapters_validate(monkeypatch):
    assert adapters.adapter_problems(PHASE3_ADAPTER)[1] == []
    use_fixture_library(monkeypatch)
    assert adapters.adapter_problems(TINY_ADAPTER)[1] == []


def test_an_unknown_placeholder_in_a_command(tiny):
    _edit_manifest(tiny, smoke_command="{python} -P -m harness.evaluate --experiment {exp_dir} --mode {mode} "
                                       "--out {results}")
    assert _problems(tiny) == [
        "manifest.yaml: field `experiment`: Value error, smoke_command: unknown placeholders ['results'] (known: "
        f"campaign_seed, data, exp_dir, harness, mode, network, options, python, sandbox, seed, time_limit, "
        f"workspace) {cite(3)}"]


def test_the_command_a_model_writes_first_is_refused_with_the_contract(tiny):
    # the report: `cd` is a shell builtin, so run without a shell it died in every experiment
    _edit_manifest(tiny, smoke_command="cd {workspace} && python -m harness.evaluate --experiment {exp_dir} "
                                       "--mode {mode}")
    assert _problems(tiny) == [
        "manifest.yaml: field `experiment`: Value error, smoke_command: must be a single command without shell "
        f"syntax (no ;, &&, |, redirections, $, cd): the runner runs it in the workspace {cite(1)}"]


def test_every_clause_of_the_contract_is_in_what_the_roles_read():
    text = harness_contract.text()
    assert harness_contract.clauses() == tuple(range(1, 11)) and "{{" not in text
    assert all(f"- `{{{name}}}`: " in text for name in PLACEHOLDERS)
    with pytest.raises(ValueError, match="no §11"):
        harness_contract.cite(11)


def test_a_command_running_the_experiments_own_script(tiny):
    _edit_manifest(tiny, full_command="{python} -P -m harness.strategy --experiment {exp_dir} --mode {mode}")
    assert _problems(tiny) == [
        "manifest.yaml: field `experiment`: Value error, full_command: runs `harness.strategy`, named like the "
        "experiment's own strategy.py: the command must run the harness's evaluator, which runs the experiment and "
        f"records its metrics {cite(4)}"]


def test_a_command_running_a_built_in_module_that_runs_nothing_or_does_not_exist(tmp_path):
    root = _copy(adapters.builtin_adapter_dir("time_series"), tmp_path)
    _edit_manifest(root, smoke_command="{python} -P -m harnesses.forecasting.metrics --experiment {exp_dir} "
                                       "--mode {mode} --sandbox {sandbox} --network {network}",
                   full_command="{python} -P -m harnesses.forecasting.score --experiment {exp_dir} --mode {mode}")
    harnesses = adapters.builtin_harnesses_root()
    assert _problems(root) == [
        "manifest.yaml: experiment.smoke_command runs `harnesses.forecasting.metrics`, which has no "
        f"`if __name__ == \"__main__\":` block: it would run no experiment {cite(4)}",
        "manifest.yaml: experiment.full_command runs `harnesses.forecasting.score`, which is not a module of the "
        f"built-in harness (no {harnesses / 'forecasting' / 'score.py'}) {cite(4)}"]


def test_a_manifest_naming_another_domains_built_in_harness(tmp_path):
    root = _copy(adapters.builtin_adapter_dir("cuda_kernel"), tmp_path)
    manifest = yaml.safe_load((root / "manifest.yaml").read_text())
    manifest["harness"] = "forecasting"
    for field in ("smoke_command", "full_command"):
        manifest["experiment"][field] = manifest["experiment"][field].replace("harnesses.kernels",
                                                                              "harnesses.forecasting")
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    assert _problems(root) == [
        "manifest.yaml: harness 'forecasting' is the built-in harness of the 'time_series' adapter, which runs an "
        "experiment's strategy.py, but `experiment.entry_point` is 'solution.py': name the built-in harness of this "
        f"domain, or none (a generated domain builds its own in Phase 2) {cite(4)}"]
    manifest["harness"] = "kernelz"
    for field in ("smoke_command", "full_command"):
        manifest["experiment"][field] = manifest["experiment"][field].replace("forecasting", "kernelz")
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    assert _problems(root) == [
        f"manifest.yaml: harness 'kernelz' is not a built-in harness under {adapters.builtin_harnesses_root()}"]


@pytest.mark.parametrize("text, line, error", [
    ("{{ manifest.metric_name }}", 5, "'alphalab.manifest.Manifest object' has no attribute 'metric_name'"),
    ("{% if task == 'fix' %}\n{{ primary_metric.unit }}\n{% endif %}", 6,
     "'alphalab.manifest.Metric object' has no attribute 'unit'"),
])
def test_a_prompt_template_reading_an_attribute_that_does_not_exist(tiny, text, line, error):
    worker = tiny / "phase3_worker.md"
    worker.write_text(worker.read_text() + text + "\n")
    assert _problems(tiny) == [f"phase3_worker.md:{line}: fails to render with example values: {error}"]


def test_an_experiment_template_that_does_not_render_or_compile(tmp_path):
    root = _copy(PHASE3_ADAPTER, tmp_path)
    train = root / "experiment" / "train.py.j2"
    train.write_text(train.read_text() + "def broken(:\n    pass\n")
    (root / "experiment" / "config.json.j2").write_text('{"x": {{ params.width }}}\n')
    (root / "experiment" / "helper.py").write_text("x = (\n")
    (root / "experiment" / "notes.txt.j2").write_text("{% if params.x %}\n")
    problems = _problems(root)
    assert problems == [
        "experiment/config.json.j2:1: fails to render with the search space's reference parameters: 'dict object' "
        "has no attribute 'width'",
        "experiment/helper.py:1: Python syntax error: '(' was never closed",
        "experiment/notes.txt.j2:1: template syntax error: Unexpected end of template. Jinja was looking for the "
        "following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
        f"experiment/train.py.j2: the rendered train.py has a Python syntax error at line "
        f"{len(train.read_text().splitlines()) - 1}: invalid syntax"]


def test_an_exploration_script_that_does_not_compile(tiny):
    (tiny / "explore.py").write_text("import sys\nprint(sys.argv[1]\n")
    assert _problems(tiny) == ["explore.py:2: Python syntax error: '(' was never closed"]


def _append(name: str, text: str):
    def plant(root: Path) -> None:
        (root / name).write_text((root / name).read_text() + text)
    return plant


def _command(**experiment):
    return lambda root: _edit_manifest(root, **experiment)


def _harness(name: str):
    def plant(root: Path) -> None:
        manifest = yaml.safe_load((root / "manifest.yaml").read_text())
        manifest["harness"] = name
        (root / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    return plant


RUN = "{python} -P -m harness.evaluate --experiment {exp_dir} --mode {mode} --sandbox {sandbox} --network {network}"
# each validation gap of a free-text domain's adapter, planted in the tiny adapter installed as a built-in one
GAPS = {
    "unknown placeholder": (_command(smoke_command=RUN + " --out {results}"), "unknown placeholders ['results']"),
    "shell syntax": (_command(full_command="cd {workspace} && " + RUN.removeprefix("{python} -P ")),
                     "must be a single command without shell syntax"),
    "the experiment's own script": (_command(full_command=RUN.replace("harness.evaluate", "harness.strategy")),
                                    "named like the experiment's own strategy.py"),
    "another domain's harness": (_harness("forecasting"), "harness 'forecasting' is not a built-in harness under"),
    "undefined template variable": (_append("phase3_worker.md", "{{ manifest.metric_name }}\n"),
                                    "phase3_worker.md:5: fails to render with example values"),
    "exploration script": (lambda root: (root / "explore.py").write_text("print(\n"),
                           "explore.py:1: Python syntax error"),
    "experiment template Jinja": (_append("template/strategy.py.j2", "{% if params.window %}\n"),
                                  "template/strategy.py.j2:7: template syntax error: Unexpected end of template"),
    "experiment template Python": (_append("template/strategy.py.j2", "def broken(:\n"),
                                   "the rendered strategy.py has a Python syntax error at line 7"),
}


@pytest.mark.parametrize("gap", GAPS)
def test_alphalab_run_stops_on_each_adapter_mistake_before_anything_is_written(tmp_path, monkeypatch, capsys, gap):
    from cli.main import main

    use_fixture_library(monkeypatch)
    library = tmp_path / "library"
    _copy(TINY_ADAPTER, library).rename(library / "tiny")
    plant, message = GAPS[gap]
    plant(library / "tiny")
    monkeypatch.setenv("ALPHALAB_ADAPTERS_DIR", str(library))
    config = write_config(tmp_path)
    assert main(["run", str(config)]) == 2
    out = capsys.readouterr()
    assert [line for line in out.err.splitlines() if line.startswith("error:")] == [
        f"error: {library / 'tiny'}: 1 problem(s):"]
    assert message in out.err and "Traceback" not in out.err + out.out
    assert not (tmp_path / "ws").exists()
