"""Baseline exploration of a speedrun corpus: size, document lengths, byte histogram, and reference bits-per-byte
figures (order-0 and order-1 byte entropy, lzma) that any trained model should beat.

    python explore.py CORPUS WORKSPACE [--max-mb 64]     (how the baseline Explorer calls it)

Writes WS/data_report/corpus_stats.{json,md} and WS/plots/{byte_histogram,doc_lengths}.png.
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harnesses.speedrun.corpus import iter_documents  # noqa: E402

LZMA_SAMPLE = 4 * 2**20  # lzma is slow; its ratio settles well before this


def read_sample(data: Path, max_bytes: int) -> list[bytes]:
    docs, total = [], 0
    for doc in iter_documents(data):
        docs.append(doc)
        total += len(doc)
        if total >= max_bytes:
            break
    return docs


def entropies(stream: np.ndarray) -> tuple[float, float]:
    """Order-0 entropy and order-1 conditional entropy of a byte stream, in bits per byte."""
    counts = np.bincount(stream, minlength=256).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    h0 = float(-(p * np.log2(p)).sum())
    pairs = np.bincount(stream[:-1].astype(np.int64) * 256 + stream[1:], minlength=256 * 256).astype(np.float64)
    pairs = pairs.reshape(256, 256)
    row = pairs.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.where(pairs > 0, pairs * np.log2(row / pairs), 0.0)
    return h0, float(cond.sum() / pairs.sum())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path)
    p.add_argument("workspace", type=Path)
    p.add_argument("--max-mb", type=float, default=64.0, help="read at most this much of the corpus")
    ns = p.parse_args()
    docs = read_sample(ns.data, int(ns.max_mb * 2**20))
    if not docs:
        raise SystemExit(f"no documents found in {ns.data}")
    stream = np.frombuffer(b"\x00".join(docs), dtype=np.uint8)
    lengths = np.array([len(d) for d in docs])
    h0, h1 = entropies(stream)
    sample = stream[:LZMA_SAMPLE].tobytes()
    stats = {
        "documents_read": len(docs),
        "bytes_read": int(lengths.sum()),
        "doc_bytes_median": float(np.median(lengths)),
        "doc_bytes_p10_p90": [float(np.percentile(lengths, 10)), float(np.percentile(lengths, 90))],
        "doc_bytes_max": int(lengths.max()),
        "ascii_fraction": float((stream < 128).mean()),
        "distinct_bytes": int(np.count_nonzero(np.bincount(stream, minlength=256))),
        "order0_bits_per_byte": h0,
        "order1_bits_per_byte": h1,
        "lzma_bits_per_byte": 8 * len(lzma.compress(sample, preset=6)) / len(sample),
        "uniform_bits_per_byte": math.log2(256),
    }
    report = ns.workspace / "data_report"
    plots = ns.workspace / "plots"
    report.mkdir(parents=True, exist_ok=True)
    plots.mkdir(parents=True, exist_ok=True)
    (report / "corpus_stats.json").write_text(json.dumps(stats, indent=2))
    summary = ("# Corpus statistics\n\n" + "\n".join(f"- {k}: {v}" for k, v in stats.items())
               + "\n\nA trained model's val_bpb should be well under the lzma and order-1 figures.\n")
    (report / "corpus_stats.md").write_text(summary)

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar(np.arange(256), np.bincount(stream, minlength=256), width=1.0)
    ax.set_yscale("log")
    ax.set(xlabel="byte value", ylabel="count", title="Byte histogram")
    fig.tight_layout()
    fig.savefig(plots / "byte_histogram.png", dpi=100)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.hist(lengths, bins=np.logspace(0, np.log10(max(lengths.max(), 10)), 50))
    ax.set_xscale("log")
    ax.set(xlabel="document length (bytes)", ylabel="documents", title="Document lengths")
    fig.tight_layout()
    fig.savefig(plots / "doc_lengths.png", dpi=100)
    print(summary)


if __name__ == "__main__":
    main()
