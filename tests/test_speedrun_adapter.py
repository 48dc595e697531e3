"""The llm_speedrun adapter: manifest, prompt templates, exploration script, and the baseline template end to end."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from alphalab.adapters import COMMON_VARIABLES, ROLE_VARIABLES, TEMPLATE_FILES, load_adapter
from alphalab.config import CampaignConfig
from alphalab.execution import harness_command
from alphalab.harness_inputs import HarnessInputs
from alphalab.manifest import Manifest
from alphalab.results import read_result
from alphalab.workspace import ADAPTER_FILES, Workspace
from alphalab.experiment_template import TemplateExperiment, render_template_dir
from prompt_rendering import render_prompt

ADAPTER = Path(__file__).resolve().parents[1] / "adapters" / "llm_speedrun"
REPO = ADAPTER.parents[1]


def manifest() -> Manifest:
    return Manifest.model_validate(yaml.safe_load((ADAPTER / "manifest.yaml").read_text()))


def test_the_adapter_has_all_11_files_and_loads():
    assert all((ADAPTER / f).is_file() for f in ADAPTER_FILES)
    adapter = load_adapter(ADAPTER)
    assert adapter.manifest.primary.name == "val_bpb" and adapter.manifest.primary.direction == "min"
    assert adapter.manifest.harness == "speedrun"
    assert "ln 2" in adapter.domain_knowledge


def _dummy(name: str):
    m = manifest()
    values = {
        "objective": "minimize val_bpb", "domain": "llm_speedrun", "data_path": "/data/corpus", "workspace": "/ws",
        "domain_knowledge": "<domain knowledge>", "manifest": m, "primary_metric": m.primary, "learnings": "L",
        "task": "implement",
        "adapter_dir": "/ws/adapter", "reference_adapters": ["llm_speedrun", "time_series"],
        "template_rules": "RULES", "builtin_harness": "speedrun", "search_space": m.search_space_text(),
    }
    return values[name]


@pytest.mark.parametrize("template", TEMPLATE_FILES)
def test_every_prompt_renders_with_exactly_the_documented_variables(template):
    names = COMMON_VARIABLES | set().union(*ROLE_VARIABLES.values())
    rendered = render_prompt(ADAPTER, template, {v: _dummy(v) for v in names})
    for text in rendered.values():
        # domain knowledge reaches every role, except the generator, which writes it
        assert ("<domain knowledge>" in text) == (template != "phase0_generator.md")
    if template == "phase3_worker.md":  # each task gets its own instructions, after everything they share
        prefix = os.path.commonprefix(list(rendered.values()))
        assert "<domain knowledge>" in prefix
        assert "halve the batch on OOM" in rendered["fix"] and "OOM" not in rendered["implement"]
        assert "debrief.md" in rendered["analyze"] and "debrief.md" not in rendered["fix"]


def _template_model(tmp_path: Path, **params):
    out = tmp_path / "_".join(f"{k}{v}" for k, v in params.items())
    base = dict(manifest().search_space.reference) | params
    render_template_dir(ADAPTER / manifest().experiment.template_dir, out, base,
                      TemplateExperiment(id="x", name="x", seed=0))
    spec = importlib.util.spec_from_file_location(f"_model_{out.name}", out / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with torch.device("meta"):  # shapes only: counting 100M parameters needs no memory
        return module, sum(p.numel() for p in module.build_model().parameters())


def test_the_reference_is_the_85m_llama_model_and_the_search_space_stays_under_the_cap(tmp_path):
    space = manifest().search_space
    _, n_ref = _template_model(tmp_path)
    assert 84e6 < n_ref < 86e6
    choices = {p.name: p for p in space.params}
    widths, heads = choices["d_model"].choices, choices["n_head"].choices
    for d_model, n_head in itertools.product(widths, heads):
        assert d_model % n_head == 0 and (d_model // n_head) % 2 == 0  # RoPE rotates pairs within a head
    _, n_max = _template_model(tmp_path, n_layer=int(choices["n_layer"].high), d_model=max(widths))
    assert n_max <= 100_000_000
    assert set(space.fallback) <= set(choices) and space.fallback["batch_size"] < space.reference["batch_size"]


def test_the_exploration_script_writes_stats_and_plots(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(5):
        (corpus / f"{i}.txt").write_text("the quick brown fox jumps over the lazy dog\n" * (i + 3))
    ws = tmp_path / "ws"
    # called as the baseline Explorer calls it: script, data path, workspace
    subprocess.run([sys.executable, str(ADAPTER / manifest().exploration_script), str(corpus), str(ws)],
                   check=True, capture_output=True, cwd=tmp_path)
    stats = json.loads((ws / "data_report" / "corpus_stats.json").read_text())
    assert stats["documents_read"] == 5 and stats["distinct_bytes"] == len(set("the quick brown fox jumps over "
                                                                             "the lazy dog\n") | {"\x00"})
    assert stats["order1_bits_per_byte"] < stats["order0_bits_per_byte"] < 8
    assert (ws / "plots" / "byte_histogram.png").stat().st_size > 0
    assert (ws / "plots" / "doc_lengths.png").stat().st_size > 0


def test_the_baseline_template_trains_and_is_scored_through_the_manifest_command(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(40):
        (corpus / f"{i}.txt").write_text(f"def f{i}(x):\n    return x * {i} + 1\n" * 30)
    ws, exp = tmp_path / "ws", tmp_path / "ws" / "experiments" / "e1"
    ws.mkdir()
    config = CampaignConfig(name="t", domain="llm_speedrun", data_path=corpus, objective="o",
                            domain_options={"smoke_budget_s": 12, "val_bytes": 4000, "smoke_val_bytes": 2000})
    tiny = dict(n_layer=2, d_model=64, n_head=4, lr=0.003, batch_size=8, seq_len=64)
    written = render_template_dir(ADAPTER / manifest().experiment.template_dir, exp, tiny,
                                TemplateExperiment(id="e1", name="tiny", seed=1))
    assert sorted(p.name for p in written) == sorted(manifest().experiment.required_files)
    command = harness_command(manifest().experiment.smoke_command, HarnessInputs.of(config, manifest()), Workspace(ws),
                              exp, "smoke", 1)
    proc = subprocess.run(shlex.split(command), cwd=exp, capture_output=True, text=True, timeout=120,
                          # CPU on one thread: on a busy 2-core machine more threads spin against each other,
                          # and on a GPU machine compilation alone would outlast this short budget
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                               "CUDA_VISIBLE_DEVICES": ""})
    result = read_result(Workspace(ws), exp, "smoke")
    assert result is not None and result.status == "ok", (proc.stdout, proc.stderr, result)
    assert result.eval_mode == "smoke" and result.seed == 1
    # the untrained model scores about 8 bits; how far below it gets depends on how busy the machine is
    assert result.metrics["val_bpb"] < 7.95
    assert result.metrics["steps"] > 0 and result.metrics["tokens_seen"] == result.metrics["steps"] * 8 * 64
    assert result.metrics["params"] == 2 * (4 * 64 * 64 + 3 * 64 * 192 + 2 * 64) + 2 * 256 * 64 + 64
