"""A speedrun corpus, checked before a campaign starts on it (alphalab.input_checks).

The harness reads the corpus at the first evaluation, phases into the campaign: a parquet file without the text
column, a folder of tokenized .bin files or of compressed shards (binary, so skipped: no documents), or a corpus
too small to split would fail every experiment there. Here the corpus is read as corpus.iter_documents reads it,
with the campaign's `domain_options`, and only as far as it must: every file's head and every parquet file's
footer, but the text only until it is known to be large enough.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from harnesses.speedrun.corpus import DOC_SEPARATOR, LARGE_FILE_BYTES, MIN_TRAIN_FRACTION
from harnesses.speedrun.settings import SpeedrunSettings

HEAD_BYTES = 2**13
READ_BYTES = 2**20
# shards such as C4's *.json.gz: binary, so the harness skips them, and a corpus of them has no documents
COMPRESSED = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bzip2", b"\xfd7zXZ": "xz",
              b"PK\x03\x04": "zip"}
TEXT_TYPES = ("string", "large_string", "string_view", "binary", "large_binary", "binary_view")


class _Read(NamedTuple):
    """What one file gives the corpus."""

    documents: int = 0
    size: int = 0
    problems: tuple[str, ...] = ()
    compressed: str | None = None


def _files(corpus: Path) -> list[Path]:
    # as iter_documents: the file itself, or the folder's files sorted, hidden ones skipped
    if corpus.is_file():
        return [corpus]
    return sorted(p for p in corpus.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(corpus).parts))


def _parquet(path: Path, text_column: str) -> _Read:
    """Its rows and text bytes, from the footer: a corpus of parquet shards is read without reading its text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException) as e:
        return _Read(problems=(f"{path}: not a readable parquet file ({e})",))
    schema = meta.schema.to_arrow_schema()
    if text_column not in schema.names:
        return _Read(problems=(f"{path}: no column `{text_column}` (columns: {', '.join(schema.names)}): name the "
                               "documents' column in `domain_options.text_column`",))
    if str(kind := schema.field(text_column).type) not in TEXT_TYPES:
        return _Read(problems=(f"{path}: column `{text_column}` holds {kind}, not text",))
    i = next(j for j in range(len(meta.schema)) if meta.schema.column(j).path == text_column)  # a leaf's index
    return _Read(meta.num_rows, sum(meta.row_group(g).column(i).total_uncompressed_size
                                    for g in range(meta.num_row_groups)))


def _text(path: Path, read_all: bool) -> _Read:
    """As the harness takes it: no document when empty or binary. Unless `read_all`, only its head is read."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
        skipped = _Read(compressed=next((name for magic, name in COMPRESSED.items() if head.startswith(magic)), None))
        if not head or DOC_SEPARATOR in head:
            return skipped
        if not read_all:
            return _Read(1, path.stat().st_size)
        size = len(head)
        while chunk := f.read(READ_BYTES):
            if DOC_SEPARATOR in chunk:  # a NUL byte anywhere: the harness skips the file as binary
                return skipped
            size += len(chunk)
    # a large file is cut into documents of about 64 KiB: two at least
    return _Read(2 if size > LARGE_FILE_BYTES else 1, size)


def check_dataset(path: Path, options: Mapping[str, object] | None = None) -> list[str]:
    """Every problem with the corpus at `path`, read with the campaign's `domain_options`, one line each naming the
    file or the field."""
    path = Path(path)
    try:
        settings = SpeedrunSettings.model_validate(dict(options or {}))
    except ValidationError as e:
        return [f"field `domain_options.{'.'.join(str(x) for x in err['loc'])}`: {err['msg']}" for err in e.errors()]
    # the validation split takes at most half the corpus, and smoke mode scores its first smoke_val_bytes
    scored = settings.scored_bytes("smoke")
    needed = int(scored / (1 - MIN_TRAIN_FRACTION))
    files = _files(path)
    reads: list[_Read] = []
    documents = size = 0
    for file in files:
        enough = documents >= 2 and size >= needed
        reads.append(read := _parquet(file, settings.text_column) if file.suffix == ".parquet"
                     else _text(file, not enough))
        documents, size = documents + read.documents, size + read.size
    if out := [p for r in reads for p in r.problems]:
        return out
    if documents < 2:
        compressed = sorted({r.compressed for r in reads if r.compressed})
        hint = f"; {', '.join(compressed)}-compressed files are binary to it: decompress them" if compressed else ""
        return [f"{path}: {documents} document(s) in {len(files)} file(s), the harness needs 2 at least to hold one "
                "out for validation: it reads text files, skipping empty ones and binary ones (holding a NUL byte), "
                f"and parquet files with a `{settings.text_column}` column{hint}"]
    if size < needed:
        return [f"{path}: {size} bytes of text, too few: the validation split takes at most half the corpus and smoke "
                f"mode scores its first {scored} bytes (`domain_options.smoke_val_bytes`), so the corpus needs "
                f"{needed} at least"]
    return []
