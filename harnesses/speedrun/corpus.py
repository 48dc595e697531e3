"""The corpus and its campaign-wide train/validation split.

A corpus is a directory (or one file) of text files, or of parquet files with a text column; each text file and
each parquet row is one document (a text file over 1 MiB is cut into documents of about 64 KiB at line ends).
The split is made once per campaign, by documents, with the campaign seed: the validation bytes go under the
workspace's `.private/` (never mounted for experiment code) and the training bytes go to
`data/speedrun/train.bin`, the only corpus file an experiment gets. Both files are the documents' UTF-8 bytes,
each followed by a NUL byte, so the validation bytes the harness scores are exactly `val.bin`.
"""

from __future__ import annotations

import fcntl
import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from alphalab.workspace import Workspace

DOC_SEPARATOR = b"\x00"  # never occurs in UTF-8 text, so it marks document ends unambiguously
# a text file larger than this (one book, a tinyshakespeare-style single file) is cut into documents of about
# CHUNK_BYTES at line ends, so that even a one-file corpus can be split
LARGE_FILE_BYTES = 2**20
CHUNK_BYTES = 2**16
MIN_TRAIN_FRACTION = 0.5  # a small corpus keeps at least half its bytes for training


class SplitError(RuntimeError):
    """The corpus cannot be split, or the campaign's split was made from other inputs."""


class SplitRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corpus: str
    seed: int
    requested_val_bytes: int
    n_documents: int
    n_val_documents: int
    val_document_indices: list[int]
    val_bytes: int
    train_bytes: int
    val_sha256: str
    created_at: str


class SplitPaths(BaseModel):
    """Where one workspace keeps its split. Only `train_dir` may be shown to experiment code."""

    model_config = ConfigDict(frozen=True)

    private_dir: Path
    train_dir: Path

    @classmethod
    def of(cls, ws: Workspace) -> "SplitPaths":
        return cls(private_dir=ws.private / "speedrun", train_dir=ws.root / "data" / "speedrun")

    @property
    def val_file(self) -> Path:
        return self.private_dir / "val.bin"

    @property
    def record_file(self) -> Path:
        return self.private_dir / "split.json"

    @property
    def train_file(self) -> Path:
        return self.train_dir / "train.bin"


def iter_documents(corpus: Path, text_column: str = "text") -> Iterator[bytes]:
    """Documents in a stable order: files sorted by path, parquet rows in file order. Hidden files are skipped."""
    corpus = Path(corpus)
    if corpus.is_file():
        files = [corpus]
    elif corpus.is_dir():
        files = sorted(p for p in corpus.rglob("*")
                       if p.is_file() and not any(part.startswith(".") for part in p.relative_to(corpus).parts))
    else:
        raise SplitError(f"corpus not found: {corpus}")
    for path in files:
        if path.suffix == ".parquet":
            yield from _parquet_documents(path, text_column)
            continue
        data = path.read_bytes()
        if not data or DOC_SEPARATOR in data:  # a NUL byte means a binary file, not text
            continue
        yield from (_line_chunks(data) if len(data) > LARGE_FILE_BYTES else [data])


def _line_chunks(data: bytes) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        end = start + CHUNK_BYTES
        if end < len(data):
            cut = data.rfind(b"\n", start, end)
            end = cut + 1 if cut > start else end
        yield data[start:end]
        start = end


def _parquet_documents(path: Path, text_column: str) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    if text_column not in schema.names:
        raise SplitError(f"{path}: no column {text_column!r} (columns: {schema.names}); set domain_options.text_column")
    for batch in pq.ParquetFile(path).iter_batches(columns=[text_column]):
        for text in batch.column(0).to_pylist():
            if text:
                data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
                yield data.replace(DOC_SEPARATOR, b"")


def ensure_split(ws: Workspace, corpus: Path, seed: int, val_bytes: int, text_column: str = "text") -> SplitRecord:
    """Make the campaign's split on first use and return its record; later calls must name the same inputs."""
    paths = SplitPaths.of(ws)
    paths.private_dir.mkdir(parents=True, exist_ok=True)
    with _locked(paths.private_dir / ".lock"):
        if paths.record_file.is_file():
            record = SplitRecord.model_validate_json(paths.record_file.read_text())
            wanted = (str(Path(corpus).resolve()), seed, val_bytes)
            if (record.corpus, record.seed, record.requested_val_bytes) != wanted:
                raise SplitError(
                    f"this campaign's validation split was made from corpus={record.corpus} seed={record.seed} "
                    f"val_bytes={record.requested_val_bytes}; asked for corpus={wanted[0]} seed={seed} "
                    f"val_bytes={val_bytes}. The split is fixed once per campaign.")
            return record
        return _make_split(paths, Path(corpus).resolve(), seed, val_bytes, text_column)


def _make_split(paths: SplitPaths, corpus: Path, seed: int, val_bytes: int, text_column: str) -> SplitRecord:
    docs = list(iter_documents(corpus, text_column))
    if len(docs) < 2:
        raise SplitError(f"{corpus}: need at least 2 documents to hold one out, found {len(docs)}")
    total = sum(len(d) + 1 for d in docs)
    target = min(val_bytes, int(total * (1 - MIN_TRAIN_FRACTION)))
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    val_idx: list[int] = []
    size = 0
    for i in order:
        if size >= target or len(val_idx) == len(docs) - 1:
            break
        val_idx.append(i)
        size += len(docs[i]) + 1
    held = set(val_idx)
    val = DOC_SEPARATOR.join(docs[i] for i in val_idx) + DOC_SEPARATOR
    train = DOC_SEPARATOR.join(d for i, d in enumerate(docs) if i not in held) + DOC_SEPARATOR

    paths.train_dir.mkdir(parents=True, exist_ok=True)
    # the training bytes are derived data: keep them out of the workspace's git history
    (paths.train_dir / ".gitignore").write_text("*\n")
    _write_atomic(paths.train_file, train)
    _write_atomic(paths.val_file, val)
    record = SplitRecord(
        corpus=str(corpus), seed=seed, requested_val_bytes=val_bytes, n_documents=len(docs),
        n_val_documents=len(val_idx), val_document_indices=sorted(val_idx), val_bytes=len(val),
        train_bytes=len(train), val_sha256=hashlib.sha256(val).hexdigest(),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    _write_atomic(paths.record_file, record.model_dump_json(indent=2).encode())
    return record


def read_validation(ws: Workspace, record: SplitRecord) -> bytes:
    """The validation bytes, checked against the digest recorded when the split was made."""
    data = SplitPaths.of(ws).val_file.read_bytes()
    if hashlib.sha256(data).hexdigest() != record.val_sha256:
        raise SplitError("the validation file no longer matches its recorded digest")
    return data


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Experiments on several GPU slots may start at once; only one of them makes the split."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
