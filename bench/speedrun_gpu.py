"""One speedrun of the adapter's baseline template through the trusted harness, with its figures.

    PYTHONUNBUFFERED=1 python bench/speedrun_gpu.py --budget-s 300 --out OUT_DIR [--site-packages]

Builds the demo corpus, a workspace, renders the template with the manifest's reference
configuration (about 85M parameters), runs `python -m harnesses.speedrun.evaluate --mode full` and prints
val_bpb, tokens/s, parameters and MFU. MFU is recomputed here from the harness's parameter count and the
template's reported tokens/s: (6 x matmul parameters + 12 x layers x width x context) x tokens/s / peak.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alphalab.config import CampaignConfig  # noqa: E402
from alphalab.execution import RunRequest, execute, harness_command  # noqa: E402
from alphalab.experiment_files import RUN_LOG  # noqa: E402
from alphalab.harness_inputs import HarnessInputs  # noqa: E402
from alphalab.manifest import Manifest  # noqa: E402
from alphalab.workspace import Workspace  # noqa: E402
from alphalab.experiment_template import TemplateExperiment, render_template_dir  # noqa: E402
from harnesses.speedrun.demo_corpus import build_demo_corpus  # noqa: E402

ADAPTER = REPO / "adapters" / "llm_speedrun"
PEAK_BF16_DENSE = 989e12  # H100 SXM (and H200) dense bf16


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-s", type=float, default=300.0)
    p.add_argument("--root", type=Path, default=None, help="where corpus and workspace go (default: a temp dir)")
    p.add_argument("--out", type=Path, default=None, help="copy the result, run.log and a summary here")
    p.add_argument("--site-packages", action="store_true", help="corpus from stdlib + installed packages' sources")
    p.add_argument("--max-mb", type=float, default=400.0)
    p.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="override reference parameters")
    ns = p.parse_args()
    root = ns.root or Path(tempfile.mkdtemp(prefix="speedrun-bench-"))
    manifest = Manifest.model_validate(yaml.safe_load((ADAPTER / "manifest.yaml").read_text()))
    params = dict(manifest.search_space.reference)
    for item in ns.set:
        name, value = item.split("=", 1)
        params[name] = type(params[name])(value)

    t0 = time.time()
    corpus = build_demo_corpus(root / "corpus", int(ns.max_mb * 2**20), ns.site_packages)
    print(f"corpus: {corpus.documents} documents, {corpus.bytes / 2**20:.1f} MB ({time.time() - t0:.0f} s)")
    ws = root / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    config = CampaignConfig(name="speedrun-bench", domain="llm_speedrun", data_path=corpus.out_dir,
                            objective="minimize val_bpb", domain_options={"budget_s": ns.budget_s})
    exp = ws / "experiments" / "reference"
    render_template_dir(ADAPTER / manifest.experiment.template_dir, exp, params,
                      TemplateExperiment(id="reference", name="reference", seed=0))
    workspace = Workspace(ws)
    command = harness_command(manifest.experiment.full_command, HarnessInputs.of(config, manifest), workspace, exp,
                              "full", 0)
    print(f"command: {command}", flush=True)
    # the campaign's own run path: the harness started from the workspace, its result read from outside the folder
    outcome = execute(RunRequest(exp_id="reference", attempt=0, mode="full", seed=0, slot="", command=command,
                                 exp_dir=exp, workspace=ws, timeout_s=ns.budget_s + 600), job_id="bench")
    result = outcome.result
    if result is None or result.status != "ok":
        print(f"run failed: {result.error if result else outcome.error}")
        print((exp / "run.log").read_text()[-5000:] if (exp / "run.log").is_file() else "")
        return 1
    m = result.metrics
    matmul_params = m["params"] - 256 * params["d_model"]
    flops = 6 * matmul_params + 12 * params["n_layer"] * params["d_model"] * params["seq_len"]
    summary = {
        "params": params, "gpu": result.details["gpu"], "budget_s": ns.budget_s,
        "val_bpb": m["val_bpb"], "n_params": int(m["params"]), "tokens_seen": int(m["tokens_seen"]),
        "tokens_per_s": m["tokens_per_s"], "flops_per_token": flops,
        "mfu": m["tokens_per_s"] * flops / PEAK_BF16_DENSE, "mfu_reported_by_train_py": m.get("mfu"),
        "train_wall_s": result.details["train_wall_s"], "eval_s": result.details["eval_s"],
        "val_bytes": result.details["val_bytes"], "corpus_mb": corpus.bytes / 2**20, "command": command,
    }
    print(json.dumps(summary, indent=2))
    if ns.out:
        ns.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(workspace.result_file(exp, "full"), ns.out / "result.json")
        shutil.copyfile(exp / RUN_LOG, ns.out / RUN_LOG)
        (ns.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
