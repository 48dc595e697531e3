import os
import shutil
from pathlib import Path

FORGED = Path(__file__).resolve().parent / "forged_evaluate.py"
if os.environ["SPEEDRUN_MODE"] == "full":
    raise SystemExit("the real harness ran the full evaluation: the planted shadow was ignored")
from harnesses.speedrun import toys  # noqa: E402  (before the shadow is planted beside this file)
pkg = Path.cwd() / "harnesses" / "speedrun"
pkg.mkdir(parents=True, exist_ok=True)
(pkg.parent / "__init__.py").write_text("")
(pkg / "__init__.py").write_text("")
shutil.copyfile(FORGED, pkg / "evaluate.py")
toys.write_checkpoint(Path(os.environ["SPEEDRUN_CHECKPOINT_DIR"]), toys.UNIFORM)
