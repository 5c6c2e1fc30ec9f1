"""``crossrec`` — one command line for running, feeding, evaluating and operating crossrec.

Run ``crossrec --help`` for the list; every command reads settings from the environment
(see README: Settings).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from streams.commands import SubParsers
from streams.local.process import ServiceError
from streams.settings import Settings, documented_settings


def cmd_service(args: argparse.Namespace, settings: Settings) -> int:
    from streams.local.stack import local_clickhouse, local_kafka, start_clickhouse

    kafka, clickhouse = local_kafka(settings), local_clickhouse(settings)
    if args.action == "stop":
        (kafka if args.service == "kafka" else clickhouse).stop()
    elif args.service == "kafka":
        kafka.start()
    else:
        start_clickhouse(clickhouse, settings)
    print(f"{args.service}: {args.action} done")
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from streams.analytics.setup import prepare_analytics
    from streams.worker import clickhouse_client

    with clickhouse_client(settings) as client:
        applied = prepare_analytics(client, settings)
    print(f"applied migrations: {applied or 'none (up to date)'}")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker

    run_worker(loglevel=args.loglevel)
    return 0


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from streams.up import run_everything

    return run_everything(settings, simulate_rate=args.rate)


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    for env, default, doc in documented_settings():
        print(f"{env}={default!r}\n    {doc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crossrec",
        description="Real-time cross-domain recommendations that learn from every event.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up", help="start local Kafka + ClickHouse + worker + simulator; Ctrl-C stops all"
    )
    up.add_argument(
        "--rate", type=float, default=200.0, help="simulated events per second (catalogue first)"
    )
    up.set_defaults(func=cmd_up)

    worker = sub.add_parser("worker", help="run the stream worker (Faust) in the foreground")
    worker.add_argument("--loglevel", default="info")
    worker.set_defaults(func=cmd_worker)

    for name in ("kafka", "clickhouse"):
        service = sub.add_parser(name, help=f"start or stop the local {name} server")
        service.add_argument("action", choices=["start", "stop"])
        service.set_defaults(func=cmd_service, service=name)

    migrate = sub.add_parser("migrate", help="apply ClickHouse schema migrations")
    migrate.set_defaults(func=cmd_migrate)

    show = sub.add_parser("settings", help="list every setting, its variable and default")
    show.set_defaults(func=cmd_settings)

    for extension in _extensions():
        extension(sub)
    return parser


def _extensions() -> list[Callable[[SubParsers], None]]:
    """Commands contributed by other packages (simulator, replay, report, bench)."""
    from streams import commands

    return commands.ALL


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    try:
        return int(args.func(args, settings))
    except ServiceError as exc:
        print(f"crossrec: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
