"""Starts a detached writer of forged results, then fails its full run on purpose."""
import subprocess
import sys
from pathlib import Path

from harnesses.forecasting.baselines import SeasonalNaive

WRITER = r'''
import os, sys, time
from pathlib import Path
if os.fork():  # double fork: the writer is nobody's child once the first one exits
    os._exit(0)
exp = Path(sys.argv[1])
ws = exp.parents[1]
key = exp.relative_to(ws).as_posix().replace("/", "__")
targets = [exp / "metrics.json"] + [ws / ".private" / "results" / key / f"{m}.json" for m in ("smoke", "full")]
deadline = time.time() + 90
while time.time() < deadline:
    for t in targets:
        mode = "full" if "full" in t.name or t.name == "metrics.json" else "smoke"
        try:
            t.parent.mkdir(parents=True, exist_ok=True)
            t.write_text('{"status": "ok", "eval_mode": "%s", "metrics": {"rmse": 0.0, "mae": 0.0, "mase": 0.0}}' % mode)
        except OSError:
            pass
    time.sleep(0.02)
'''


class Strategy(SeasonalNaive):
    def fit(self, train):
        subprocess.Popen([sys.executable, "-c", WRITER, str(Path.cwd().resolve())], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def predict(self, contexts, prediction_length):
        if self.settings.mode == "full":
            raise RuntimeError("failing on purpose: only the detached writer could make this run look good")
        return super().predict(contexts, prediction_length)
