"""Sinks and the command: JSONL files, rate control, progress bar, ``crossrec simulate``."""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import time
from pathlib import Path

import pytest

from simulator.command import build_stream, configure_parser, run
from simulator.ledger import Ledger
from simulator.output import (
    Pacer,
    ProduceError,
    ProgressBar,
    produce_to_kafka,
    read_jsonl,
    write_jsonl,
)
from simulator.payload import encode_all
from simulator.traffic import Traffic
from simulator.world import World


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("rate", [1_000.0, 2_500.0, 5_000.0])
def test_pacer_holds_the_rate_with_coarse_sleeps(rate: float) -> None:
    clock = FakeClock()
    pacer = Pacer(rate, clock=clock)
    n = 20_000
    for _ in range(n):
        wait = pacer.delay()
        if wait > 0.001:  # like the producer: only sleeps of at least a millisecond
            clock.now += wait + 0.0003  # and the event loop oversleeps a little
        clock.now += 0.00003  # cost of sending one message
    assert n / clock.now == pytest.approx(rate, rel=0.01)


def test_pacer_limits_catch_up_after_a_stall() -> None:
    clock = FakeClock()
    pacer = Pacer(1_000.0, burst=10, clock=clock)
    for _ in range(100):
        clock.now += pacer.delay()
    clock.now += 5.0  # stalled 5 s: 5,000 messages behind
    free = 0
    while pacer.delay() == 0.0:
        free += 1
    assert free == 10


def test_pacer_in_real_time() -> None:
    async def send(n: int, rate: float) -> float:
        pacer = Pacer(rate)
        start = time.monotonic()
        for _ in range(n):
            wait = pacer.delay()
            if wait > 0.001:
                await asyncio.sleep(wait)
        return time.monotonic() - start

    elapsed = asyncio.run(send(1_500, 3_000.0))
    assert 1_500 / elapsed == pytest.approx(3_000.0, rel=0.1)


def test_progress_bar_draws_and_closes() -> None:
    out = io.StringIO()
    bar = ProgressBar(200, stream=out, interval=0.0)
    for _ in range(200):
        bar.update()
    bar.close()
    text = out.getvalue()
    assert "\r[" in text and "200/200" in text and "100.0%" in text and text.endswith("\n")
    silent = io.StringIO()
    quiet = ProgressBar(None, stream=silent, enabled=False)
    quiet.update(5)
    quiet.close()
    assert silent.getvalue() == "" and quiet.count == 5


def test_write_jsonl_writes_one_payload_per_line(tmp_path: Path) -> None:
    world = World(seed=41, n_users=50, n_items=40)
    messages = list(itertools.islice(encode_all(Traffic(world, seed=41)), 2_000))
    path = tmp_path / "out.jsonl"
    ledger = Ledger()
    assert write_jsonl(path, messages, ledger=ledger, progress=False) == 2_000
    assert read_jsonl(path) == [m.payload for m in messages]
    assert ledger.payloads == 2_000


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="crossrec simulate")
    configure_parser(parser)
    return parser.parse_args(argv)


def test_command_writes_file_and_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, ledger_path = tmp_path / "s.jsonl", tmp_path / "ledger.json"
    args = _parse(
        [
            "--seed", "5", "--users", "100", "--items", "60", "--events", "3000",
            "--hostile-fraction", "0.05", "--output", str(out), "--ledger", str(ledger_path),
        ]
    )  # fmt: skip
    assert run(args, default_bootstrap="unused:9092", default_topic="events.in") == 0
    lines = read_jsonl(out)
    assert len(lines) == 3000
    ledger = Ledger.from_json(ledger_path.read_text())
    assert ledger.payloads == 3000
    assert ledger.by_type["item"] >= 60
    assert 0.02 < ledger.hostile / ledger.payloads < 0.09
    summary = json.loads(capsys.readouterr().err.split("\n", 1)[1])  # after the bar line
    assert summary["payloads"] == 3000
    # Same arguments, same bytes.
    again = [m.payload for m in build_stream(args)]
    assert again == lines


def test_command_needs_exactly_one_sink(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse(["--events", "10"])
    with pytest.raises(SystemExit):
        _parse(["--output", "a.jsonl", "--kafka", "h:9092"])
    args = _parse(["--kafka"])
    assert args.kafka == ""  # the CLI's default bootstrap will be used
    bad = _parse(["--output", "x.jsonl", "--hostile-fraction", "1.5"])
    assert run(bad, default_bootstrap="b", default_topic="t") == 2
    assert "hostile-fraction" in capsys.readouterr().err


def test_produce_to_an_unreachable_broker_fails_cleanly() -> None:
    """No broker needed: a refused connection becomes one domain error, nothing leaks."""
    ledger = Ledger()
    with pytest.raises(ProduceError, match="cannot start"):
        asyncio.run(produce_to_kafka("127.0.0.1:1", "events.in", [b"{}"], None, ledger=ledger))
    assert ledger.payloads == 0


def test_command_reports_an_unreachable_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger_path = tmp_path / "ledger.json"
    args = _parse(["--users", "10", "--items", "10", "--events", "50", "--kafka", "--quiet",
                   "--ledger", str(ledger_path)])  # fmt: skip
    assert run(args, default_bootstrap="127.0.0.1:1", default_topic="events.in") == 1
    assert "127.0.0.1:1" in capsys.readouterr().err
    assert Ledger.from_json(ledger_path.read_text()).payloads == 0
