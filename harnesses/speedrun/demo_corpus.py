"""Build a demo corpus from text available offline: the Python standard library's source (about 12 MB without
its tests), optionally with the installed packages' Python sources and docs for a bigger corpus.

    python -m harnesses.speedrun.demo_corpus OUT_DIR [--max-mb 12] [--site-packages]

Each source file becomes one document (a .txt file in OUT_DIR); identical files are kept once.
"""

from __future__ import annotations

import argparse
import hashlib
import sysconfig
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel

_SUFFIXES = {".py", ".txt", ".rst", ".md"}
_SKIP_PARTS = {"test", "tests", "__pycache__", "site-packages", "dist-packages", "idle_test"}


class CorpusStats(BaseModel):
    out_dir: Path
    documents: int
    bytes: int


def source_files(roots: Sequence[Path]) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).parts
            if path.suffix in _SUFFIXES and path.is_file() and not _SKIP_PARTS.intersection(rel[:-1]):
                yield path


def default_roots(site_packages: bool) -> list[Path]:
    paths = sysconfig.get_paths()
    roots = [Path(paths["stdlib"])]
    if site_packages:
        roots.append(Path(paths["purelib"]))
    return roots


def build_demo_corpus(out_dir: Path, max_bytes: int | None = None, site_packages: bool = False) -> CorpusStats:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    total = 0
    for path in source_files(default_roots(site_packages)):
        try:
            data = path.read_bytes()
            data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        digest = hashlib.sha256(data).hexdigest()
        if not data.strip() or b"\x00" in data or digest in seen:
            continue
        if max_bytes is not None and total + len(data) > max_bytes:
            break
        seen.add(digest)
        (out_dir / f"{len(seen):06d}_{path.stem}.txt").write_bytes(data)
        total += len(data)
    return CorpusStats(out_dir=out_dir, documents=len(seen), bytes=total)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out_dir", type=Path)
    p.add_argument("--max-mb", type=float, default=None, help="stop after about this many MB")
    p.add_argument("--site-packages", action="store_true", help="also take the installed packages' sources")
    ns = p.parse_args(argv)
    stats = build_demo_corpus(ns.out_dir, int(ns.max_mb * 2**20) if ns.max_mb else None, ns.site_packages)
    print(f"{stats.documents} documents, {stats.bytes / 2**20:.1f} MB in {stats.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
