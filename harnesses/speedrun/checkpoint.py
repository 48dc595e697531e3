"""Loading the model an experiment saved: the documented checkpoint interface (see README.md).

`<exp_dir>/checkpoint/` holds
  model.py    defines `build_model()` -> torch.nn.Module whose forward(ids[B, T]) returns logits[B, T, V]
              (or a tuple whose first item is the logits), `build_tokenizer()` -> an object with
              `encode(bytes) -> list[int]`, `decode(list[int]) -> bytes` and `bos_id: int`,
              and `SEQ_LEN` (int): the context length the harness evaluates with.
  model.pt    the state dict for `build_model()`, written atomically (save to a temp file, then rename).
  stats.json  optional, what training reports: tokens_seen, tokens_per_s, mfu, flops_per_token, ...
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from alphalab.experiment_files import CHECKPOINT_DIR
from harnesses.base.errors import EvaluationFailure

MODEL_CODE = "model.py"
WEIGHTS = "model.pt"
STATS = "stats.json"
_COMPILE_PREFIX = "_orig_mod."  # what torch.compile's wrapper adds to state-dict keys


class CheckpointError(EvaluationFailure):
    def __init__(self, message: str, signature: str):
        super().__init__(signature, message)


class Tokenizer(Protocol):
    bos_id: int

    def encode(self, data: bytes) -> list[int]: ...

    def decode(self, ids: list[int]) -> bytes: ...


@dataclass
class LoadedCheckpoint:
    model: torch.nn.Module
    tokenizer: Tokenizer
    seq_len: int
    n_params: int
    stats: dict[str, Any] = field(default_factory=dict)


def count_parameters(model: torch.nn.Module) -> int:
    """Unique parameters (tied weights count once); buffers such as RoPE tables do not count."""
    return sum(p.numel() for p in model.parameters())


def load_checkpoint(ckpt_dir: Path, device: torch.device, param_cap: int) -> LoadedCheckpoint:
    """Build the model, reject it when over `param_cap` (before loading any weights), then load the weights."""
    code, weights = ckpt_dir / MODEL_CODE, ckpt_dir / WEIGHTS
    if not code.is_file() or not weights.is_file():
        raise CheckpointError(f"no saved model: {ckpt_dir} needs {MODEL_CODE} and {WEIGHTS}", "no_checkpoint")
    module = _import(code)
    for name in ("build_model", "build_tokenizer", "SEQ_LEN"):
        if not hasattr(module, name):
            raise CheckpointError(f"{code} does not define {name}", "bad_checkpoint_interface")
    seq_len = int(module.SEQ_LEN)
    if seq_len < 2:
        raise CheckpointError(f"SEQ_LEN must be at least 2, got {seq_len}", "bad_checkpoint_interface")
    model = _call(module.build_model)
    n_params = count_parameters(model)
    if n_params > param_cap:
        raise CheckpointError(f"model has {n_params:,} parameters, over the cap of {param_cap:,}", "over_param_cap")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    state = {k.removeprefix(_COMPILE_PREFIX): v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{weights} does not fit build_model(): {e}", "state_dict_mismatch") from e
    tokenizer = _call(module.build_tokenizer)
    for name in ("encode", "decode", "bos_id"):
        if not hasattr(tokenizer, name):
            raise CheckpointError(f"the tokenizer has no `{name}`", "bad_checkpoint_interface")
    stats_file = ckpt_dir / STATS
    stats = json.loads(stats_file.read_text()) if stats_file.is_file() else {}
    return LoadedCheckpoint(model=model.to(device).eval(), tokenizer=tokenizer, seq_len=seq_len,
                            n_params=n_params, stats=stats if isinstance(stats, dict) else {})


def _call(factory):
    try:
        return factory()
    except Exception as e:  # experiment code failing here is the experiment's failure
        raise CheckpointError(f"{factory.__name__}() failed: {type(e).__name__}: {e}", "checkpoint_build_error") from e


def _import(path: Path):
    name = f"_speedrun_checkpoint_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CheckpointError(f"cannot import {path}", "bad_checkpoint_interface")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # model.py may import helpers saved beside it
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # any error in experiment code is the experiment's failure, reported as such
        raise CheckpointError(f"importing {path} failed: {type(e).__name__}: {e}", "checkpoint_import_error") from e
    finally:
        sys.path.remove(str(path.parent))
    return module
