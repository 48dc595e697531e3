"""Pricing and the usage ledger."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from alphalab.config import CampaignConfig, Price, load_config
from alphalab.cost import DEFAULT_PRICES, PriceTable, UsageLedger
from alphalab.errors import ConfigError
from alphalab.models.base import Usage

CALL = Usage(input_tokens=1_000_000, cached_input_tokens=400_000, output_tokens=100_000)


def test_cost_charges_cached_input_at_the_cached_rate():
    cost = PriceTable().cost("openai:gpt-4.1", CALL)
    # 600k uncached at $2, 400k cached at $0.50, 100k out at $8
    assert cost.priced and cost.usd == pytest.approx(1.2 + 0.2 + 0.8)


def test_anthropic_cache_writes_cost_a_quarter_more_than_input():
    call = Usage(input_tokens=1_000_000, cached_input_tokens=400_000, cache_write_tokens=200_000, output_tokens=100_000)
    # sonnet: 400k uncached at $3, 400k read at $0.30, 200k written at $3.75 (1.25x), 100k out at $15
    assert PriceTable().cost("anthropic:claude-sonnet-4-5", call).usd == pytest.approx(1.2 + 0.12 + 0.75 + 1.5)
    for name, price in DEFAULT_PRICES.items():
        if name.startswith("claude-"):
            assert price.cache_write == pytest.approx(1.25 * price.input), name


def test_a_price_without_a_cache_write_rate_charges_writes_as_input():
    call = Usage(input_tokens=1_000_000, cache_write_tokens=500_000)
    assert DEFAULT_PRICES["gpt-4.1"].cache_write is None  # OpenAI: writing the cache costs nothing extra
    assert PriceTable().cost("openai:gpt-4.1", call).usd == pytest.approx(2.0)
    table = PriceTable({"m": Price(input=1, cached_input=0.1, output=1)})
    assert table.cost("m", call).usd == pytest.approx(1.0)


def test_usage_sums_cache_writes():
    total = Usage(input_tokens=10, cache_write_tokens=4) + Usage(input_tokens=5, cached_input_tokens=2,
                                                                 cache_write_tokens=1)
    assert (total.input_tokens, total.cached_input_tokens, total.cache_write_tokens) == (15, 2, 5)


def test_a_bad_cache_write_price_names_the_field(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\ndomain: time_series\ndata_path: {tmp_path}\nobjective: o\n"
                    "pricing: {m: {input: 1, cached_input: 0.1, cache_write: -1, output: 2}}\n")
    with pytest.raises(ConfigError, match="field `pricing.m.cache_write`: Input should be greater than or equal to 0"):
        load_config(path)


@pytest.mark.parametrize(
    "name, family",
    [
        ("anthropic:claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("openai:gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("openai:gpt-4.1-2025-04-14", "gpt-4.1"),
    ],
)
def test_lookup_accepts_provider_prefix_and_dated_snapshots(name, family):
    assert PriceTable().lookup(name) == DEFAULT_PRICES[family]


def test_unknown_model_costs_nothing_and_says_so():
    assert PriceTable().lookup("openai:gpt-99") is None
    cost = PriceTable().cost("openai:gpt-99", CALL)
    assert (cost.usd, cost.priced) == (0.0, False)
    # a test double is free by definition, not an unknown price
    assert PriceTable().cost("scripted:strategist", CALL).priced


def test_campaign_pricing_overrides_defaults(tmp_path):
    config = CampaignConfig(
        name="c",
        domain="time_series",
        data_path=tmp_path,
        objective="o",
        pricing={
            "gpt-4.1": Price(input=10, cached_input=1, output=100),
            "openai-compatible:qwen": Price(input=1, cached_input=1, output=1),
        },
    )
    ledger = UsageLedger(tmp_path / "usage.jsonl", pricing=config.pricing)
    assert ledger.record("worker", "phase3", "openai:gpt-4.1", CALL) == pytest.approx(6 + 0.4 + 10)
    assert ledger.record("worker", "phase3", "openai-compatible:qwen", CALL) == pytest.approx(0.6 + 0.4 + 0.1)
    assert ledger.record("worker", "phase3", "anthropic:claude-opus-4-5", CALL) == pytest.approx(3 + 0.2 + 2.5)


def test_ledger_totals_by_role_and_phase(tmp_path):
    ledger = UsageLedger(tmp_path / "usage.jsonl")
    small = Usage(input_tokens=1000, cached_input_tokens=0, output_tokens=100)
    ledger.record("explorer", "phase1", "openai:gpt-5-mini", small)
    ledger.record("worker", "phase3", "anthropic:claude-haiku-4-5", small)
    ledger.record("worker", "phase3", "anthropic:claude-haiku-4-5", small)
    mini = (1000 * 0.25 + 100 * 2.0) / 1e6
    haiku = (1000 * 1.0 + 100 * 5.0) / 1e6
    assert ledger.total_usd == pytest.approx(mini + 2 * haiku)
    by_role = ledger.totals_by_role()
    assert set(by_role) == {"explorer", "worker"}
    assert (by_role["worker"].calls, by_role["worker"].output_tokens) == (2, 200)
    assert by_role["worker"].cost_usd == pytest.approx(2 * haiku)
    by_phase = ledger.totals_by_phase()
    assert by_phase["phase1"].cost_usd == pytest.approx(mini)
    assert by_phase["phase3"].input_tokens == 2000


def test_ledger_lines_are_jsonl_with_the_call_details(tmp_path):
    path = tmp_path / "sub" / "usage.jsonl"
    cost = UsageLedger(path).record("critic", "phase2", "openai:gpt-5.2", CALL)
    (line,) = path.read_text().splitlines()
    row = json.loads(line)
    assert (row["role"], row["phase"], row["model"]) == ("critic", "phase2", "openai:gpt-5.2")
    assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"]) == (1_000_000, 400_000, 100_000)
    assert row["cache_write_tokens"] == 0
    assert row["cost_usd"] == pytest.approx(cost) and row["timestamp"]


def test_a_resumed_campaign_keeps_its_spend(tmp_path):
    path = tmp_path / "usage.jsonl"
    first = UsageLedger(path)
    first.record("strategist", "phase3", "anthropic:claude-opus-4-5", CALL)
    spent = first.total_usd
    resumed = UsageLedger(path)
    assert resumed.total_usd == pytest.approx(spent) and spent > 0
    resumed.record("worker", "phase3", "anthropic:claude-opus-4-5", CALL)
    assert resumed.total_usd == pytest.approx(2 * spent)
    assert resumed.totals_by_role()["strategist"].calls == 1


def test_a_ledger_written_before_cache_writes_were_priced_still_loads(tmp_path):
    path = tmp_path / "usage.jsonl"
    old_line = {"timestamp": "2026-01-01T00:00:00Z", "role": "worker", "phase": "phase3", "model": "openai:gpt-4.1",
                "input_tokens": 1000, "cached_input_tokens": 0, "output_tokens": 10, "cost_usd": 0.5, "priced": True}
    path.write_text(json.dumps(old_line) + "\n")
    ledger = UsageLedger(path)
    assert ledger.total_usd == pytest.approx(0.5) and ledger.summary().total.cache_write_tokens == 0
    ledger.record("worker", "phase3", "anthropic:claude-haiku-4-5", Usage(input_tokens=1000, cache_write_tokens=800))
    total = UsageLedger(path).summary().total
    assert (total.calls, total.cache_write_tokens) == (2, 800)
    assert total.cost_usd == pytest.approx(0.5 + (200 * 1.0 + 800 * 1.25) / 1e6)


def test_a_second_writer_on_the_same_file_is_counted(tmp_path):
    path = tmp_path / "usage.jsonl"
    mine, other = UsageLedger(path), UsageLedger(path)  # as another process would hold it
    other.record("worker", "phase3", "openai:gpt-4.1", CALL)
    assert mine.total_usd == pytest.approx(other.total_usd) and mine.total_usd > 0


def test_concurrent_records_are_all_kept(tmp_path):
    path = tmp_path / "usage.jsonl"
    ledgers = [UsageLedger(path), UsageLedger(path)]
    one = Usage(input_tokens=1000, output_tokens=10)

    def work(i: int) -> None:
        for _ in range(50):
            ledgers[i % 2].record(f"worker-{i}", "phase3", "openai:gpt-4.1", one)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 400 and all(json.loads(line)["model"] == "openai:gpt-4.1" for line in lines)
    for ledger in ledgers:
        assert ledger.summary().total.calls == 400
    assert UsageLedger(path).totals_by_role()["worker-3"].calls == 50


def test_unknown_model_warns_once(tmp_path, caplog):
    ledger = UsageLedger(tmp_path / "usage.jsonl")
    with caplog.at_level(logging.WARNING, logger="alphalab.cost"):
        for _ in range(3):
            assert ledger.record("worker", "phase3", "openai-compatible:my-local", CALL) == 0.0
    assert sum("no price for model openai-compatible:my-local" in r.message for r in caplog.records) == 1
    assert ledger.summary().unpriced_models == ["openai-compatible:my-local"]


def test_torn_and_corrupt_lines_do_not_break_the_ledger(tmp_path, caplog):
    path = tmp_path / "usage.jsonl"
    ledger = UsageLedger(path)
    ledger.record("worker", "phase3", "openai:gpt-4.1", CALL)
    with path.open("a") as f:
        f.write("not json\n")
        f.write('{"timestamp": "2026-01-01T00:00:00Z", "role": "wor')  # a writer mid-line
    with caplog.at_level(logging.WARNING, logger="alphalab.cost"):
        reloaded = UsageLedger(path)
        assert reloaded.summary().total.calls == 1
        reloaded.record("worker", "phase3", "openai:gpt-4.1", CALL)
    assert UsageLedger(path).summary().total.calls == 2  # the next line did not glue onto the fragment
    assert any("unreadable ledger line" in r.message for r in caplog.records)
