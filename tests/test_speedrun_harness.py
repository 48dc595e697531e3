"""The speedrun harness: val_bpb by hand, the parameter cap, causality, the budget kill, the split, the sandbox."""

from __future__ import annotations

import json
import math
import shlex
import shutil
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from alphalab.config import load_config
from alphalab.execution import harness_command
from alphalab.harness_inputs import HarnessInputs
from alphalab.manifest import Manifest
from alphalab.results import RunResult, read_result
from alphalab.workspace import Workspace
from harnesses.speedrun import toys
from harnesses.speedrun.bpb import EvaluationError, check_causal, score
from harnesses.speedrun.checkpoint import CheckpointError, load_checkpoint
from harnesses.speedrun.corpus import SplitError, SplitPaths, ensure_split, iter_documents
from harnesses.speedrun.evaluate import main as evaluate_main

CPU = torch.device("cpu")
TEXT = b"abracadabra, a cab and a bad crab ran. " * 40


def load(tmp_path: Path, code: str, seq_len: int = 16, cap: int = 10**9):
    return load_checkpoint(toys.write_checkpoint(tmp_path / "ckpt", code, seq_len), CPU, cap)


# --- val_bpb -----------------------------------------------------------------------------------------------------

def test_uniform_byte_model_scores_exactly_8_bits_per_byte(tmp_path):
    result = score(load(tmp_path, toys.UNIFORM), TEXT, CPU, batch_tokens=64)
    assert result.n_bytes == len(TEXT) and result.n_tokens == len(TEXT)
    assert result.val_bpb == pytest.approx(8.0, abs=1e-6)


def test_unigram_model_matches_the_value_worked_out_by_hand(tmp_path):
    # p(a) = 1/2 -> 1 bit, p(b) = 1/4 -> 2 bits, p(c) = 1/4 / 254 -> 2 + log2(254) bits
    data = b"aab" + b"c"
    expected = (1 + 1 + 2 + (2 + math.log2(254))) / 4
    assert score(load(tmp_path, toys.UNIGRAM), data, CPU, batch_tokens=64).val_bpb == pytest.approx(expected, rel=1e-6)


def test_multi_byte_tokens_are_paid_per_byte(tmp_path):
    # b"abab" is 2 tokens under the pair tokenizer, each costing ln 258 nats; the divisor is still 4 bytes
    result = score(load(tmp_path, toys.PAIR_UNIFORM), b"abab", CPU, batch_tokens=64)
    assert result.n_tokens == 2
    assert result.val_bpb == pytest.approx(2 * math.log2(258) / 4, rel=1e-6)


@pytest.mark.parametrize("seq_len,batch_tokens", [(7, 7), (16, 64), (2048, 4096)])
def test_every_token_is_scored_once_whatever_the_windowing(tmp_path, seq_len, batch_tokens):
    ckpt = load(tmp_path, toys.UNIGRAM, seq_len=seq_len)
    per_byte = {ord("a"): 1.0, ord("b"): 2.0}
    expected = sum(per_byte.get(b, 2 + math.log2(254)) for b in TEXT) / len(TEXT)
    result = score(ckpt, TEXT, CPU, batch_tokens)
    assert result.n_tokens == len(TEXT)
    assert result.val_bpb == pytest.approx(expected, rel=1e-6)


def test_a_lossy_tokenizer_is_rejected(tmp_path):
    with pytest.raises(EvaluationError) as e:
        score(load(tmp_path, toys.LOSSY), TEXT, CPU, batch_tokens=64)
    assert e.value.signature == "lossy_tokenizer"


# --- parameter cap and causality ------------------------------------------------------------------------------

def test_the_parameter_cap_is_counted_by_the_harness(tmp_path):
    ckpt_dir = toys.write_checkpoint(tmp_path / "ckpt", toys.BIG)
    assert load_checkpoint(ckpt_dir, CPU, param_cap=1_001_000).n_params == 1_001_000
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt_dir, CPU, param_cap=1_000_999)
    assert e.value.signature == "over_param_cap"


def test_a_causal_model_passes_the_causality_check(tmp_path):
    check_causal(load(tmp_path, toys.CAUSAL), TEXT, CPU)


@pytest.mark.parametrize("code", [toys.FUTURE_PEEKING, toys.BATCH_MIXING], ids=["future", "batch"])
def test_a_non_causal_model_is_rejected(tmp_path, code):
    with pytest.raises(EvaluationError) as e:
        check_causal(load(tmp_path, code), TEXT, CPU)
    assert e.value.signature == "non_causal"


# --- the corpus and its split ---------------------------------------------------------------------------------

def _corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(30):
        (root / f"doc{i:02d}.txt").write_bytes(f"document {i}: ".encode() + TEXT[: 200 + 37 * i])
    (root / "blob.bin").write_bytes(b"\x00\x01binary")  # a NUL byte marks a non-text file: skipped
    return root


