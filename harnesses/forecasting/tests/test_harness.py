"""The trusted forecasting harness's own tests, on a small generated dataset in the GluonTS layout.

Phase 2 installs them into a workspace's harness/tests/; the project's suite runs them too (tests/test_forecasting.py).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from alphalab.results import RunResult, read_result
from alphalab.workspace import Workspace
from harnesses.forecasting import evaluate as ev
from harnesses.forecasting.data import load_dataset
from harnesses.forecasting.layout import RawSeries, generate_dataset, write_gluonts_dataset

H, WINDOWS, N_SERIES, LENGTH = 24, 3, 5, 24 * 20


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("data") / "gen", n_series=N_SERIES, length=LENGTH,
                            prediction_length=H, windows=WINDOWS)


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path / "ws")


def _experiment(ws: Workspace, name: str, code: str) -> Path:
    exp = ws.experiment(name)
    exp.mkdir(parents=True)
    (exp / "strategy.py").write_text(textwrap.dedent(code))
    return exp


def _run(ws, exp, data, mode="full", sandbox="none", seed=0) -> tuple[int, RunResult]:
    code = ev.main(["--experiment", str(exp), "--workspace", str(ws.root), "--data", str(data), "--mode", mode,
                    "--sandbox", sandbox, "--seed", str(seed)])
    return code, read_result(ws, exp, mode)


def _hand_entries(data: Path) -> list[np.ndarray]:
    """The test entries read with the json module only, independent of the harness's loading code."""
    lines = (data / "test" / "data.json").read_text().splitlines()
    return [np.asarray(json.loads(ln)["target"], dtype=np.float64) for ln in lines]


@pytest.mark.parametrize("season", [24, 168])
def test_seasonal_naive_rmse_equals_hand_computation(dataset, ws, season):
    base = "SeasonalNaive" if season == 24 else "SeasonalNaive168"
    exp = _experiment(ws, f"sn{season}", f"from harnesses.forecasting.baselines import {base} as Strategy\n")
    code, r = _run(ws, exp, dataset)
    assert code == 0 and r.status == "ok", r.error
    sq, ab, mase = [], [], []
    for entry in _hand_entries(dataset):
        context, target = entry[:-H], entry[-H:]
        forecast = context[len(context) - season: len(context) - season + H]
        sq.append((forecast - target) ** 2)
        ab.append(np.abs(forecast - target))
        mase.append(ab[-1].mean() / np.abs(context[24:] - context[:-24]).mean())
    assert r.metrics["rmse"] == pytest.approx(float(np.sqrt(np.mean(sq))), rel=1e-6)
    assert r.metrics["mae"] == pytest.approx(float(np.mean(ab)), rel=1e-6)
    assert r.metrics["mase"] == pytest.approx(float(np.mean(mase)), rel=1e-6)
    assert r.details["per_horizon_rmse"] == pytest.approx(list(np.sqrt(np.mean(sq, axis=0))), rel=1e-6)
    assert r.details["instances"] == N_SERIES * WINDOWS and r.eval_mode == "full"
    assert r.details["seasonality"] == 24  # hourly data: the season of freq "h", which MASE's lag above uses


def test_smoke_mode_evaluates_one_window(dataset, ws):
    exp = _experiment(ws, "sm", "from harnesses.forecasting.baselines import Naive as Strategy\n")
    code, r = _run(ws, exp, dataset, mode="smoke")
    assert code == 0 and r.eval_mode == "smoke"
    assert (r.details["instances"], r.details["windows"]) == (N_SERIES, 1)


_BAD = """
import numpy as np
from harnesses.forecasting.strategy import Strategy as Base
class Strategy(Base):
    def predict(self, contexts, h):
        out = np.zeros((len(contexts), h))
        {line}
        return out
"""


@pytest.mark.parametrize("line, signature, words", [
    ("out = out[:, :-1]", "prediction_shape", "shape (5, 23), expected (5, 24)"),
    ("out[1, 3] = np.nan", "prediction_nonfinite", "1 predictions are NaN"),
    ("out[0, 0] = np.inf", "prediction_nonfinite", "1 predictions are inf"),
])
def test_bad_predictions_fail_with_a_clear_message(dataset, ws, line, signature, words):
    exp = _experiment(ws, signature, _BAD.format(line=line))
    code, r = _run(ws, exp, dataset)
    assert code == 1 and r.status == "failed" and r.error_signature == signature
    assert words in r.error
    assert not (exp / ev.IO_DIR).exists()


