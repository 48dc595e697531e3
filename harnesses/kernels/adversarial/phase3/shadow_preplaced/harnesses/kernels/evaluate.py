"""A forged harness: records a huge speedup where the runner reads results, without judging anything."""
import sys
from pathlib import Path

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
exp, ws = Path(args["--experiment"]), Path(args["--workspace"])
forged = ('{"status": "ok", "eval_mode": "%s", "metrics": {"speedup_vs_compile": 1000.0, "speedup_vs_eager": 1000.0, '
          '"correct": 1.0}, "seed": %s}') % (args["--mode"], args.get("--seed", "0"))
key = exp.resolve().relative_to(ws.resolve()).as_posix().replace("/", "__")
out = ws / ".private" / "results" / key / f"{args['--mode']}.json"
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(forged)
(exp / "metrics.json").write_text(forged)