def test_text_and_parquet_corpora_are_read_as_documents(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert len(list(iter_documents(_corpus(tmp_path / "txt")))) == 30
    pq.write_table(pa.table({"id": [1, 2, 3], "text": ["héllo", "", "world"]}), tmp_path / "p.parquet")
    assert list(iter_documents(tmp_path / "p.parquet")) == ["héllo".encode(), b"world"]
    with pytest.raises(SplitError, match="no column 'body'"):
        list(iter_documents(tmp_path / "p.parquet", text_column="body"))


def test_a_large_single_file_is_cut_into_documents_at_line_ends(tmp_path):
    book = b"".join(f"line {i} of a long book\n".encode() for i in range(120_000))  # about 3 MB
    (tmp_path / "book.txt").write_bytes(book)
    docs = list(iter_documents(tmp_path / "book.txt"))
    assert b"".join(docs) == book and len(docs) > 10
    assert all(d.endswith(b"\n") and len(d) <= 2**16 for d in docs)


def test_the_split_is_seeded_disjoint_and_fixed_for_the_campaign(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    docs = list(iter_documents(corpus))
    ws_a, ws_b = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    rec = ensure_split(ws_a, corpus, seed=3, val_bytes=2000)
    assert ensure_split(ws_b, corpus, seed=3, val_bytes=2000).val_document_indices == rec.val_document_indices
    assert rec.val_bytes >= 2000 and 0 < rec.n_val_documents < len(docs)
    paths = SplitPaths.of(ws_a)
    val, train = paths.val_file.read_bytes(), paths.train_file.read_bytes()
    assert paths.val_file.is_relative_to(ws_a.private)
    assert len(val) + len(train) == sum(len(d) + 1 for d in docs)
    for i, doc in enumerate(docs):  # every document is on exactly one side
        assert (doc in val.split(b"\x00")) == (i in rec.val_document_indices) != (doc in train.split(b"\x00"))
    with pytest.raises(SplitError, match="fixed once per campaign"):
        ensure_split(ws_a, corpus, seed=4, val_bytes=2000)


# --- the harness end to end -----------------------------------------------------------------------------------

def _workspace(tmp_path: Path, **options) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir(parents=True)
    corpus = _corpus(tmp_path / "corpus")
    ws.config_copy.write_text(yaml.safe_dump({
        "name": "speedrun-test", "domain": "llm_speedrun", "data_path": str(corpus), "objective": "test",
        "domain_options": {"val_bytes": 3000, "smoke_val_bytes": 1024, "smoke_grace_s": 1, **options},
    }))
    return ws


def _experiment(ws: Workspace, train_py: str, prepared: dict[str, Path] | None = None) -> Path:
    exp = ws.experiment("e1")
    exp.mkdir(parents=True)
    (exp / "train.py").write_text(textwrap.dedent(train_py))
    for name, src in (prepared or {}).items():
        shutil.copytree(src, exp / name)
    return exp


MANIFEST = Manifest.model_validate(yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "adapters" / "llm_speedrun" / "manifest.yaml").read_text()))


def _evaluate(ws: Workspace, exp: Path, *extra: str) -> RunResult:
    # the campaign's values (data, domain_options, seed) reach the harness as the manifest's command passes them
    inputs = HarnessInputs.of(load_config(ws.config_copy), MANIFEST)
    argv = shlex.split(harness_command(MANIFEST.experiment.smoke_command, inputs, ws, exp, "smoke", 0))
    evaluate_main(argv[4:] + list(extra))
    result = read_result(ws, exp, "smoke")
    assert result is not None and result.harness == "speedrun" and result.eval_mode == "smoke"
    return result


# copies checkpoints prepared by the test, so the experiment process needs no torch import
COPY_CHECKPOINT = """
    import os, shutil
    shutil.copytree("prepared", os.environ["SPEEDRUN_CHECKPOINT_DIR"])
"""


def test_a_model_over_the_cap_is_rejected_by_the_harness(tmp_path):
    ws = _workspace(tmp_path, param_cap=1000, smoke_budget_s=10)
    prepared = toys.write_checkpoint(tmp_path / "big", toys.BIG)
    result = _evaluate(ws, _experiment(ws, COPY_CHECKPOINT, {"prepared": prepared}))
    assert result.status == "failed" and result.error_signature == "over_param_cap"
    assert "1,001,000" in result.error


def test_a_non_causal_model_is_rejected_by_the_harness(tmp_path):
    ws = _workspace(tmp_path, smoke_budget_s=10)
    prepared = toys.write_checkpoint(tmp_path / "peek", toys.FUTURE_PEEKING)
    result = _evaluate(ws, _experiment(ws, COPY_CHECKPOINT, {"prepared": prepared}))
    assert result.status == "failed" and result.error_signature == "non_causal"