def test_experiment_written_metrics_do_not_reach_the_result(dataset, ws):
    forged = RunResult(status="ok", eval_mode="full", metrics={"rmse": 0.0, "mae": 0.0, "mase": 0.0})
    exp = _experiment(ws, "forger", f"""
        from pathlib import Path
        from harnesses.forecasting.baselines import SeasonalNaive
        FORGED = {forged.model_dump_json()!r}
        Path("metrics.json").write_text(FORGED)
        class Strategy(SeasonalNaive):
            def predict(self, contexts, h):
                Path("metrics.json").write_text(FORGED)
                return super().predict(contexts, h)
    """)
    honest = _experiment(ws, "honest", "from harnesses.forecasting.baselines import SeasonalNaive as Strategy\n")
    (exp / "metrics.json").write_text(forged.model_dump_json())
    _, r = _run(ws, exp, dataset)
    _, ref = _run(ws, honest, dataset)
    assert r.status == "ok" and r.metrics["rmse"] > 0
    assert r.metrics == ref.metrics


def test_future_windows_are_revealed_only_after_forecasts(dataset, ws):
    # a strategy that looks for the next window's file while forecasting this one, and returns NaN if it finds it
    exp = _experiment(ws, "peek", """
        import numpy as np
        from pathlib import Path
        from harnesses.forecasting.baselines import SeasonalNaive
        class Strategy(SeasonalNaive):
            calls = 0
            def predict(self, contexts, h):
                ahead = Path("_io") / f"round_{self.calls + 1}.npz"
                lengths = {len(c.values) for c in contexts}
                self.calls += 1
                out = super().predict(contexts, h)
                return out * np.nan if ahead.exists() or len(lengths) != 1 else out
    """)
    code, r = _run(ws, exp, dataset)
    assert code == 0, r.error
    assert r.details["windows"] == WINDOWS


def test_strategy_crash_is_reported_with_its_exception(dataset, ws):
    exp = _experiment(ws, "crash", """
        from harnesses.forecasting.strategy import Strategy as Base
        class Strategy(Base):
            def fit(self, train):
                raise ValueError("bad hyperparameter")
    """)
    code, r = _run(ws, exp, dataset)
    assert r.status == "failed" and r.error_signature == "strategy_error:ValueError"
    assert "bad hyperparameter" in r.error


def test_instance_count_is_checked_against_the_campaign(dataset, ws):
    exp = _experiment(ws, "count", "from harnesses.forecasting.baselines import Naive as Strategy\n")
    # the campaign's domain_options reach the harness as --options
    code = ev.main(["--experiment", str(exp), "--workspace", str(ws.root), "--data", str(dataset),
                    "--options", '{"expected_instances": 6034}'])
    r = read_result(ws, exp, "full")
    assert code == 1 and r.error_signature == "instance_count"
    assert f"evaluated {N_SERIES * WINDOWS} instances, expected 6034 (the campaign's expected_instances)" in r.error


def test_training_data_reaching_into_a_target_window_is_rejected(tmp_path):
    path = write_gluonts_dataset(tmp_path / "d", [RawSeries("a", "2020-01-01 00:00", np.arange(200.0))],
                                 freq="h", prediction_length=24, windows=2)
    train = json.loads((path / "train" / "data.json").read_text())
    train["target"] = list(np.arange(170.0))  # 18 steps into the first target window (starts at 152)
    (path / "train" / "data.json").write_text(json.dumps(train) + "\n")
    with pytest.raises(Exception, match="reaches into the target window"):
        load_dataset(path)


def test_metrics_by_hand_with_a_missing_target_and_a_flat_context():
    from harnesses.forecasting.metrics import compute_metrics, seasonal_scale

    y = np.array([[1.0, 2.0, np.nan], [0.0, 0.0, 3.0]])
    p = np.array([[2.0, 2.0, 5.0], [1.0, -1.0, 3.0]])
    scales = np.array([seasonal_scale(np.array([1.0, 3.0, 1.0, 3.0]), 1), seasonal_scale(np.ones(5), 2)])
    m = compute_metrics(y, p, scales)
    assert scales.tolist() == [2.0, 0.0]
    assert m.rmse == pytest.approx(np.sqrt((1 + 0 + 1 + 1 + 0) / 5))  # the NaN target is left out
    assert m.mae == pytest.approx(3 / 5)
    assert (m.mase, m.mase_instances) == (pytest.approx(0.5 / 2.0), 1)  # the flat context has no MASE scale
    assert m.per_horizon_rmse == pytest.approx([1.0, np.sqrt(0.5), 0.0])


def test_predictions_written_as_a_symlink_are_refused(dataset, ws):
    # under bwrap the strategy cannot read .private/, but it could ask the harness to read a path for it
    exp = _experiment(ws, "link", """
        import os
        import numpy as np
        from pathlib import Path
        from harnesses.forecasting.strategy import Strategy as Base
        class Strategy(Base):
            def predict(self, contexts, h):
                np.save("decoy.npy", np.zeros((len(contexts), h)))
                os.symlink(Path("decoy.npy").resolve(), Path("_io") / "pred_0.npy")
                raise SystemExit(0)
    """)
    code, r = _run(ws, exp, dataset)
    assert code == 1 and r.error_signature == "prediction_unreadable" and "symlink" in r.error
