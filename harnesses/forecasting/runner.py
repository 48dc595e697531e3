"""The Strategy process: `python -m harnesses.forecasting.runner --io DIR --strategy strategy.py`.

Runs inside the experiment's (optionally sandboxed) process. It loads the experiment's `Strategy`, fits it on the
training series, and answers the harness's rounds of contexts with forecasts. It never sees a target.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
from pathlib import Path

import numpy as np

from harnesses.forecasting.protocol import StrategyChannel


def load_strategy_class(path: Path) -> type:
    sys.path.insert(0, str(path.parent))  # the experiment may split its code over several files
    spec = importlib.util.spec_from_file_location("strategy", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["strategy"] = module
    spec.loader.exec_module(module)
    cls = getattr(module, "Strategy", None)
    if not isinstance(cls, type):
        raise AttributeError(f"{path.name} must define a class named `Strategy`")
    return cls


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--io", type=Path, required=True)
    p.add_argument("--strategy", type=Path, required=True)
    args = p.parse_args(argv)
    channel = StrategyChannel(args.io)
    settings = channel.settings
    cls = load_strategy_class(args.strategy.resolve())
    _seed(settings.seed)
    strategy = cls(settings)
    t0 = time.monotonic()
    strategy.fit(channel.train())
    print(f"[runner] fit: {time.monotonic() - t0:.2f} s", flush=True)
    for r, contexts in channel.rounds():
        t0 = time.monotonic()
        pred = strategy.predict(contexts, settings.prediction_length)
        try:
            pred = np.asarray(pred, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"predict() must return an array of numbers of shape (contexts, prediction_length): {e}")
        channel.send(r, pred)
        print(f"[runner] round {r}: {len(contexts)} contexts, {time.monotonic() - t0:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
