"""The file exchange between the harness and the Strategy process, one rolling window at a time.

The harness writes `settings.json` and `train.npz`, then round 0's contexts. For each round r the Strategy writes
`pred_r.npy`; only after reading it does the harness reveal round r+1, whose contexts contain round r's targets.
So the Strategy never holds a target before it has committed the forecast for it: walk-forward evaluation with
the future out of reach, even for code that reads every file it can see.

A round reveals per series only the values it has not seen yet (`values[s][known:cutoff]`), so a traffic-sized run
moves each value once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from harnesses.base.errors import EvaluationFailure
from harnesses.forecasting.data import ForecastData
from harnesses.forecasting.ragged import pack, unpack
from harnesses.forecasting.strategy import RunSettings, Series

SETTINGS = "settings.json"
TRAIN = "train.npz"
_POLL_S = 0.005


def _round_file(io_dir: Path, r: int) -> Path:
    return io_dir / f"round_{r}.npz"


def _pred_file(io_dir: Path, r: int) -> Path:
    return io_dir / f"pred_{r}.npy"


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def plan_rounds(data: ForecastData, instances: np.ndarray) -> list[np.ndarray]:
    """Group the selected instances by window rank: round r holds every series' r-th selected window."""
    order = np.lexsort((data.inst_cutoff[instances], data.inst_series[instances]))
    rounds: list[list[int]] = []
    last_series, rank = -1, 0
    for i in instances[order]:
        s = data.inst_series[i]
        rank = rank + 1 if s == last_series else 0
        last_series = s
        while len(rounds) <= rank:
            rounds.append([])
        rounds[rank].append(int(i))
    return [np.asarray(r, dtype=np.int64) for r in rounds]


class HarnessChannel:
    """The harness side. Holds the targets; reveals contexts round by round."""

    def __init__(self, io_dir: Path, data: ForecastData, series: np.ndarray, settings: RunSettings, n_rounds: int):
        self.io_dir, self.data, self.series = io_dir, data, series
        self.known = {int(s): int(data.train_len[s]) for s in series}
        io_dir.mkdir(parents=True, exist_ok=True)
        (io_dir / SETTINGS).write_text(json.dumps({
            "settings": settings.model_dump(), "rounds": n_rounds, "series": [int(s) for s in series],
            "item_ids": [data.item_ids[s] for s in series], "starts": [data.starts[s] for s in series],
        }))
        flat, offsets = pack([data.train(s) for s in series])
        _atomic_savez(io_dir / TRAIN, flat=flat, offsets=offsets)

    def reveal(self, r: int, instances: np.ndarray, later: list[np.ndarray]) -> None:
        d = self.data
        cut = {int(d.inst_series[i]): int(d.inst_cutoff[i]) for i in instances}
        segments, reveal_series, reveal_from = [], [], []
        for s, c in cut.items():
            if c > self.known[s]:
                segments.append(d.values[s][self.known[s]: c])
                reveal_series.append(s)
                reveal_from.append(self.known[s])
                self.known[s] = c
        # the guard that matters: nothing revealed so far reaches into a target still to be forecast
        for i in np.concatenate([instances, *later]) if later else instances:
            s, c = int(d.inst_series[i]), int(d.inst_cutoff[i])
            if self.known[s] > c:
                raise EvaluationFailure("target_overlap", f"series {d.item_ids[s]}: context revealed up to "
                                        f"{self.known[s]} overlaps the target window starting at {c}")
        flat, offsets = pack(segments)
        _atomic_savez(_round_file(self.io_dir, r), series=d.inst_series[instances], cutoff=d.inst_cutoff[instances],
                      reveal_series=np.asarray(reveal_series, dtype=np.int64),
                      reveal_from=np.asarray(reveal_from, dtype=np.int64), flat=flat, offsets=offsets)

    def wait_predictions(self, r: int, running: Callable[[], bool]) -> np.ndarray | None:
        """The Strategy's forecasts for round r, or None when its process ended without writing them."""
        path = _pred_file(self.io_dir, r)
        while not path.exists():
            if not running():
                if not path.exists():
                    return None
                break
            time.sleep(_POLL_S)
        if path.is_symlink():  # a link could point the harness at a file the sandboxed process cannot read itself
            raise EvaluationFailure("prediction_unreadable", f"round {r}: {path.name} is a symlink, not a file")
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise EvaluationFailure("prediction_unreadable", f"round {r}: predictions are not a readable .npy "
                                    f"array: {e}") from None


class StrategyChannel:
    """The Strategy process's side: the settings, the training series, then contexts round by round."""

    def __init__(self, io_dir: Path):
        self.io_dir = io_dir
        setup = json.loads((io_dir / SETTINGS).read_text())
        self.settings = RunSettings.model_validate(setup["settings"])
        self.n_rounds: int = setup["rounds"]
        self.series_ids: list[int] = setup["series"]
        self.item_ids = dict(zip(self.series_ids, setup["item_ids"]))
        self.starts = dict(zip(self.series_ids, setup["starts"]))
        with np.load(io_dir / TRAIN) as z:
            self.known = dict(zip(self.series_ids, unpack(z["flat"], z["offsets"])))

    def _series(self, s: int, values: np.ndarray) -> Series:
        return Series(index=s, item_id=self.item_ids[s], start=self.starts[s], freq=self.settings.freq,
                      values=values)

    def train(self) -> list[Series]:
        return [self._series(s, v) for s, v in self.known.items()]

    def rounds(self) -> Iterator[tuple[int, list[Series]]]:
        for r in range(self.n_rounds):
            path = _round_file(self.io_dir, r)
            while not path.exists():
                if not (self.io_dir / SETTINGS).exists():  # the harness ended the run (e.g. bad predictions)
                    raise SystemExit(f"the harness stopped the evaluation before round {r}")
                time.sleep(_POLL_S)
            with np.load(path) as z:
                z = {k: z[k] for k in z.files}  # an NpzFile re-reads its member on every access
            for s, start, segment in zip(z["reveal_series"], z["reveal_from"], unpack(z["flat"], z["offsets"])):
                s = int(s)
                if int(start) != len(self.known[s]):
                    raise RuntimeError(f"round {r}: revealed segment of series {s} does not continue its context")
                self.known[s] = np.concatenate([self.known[s], segment])
            contexts = [self._series(int(s), self.known[int(s)][: int(c)]) for s, c in zip(z["series"], z["cutoff"])]
            yield r, contexts

    def send(self, r: int, pred: np.ndarray) -> None:
        path = _pred_file(self.io_dir, r)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(pred), allow_pickle=False)
        os.replace(tmp, path)

