"""The shared harness base: result recording, experiment process isolation, the common CLI and what the campaign
passes it, the noise floor, templates."""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from alphalab.config import CampaignConfig
from alphalab.errors import AlphalabError
from alphalab.execution import harness_command
from alphalab.harness_inputs import HarnessInputs
from alphalab.manifest import Manifest
from alphalab.noise_floor import NoiseFloor
from alphalab.results import RunResult, read_result
from alphalab.sandbox import SandboxConfig
from alphalab.workspace import Workspace
from alphalab.experiment_template import TemplateExperiment, render_template_dir
from harnesses.base import (
    EvaluationFailure, clear_result, fail, harness_main, parse_harness_args, record, run_experiment_process,
)

REPO = Path(__file__).resolve().parents[1]

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


@pytest.fixture
def outside_tmp():
    """A folder outside /tmp: bwrap gives the sandbox a private /tmp, so hiding must be tested elsewhere."""
    path = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="alphalab-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _ok(mode="full", rmse=1.5) -> RunResult:
    return RunResult(status="ok", eval_mode=mode, metrics={"rmse": rmse}, harness="t")


def _exp(tmp_path) -> tuple[Workspace, Path]:
    ws = Workspace(tmp_path / "ws")
    exp = ws.experiment("e1")
    exp.mkdir(parents=True)
    return ws, exp


def test_record_writes_outside_the_experiment_folder_and_replaces_a_forged_result(tmp_path):
    ws, exp = _exp(tmp_path)
    path = ws.result_file(exp, "full")
    assert not path.is_relative_to(exp) and path.is_relative_to(ws.private)
    path.parent.mkdir(parents=True)
    path.write_text(_ok(rmse=0.0).model_dump_json())
    (exp / "metrics.json").write_text(_ok(rmse=0.0).model_dump_json())  # what an experiment could write
    record(ws, exp, _ok(rmse=2.5))
    assert read_result(ws, exp, "full").metrics == {"rmse": 2.5}
    assert ws.result_file(exp, "smoke") != path and ws.result_file(ws.experiment("e2"), "full") != path


def test_clear_result_removes_a_planted_directory_and_symlink(tmp_path):
    ws, exp = _exp(tmp_path)
    path = ws.result_file(exp, "full")
    path.mkdir(parents=True)
    clear_result(ws, exp, "full")
    assert not path.exists()
    target = tmp_path / "elsewhere.json"
    target.write_text(_ok().model_dump_json())
    path.symlink_to(target)
    assert read_result(ws, exp, "full") is None  # a link is never read as a result
    clear_result(ws, exp, "full")
    assert not path.exists() and target.exists()


def test_fail_records_mode_error_and_signature(tmp_path):
    ws, exp = _exp(tmp_path)
    fail(ws, exp, "smoke", "predictions have shape (2, 3)", "prediction_shape", seed=4)
    r = read_result(ws, exp, "smoke")
    assert (r.status, r.eval_mode, r.error_signature, r.seed) == ("failed", "smoke", "prediction_shape", 4)
    assert "shape (2, 3)" in r.error


def test_experiment_process_runs_in_exp_dir_and_logs(tmp_path):
    ws = Workspace(tmp_path / "ws")
    exp = ws.experiment("e1")
    exp.mkdir(parents=True)
    (exp / "run.log").write_text("=== full run, attempt 1 ===\n")
    res = run_experiment_process([sys.executable, "-c", "import os; print('cwd', os.getcwd())"], exp_dir=exp,
                                 workspace=ws, timeout_s=30, sandbox=None)
    assert res.returncode == 0 and f"cwd {exp}" in res.output
    assert (exp / "run.log").read_text() == f"=== full run, attempt 1 ===\ncwd {exp}\n"


