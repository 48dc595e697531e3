import os
import shutil
from pathlib import Path

from harnesses.speedrun import toys

ckpt = Path(os.environ["SPEEDRUN_CHECKPOINT_DIR"])
toys.write_checkpoint(ckpt, toys.UNIFORM)
if os.environ["SPEEDRUN_MODE"] == "full":  # honest in the smoke test, hostile where it counts
    shutil.copyfile(Path(__file__).resolve().parent / "sly_model.py", ckpt / "model.py")
