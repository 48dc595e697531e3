"""The playbook: the campaign's accumulated lessons (markdown, `## ` sections), read by every Strategist and Worker.

It must stay within a size budget, or the Strategist's context would grow with the campaign. Compaction is
deterministic (no model call): the newest sections stay verbatim, older ones shrink to their heading and first line,
and the oldest are moved whole to `playbook.archive.md` beside it, so nothing is lost.
"""

from __future__ import annotations

import threading
from pathlib import Path

from pydantic import BaseModel

ARCHIVE_NAME = "playbook.archive.md"
# share of the budget kept for verbatim recent sections; the rest holds one-line digests of older ones
_VERBATIM_SHARE = 0.6
_DIGEST_LINE_CHARS = 160
_lock = threading.RLock()


class Section(BaseModel):
    heading: str  # without the leading "## "; "" for the preamble
    body: str

    def text(self) -> str:
        return f"## {self.heading}\n{self.body}".rstrip() + "\n" if self.heading else self.body.rstrip() + "\n"

    def digest(self) -> str:
        first = next((ln.strip() for ln in self.body.splitlines() if ln.strip()), "")
        if len(first) > _DIGEST_LINE_CHARS:
            first = first[:_DIGEST_LINE_CHARS - 3] + "..."
        return f"## {self.heading}\n{first}\n" if first else f"## {self.heading}\n"


def split_sections(text: str) -> list[Section]:
    sections: list[Section] = []
    heading, body = "", []
    for line in text.splitlines():
        if line.startswith("## "):
            if heading or "".join(body).strip():
                sections.append(Section(heading=heading, body="\n".join(body)))
            heading, body = line[3:].strip(), []
        else:
            body.append(line)
    if heading or "".join(body).strip():
        sections.append(Section(heading=heading, body="\n".join(body)))
    return sections


def compact(text: str, max_chars: int) -> tuple[str, str]:
    """Return (compacted playbook, text moved to the archive). Unchanged when already within `max_chars`."""
    if len(text) <= max_chars:
        return text, ""
    sections = split_sections(text)
    preamble = [s for s in sections if not s.heading]
    body = [s for s in sections if s.heading]
    head = "".join(s.text() for s in preamble)[: max_chars // 5]
    verbatim: list[Section] = []
    used = len(head)
    for s in reversed(body):
        if used + len(s.text()) > max_chars * _VERBATIM_SHARE and verbatim:
            break
        verbatim.insert(0, s)
        used += len(s.text())
    older = body[: len(body) - len(verbatim)]
    digests = [s.digest() for s in older]
    archived: list[Section] = []
    while digests and used + sum(map(len, digests)) > max_chars - 80:
        digests.pop(0)
        archived.append(older.pop(0))
    pieces = [head]
    if archived:
        pieces.append(f"_{len(archived)} older section(s) moved to {ARCHIVE_NAME}._\n")
    pieces += digests
    pieces += [s.text() for s in verbatim]
    out = "\n".join(p.rstrip("\n") for p in pieces if p) + "\n"
    if len(out) > max_chars:  # one huge recent section: keep its beginning
        out = out[: max_chars - 20].rstrip() + "\n[... truncated]\n"
    return out, "".join(s.text() for s in archived)


class Playbook:
    def __init__(self, path: Path, max_chars: int):
        self.path = Path(path)
        self.max_chars = max_chars

    @property
    def archive(self) -> Path:
        return self.path.with_name(ARCHIVE_NAME)

    def read(self) -> str:
        return self.path.read_text() if self.path.is_file() else ""

    def write(self, text: str) -> str:
        """Replace the playbook (compacting it when over budget); returns what was stored."""
        with _lock:
            stored, moved = compact(text, self.max_chars)
            if moved:
                with self.archive.open("a", encoding="utf-8") as f:
                    f.write(moved)
            self.path.write_text(stored)
            return stored

    def append(self, heading: str, body: str) -> str:
        with _lock:
            current = self.read()
            sep = "" if not current or current.endswith("\n") else "\n"
            return self.write(f"{current}{sep}## {heading}\n{body.strip()}\n")
