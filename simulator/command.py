"""``crossrec simulate``: generate traffic into a JSONL file or a Kafka topic.

The lead's CLI calls :func:`configure_parser` on its ``simulate`` sub-parser and
:func:`run` with the parsed namespace; nothing here reads the environment, the defaults
for Kafka come in as arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator

from simulator.hostile import mix_hostile
from simulator.ledger import Ledger
from simulator.output import ProduceError, ProduceResult, produce_to_kafka, write_jsonl
from simulator.payload import Emitted, encode_all
from simulator.responder import Responder, answer_from_kafka
from simulator.traffic import Traffic
from simulator.world import World


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` options to ``parser``."""
    parser.add_argument("--seed", type=int, default=0, help="seed of world and traffic (0)")
    parser.add_argument("--users", type=int, default=5_000, help="number of users (5000)")
    parser.add_argument("--items", type=int, default=2_000, help="catalogue size (2000)")
    parser.add_argument(
        "--events",
        type=int,
        default=100_000,
        help="total messages to emit, catalogue upserts and hostile payloads included (100000)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="EV_PER_S",
        help="messages per second (Kafka only); default: as fast as possible",
    )
    parser.add_argument(
        "--hostile-fraction",
        type=float,
        default=0.0,
        help="share of hostile payloads mixed in, e.g. 0.05 (0)",
    )
    parser.add_argument(
        "--session-rate",
        type=float,
        default=5.0,
        help="user sessions per simulated second; sets event-time density (5)",
    )
    parser.add_argument(
        "--start-ts",
        default="2026-11-29T10:00:00.000Z",
        help="event time of the first message, RFC 3339",
    )
    parser.add_argument("--no-catalogue", action="store_true", help="skip the item upserts")
    sink = parser.add_mutually_exclusive_group(required=True)
    sink.add_argument("--output", metavar="FILE.jsonl", help="write JSON lines to this file")
    sink.add_argument(
        "--kafka",
        nargs="?",
        const="",
        metavar="BOOTSTRAP",
        help="produce to Kafka (bootstrap servers; default from the CLI's settings)",
    )
    parser.add_argument("--topic", default=None, help="Kafka topic (default: events.in)")
    parser.add_argument("--ledger", metavar="FILE.json", help="write the ledger of what was sent")
    parser.add_argument(
        "--respond",
        action="store_true",
        help="Kafka only: the simulated users also answer the lists served on the "
        "recommendations topic (impressions, clicks and purchases drawn from ground truth)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def build_traffic(args: argparse.Namespace) -> Traffic:
    """The simulated world and its traffic as ``args`` describe them."""
    world = World(seed=args.seed, n_users=args.users, n_items=args.items)
    return Traffic(
        world,
        seed=args.seed,
        start_ts=args.start_ts,
        session_rate=args.session_rate,
        catalogue=not args.no_catalogue,
    )


def build_stream(
    args: argparse.Namespace, traffic: Traffic | None = None, responder: Responder | None = None
) -> Iterator[Emitted]:
    """The messages ``run`` would send, limited to ``--events`` (reactions included)."""
    traffic = traffic or build_traffic(args)
    messages = mix_hostile(encode_all(traffic), args.hostile_fraction, seed=args.seed)
    if responder is not None:
        messages = responder.merge(messages)
    return itertools.islice(messages, args.events)


async def _produce(
    args: argparse.Namespace,
    stream: Iterator[Emitted],
    ledger: Ledger,
    responder: Responder | None,
    *,
    bootstrap: str,
    topic: str,
    recommendations_topic: str,
) -> ProduceResult:
    """Produce ``stream``; with a responder, answer the served lists while doing so."""
    send = produce_to_kafka(
        bootstrap,
        topic,
        stream,
        args.rate,
        ledger=ledger,
        total=args.events,
        progress=not args.quiet,
    )
    if responder is None:
        return await send
    answering = asyncio.create_task(answer_from_kafka(bootstrap, recommendations_topic, responder))
    try:
        return await send
    finally:
        answering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await answering  # re-raises what stopped it early, if anything did


def run(
    args: argparse.Namespace,
    *,
    default_bootstrap: str,
    default_topic: str,
    recommendations_topic: str = "recommendations",
    pseudonymise: Callable[[str], str] | None = None,
) -> int:
    """Run the simulation described by ``args``; return a process exit code.

    ``--respond`` needs ``pseudonymise``: the worker's mapping of raw user ids to the
    pseudonyms its lists carry.
    """
    if args.respond and (args.output or pseudonymise is None):
        print("--respond needs --kafka (and the worker's pseudonymisation)", file=sys.stderr)
        return 2
    if args.events < 0 or not 0.0 <= args.hostile_fraction < 1.0:
        print("--events must be >= 0 and --hostile-fraction in [0, 1)", file=sys.stderr)
        return 2
    if args.rate is not None and args.rate <= 0:
        print("--rate must be > 0", file=sys.stderr)
        return 2
    ledger = Ledger()
    traffic = build_traffic(args)
    responder = Responder(traffic, pseudonymise) if args.respond and pseudonymise else None
    stream = build_stream(args, traffic, responder)
    progress = not args.quiet
    started = time.monotonic()
    exit_code = 0
    try:
        if args.output:
            if args.rate is not None:
                print(
                    "--rate applies to --kafka only; writing the file at full speed",
                    file=sys.stderr,
                )
            write_jsonl(args.output, stream, ledger=ledger, total=args.events, progress=progress)
        else:
            result = asyncio.run(
                _produce(
                    args,
                    stream,
                    ledger,
                    responder,
                    bootstrap=args.kafka or default_bootstrap,
                    topic=args.topic or default_topic,
                    recommendations_topic=recommendations_topic,
                )
            )
            if result.failed:
                print(
                    f"{result.failed} messages failed, first error: {result.first_error}",
                    file=sys.stderr,
                )
                exit_code = 1
    except ProduceError as exc:
        print(str(exc), file=sys.stderr)
        exit_code = 1
    except KeyboardInterrupt:
        print("\ninterrupted; the ledger holds what was written so far", file=sys.stderr)
        exit_code = 130
    finally:
        elapsed = time.monotonic() - started
        if args.ledger:
            with open(args.ledger, "w", encoding="utf-8") as fh:
                fh.write(ledger.to_json())
        if progress:
            summary = ledger.summary()
            summary["elapsed_s"] = round(elapsed, 3)
            summary["messages_per_s"] = round(ledger.payloads / elapsed, 1) if elapsed else None
            if responder is not None:
                summary["lists_answered"] = responder.answered
                summary["lists_not_answered"] = responder.skipped + responder.invalid
            print(json.dumps(summary, indent=2), file=sys.stderr)
    return exit_code
