"""Sub-commands whose engines live outside ``streams`` (wired here, implemented there)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from streams.settings import Settings

if TYPE_CHECKING:
    SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    SubParsers = argparse._SubParsersAction


def add_simulate(sub: SubParsers) -> None:
    from simulator.command import configure_parser

    parser = sub.add_parser(
        "simulate", help="generate realistic cross-domain traffic (to Kafka or a JSONL file)"
    )
    configure_parser(parser)
    parser.set_defaults(func=_run_simulate)


def _run_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from simulator.command import run

    return run(args, default_bootstrap=settings.kafka_bootstrap, default_topic=settings.topic_in)


ALL: list[Callable[[SubParsers], None]] = [add_simulate]
