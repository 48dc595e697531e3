"""File tools confined to the workspace: a path (or a symlink on it) that resolves outside is refused, as is one
under the context's hidden paths (harness-only data) and, for writing, one under its read-only paths (the sealed
evaluation). These tools run in the campaign's process, so the sandbox's mounts do not apply to them: these checks
are the same rules."""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

from alphalab.tools.base import ToolContext, ToolError, tool

MAX_GREP_FILE_BYTES = 5_000_000
_SKIP_DIRS = {".git", "__pycache__", ".venv", "node_modules"}


def _under(target: Path, roots: list[Path]) -> bool:
    return any(target.is_relative_to(Path(r).resolve()) for r in roots)


def resolve_in_workspace(ctx: ToolContext, path: str, *, writing: bool = False) -> Path:
    """The real path of `path` (relative to the workspace, or absolute inside it); ToolError if it escapes, is
    hidden, or (when `writing`) is read-only."""
    root = Path(ctx.workspace).resolve()
    target = (root / path).resolve()  # follows every symlink on the way, dangling ones included
    if not target.is_relative_to(root):  # the root itself counts as inside
        raise ToolError(f"{path!r} is outside the workspace {root}; file tools only reach files inside it")
    if _under(target, ctx.hidden):
        raise ToolError(f"{path!r} is harness-only data, hidden from agents")
    if writing and _under(target, ctx.read_only):
        raise ToolError(f"{path!r} is read-only: the evaluation was sealed when Phase 2 accepted it")
    return target


@tool
def read_file(ctx: ToolContext, path: str, start_line: int = 1, max_lines: int = 2000) -> str:
    """Read a text file in the workspace. Lines are numbered; page through big files with start_line/max_lines.

    Args:
        path: the file, relative to the workspace (or absolute inside it).
        start_line: the first line to show (1-based).
        max_lines: how many lines to show at most.
    """
    target = resolve_in_workspace(ctx, path)
    if not target.is_file():
        raise ToolError(f"{path!r} is not a file" if target.exists() else f"{path!r} does not exist")
    lines = target.read_text(errors="replace").splitlines()
    start = max(start_line, 1)
    chunk = lines[start - 1 : start - 1 + max(max_lines, 1)]
    body = "\n".join(f"{start + i:6d}\t{line}" for i, line in enumerate(chunk))
    end = start + len(chunk) - 1
    if start > 1 or end < len(lines):
        body += f"\n[lines {start}-{end} of {len(lines)}]"
    return body


@tool
def write_file(ctx: ToolContext, path: str, content: str, append: bool = False) -> str:
    """Write (or append to) a text file in the workspace, creating parent folders.

    Args:
        path: the file, relative to the workspace (or absolute inside it).
        content: the text to write.
        append: add `content` at the end of the file instead of replacing it.
    """
    target = resolve_in_workspace(ctx, path, writing=True)
    if target.is_dir():
        raise ToolError(f"{path!r} is a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a" if append else "w", encoding="utf-8") as f:
        f.write(content)
    where = target.relative_to(Path(ctx.workspace).resolve())
    return f"{'appended' if append else 'wrote'} {len(content.encode())} bytes to {where}"


def _files(root: Path, base: Path, glob: str | None, hidden: list[Path]):
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in _SKIP_DIRS and not _under((Path(dirpath) / d).resolve(), hidden))
        for name in sorted(filenames):
            f = Path(dirpath) / name
            if glob and not fnmatch.fnmatch(name, glob):
                continue
            real = f.resolve()
            # symlinks out of the workspace, or into hidden data, are not followed
            if real.is_file() and real.is_relative_to(base) and not _under(real, hidden):
                yield f


@tool
def grep_file(ctx: ToolContext, pattern: str, path: str = ".", glob: str | None = None, max_matches: int = 200) -> str:
    """Search files for a regular expression. Returns `file:line: text` for each match.

    Args:
        pattern: the regular expression, in Python syntax.
        path: a file or a folder (searched recursively), relative to the workspace.
        glob: only search files whose names match, e.g. "*.py".
        max_matches: stop after this many matches.
    """
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise ToolError(f"invalid regular expression {pattern!r}: {e}") from None
    base = Path(ctx.workspace).resolve()
    root = resolve_in_workspace(ctx, path)
    if not root.exists():
        raise ToolError(f"{path!r} does not exist")
    hits: list[str] = []
    for f in _files(root, base, glob, ctx.hidden):
        if f.stat().st_size > MAX_GREP_FILE_BYTES:
            continue
        data = f.read_bytes()
        if b"\0" in data[:8192]:  # binary
            continue
        for n, line in enumerate(data.decode(errors="replace").splitlines(), 1):
            if regex.search(line):
                hits.append(f"{f.relative_to(base)}:{n}: {line[:400]}")
                if len(hits) >= max_matches:
                    return "\n".join(hits) + f"\n[stopped at {max_matches} matches]"
    return "\n".join(hits) if hits else f"no match for {pattern!r}"
