"""Toy checkpoints for testing the speedrun harness: tiny models whose val_bpb can be worked out by hand.

Used by this repository's tests and available to a Phase 2 Tester extending the harness.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import torch

BYTE_TOKENIZER = '''
class Tok:
    bos_id = 0
    def encode(self, data):
        return list(data)
    def decode(self, ids):
        return bytes(ids)

def build_tokenizer():
    return Tok()
'''

# logits all zero: p = 1/256 for every byte, so exactly 8 bits per byte
UNIFORM = '''
import torch
SEQ_LEN = {seq_len}

class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
    def forward(self, ids):
        return torch.zeros(*ids.shape, 256, device=ids.device) + 0 * self.w

def build_model():
    return M()
''' + BYTE_TOKENIZER

# a context-free model: p('a') = 1/2, p('b') = 1/4, the other 254 bytes share the remaining 1/4
UNIGRAM = '''
import math
import torch
SEQ_LEN = {seq_len}

class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.logp = torch.nn.Parameter(torch.zeros(256))
    def forward(self, ids):
        return self.logp.expand(*ids.shape, 256)

def build_model():
    m = M()
    with torch.no_grad():
        m.logp.fill_(math.log(0.25 / 254))
        m.logp[ord("a")] = math.log(0.5)
        m.logp[ord("b")] = math.log(0.25)
    return m
''' + BYTE_TOKENIZER

# a BPE-like tokenizer with one merged token (256 = b"ab") and a uniform model over 258 ids
PAIR_UNIFORM = '''
import torch
SEQ_LEN = {seq_len}

class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
    def forward(self, ids):
        return torch.zeros(*ids.shape, 258, device=ids.device) + 0 * self.w

def build_model():
    return M()

class Tok:
    bos_id = 257
    def encode(self, data):
        ids, i = [], 0
        while i < len(data):
            if data[i:i + 2] == b"ab":
                ids.append(256)
                i += 2
            else:
                ids.append(data[i])
                i += 1
        return ids
    def decode(self, ids):
        return b"".join(b"ab" if i == 256 else bytes([i]) for i in ids)

def build_tokenizer():
    return Tok()
'''

# causal by construction: position t sees the running sum of embeddings up to t
_CUMSUM = '''
import torch
SEQ_LEN = {seq_len}

class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(256, 16)
        self.head = torch.nn.Linear(16, 256)
    def mix(self, h):
        return h.cumsum(1)
    def forward(self, ids):
        return self.head(self.mix(self.emb(ids)))

def build_model():
    return M()
''' + BYTE_TOKENIZER

CAUSAL = _CUMSUM
# sees the whole sequence: the mean over time includes the future
FUTURE_PEEKING = _CUMSUM.replace("return h.cumsum(1)", "return h.cumsum(1) + h.mean(1, keepdim=True)")
# causal within each example, but mixes the examples of a batch (the next window is the future)
BATCH_MIXING = _CUMSUM.replace("return h.cumsum(1)", "return h.cumsum(1) + h.mean(0, keepdim=True)")

BIG = '''
import torch
SEQ_LEN = {seq_len}

def build_model():
    return torch.nn.Linear(1000, 1000)
''' + BYTE_TOKENIZER

LOSSY = UNIFORM.replace("return list(data)", "return [b for b in data if b != 32]")  # drops spaces


def write_checkpoint(ckpt_dir: Path, code: str, seq_len: int = 16, stats: str | None = None) -> Path:
    """model.py from `code` plus model.pt holding its build_model()'s own state dict."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    path = ckpt_dir / "model.py"
    path.write_text(textwrap.dedent(code.format(seq_len=seq_len)))
    spec = importlib.util.spec_from_file_location(f"_toy_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.save(module.build_model().state_dict(), ckpt_dir / "model.pt")
    if stats is not None:
        (ckpt_dir / "stats.json").write_text(stats)
    return ckpt_dir
