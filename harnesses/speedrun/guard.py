"""Keep experiment code that runs inside the harness (model.py, during scoring) away from the held-out data.

bwrap keeps the training process from the validation bytes; scoring has to import the experiment's model.py in
the harness process, after the harness has read what it needs. A Python audit hook then refuses to open any
file under the forbidden roots. It stops accidental reads (a tokenizer "trained" on whatever file it finds), not
a determined attacker: code running in-process can always find the bytes in memory. That is the Critic's job.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_forbidden: list[Path] = []
_installed = False


def _hook(event: str, args: tuple) -> None:
    if event != "open" or not _forbidden or not args or isinstance(args[0], int):
        return
    path = Path(os.fsdecode(args[0])).resolve()
    if any(path == root or root in path.parents for root in _forbidden):
        raise PermissionError(f"experiment code may not read {path} (held-out data) while it is being scored")


@contextmanager
def forbid_reads(*roots: Path) -> Iterator[None]:
    """Within the block, opening any file under `roots` raises PermissionError. Nests; audit hooks cannot be
    removed, so the hook is installed once per process and does nothing outside these blocks."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
    added = [Path(r).resolve() for r in roots]
    _forbidden.extend(added)
    try:
        yield
    finally:
        for root in added:
            _forbidden.remove(root)