@needs_bwrap
def test_bwrap_experiment_sees_inputs_but_not_private_or_hidden(outside_tmp):
    ws = Workspace(outside_tmp / "ws")
    exp = ws.experiment("e1")
    exp.mkdir(parents=True)
    ws.private.mkdir(parents=True)
    (ws.private / "targets.txt").write_text("secret")
    inputs = outside_tmp / "inputs"
    inputs.mkdir()
    (inputs / "x.txt").write_text("visible")
    hidden = outside_tmp / "dataset"
    hidden.mkdir()
    (hidden / "test.json").write_text("secret")
    code = (
        "import pathlib, sys\n"
        f"print('input', pathlib.Path({str(inputs / 'x.txt')!r}).read_text())\n"
        f"for p in ({str(ws.private / 'targets.txt')!r}, {str(hidden / 'test.json')!r}):\n"
        "    print(p, 'exists' if pathlib.Path(p).exists() else 'missing')\n"
        "pathlib.Path('out.txt').write_text('ok')\n"
        f"try:\n    pathlib.Path({str(inputs / 'w.txt')!r}).write_text('x')\nexcept OSError as e:\n"
        "    print('readonly', type(e).__name__)\n"
    )
    res = run_experiment_process([sys.executable, "-c", code], exp_dir=exp, workspace=ws, timeout_s=60,
                                 sandbox=SandboxConfig(mode="bwrap"), inputs=[inputs], hidden=[hidden])
    assert res.returncode == 0, res.output
    assert "input visible" in res.output and "readonly" in res.output
    assert f"{ws.private / 'targets.txt'} missing" in res.output
    assert f"{hidden / 'test.json'} missing" in res.output
    assert (exp / "out.txt").read_text() == "ok" and not (inputs / "w.txt").exists()


def test_cli_takes_everything_the_campaign_decides_as_arguments(tmp_path):
    ws, exp = _exp(tmp_path)
    # a campaign config in the workspace is never read: only the arguments count
    ws.config_copy.write_text("sandbox: {mode: bwrap}\ndomain_options: {epochs: 99}\n")
    args = parse_harness_args(["--experiment", str(exp), "--workspace", str(ws.root), "--data", str(tmp_path),
                               "--mode", "smoke"], "d")
    # left out, each means what a campaign with defaults would mean
    assert (args.data, args.mode, args.seed, args.sandbox, args.time_limit_s, args.options, args.campaign_seed) == (
        tmp_path.resolve(), "smoke", 0, SandboxConfig(), None, {}, 0)
    args = parse_harness_args(["--experiment", str(exp), "--workspace", str(ws.root), "--data", str(tmp_path),
                               "--seed", "7", "--sandbox", "none", "--network", "on", "--time-limit", "12.5",
                               "--options", '{"epochs": 3, "model": "x"}', "--campaign-seed", "5"], "d")
    assert (args.seed, args.sandbox, args.time_limit_s, args.options, args.campaign_seed) == (
        7, SandboxConfig(mode="none", allow_network=True), 12.5, {"epochs": 3, "model": "x"}, 5)


def test_cli_without_a_dataset_is_a_usage_error_naming_data(tmp_path, capsys):
    ws, exp = _exp(tmp_path)
    with pytest.raises(AlphalabError, match="--data is required"):
        parse_harness_args(["--experiment", str(exp), "--workspace", str(ws.root)], "d")
    assert harness_main(lambda args: _ok(), ["--experiment", str(exp), "--workspace", str(ws.root)],
                        name="t", description="d") == 2
    assert "--data is required" in capsys.readouterr().out


@pytest.mark.parametrize("options", ["[1, 2]", '{"a": [1]}', "not json"])
def test_cli_refuses_options_that_are_not_a_flat_json_object(tmp_path, options):
    ws, exp = _exp(tmp_path)
    with pytest.raises(AlphalabError, match="--options"):
        parse_harness_args(["--experiment", str(exp), "--workspace", str(ws.root), "--data", str(tmp_path),
                            "--options", options], "d")


@pytest.mark.parametrize("adapter", ["time_series", "llm_speedrun", "cuda_kernel"])
def test_a_built_in_manifest_command_hands_the_harness_the_campaigns_values(tmp_path, adapter):
    manifest = Manifest.model_validate(yaml.safe_load((REPO / "adapters" / adapter / "manifest.yaml").read_text()))
    config = CampaignConfig(name="c", domain=adapter, data_path=tmp_path, objective="o", seed=11,
                            sandbox={"mode": "none", "allow_network": True}, execution={"experiment_timeout_s": 77},
                            domain_options={"threads_per_experiment": 2, "note": "a b'c"})
    ws, exp = _exp(tmp_path)
    inputs = HarnessInputs.of(config, manifest)
    for mode, limit in (("full", 77.0), ("smoke", manifest.experiment.smoke_time_limit_s)):
        template = getattr(manifest.experiment, f"{mode}_command")
        argv = shlex.split(harness_command(template, inputs, ws, exp, mode, 3))
        assert argv[:4] == [sys.executable, "-P", "-m", f"harnesses.{manifest.harness}.evaluate"]
        args = parse_harness_args(argv[4:], "d")
        assert (args.experiment, args.mode, args.seed, args.sandbox) == (exp, mode, 3, config.sandbox)
        # what each harness reads reaches it; what it does not read is not passed
        used = {"time_series": {"--data", "--time-limit", "--options"}, "llm_speedrun": {"--data", "--options",
                "--campaign-seed"}, "cuda_kernel": {"--data", "--options"}}[adapter]  # a problem set, protocols
        assert {"--data", "--time-limit", "--options", "--campaign-seed"} & set(argv) == used
        assert args.data == tmp_path.resolve()
        assert args.time_limit_s == (limit if "--time-limit" in used else None)
        assert args.options == (config.domain_options if "--options" in used else {})
        assert args.campaign_seed == (11 if "--campaign-seed" in used else 0)


