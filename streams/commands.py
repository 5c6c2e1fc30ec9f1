"""Sub-commands whose engines live outside the CLI module (wired here, implemented there)."""

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
    from schemas import pseudonymise
    from simulator.command import run

    key = settings.pseudonym_key_bytes
    return run(
        args,
        default_bootstrap=settings.kafka_bootstrap,
        default_topic=settings.topic_in,
        recommendations_topic=settings.topic_recommendations,
        pseudonymise=lambda raw: pseudonymise(key, raw),
    )


def add_replay(sub: SubParsers) -> None:
    from online_models.replay_command import configure_parser

    parser = sub.add_parser(
        "replay",
        help="evaluate the models prequentially on an interaction log (CSV/JSONL) or a "
        "simulator / events.in JSONL file",
    )
    configure_parser(parser)
    parser.set_defaults(func=_run_replay)


def _run_replay(args: argparse.Namespace, settings: Settings) -> int:
    from online_models.replay_command import run

    return run(args)


def add_report(sub: SubParsers) -> None:
    from streams.analytics.report import configure_parser, run

    parser = sub.add_parser(
        "report", help="A/B results with significance, cross-domain funnel, chart over time"
    )
    configure_parser(parser)
    parser.set_defaults(func=run)


def add_bench(sub: SubParsers) -> None:
    from streams.bench.command import configure_parser, run

    parser = sub.add_parser(
        "bench", help="throughput and latency on real local Kafka vs a bare consume→produce loop"
    )
    configure_parser(parser)
    parser.set_defaults(func=run)


def add_evaluate(sub: SubParsers) -> None:
    from streams.evaluation import configure_parser, run

    parser = sub.add_parser(
        "evaluate", help="closed-loop A/B of the strategies against the simulator's ground truth"
    )
    configure_parser(parser)
    parser.set_defaults(func=run)


ALL: list[Callable[[SubParsers], None]] = [
    add_simulate,
    add_replay,
    add_evaluate,
    add_report,
    add_bench,
]