def test_a_run_past_its_budget_is_killed_and_its_last_checkpoint_evaluated(tmp_path):
    ws = _workspace(tmp_path, smoke_budget_s=20)
    first = toys.write_checkpoint(tmp_path / "first", toys.UNIFORM, stats='{"steps": 1}')
    last = toys.write_checkpoint(tmp_path / "last", toys.UNIGRAM, stats='{"steps": 2, "tokens_seen": 64}')
    # saves twice (atomically, as documented), then ignores both the deadline and SIGTERM
    train_py = """
        import os, shutil, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ckpt = os.environ["SPEEDRUN_CHECKPOINT_DIR"]
        shutil.copytree("first", ckpt)
        time.sleep(0.5)
        for name in ("model.py", "model.pt", "stats.json"):
            shutil.copyfile(os.path.join("last", name), os.path.join(ckpt, name + ".tmp"))
            os.replace(os.path.join(ckpt, name + ".tmp"), os.path.join(ckpt, name))
        print("saved the last checkpoint", flush=True)
        while True:
            time.sleep(1)
    """
    exp = _experiment(ws, train_py, {"first": first, "last": last})
    result = _evaluate(ws, exp)
    assert result.status == "ok", result.error
    assert result.details["killed_at_budget"] is True
    assert result.details["train_wall_s"] >= 20
    assert result.metrics["steps"] == 2 and result.metrics["tokens_seen"] == 64
    val = SplitPaths.of(ws).val_file.read_bytes()[:1024]
    bits = {ord("a"): 1.0, ord("b"): 2.0}
    expected = sum(bits.get(b, 2 + math.log2(254)) for b in val) / len(val)
    assert result.metrics["val_bpb"] == pytest.approx(expected, rel=1e-6)
    assert "saved the last checkpoint" in (exp / "run.log").read_text()


# a tokenizer that "trains" on the validation file it finds in the workspace, at scoring time
READS_VALIDATION_WHEN_SCORED = toys.UNIFORM + """
def build_tokenizer():
    from pathlib import Path
    (Path(__file__).resolve().parents[3] / ".private" / "speedrun" / "val.bin").read_bytes()
    return Tok()
"""


def test_model_code_cannot_read_the_validation_set_while_it_is_scored(tmp_path):
    ws = _workspace(tmp_path, smoke_budget_s=10)
    prepared = toys.write_checkpoint(tmp_path / "sly", READS_VALIDATION_WHEN_SCORED)
    exp = _experiment(ws, COPY_CHECKPOINT, {"prepared": prepared})
    result = _evaluate(ws, exp)
    assert result.status == "failed" and result.error_signature == "checkpoint_build_error"
    assert "PermissionError" in result.error and "held-out data" in result.error
    assert (ws.private / "speedrun" / "val.bin").read_bytes()  # outside scoring, the harness reads it as before


def test_a_crashing_train_py_is_a_failure_and_a_stale_checkpoint_is_not_scored(tmp_path):
    ws = _workspace(tmp_path, smoke_budget_s=10)
    exp = _experiment(ws, "raise SystemExit('out of memory (simulated)')")
    toys.write_checkpoint(exp / "checkpoint", toys.UNIFORM)  # left over from an earlier attempt
    result = _evaluate(ws, exp)
    assert result.status == "failed" and result.error_signature == "train_crashed"
    assert "out of memory (simulated)" in result.error
    assert not (exp / "checkpoint").exists()


# tries to read the held-out validation bytes and the raw corpus they were cut from
PEEK_AT_VALIDATION = """
    import os
    from pathlib import Path
    ws = Path.cwd().parent.parent
    targets = [ws / ".private" / "speedrun" / "val.bin", Path({corpus!r}) / "doc00.txt"]
    leaked = []
    for path in targets:
        try:
            path.read_bytes()
            leaked.append(path.name)
        except OSError as e:
            print("blocked", path.name, type(e).__name__)
    print("LEAKED", leaked, flush=True)
    raise SystemExit(3 if leaked else 0)
"""


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_under_bwrap_train_py_cannot_read_the_validation_set(tmp_path):
    ws = _workspace(tmp_path, smoke_budget_s=10)
    exp = _experiment(ws, PEEK_AT_VALIDATION.format(corpus=str(tmp_path / "corpus")))
    result = _evaluate(ws, exp, "--sandbox", "bwrap")
    log = (exp / "run.log").read_text()
    assert "LEAKED []" in log and "blocked val.bin" in log and "blocked doc00.txt" in log
    assert result.error_signature == "no_checkpoint"
    # the same script without the sandbox does read them: the check above is not vacuous
    (exp / "run.log").unlink()
    result = _evaluate(ws, exp, "--sandbox", "none")
    assert "LEAKED ['val.bin', 'doc00.txt']" in (exp / "run.log").read_text()
    assert result.error_signature == "train_crashed"


def test_the_result_records_what_the_issue_asks_for(tmp_path):
    ws = _workspace(tmp_path, smoke_budget_s=10)
    stats = json.dumps({"tokens_seen": 1000, "tokens_per_s": 50.0, "mfu": 0.1})
    prepared = toys.write_checkpoint(tmp_path / "c", toys.CAUSAL, stats=stats)
    result = _evaluate(ws, _experiment(ws, COPY_CHECKPOINT, {"prepared": prepared}))
    assert result.status == "ok", result.error
    assert set(result.metrics) >= {"val_bpb", "params", "tokens_seen", "tokens_per_s", "mfu"}
    assert result.metrics["params"] == 16 * 256 + 16 * 256 + 256
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    assert result.details["gpu"] == gpu and result.details["val_bytes"] == 1024
    assert result.details["killed_at_budget"] is False
