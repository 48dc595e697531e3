"""What a command printed: read from its pipe to the end, appended to its log as it streams, and kept as head and
tail within a limit, with a note saying what was cut (a long output keeps its start and its error at the end)."""

from __future__ import annotations

import codecs
import os
import threading
from pathlib import Path


def truncate_middle(text: str, limit: int | None) -> str:
    """Keep the head and the tail of `text` within about `limit` chars, with a note saying what was cut."""
    if limit is None or len(text) <= limit:
        return text
    half = max(limit // 2, 1)
    return _truncated(text[:half], text[-half:], len(text) - 2 * half)


def _truncated(head: str, tail: str, dropped: int) -> str:
    return f"{head}\n[... {dropped} characters truncated; showing head and tail ...]\n{tail}"


class OutputCapture:
    """Reads a pipe to EOF: appends to the log as it streams and keeps head+tail within `limit` chars."""

    def __init__(self, fd: int, limit: int | None, log_path: Path | None):
        self._fd = fd
        self._limit = limit
        self._log = open(log_path, "a", encoding="utf-8") if log_path is not None else None
        self._head: list[str] = []
        self._head_len = 0
        self._tail = ""
        self._total = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _keep(self, chunk: str) -> None:
        self._total += len(chunk)
        if self._limit is None:
            self._head.append(chunk)
            return
        half = max(self._limit // 2, 1)
        room = half - self._head_len
        if room > 0:
            self._head.append(chunk[:room])
            self._head_len += len(chunk[:room])
            chunk = chunk[room:]
        if chunk:
            self._tail = (self._tail + chunk)[-max(self._limit - half, 1):]

    def _run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while data := os.read(self._fd, 65536):
                text = decoder.decode(data)
                self._keep(text)
                if self._log is not None:
                    self._log.write(text)
                    self._log.flush()
            self._keep(decoder.decode(b"", final=True))
        finally:
            os.close(self._fd)
            if self._log is not None:
                self._log.close()

    def result(self, timeout: float) -> str:
        self._thread.join(timeout)
        head = "".join(self._head)
        if self._limit is None or self._total <= self._limit:
            return head + self._tail
        return _truncated(head, self._tail, self._total - len(head) - len(self._tail))
