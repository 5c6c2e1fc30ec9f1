"""The ceiling: consume → produce the same bytes, no processing.

Run as ``python -m streams.bench.bare_loop``.

It does what any Kafka stream processor must do at least — fetch, forward key, value and the
trace header, commit — with settings close to the worker's (acks=all, no linger, offsets
committed every 2.8 s like Faust's default, only after the producer flushed). Measured with
the same instruments as the worker, it tells how much of the throughput and latency is the
machine and broker rather than crossrec.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.headers import TRACE_HEADER
from streams.kafka_config import aiokafka_options
from streams.settings import Settings

COMMIT_INTERVAL_S = 2.8  # Faust's broker_commit_interval default


async def relay(
    options: dict[str, Any], topic_in: str, topic_out: str, group_id: str, stop: asyncio.Event
) -> int:
    """Forward every message of ``topic_in`` to ``topic_out`` until ``stop``; return the count."""
    consumer = AIOKafkaConsumer(
        topic_in,
        **options,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(**options, acks="all")
    await consumer.start()
    await producer.start()
    forwarded = 0
    pending = False
    last_commit = time.monotonic()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=1000)
            for messages in batch.values():
                for msg in messages:
                    headers = [(k, v) for k, v in msg.headers if k == TRACE_HEADER]
                    await producer.send(topic_out, msg.value, key=msg.key, headers=headers)
                    forwarded += 1
                    pending = True
            if pending and time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                await producer.flush()
                await consumer.commit()
                pending = False
                last_commit = time.monotonic()
        if pending:
            await producer.flush()
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return forwarded


async def _main(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    options = {**aiokafka_options(settings), "bootstrap_servers": args.bootstrap}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    forwarded = await relay(options, args.topic_in, args.topic_out, args.group, stop)
    print(f"bare loop stopped after forwarding {forwarded} messages", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.bench.bare_loop")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--in", dest="topic_in", required=True)
    parser.add_argument("--out", dest="topic_out", required=True)
    parser.add_argument("--group", required=True)
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
