"""The evaluation, sealed when Phase 2 accepts it: the workspace harness and the adapter's manifest.

A generated domain's harness lives in the workspace (`harness/`), and the manifest (`adapter/manifest.yaml`) says
which command evaluates and which way the primary metric ranks; agents with a shell could change either. When
Phase 2 passes, the hash of every such file is recorded under `.private/` (hidden from experiment code under the
sandbox); before every run `execute` compares, and a run over a changed, added or removed file fails as
`harness_tampered`. Under bwrap, Phase 3 agents and experiments also see them read-only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from alphalab.workspace import Workspace


def sealed_paths(ws: Workspace) -> list[Path]:
    """What the seal covers; Phase 3 agents and experiments get these read-only under bwrap."""
    return [ws.harness, ws.adapter / "manifest.yaml"]


def hashes(ws: Workspace) -> dict[str, str]:
    """The sha256 of every file the seal covers, by workspace-relative path."""
    files = [ws.adapter / "manifest.yaml"] + (sorted(ws.harness.rglob("*")) if ws.harness.is_dir() else [])
    out = {}
    for path in files:
        rel = path.relative_to(ws.root)
        # caches Python and pytest write while the harness runs are not the harness
        if any(part == "__pycache__" or part.startswith(".") for part in rel.parts) or path.is_dir():
            continue
        if path.is_file() or path.is_symlink():
            out[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "not-a-file"
    return out


def seal(ws: Workspace) -> int:
    """Record the harness as accepted; returns the number of files sealed."""
    sealed = hashes(ws)
    ws.harness_seal.parent.mkdir(parents=True, exist_ok=True)
    ws.harness_seal.write_text(json.dumps(sealed, indent=1, sort_keys=True))
    return len(sealed)


def ensure(ws: Workspace) -> bool:
    """Seal the harness experiments are about to run with, unless Phase 2 did (a workspace set up by hand).
    True when it sealed now."""
    if ws.harness_seal.exists():
        return False
    seal(ws)
    return True


def unseal(ws: Workspace) -> None:
    """Phase 2 is about to change the harness: nothing to check against until it passes again."""
    ws.harness_seal.unlink(missing_ok=True)


def changes(ws: Workspace) -> list[str]:
    """What differs from the seal (`changed: f`, `added: f`, `removed: f`); empty when it matches or none exists."""
    try:
        sealed = json.loads(ws.harness_seal.read_text())
    except FileNotFoundError:
        return []
    except ValueError:
        return ["the seal itself is unreadable"]
    now = hashes(ws)
    return ([f"changed: {f}" for f in sorted(sealed) if f in now and now[f] != sealed[f]]
            + [f"added: {f}" for f in sorted(set(now) - set(sealed))]
            + [f"removed: {f}" for f in sorted(set(sealed) - set(now))])


def import_root(ws: Workspace) -> Path | None:
    """A folder whose only entry links to harness/, for a workspace harness's `sys.path`; None without harness/."""
    if not ws.harness.is_dir():
        return None
    root = ws.harness_import_root
    link = root / "harness"
    if not link.is_symlink():
        root.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(ws.harness, link, target_is_directory=True)
        except FileExistsError:  # another slot's run made it first
            pass
    return root


def record_written(ws: Workspace) -> None:
    """Phase 2 wrote harness/ as it is now (installed, built or fixed)."""
    ws.harness_written.parent.mkdir(parents=True, exist_ok=True)
    ws.harness_written.write_text(json.dumps(hashes(ws), indent=1, sort_keys=True))


def hand_edits(ws: Workspace) -> list[str]:
    """harness/ files changed or added since Phase 2 last wrote them: a person's edits, which a rerun keeps."""
    try:
        written = json.loads(ws.harness_written.read_text())
    except (FileNotFoundError, ValueError):
        return []
    prefix = ws.harness.relative_to(ws.root).as_posix() + "/"
    return sorted(f for f, h in hashes(ws).items() if f.startswith(prefix) and written.get(f) != h)
