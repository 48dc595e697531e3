"""Bad inputs stop `alphalab run` before anything runs (issue 16): each one exits 2 with a message naming the file and
the field or line, before Prefect starts and before the workspace is created; good inputs pass."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import pytest

from alphalab.config import load_config
from alphalab.input_checks import check_inputs
from cli.main import main
from cli.run import data_checks
from harnesses.forecasting.dataset_check import check_dataset
from harnesses.forecasting.layout import generate_dataset
from harnesses.kernels.problem import BUILTIN_PROBLEMS, check_problems

ROOT = Path(__file__).resolve().parents[1]
GOOD_PROBLEM = (BUILTIN_PROBLEMS / "relu.py").read_text()
H = 3


def series(item_id: str, n: int, **fields) -> dict:
    return {"start": "2020-01-01 00:00:00", "target": [float(i % 5) for i in range(n)], "item_id": item_id, **fields}


def dataset(root: Path, *, meta: dict | None = None, train: list | None = None, test: list | None = None) -> Path:
    """A small dataset in the GluonTS layout: two series of 20 hours, two test windows of H each."""
    meta = {"freq": "h", "prediction_length": H} if meta is None else meta
    train = [series("a", 14), series("b", 14)] if train is None else train
    test = [series("a", 17), series("b", 17), series("a", 20), series("b", 20)] if test is None else test
    for split, entries in (("train", train), ("test", test)):
        (root / split).mkdir(parents=True)
        (root / split / "data.json").write_text("".join(json.dumps(e) + "\n" for e in entries))
    (root / "metadata.json").write_text(json.dumps(meta))
    return root


def config(tmp_path: Path, data: Path, domain: str = "time_series", extra: str = "") -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(f"name: c\ndomain: {domain}\ndata_path: {data}\nobjective: o\nworkspace: {tmp_path / 'ws'}\n"
                    + extra)
    return path


@pytest.fixture
def no_prefect(monkeypatch):
    """Stands in for the campaign flow: a check that let a bad input through would start it."""
    started = []
    fake = types.ModuleType("flows.campaign")
    fake.campaign = lambda **kw: started.append(kw)
    monkeypatch.setitem(sys.modules, "flows.campaign", fake)
    return started


def run_fails(tmp_path, capsys, no_prefect, cfg: Path, *expected: str) -> str:
    assert main(["run", str(cfg)]) == 2
    out = capsys.readouterr()
    for text in expected:
        assert text in out.err, out.err
    assert not no_prefect and "starting the campaign" not in out.out
    assert not (tmp_path / "ws").exists()
    return out.err


def test_an_empty_test_file_stops_the_run(tmp_path, capsys, no_prefect):
    data = dataset(tmp_path / "data", test=[])
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data), f"{data / 'test'}: no series")


def test_an_entry_whose_freq_contradicts_the_metadata_stops_the_run(tmp_path, capsys, no_prefect):
    data = dataset(tmp_path / "data", train=[series("a", 14, freq="D"), series("b", 14)])
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data),
              f"{data / 'train' / 'data.json'} line 1: series 'a' has freq 'D', metadata.json has 'h'")


def test_an_entry_with_the_metadata_freq_in_another_spelling_passes(tmp_path):
    assert check_dataset(dataset(tmp_path / "data", train=[series("a", 14, freq="1h"), series("b", 14)])) == []


def test_a_nan_only_series_stops_the_run(tmp_path, capsys, no_prefect):
    data = dataset(tmp_path / "data", train=[series("a", 14), {**series("b", 14), "target": [None] * 14}])
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data),
              f"{data / 'train' / 'data.json'} line 2: series 'b': 'target' is empty or all NaN")


def test_a_series_without_start_stops_the_run(tmp_path, capsys, no_prefect):
    entries = [series("a", 17), series("b", 17), series("x", 20), series("b", 20)]
    del entries[2]["start"]
    data = dataset(tmp_path / "data", test=entries)
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data),
              f"{data / 'test' / 'data.json'} line 3: series 'x' has no 'start'")


@pytest.mark.parametrize("meta, field, message", [
    ({"freq": "fortnightly", "prediction_length": H}, "freq", "'fortnightly' is not a pandas frequency"),
    ({"freq": "h"}, "prediction_length", "Field required"),
    ({"freq": "h", "prediction_length": 0}, "prediction_length", "Input should be greater than 0"),
])
def test_bad_metadata_stops_the_run(tmp_path, capsys, no_prefect, meta, field, message):
    data = dataset(tmp_path / "data", meta=meta)
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data),
              f"{data / 'metadata.json'}: field `{field}`: {message}")


def test_a_test_entry_too_short_for_its_window_stops_the_run(tmp_path, capsys, no_prefect):
    data = dataset(tmp_path / "data", test=[series("a", H), series("b", 17)])
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, data),
              f"{data / 'test' / 'data.json'} line 1: series 'a': 'target' has {H} values, a test entry needs more "
              f"than prediction_length={H}")


def test_a_folder_that_is_not_a_dataset_stops_the_run(tmp_path, capsys, no_prefect):
    (tmp_path / "data").mkdir()
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, tmp_path / "data"),
              f"{tmp_path / 'data'}: not a GluonTS dataset folder")


def test_every_problem_is_reported_not_just_the_first(tmp_path, capsys, no_prefect):
    bad = [{"target": [1.0] * 20, "item_id": "x"}, {**series("y", 20), "target": []}, "oops"]
    data = dataset(tmp_path / "data", test=bad)
    (data / "train" / "data.json").write_text("")
    (tmp_path / "blocker").write_text("")
    cfg = config(tmp_path, data)
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "ws"), str(tmp_path / "blocker" / "ws")))
    test_file = data / "test" / "data.json"
    err = run_fails(tmp_path, capsys, no_prefect, cfg,
                    f"{test_file} line 1: series 'x' has no 'start'",
                    f"{test_file} line 2: series 'y': 'target' is empty or all NaN",
                    f"{test_file} line 3: is not a JSON object", f"{data / 'train'}: no series",
                    f"{tmp_path / 'blocker' / 'ws'}: cannot use it as the workspace")
    assert "5 problem(s)" in err


def test_a_problem_with_a_syntax_error_stops_the_run(tmp_path, capsys, no_prefect):
    problems = tmp_path / "problems"
    problems.mkdir()
    (problems / "relu.py").write_text(GOOD_PROBLEM)
    (problems / "broken.py").write_text("import torch\n\nclass Model(:\n    pass\n")
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, problems, "cuda_kernel"),
              f"{problems / 'broken.py'} line 3: does not compile:")


def test_a_problem_without_model_stops_the_run(tmp_path, capsys, no_prefect):
    problems = tmp_path / "problems"
    (problems / "level1").mkdir(parents=True)
    (problems / "level1" / "gelu.py").write_text(GOOD_PROBLEM.replace("class Model(", "class Reference("))
    run_fails(tmp_path, capsys, no_prefect, config(tmp_path, problems, "cuda_kernel"),
              f"{problems / 'level1' / 'gelu.py'}: not a KernelBench-format problem: defines no `Model` at module "
              "level")


def test_a_workspace_under_a_file_stops_the_run(tmp_path, capsys, no_prefect):
    (tmp_path / "blocker").write_text("")
    cfg = config(tmp_path, dataset(tmp_path / "data"))
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "ws"), str(tmp_path / "blocker" / "ws")))
    run_fails(tmp_path, capsys, no_prefect, cfg,
              f"{tmp_path / 'blocker' / 'ws'}: cannot use it as the workspace: its parent {tmp_path / 'blocker'} "
              "is not a folder")
    assert (tmp_path / "blocker").read_text() == ""


def test_a_read_only_workspace_location_stops_the_run(tmp_path, capsys, no_prefect, monkeypatch):
    parent = tmp_path / "ro"
    parent.mkdir()
    os.chmod(parent, 0o555)
    if os.access(parent, os.W_OK):  # root writes anyway: the check asks os.access, so ask it as a user would
        access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != parent and access(p, mode, **kw))
    cfg = config(tmp_path, dataset(tmp_path / "data"))
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "ws"), str(parent / "ws")))
    try:
        run_fails(tmp_path, capsys, no_prefect, cfg, f"its parent {parent} is not writable")
    finally:
        os.chmod(parent, 0o755)


def test_a_free_text_domain_without_a_generator_model_stops_the_run(tmp_path, capsys, no_prefect):
    cfg = config(tmp_path, dataset(tmp_path / "data"), domain="churn prediction for a telco")
    run_fails(tmp_path, capsys, no_prefect, cfg,
              f"{cfg}: field `models`: domain 'churn prediction for a telco' is not a built-in adapter",
              "set `models.roles.generator` or `models.default`")


def passes(cfg: Path, workspace: Path) -> None:
    check_inputs(cfg, load_config(cfg), workspace, data_checks())


def test_a_free_text_domain_passes_with_a_generator_model_or_an_adapter_to_resume(tmp_path):
    data = dataset(tmp_path / "data")
    models = "models:\n  roles:\n    generator: {provider: openai, model: gpt-5.2}\n"
    passes(config(tmp_path, data, "churn prediction", models), tmp_path / "ws")
    (tmp_path / "ws" / "adapter").mkdir(parents=True)
    (tmp_path / "ws" / "adapter" / "manifest.yaml").write_text("name: churn\n")
    passes(config(tmp_path, data, "churn prediction"), tmp_path / "ws")


def test_the_shipped_datasets_pass(tmp_path):
    # what `alphalab demo` and examples/build_monthly_dataset.py write (the repo ships their builders, not the data)
    from harnesses.forecasting.demo_data import build_demo_dataset
    from harnesses.forecasting.monthly_data import build_monthly_dataset

    assert check_dataset(build_demo_dataset(tmp_path / "pedestrian")) == []
    assert check_dataset(build_monthly_dataset(tmp_path / "monthly")) == []


def test_generated_datasets_and_the_builtin_problems_pass(tmp_path):
    assert check_dataset(generate_dataset(tmp_path / "d", n_series=3, length=200, windows=2)) == []
    assert check_problems(BUILTIN_PROBLEMS) == []
    assert check_problems(tmp_path / "d" / "metadata.json") == []  # not a folder of problems: the built-in set


def test_a_good_campaign_passes_the_checks_in_an_existing_workspace(tmp_path):
    (tmp_path / "ws").mkdir()
    passes(config(tmp_path, dataset(tmp_path / "data")), tmp_path / "ws")


def test_a_problem_set_with_a_star_import_is_not_rejected(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mm.py").write_text("from reference_ops import *\n")
    assert check_problems(tmp_path / "p") == []
