"""Live campaign progress for the terminal: "phase N | role | step k | $cost" lines.

Roles emit events here (agent steps, a role starting or finishing); `alphalab run` subscribes a reporter for the
length of the campaign. With no subscriber (a run on a Prefect worker) events cost nothing: the run logger already
carries the same lines to the UI.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

from pydantic import BaseModel


class ProgressEvent(BaseModel):
    phase: str  # "phase1", or "campaign" for campaign-level news
    role: str = ""
    step: int | None = None  # None for a role starting or finishing
    cost_usd: float | None = None  # campaign spend so far
    detail: str = ""

    def line(self) -> str:
        parts = [p for p in (self.phase.replace("phase", "phase "), self.role) if p]
        if self.step is not None:
            parts.append(f"step {self.step}")
        if self.cost_usd is not None:
            parts.append(f"${self.cost_usd:.4f}")
        if self.detail:
            parts.append(self.detail)
        return " | ".join(parts)


_subscribers: list[Callable[[ProgressEvent], None]] = []
_lock = threading.Lock()


def emit(event: ProgressEvent) -> None:
    with _lock:
        subscribers = list(_subscribers)
    for fn in subscribers:
        fn(event)


def announce(text: str, phase: str = "campaign") -> None:
    emit(ProgressEvent(phase=phase, detail=text))


@contextmanager
def subscribed(fn: Callable[[ProgressEvent], None]) -> Iterator[None]:
    with _lock:
        _subscribers.append(fn)
    try:
        yield
    finally:
        with _lock:
            _subscribers.remove(fn)


class TerminalReporter:
    """Plain lines, one per event; details are cut to one terminal line so the stream stays readable."""

    def __init__(self, stream: TextIO | None = None, width: int = 160):
        self.stream = stream or sys.stdout
        self.width = width
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        text = event.line()
        if len(text) > self.width:
            text = text[: self.width - 3] + "..."
        with self._lock:
            # write, not print: a flow with log_prints would turn a print into a log record
            self.stream.write(text + "\n")
            self.stream.flush()
