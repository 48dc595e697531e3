"""The speedrun harness and template on a GPU (run on the device machine: `pytest -m gpu`)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from alphalab.config import CampaignConfig
from alphalab.execution import harness_command
from alphalab.harness_inputs import HarnessInputs
from alphalab.manifest import Manifest
from alphalab.results import read_result
from alphalab.workspace import Workspace
from alphalab.experiment_template import TemplateExperiment, render_template_dir
from harnesses.speedrun import toys
from harnesses.speedrun.bpb import score
from harnesses.speedrun.checkpoint import load_checkpoint

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU"),
]
ADAPTER = Path(__file__).resolve().parents[1] / "adapters" / "llm_speedrun"


def test_uniform_model_is_8_bits_per_byte_under_gpu_autocast(tmp_path):
    ckpt = load_checkpoint(toys.write_checkpoint(tmp_path / "c", toys.UNIFORM, seq_len=128),
                           torch.device("cuda"), 10**9)
    assert score(ckpt, bytes(range(256)) * 20, torch.device("cuda"), 1024).val_bpb == pytest.approx(8.0, abs=1e-6)


def test_the_template_trains_compiled_on_gpu_and_reports_mfu(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(200):
        (corpus / f"{i}.txt").write_text(f"def f{i}(x):\n    return x * {i} + {i % 7}\n" * 200)
    ws, exp = tmp_path / "ws", tmp_path / "ws" / "experiments" / "g1"
    ws.mkdir()
    config = CampaignConfig(name="gpu", domain="llm_speedrun", data_path=corpus, objective="o",
                            domain_options={"smoke_budget_s": 60, "smoke_val_bytes": 65536})
    manifest = Manifest.model_validate(yaml.safe_load((ADAPTER / "manifest.yaml").read_text()))
    params = dict(n_layer=2, d_model=256, n_head=2, lr=0.003, batch_size=32, seq_len=256)
    render_template_dir(ADAPTER / manifest.experiment.template_dir, exp, params,
                      TemplateExperiment(id="g1", name="gpu", seed=0))
    command = harness_command(manifest.experiment.smoke_command, HarnessInputs.of(config, manifest), Workspace(ws), exp,
                              "smoke", 0)
    subprocess.run(shlex.split(command), cwd=exp, check=False)
    result = read_result(Workspace(ws), exp, "smoke")
    assert result is not None and result.status == "ok", result
    assert result.details["gpu"].startswith("NVIDIA")
    assert result.metrics["mfu"] > 0 and result.metrics["tokens_per_s"] > 0
    assert result.metrics["val_bpb"] < 4  # this corpus is highly repetitive: a minute of training learns it
    print(f"gpu smoke: {result.metrics}")
