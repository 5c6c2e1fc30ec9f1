"""The Faust floor: one Faust agent that forwards bytes, with the worker's Faust settings.

Run as ``python -m streams.bench.faust_loop --bootstrap B --in T1 --out T2 --group G
--datadir D --partitions N``.

Between the bare aiokafka loop (the machine and broker's ceiling) and the real worker sits
Faust's own per-message machinery: the consumer thread hand-off, an ``Event`` per message,
acks, the producer buffer, sensors. This process pays exactly that and nothing else — every
message's key, value and trace header go from ``T1`` to ``T2`` through ``send_soon``, as the
worker's agents send — so the gap between it and the worker is crossrec's own work, and the gap
between it and the bare loop is Faust's.

It builds its own app (importing :mod:`streams.app` would build the real one) of the worker's
class (:class:`streams.outbox.DrainingApp`: a commit waits until Kafka has what was sent), with
the worker's options (:func:`streams.kafka_config.faust_app_options`) and the worker's event
loop (:func:`streams.kafka_config.use_fast_event_loop`).
The app id, which is also the consumer group, is ``G``. SIGTERM stops it cleanly (Faust's
worker commits what was processed and exits).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import faust

from streams.headers import TRACE_HEADER
from streams.kafka_config import faust_app_options, use_fast_event_loop
from streams.outbox import DrainingApp
from streams.settings import Settings

Headers = list[tuple[str, bytes]]


def trace_headers(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> Headers:
    """Only the trace header, whichever shape Faust hands the headers in (dict or pairs).

    >>> trace_headers({"produced_at_ns": b"1", "other": b"x"})
    [('produced_at_ns', b'1')]
    >>> trace_headers([("other", b"x")]), trace_headers(None)
    ([], [])
    """
    if headers is None:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [(key, value) for key, value in pairs if key == TRACE_HEADER]


def build_app(
    settings: Settings, topic_in: str, topic_out: str, group: str, datadir: Path, partitions: int
) -> faust.App:
    """The forwarding app: the worker's Faust app class and settings, web server off, one
    agent."""
    app = DrainingApp(
        group,
        **faust_app_options(settings),
        datadir=str(datadir),
        topic_partitions=partitions,
        web_enabled=False,
    )

    def topic(name: str) -> Any:
        return app.topic(
            name, key_type=bytes, value_type=bytes, partitions=partitions, allow_empty=True
        )

    source, sink = topic(topic_in), topic(topic_out)

    @app.agent(source)
    async def forward(stream: Any) -> None:
        async for event in stream.events():
            sink.send_soon(key=event.key, value=event.value, headers=trace_headers(event.headers))

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.bench.faust_loop")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--in", dest="topic_in", required=True)
    parser.add_argument("--out", dest="topic_out", required=True)
    parser.add_argument("--group", required=True, help="app id, which is the consumer group")
    parser.add_argument("--datadir", required=True, help="Faust's data directory")
    parser.add_argument(
        "--partitions", type=int, required=True, help="partitions of the (existing) topics"
    )
    parser.add_argument("--loglevel", default="warning")
    args = parser.parse_args(argv)

    from faust.worker import Worker

    use_fast_event_loop()  # as the worker does: before Faust creates its event loop
    settings = dataclasses.replace(Settings.from_env(), kafka_bootstrap=args.bootstrap)
    datadir = Path(args.datadir)
    datadir.mkdir(parents=True, exist_ok=True)  # Faust does not create parents
    app = build_app(settings, args.topic_in, args.topic_out, args.group, datadir, args.partitions)
    worker = Worker(app, loglevel=args.loglevel)
    # As in streams.worker: the spinner would force DEBUG logging on the root logger.
    worker.spinner = None
    worker.execute_from_commandline()  # raises SystemExit when the worker has stopped
    return 0


if __name__ == "__main__":
    sys.exit(main())
