import os
import subprocess
import sys
from pathlib import Path

from harnesses.speedrun import toys

WRITER = r'''
import os, sys, time
from pathlib import Path
if os.fork():
    os._exit(0)
exp = Path(sys.argv[1])
ws = exp.parents[1]
key = exp.relative_to(ws).as_posix().replace("/", "__")
targets = [exp / "metrics.json"] + [ws / ".private" / "results" / key / f"{m}.json" for m in ("smoke", "full")]
deadline = time.time() + 90
while time.time() < deadline:
    for t in targets:
        mode = "smoke" if t.name == "smoke.json" else "full"
        try:
            t.parent.mkdir(parents=True, exist_ok=True)
            t.write_text('{"status": "ok", "eval_mode": "%s", "metrics": {"val_bpb": 0.001}}' % mode)
        except OSError:
            pass
    time.sleep(0.02)
'''
subprocess.Popen([sys.executable, "-c", WRITER, str(Path.cwd().resolve())], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.environ["SPEEDRUN_MODE"] == "full":
    raise SystemExit("failing on purpose: only the detached writer could make this run look good")
toys.write_checkpoint(Path(os.environ["SPEEDRUN_CHECKPOINT_DIR"]), toys.UNIFORM)