def test_a_command_that_would_drop_a_strict_sandbox_is_refused(tmp_path):
    """A manifest written before the harness took the sandbox as an argument: under a campaign that asks for more
    than the harness's defaults, running it would silently run with less, so the campaign refuses it by name."""
    from alphalab.campaign import Campaign
    from alphalab.errors import AdapterError

    path = REPO / "adapters" / "time_series" / "manifest.yaml"
    manifest = Manifest.model_validate(yaml.safe_load(path.read_text()))
    old = manifest.experiment.full_command.replace(" --sandbox {sandbox} --network {network}", "")
    config = CampaignConfig(name="c", domain="time_series", data_path=tmp_path, objective="o")
    assert HarnessInputs.of(config, manifest).missing_from(old) == []  # the defaults: nothing is lost
    strict = config.model_copy(update={"sandbox": SandboxConfig(mode="bwrap", allow_network=True)})
    inputs = HarnessInputs.of(strict, manifest)
    assert inputs.missing_from(old) == ["sandbox", "network"]
    assert inputs.missing_from(manifest.experiment.full_command) == []

    ws, exp = _exp(tmp_path)
    campaign = Campaign(strict, ws)
    campaign.__dict__["harness_inputs"] = inputs  # the adapter is not installed in this workspace
    from alphalab.board_rows import Experiment

    row = Experiment(id=exp.name, seq=1, name="x", state="queued", created_at=0, updated_at=0)
    with pytest.raises(AdapterError, match=r"full_command does not pass \{sandbox\}, \{network\}"):
        campaign.command(old, row, "full")
    assert "--sandbox bwrap" in campaign.command(manifest.experiment.full_command, row, "full")


def test_harness_main_records_failures_and_harness_bugs(tmp_path):
    ws, exp = _exp(tmp_path)
    argv = ["--experiment", str(exp), "--workspace", str(ws.root), "--data", str(tmp_path), "--mode", "smoke"]

    def clean_failure(args):
        raise EvaluationFailure("prediction_nonfinite", "3 predictions are NaN")

    def bug(args):
        raise KeyError("oops")

    assert harness_main(clean_failure, argv, name="t", description="d") == 1
    r = read_result(ws, exp, "smoke")
    assert (r.status, r.eval_mode, r.error_signature, r.error) == ("failed", "smoke", "prediction_nonfinite",
                                                                    "3 predictions are NaN")
    assert harness_main(bug, argv, name="t", description="d") == 1
    assert read_result(ws, exp, "smoke").error_signature == "harness_error:KeyError"
    def good(args):
        record(args.workspace, args.experiment, _ok("smoke"))
        return _ok("smoke")

    assert harness_main(good, argv, name="t", description="d") == 0


def test_noise_floor_spread_and_failed_seed(tmp_path):
    floor = NoiseFloor.from_results("rmse", [0, 1, 2], [_ok(rmse=v) for v in (1.0, 1.3, 1.1)])
    assert floor.spread == pytest.approx(0.3) and floor.mean == pytest.approx(1.1333333)
    ws = Workspace(tmp_path)
    floor.write(ws)
    assert NoiseFloor.read(ws) == floor
    failed = RunResult(status="failed", eval_mode="full", error="boom")
    with pytest.raises(ValueError, match="seed 1: boom"):
        NoiseFloor.from_results("rmse", [0, 1], [_ok(), failed])


def test_render_template_dir_is_strict(tmp_path):
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "strategy.py.j2").write_text("# {{ experiment.id }} seed {{ experiment.seed }}\nLR = {{ params.lr }}\n")
    (tpl / "helper.py").write_text("X = '{{ not rendered }}'\n")
    exp = tmp_path / "exp"
    render_template_dir(tpl, exp, {"lr": 0.01}, TemplateExperiment(id="e7", name="n", seed=3))
    assert (exp / "strategy.py").read_text() == "# e7 seed 3\nLR = 0.01\n"
    assert "{{ not rendered }}" in (exp / "helper.py").read_text()
    with pytest.raises(Exception, match="lr"):
        render_template_dir(tpl, tmp_path / "exp2", {}, TemplateExperiment(id="e8", name="n"))
