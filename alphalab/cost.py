"""What model calls cost: a pricing table and an append-only usage ledger (JSONL).

The ledger is the campaign's record of spend. It is reloaded from disk on construction, so a
resumed campaign keeps counting from where it stopped, and it reads lines other processes appended
before answering a total, so Workers in separate processes share one budget.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from alphalab.config import Price
from alphalab.models.base import Usage

log = logging.getLogger(__name__)

# Defaults, USD per million tokens, as published when written. Prices change: override them in the
# campaign YAML (`pricing: {model-name: {input, cached_input, cache_write, output}}`) rather than trusting these.
# Anthropic bills 5-minute cache writes at 1.25x the input price; OpenAI's cache writes cost nothing extra.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5.2": Price(input=1.75, cached_input=0.175, output=14.00),
    "gpt-5-mini": Price(input=0.25, cached_input=0.025, output=2.00),
    "gpt-4.1": Price(input=2.00, cached_input=0.50, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, cached_input=0.10, output=1.60),
    "claude-opus-4-5": Price(input=5.00, cached_input=0.50, cache_write=6.25, output=25.00),
    "claude-sonnet-4-5": Price(input=3.00, cached_input=0.30, cache_write=3.75, output=15.00),
    "claude-haiku-4-5": Price(input=1.00, cached_input=0.10, cache_write=1.25, output=5.00),
}

# test doubles cost nothing; saying so avoids a warning per scripted run
_FREE_PROVIDERS = ("scripted",)


class Cost(BaseModel):
    usd: float
    priced: bool = Field(description="false when the model has no price: usd is then 0")


class PriceTable:
    """Prices by model name; campaign overrides win over the defaults."""

    def __init__(self, overrides: Mapping[str, Price] | None = None) -> None:
        self.prices: dict[str, Price] = {**DEFAULT_PRICES, **(overrides or {})}

    def lookup(self, model_name: str) -> Price | None:
        """`provider:model` or bare `model`; a dated snapshot (`gpt-4.1-2025-04-14`) matches its family."""
        if model_name in self.prices:
            return self.prices[model_name]
        bare = model_name.split(":", 1)[-1]
        if bare in self.prices:
            return self.prices[bare]
        families = [k for k in self.prices if bare.startswith(k + "-")]
        return self.prices[max(families, key=len)] if families else None

    def cost(self, model_name: str, usage: Usage) -> Cost:
        price = self.lookup(model_name)
        if price is None:
            return Cost(usd=0.0, priced=model_name.split(":", 1)[0] in _FREE_PROVIDERS)
        uncached = max(0, usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens)
        write_price = price.input if price.cache_write is None else price.cache_write
        usd = (
            uncached * price.input
            + usage.cached_input_tokens * price.cached_input
            + usage.cache_write_tokens * write_price
            + usage.output_tokens * price.output
        ) / 1_000_000
        return Cost(usd=usd, priced=True)


class LedgerEntry(BaseModel):
    """One model call, one JSONL line."""

    timestamp: datetime
    role: str
    phase: str
    model: str
    input_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int = 0  # absent from lines written before cache writes were priced apart
    output_tokens: int
    cost_usd: float
    priced: bool


class SpendTotals(BaseModel):
    calls: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, e: LedgerEntry) -> None:
        self.calls += 1
        self.input_tokens += e.input_tokens
        self.cached_input_tokens += e.cached_input_tokens
        self.cache_write_tokens += e.cache_write_tokens
        self.output_tokens += e.output_tokens
        self.cost_usd += e.cost_usd


class SpendSummary(BaseModel):
    total: SpendTotals
    by_role: dict[str, SpendTotals]
    by_phase: dict[str, SpendTotals]
    unpriced_models: list[str]


class UsageLedger:
    """Thread-safe append-only record of every model call and its cost."""

    def __init__(self, path: Path, pricing: Mapping[str, Price] | None = None) -> None:
        self.path = Path(path)
        self.prices = PriceTable(pricing)
        self._lock = threading.Lock()
        self._offset = 0  # bytes of the file already folded into the totals
        self._total = SpendTotals()
        self._by_role: dict[str, SpendTotals] = {}
        self._by_phase: dict[str, SpendTotals] = {}
        self._unpriced: set[str] = set()
        with self._lock:
            self._catch_up()

    def record(self, role: str, phase: str, model_name: str, usage: Usage) -> float:
        """Append one call to the ledger and return its cost in USD (0 for an unpriced model)."""
        cost = self.prices.cost(model_name, usage)
        entry = LedgerEntry(
            timestamp=datetime.now(timezone.utc),
            role=role,
            phase=phase,
            model=model_name,
            input_tokens=usage.input_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=cost.usd,
            priced=cost.priced,
        )
        line = (entry.model_dump_json() + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                # one write under an exclusive lock: lines from concurrent processes never interleave
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # a writer died mid-line: end its fragment, keep ours whole
                os.write(fd, line)
            finally:
                os.close(fd)  # closing releases the lock
            self._catch_up()
        return cost.usd

    @property
    def total_usd(self) -> float:
        return self.summary().total.cost_usd

    def totals_by_role(self) -> dict[str, SpendTotals]:
        return self.summary().by_role

    def totals_by_phase(self) -> dict[str, SpendTotals]:
        return self.summary().by_phase

    def summary(self) -> SpendSummary:
        """A snapshot of the spend, including lines other processes appended since the last look."""
        with self._lock:
            self._catch_up()
            return SpendSummary(
                total=self._total.model_copy(),
                by_role={k: v.model_copy() for k, v in self._by_role.items()},
                by_phase={k: v.model_copy() for k, v in self._by_phase.items()},
                unpriced_models=sorted(self._unpriced),
            )

    def _catch_up(self) -> None:
        """Fold complete lines appended since the last read into the totals (caller holds the lock)."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next look
        for raw in chunk[:end].splitlines():
            if raw.strip():
                self._fold(raw)
        self._offset += end

    def _fold(self, raw: bytes) -> None:
        try:
            entry = LedgerEntry.model_validate_json(raw)
        except ValidationError:
            log.warning("%s: skipping an unreadable ledger line: %.120r", self.path, raw)
            return
        self._total.add(entry)
        self._by_role.setdefault(entry.role, SpendTotals()).add(entry)
        self._by_phase.setdefault(entry.phase, SpendTotals()).add(entry)
        if not entry.priced and entry.model not in self._unpriced:
            self._unpriced.add(entry.model)
            log.warning(
                "no price for model %s: its calls count as $0; add it under `pricing:` in the campaign YAML",
                entry.model,
            )
