"""The one run path (`execute`): what it accepts as a result, where it runs the harness, and the seal."""

from __future__ import annotations

import shlex
import sys

import pytest

from alphalab import harness_seal
from alphalab.execution import RunRequest, execute, harness_command
from alphalab.harness_inputs import HarnessInputs
from alphalab.manifest import PLACEHOLDERS, harness_module
from alphalab.results import RunResult
from alphalab.workspace import Workspace

# a stand-in harness: records `status` for the experiment (through the real recording API) and exits with `code`
HARNESS = """
import os, signal, sys
from pathlib import Path
from alphalab.results import RunResult
from alphalab.workspace import Workspace
from harnesses.base import record
exp, ws, mode, status, code = Path(sys.argv[1]), Workspace(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
print("cwd", os.getcwd(), "path0", sys.path[0])
if status != "none":
    record(ws, exp, RunResult(status=status, eval_mode=mode, seed=7, metrics={"loss": 1.0}))
if code == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(int(code))
"""


def _request(ws: Workspace, status: str = "ok", code: str = "0", mode: str = "full") -> RunRequest:
    exp = ws.experiment("e1")
    exp.mkdir(parents=True, exist_ok=True)
    command = shlex.join([sys.executable, "-P", "-c", HARNESS, str(exp), str(ws.root), mode, status, code])
    return RunRequest(exp_id="e1", attempt=0, mode=mode, seed=7, slot="", command=command, exp_dir=exp,
                      workspace=ws.root, timeout_s=60)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir()
    return ws


def test_the_harness_runs_from_the_workspace_and_its_result_is_read_from_outside_the_folder(ws):
    outcome = execute(_request(ws), "j1")
    assert outcome.ok and outcome.result.metrics == {"loss": 1.0}
    assert f"cwd {ws.root}" in outcome.output_tail
    assert not any(ws.experiment("e1").glob("*.json"))  # nothing result-like in the experiment folder


def test_a_stale_result_from_an_earlier_run_is_never_accepted(ws):
    assert execute(_request(ws), "j1").ok
    outcome = execute(_request(ws, status="none"), "j2")  # this run's harness records nothing
    assert outcome.result is None and not outcome.ok and outcome.error_signature == "no-result"


@pytest.mark.parametrize("planted", [RunResult(status="ok", eval_mode="full", seed=7),  # the other mode's
                                     RunResult(status="ok", eval_mode="smoke", seed=8),  # another seed's
                                     RunResult(status="ok", eval_mode="smoke")])  # no seed: not a harness's
def test_a_result_that_is_not_this_runs_is_refused(ws, planted):
    request = _request(ws, status="none", mode="smoke")
    # written while the run is under way (as a process the experiment left behind would), so it is fresh
    command = shlex.join([sys.executable, "-c", "import sys, pathlib; pathlib.Path(sys.argv[1]).parent.mkdir("
                          "parents=True, exist_ok=True); pathlib.Path(sys.argv[1]).write_text(sys.argv[2])",
                          str(request.result_file), planted.model_dump_json()])
    outcome = execute(request.model_copy(update={"command": command}), "j1")
    assert outcome.returncode == 0 and outcome.result is None and not outcome.ok


def test_a_harness_that_did_not_exit_by_itself_vouches_for_nothing(ws):
    outcome = execute(_request(ws, code="kill"), "j1")  # it had recorded ok before it was killed
    assert outcome.result is None and not outcome.ok
    assert outcome.error_signature == "harness_killed:SIGKILL"


def test_a_changed_sealed_harness_fails_the_run_before_it_starts(ws):
    ws.harness.mkdir()
    (ws.harness / "evaluate.py").write_text("print('trusted')\n")
    ws.adapter.mkdir()
    (ws.adapter / "manifest.yaml").write_text("name: x\n")
    assert harness_seal.seal(ws) == 2
    assert execute(_request(ws), "j1").ok
    (ws.harness / "evaluate.py").write_text("print('patched')\n")
    (ws.harness / "extra.py").write_text("")
    outcome = execute(_request(ws), "j2")
    assert not outcome.ok and outcome.error_signature == "harness_tampered"
    assert "changed: harness/evaluate.py" in outcome.error and "added: harness/extra.py" in outcome.error
    harness_seal.unseal(ws)  # Phase 2 is changing it: nothing to check against
    assert execute(_request(ws), "j3").ok


@pytest.mark.parametrize("command, problem", [
    ("{python} -m harnesses.forecasting.evaluate --experiment {exp_dir} --mode {mode}", "-P"),
    ("cd {workspace} && {python} -P -m harness.evaluate --experiment {exp_dir} --mode {mode}", "shell syntax"),
    ("{python} -P {exp_dir}/train.py --mode {mode}", "must start with"),
    ("{python} -P -m train --experiment {exp_dir} --mode {mode}", "must start with"),
    ("{python} -P -m harness.evaluate --experiment {exp_dir} --mode {mode} --out {results}", "unknown placeholders"),
    ("{python} -P -m harness.evaluate --mode {mode}", "{exp_dir}"),
])
def test_a_manifest_command_must_start_the_trusted_harness_with_safe_imports(command, problem):
    with pytest.raises(ValueError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        harness_module("smoke_command", command)
    assert harness_module("x", "{python} -P -m harness.evaluate --experiment {exp_dir} --mode {mode}") == \
        "harness.evaluate"


def test_harness_command_fills_every_placeholder_shell_quoted(tmp_path):
    template = "{python} -P -m harness.evaluate " + " ".join(f"--{p} {{{p}}}" for p in sorted(PLACEHOLDERS))
    assert harness_module("full_command", template) == "harness.evaluate"
    ws = Workspace(tmp_path / "w s")
    inputs = HarnessInputs(data=tmp_path / "my data", sandbox={"mode": "bwrap"}, options={"k": "a b'c", "n": 2},
                           campaign_seed=5, smoke_time_limit_s=30, full_time_limit_s=900)
    argv = shlex.split(harness_command(template, inputs, ws, ws.experiment("e1"), "smoke", 4))
    assert dict(zip(argv[4::2], argv[5::2])) == {
        "--python": sys.executable, "--workspace": str(ws.root), "--harness": str(ws.harness),
        "--exp_dir": str(ws.experiment("e1")), "--mode": "smoke", "--seed": "4", "--data": str(tmp_path / "my data"),
        "--sandbox": "bwrap", "--network": "off", "--time_limit": "30.0", "--options": '{"k":"a b\'c","n":2}',
        "--campaign_seed": "5",
    }
    assert "--time_limit 900.0" in harness_command(template, inputs, ws, ws.experiment("e1"), "full", 4)


def test_a_manifest_may_only_run_its_own_built_in_harness():
    from alphalab.manifest import Manifest

    base = {"name": "x", "metrics": [{"name": "rmse", "direction": "min", "primary": True}], "harness": "forecasting",
            "experiment": {"entry_point": "s.py", "required_files": ["s.py"], "time_limit_s": 10,
                           "smoke_command": "{python} -P -m harnesses.forecasting.evaluate --experiment {exp_dir} "
                                            "--mode {mode}",
                           "full_command": "{python} -P -m harnesses.kernels.evaluate --experiment {exp_dir} "
                                           "--mode {mode}"}}
    with pytest.raises(ValueError, match="runs the built-in harness 'kernels'"):
        Manifest.model_validate(base)
