"""The forecasting harness: its own suite (harnesses/forecasting/tests/, installed into workspaces by Phase 2) plus the
checks that need bubblewrap or the GluonTS repository, on a small generated dataset in the GluonTS layout."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from alphalab.workspace import Workspace

from harnesses.forecasting.data import DatasetNotFound, resolve_dataset
from harnesses.forecasting.layout import generate_dataset
from harnesses.forecasting.tests.test_harness import *  # noqa: F401,F403  (the harness's own tests, collected here)
from harnesses.forecasting.tests.test_harness import H, LENGTH, N_SERIES, WINDOWS, _experiment, _run

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


@pytest.fixture(scope="module")
def outside_tmp_dataset():
    # outside /tmp: under bwrap /tmp is private anyway, which would make the hiding tests pass for the wrong reason
    root = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="alphalab-fc-"))
    yield generate_dataset(root / "gen", n_series=N_SERIES, length=LENGTH, prediction_length=H, windows=WINDOWS)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def outside_ws():
    root = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="alphalab-ws-"))
    yield Workspace(root / "ws")
    shutil.rmtree(root, ignore_errors=True)


@needs_bwrap
def test_bwrap_strategy_cannot_open_the_test_targets(outside_tmp_dataset, outside_ws):
    targets = outside_tmp_dataset / "test" / "data.json"
    code = f"""
        import numpy as np
        from harnesses.forecasting.strategy import Strategy as Base
        class Strategy(Base):
            def fit(self, train):
                self.raw = open({str(targets)!r}).read()
            def predict(self, contexts, h):
                return np.zeros((len(contexts), h))
    """
    exp = _experiment(outside_ws, "thief", code)
    status, r = _run(outside_ws, exp, outside_tmp_dataset, sandbox="bwrap")
    assert status == 1 and r.status == "failed"
    assert r.error_signature == "strategy_error:FileNotFoundError" and str(targets) in r.error
    # the same code without the sandbox does read them: the sandbox is what stops it
    exp2 = _experiment(outside_ws, "thief2", code)
    assert _run(outside_ws, exp2, outside_tmp_dataset, sandbox="none")[1].status == "ok"


@needs_bwrap
def test_bwrap_strategy_cannot_see_the_private_cache(outside_tmp_dataset, outside_ws):
    exp = _experiment(outside_ws, "snoop", f"""
        import os
        from harnesses.forecasting.baselines import SeasonalNaive
        class Strategy(SeasonalNaive):
            def fit(self, train):
                found = [f for _, _, fs in os.walk({str(outside_ws.private)!r}) for f in fs]
                assert not found, f"private files visible: {{found}}"
    """)
    _, r = _run(outside_ws, exp, outside_tmp_dataset, sandbox="bwrap")
    assert r.status == "ok", r.error
    assert any(outside_ws.private.rglob("data.npz"))  # the cache exists; the strategy just could not see it


def test_missing_repository_dataset_says_where_and_how(tmp_path, monkeypatch):
    import gluonts.dataset.repository.datasets as repo

    monkeypatch.setattr(repo, "default_dataset_path", tmp_path / "cache")
    with pytest.raises(DatasetNotFound) as e:
        resolve_dataset("traffic")
    assert str(tmp_path / "cache" / "traffic") in e.value.message and "get_dataset('traffic')" in e.value.message
    assert resolve_dataset(generate_dataset(tmp_path / "g", n_series=1, length=100, windows=1)) == tmp_path / "g"
