"""Keep experiment code that runs inside the harness (model.py, during scoring) away from the held-out data and
from the code that scores it.

bwrap keeps the training process from the validation bytes; scoring has to import the experiment's model.py in
the harness process, after the harness has read what it needs. A Python audit hook then refuses to open any
file under the forbidden roots. It stops accidental reads (a tokenizer "trained" on whatever file it finds), not
a determined attacker: code running in-process can always find the bytes in memory. That is the Critic's job.

`ScoringSnapshot` covers the other way in-process code could cheat: rebinding the harness's own functions (the
scorer, the checkpoint loader) or torch's, or flipping a global flag. It is taken before model.py is imported and
compared after the import and after scoring; any difference rejects the checkpoint by name.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from harnesses.base.errors import EvaluationFailure
from harnesses.base.torch_state import TorchState

# the modules scoring runs through: the harness (also as __main__ under `python -m`) and the core it imports
_GUARDED = ("__main__", "harnesses", "alphalab")

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


class ScoringSnapshot:
    """The harness's own functions and torch's state before experiment code is imported into this process."""

    def __init__(self) -> None:
        self._state = TorchState(also=[m for name, m in list(sys.modules.items())
                                       if isinstance(m, ModuleType) and name.split(".")[0] in _GUARDED])

    def check(self, when: str) -> None:
        """Raise `patches_harness` naming what experiment code rebound (harness functions, torch's, or flags)."""
        changed = self._state.changed()
        if changed:
            raise EvaluationFailure("patches_harness", f"experiment code changed the process that scores it while "
                                                       f"{when}: {', '.join(changed[:20])}")
