"""Tools over the workspace's adapter (Phase 0 and the Supervisor): read it, patch it, write it, read a reference.

Every change is a git commit in the workspace whose message is the reason the agent gave. A patch that would make
the adapter invalid is refused with the problems, so the agent can correct it; a drafted file (generator) is
written as given and the whole adapter is validated when the agent is done.
"""

from __future__ import annotations

from alphalab import adapters
from alphalab.errors import AdapterError
from alphalab.tools.base import ToolContext, ToolError, tool
from alphalab.workspace import Workspace


def _listing(root) -> str:
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    return "\n".join(files) or "(empty)"


@tool
def read_adapter(ctx: ToolContext, file: str = "") -> str:
    """Read one file of this campaign's adapter, or list its files.

    Args:
        file: the adapter file to read, e.g. "domain_knowledge.md"; empty lists the adapter's files.
    """
    ws = Workspace(ctx.workspace)
    if not file:
        return _listing(ws.adapter)
    try:
        path = adapters.adapter_path(ws, file)
    except AdapterError as e:
        raise ToolError(str(e)) from None
    if not path.is_file():
        raise ToolError(f"{file!r} is not an adapter file; the adapter holds:\n{_listing(ws.adapter)}")
    return path.read_text()


@tool
def patch_adapter_file(ctx: ToolContext, file: str, old_text: str, new_text: str, reason: str) -> str:
    """Replace a text in an adapter file, or append to it; the change becomes a git commit.

    Args:
        file: the adapter file to patch, e.g. "domain_knowledge.md".
        old_text: the text to replace, which must occur exactly once; empty appends `new_text` at the end.
        new_text: the text that replaces `old_text`.
        reason: the git commit message: say why, in one line.
    """
    if not reason.strip():
        raise ToolError("give a `reason`: it is the commit message of this adapter change")
    try:
        changed = adapters.patch_file(Workspace(ctx.workspace), file, old_text, new_text, reason)
    except AdapterError as e:
        raise ToolError(str(e)) from None
    return f"patched {file} and committed: {reason}" if changed else f"{file} unchanged (the patch changed nothing)"


@tool
def write_adapter_file(ctx: ToolContext, file: str, content: str, reason: str = "") -> str:
    """Write a whole adapter file (one of the 11, or a helper file such as an exploration script) and commit it.
    The full adapter is validated when you report that you are done.

    Args:
        file: the adapter file to write.
        content: the file's whole text.
        reason: the git commit message: say why, in one line.
    """
    try:
        adapters.write_file(Workspace(ctx.workspace), file, content, reason or f"phase 0: write {file}", check=False)
    except AdapterError as e:
        raise ToolError(str(e)) from None
    return f"wrote {file} ({len(content)} characters)"


@tool
def read_reference_adapter(ctx: ToolContext, adapter: str = "", file: str = "") -> str:
    """Read a built-in adapter as a format reference.

    Args:
        adapter: the built-in adapter's name; empty lists the built-in adapters.
        file: the file of that adapter to read; empty lists its files.
    """
    names = adapters.builtin_adapter_names()
    if not adapter:
        return "\n".join(names) or "(no built-in adapters installed)"
    if adapter not in names:
        raise ToolError(f"no built-in adapter {adapter!r}; known: {', '.join(names) or 'none'}")
    root = adapters.builtin_adapter_dir(adapter)
    if not file:
        return _listing(root)
    path = (root / file).resolve()
    if not path.is_file() or root.resolve() not in path.parents:
        raise ToolError(f"{adapter} has no file {file!r}; it holds:\n{_listing(root)}")
    return path.read_text()
