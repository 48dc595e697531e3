"""Non-hourly data in the time-series domain: the season comes from the dataset's freq (gluonts' get_seasonality), and
the harness's MASE, the seasonal-naive baselines, the Phase 0 fit of the manifest and the demo's comparison line all
follow it; an explicit manifest seasonality wins. Also the monthly dataset builder and its example campaign."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from alphalab.config import CampaignConfig, load_config
from alphalab.experiment_template import TemplateExperiment, render_template_dir
from alphalab.manifest import Manifest
from alphalab.workspace import Workspace
from harnesses.base.errors import EvaluationFailure
from harnesses.forecasting.fit_seasonality import fit_manifest
from harnesses.forecasting.layout import generate_dataset
from harnesses.forecasting.monthly_data import build_monthly_dataset
from harnesses.forecasting.seasonality import UnknownFrequency, dataset_periods, seasonal_periods
from harnesses.forecasting.tests.test_harness import _experiment, _hand_entries, _run

ROOT = Path(__file__).resolve().parents[1]
ADAPTER = ROOT / "adapters" / "time_series"
EXAMPLE = ROOT / "examples" / "time_series_monthly.yaml"
H, SERIES, WINDOWS = 12, 5, 2


@pytest.fixture(scope="module")
def monthly(tmp_path_factory):
    return build_monthly_dataset(tmp_path_factory.mktemp("m") / "monthly", n_series=SERIES, years=6, windows=WINDOWS)


@pytest.fixture(scope="module")
def hourly(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("h") / "hourly", n_series=2, length=24 * 20, windows=2)


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path / "ws")


def _metadata(tmp_path: Path, **fields) -> Path:
    path = tmp_path / "d"
    path.mkdir(exist_ok=True)
    (path / "metadata.json").write_text(json.dumps({"prediction_length": 12, **fields}))
    return path


def _builtin_manifest_text() -> str:
    return (ADAPTER / "manifest.yaml").read_text()


@pytest.mark.parametrize("freq, periods", [
    ("h", (24, 168)),  # a season of one day has the week beside it
    ("D", (1, 7)),  # gluonts gives daily data no season of its own (1); the week is its second
    ("M", (12,)), ("MS", (12,)), ("ME", (12,)),
])
def test_the_periods_come_from_the_metadata_freq_through_gluonts(tmp_path, freq, periods):
    from gluonts.time_feature import get_seasonality

    assert dataset_periods(_metadata(tmp_path, freq=freq)) == periods
    assert periods[0] == get_seasonality(freq)


def test_an_explicit_seasonality_wins_over_the_freq():
    assert seasonal_periods("M", explicit=6) == (6,)
    assert seasonal_periods("h", explicit=24) == (24, 168) and seasonal_periods("h", explicit=168) == (168,)


def test_an_unknown_or_missing_freq_is_named_with_its_file(tmp_path):
    with pytest.raises(UnknownFrequency, match=r"metadata.json: freq 'fortnightly' is not a pandas frequency"):
        dataset_periods(_metadata(tmp_path, freq="fortnightly"))
    (tmp_path / "d" / "metadata.json").write_text('{"prediction_length": 12}')
    with pytest.raises(EvaluationFailure, match=r"metadata.json: freq: Field required"):
        dataset_periods(tmp_path / "d")


def test_the_harness_on_monthly_data_reports_season_12_and_its_mase_uses_lag_12(monthly, ws):
    exp = _experiment(ws, "sn", "from harnesses.forecasting.baselines import SeasonalNaive as Strategy\n")
    code, r = _run(ws, exp, monthly)
    assert code == 0 and r.status == "ok", r.error
    assert r.details["seasonality"] == 12 and r.details["instances"] == SERIES * WINDOWS
    sq, mase, mase_24 = [], [], []
    for entry in _hand_entries(monthly):
        context, target = entry[:-H], entry[-H:]
        forecast = context[-12:]  # seasonal naive(12) with H = 12: the last year, repeated once
        sq.append((forecast - target) ** 2)
        mase.append(np.abs(forecast - target).mean() / np.abs(context[12:] - context[:-12]).mean())
        mase_24.append(np.abs(forecast - target).mean() / np.abs(context[24:] - context[:-24]).mean())
    assert r.metrics["rmse"] == pytest.approx(float(np.sqrt(np.mean(sq))), rel=1e-6)
    assert r.metrics["mase"] == pytest.approx(float(np.mean(mase)), rel=1e-6)
    assert r.metrics["mase"] != pytest.approx(float(np.mean(mase_24)), rel=1e-3)  # the lag is what the test checks


def test_the_templates_seasonal_naive_12_is_the_baseline_at_period_12(monthly, tmp_path):
    manifest = Manifest.model_validate(yaml.safe_load(fit_manifest(_builtin_manifest_text(), monthly).manifest))
    assert "seasonal_naive_12" in manifest.search_space.params[0].choices
    results = []
    for name, write in [("template", None), ("by_hand", "from harnesses.forecasting.baselines import SeasonalNaive\n"
                                                        "class Strategy(SeasonalNaive):\n    period = 12\n")]:
        ws = Workspace(tmp_path / name)
        if write:
            exp = _experiment(ws, name, write)
        else:
            exp = ws.experiment(name)
            render_template_dir(ADAPTER / "template", exp, {"model": "seasonal_naive_12"},
                                TemplateExperiment(id=name, name=name))
        code, r = _run(ws, exp, monthly)
        assert code == 0, r.error
        results.append(r.metrics)
    assert results[0] == results[1]


def test_an_explicit_manifest_seasonality_reaches_the_harness(monthly, ws):
    ws.adapter.mkdir(parents=True)
    text = _builtin_manifest_text().rstrip("\n") + "\nseasonality: 6\n"
    (ws.adapter / "manifest.yaml").write_text(fit_manifest(text, monthly).manifest)
    exp = _experiment(ws, "sn", "from harnesses.forecasting.baselines import SeasonalNaive as Strategy\n")
    code, r = _run(ws, exp, monthly)
    assert code == 0 and r.details["seasonality"] == 6


@pytest.mark.parametrize("data, season, choices", [
    ("monthly", 12, ["seasonal_naive_12"]),
    ("hourly", 24, ["seasonal_naive_24", "seasonal_naive_168"]),
])
def test_phase0s_fit_names_the_seasonal_baselines_for_the_data_and_keeps_the_rest(request, data, season, choices):
    text = _builtin_manifest_text()
    fitted = fit_manifest(text, request.getfixturevalue(data))
    manifest = Manifest.model_validate(yaml.safe_load(fitted.manifest))
    models = manifest.search_space.params[0].choices
    assert manifest.seasonality == season and [m for m in models if str(m).startswith("seasonal_naive")] == choices
    assert models[len(choices):] == ["DLinear", "PatchTST", "DeepAR", "TFT", "TiDE", "iTransformer"]
    changed = set(fitted.manifest.splitlines()) ^ set(text.splitlines())
    assert all("choices: [seasonal_naive" in ln or ln.startswith(("seasonality:", "trivial_baseline:"))
               for ln in changed), changed
    assert f"seasonality {season}" in fitted.reason and ", ".join(choices) in fitted.reason
    baseline = manifest.trivial_baseline
    assert (baseline.label, baseline.params) == (f"seasonal naive ({season})", {"model": f"seasonal_naive_{season}"})


def test_the_fit_command_names_a_bad_freq(tmp_path):
    out = subprocess.run([sys.executable, "-P", "-m", "harnesses.forecasting.fit_seasonality", "--data",
                          str(_metadata(tmp_path, freq="fortnightly")), "--manifest", str(ADAPTER / "manifest.yaml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "freq 'fortnightly' is not a pandas frequency alias" in out.stderr


def test_the_baseline_customizer_fits_the_manifest_to_monthly_data(tmp_path, monthly):
    from alphalab.campaign import Campaign
    from alphalab.roles.base import RoleContext
    from alphalab.roles.customizer import customize

    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump({"name": "m", "domain": "time_series", "data_path": str(monthly),
                                    "objective": "o", "workspace": str(tmp_path / "ws")}))
    env = Campaign.open(path)
    result = customize(RoleContext(env.config, env.workspace))
    manifest = Manifest.model_validate(yaml.safe_load((env.workspace.adapter / "manifest.yaml").read_text()))
    assert manifest.seasonality == 12 and "seasonal_naive_12" in manifest.search_space.params[0].choices
    assert any(c.startswith("phase 0: seasonality 12 (the season of the data's freq 'M')") for c in result.commits)


def test_the_demos_comparison_baseline_follows_the_dataset(monthly, hourly):
    from cli.demo import comparison_season

    builtin = Manifest.model_validate(yaml.safe_load(_builtin_manifest_text()))
    for data, season in [(hourly, 24), (monthly, 12)]:
        cfg = CampaignConfig(name="t", domain="time_series", data_path=data, objective="o")
        assert comparison_season(cfg, builtin) == season
        assert comparison_season(cfg, Manifest.model_validate(yaml.safe_load(fit_manifest(
            _builtin_manifest_text(), data).manifest))) == season


def test_the_pedestrian_demo_still_compares_with_seasonal_naive_24(tmp_path):
    pytest.importorskip("tsdata")
    from cli.demo import comparison_season
    from harnesses.forecasting.demo_data import build_demo_dataset

    data = build_demo_dataset(tmp_path / "ped")
    config = CampaignConfig(name="t", domain="time_series", data_path=data, objective="o")
    fitted = Manifest.model_validate(yaml.safe_load(fit_manifest(_builtin_manifest_text(), data).manifest))
    assert comparison_season(config, fitted) == 24 and dataset_periods(data) == (24, 168)
    # the demo's search space is the one it always had, so its seeded TPE proposals are too
    assert fitted.search_space == Manifest.model_validate(yaml.safe_load(_builtin_manifest_text())).search_space


def test_the_monthly_builder_is_deterministic_from_its_seed(tmp_path):
    a, b, c = (build_monthly_dataset(tmp_path / n, seed=s, n_series=20) for n, s in [("a", 0), ("b", 0), ("c", 1)])
    files = ["metadata.json", "train/data.json", "test/data.json"]
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert (a / "train/data.json").read_bytes() != (c / "train/data.json").read_bytes()
    meta = json.loads((a / "metadata.json").read_text())
    test = (a / "test/data.json").read_text().splitlines()
    assert (meta["freq"], meta["prediction_length"], len(test)) == ("M", 12, 20 * 3)


def test_the_monthly_example_campaign_validates_and_asserts_the_builders_instance_count(tmp_path):
    from harnesses.forecasting import monthly_data

    raw = yaml.safe_load(EXAMPLE.read_text())
    # the builder's default output folder, relative to the example (examples/data/ is not committed)
    assert raw["data_path"] == "data/monthly"
    (tmp_path / "data" / "monthly").mkdir(parents=True)
    shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name)
    config = load_config(tmp_path / EXAMPLE.name)
    assert config.domain == "time_series" and config.models.default.provider == "baseline"
    assert config.domain_options["expected_instances"] == monthly_data.SERIES * monthly_data.WINDOWS
