"""``crossrec replay``: evaluate the production models on a recorded stream.

The lead wires :func:`configure_parser` and :func:`run` into the ``crossrec`` CLI. Progress
goes to stderr; the LAST line on stdout is one JSON object with ``events``, ``seconds``,
``events_per_s`` and per-model metrics (see :mod:`online_models.replay`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from online_models.full_ranker import FullRanker
from online_models.recommender import CrossDomainRecommender
from online_models.replay import ReplayInputError, read_events, replay
from online_models.types import DOMAINS


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", dest="input", type=Path, help="CSV (with header) or JSON Lines event file"
    )
    parser.add_argument("path", nargs="?", type=Path, help="the same, as a positional argument")
    parser.add_argument(
        "--model",
        choices=["recommender", "full"],
        default="recommender",
        help="crossrec model: the blended recommender (MF + item-kNN + popularity), or the "
        "full ranker the worker serves (adds content candidates, CTR re-rank, exploration)",
    )
    parser.add_argument("--format", choices=["auto", "csv", "jsonl"], default="auto")
    parser.add_argument("--k", type=int, default=10, help="list length for Recall/NDCG@k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="replay only the first N")
    parser.add_argument(
        "--default-domain",
        choices=list(DOMAINS),
        default="course",
        help="domain of items whose events carry none",
    )
    parser.add_argument("--n-factors", type=int, default=32)
    parser.add_argument("--progress-every", type=int, default=10_000)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    path = args.input or args.path
    if path is None or (args.input and args.path):
        print("crossrec replay: give the event file once, as --input FILE", file=sys.stderr)
        return 2
    try:
        events = read_events(path, args.format)
    except (OSError, ReplayInputError) as exc:
        print(f"crossrec replay: {exc}", file=sys.stderr)
        return 2
    if args.limit is not None:
        events = events[: args.limit]
    print(f"replaying {len(events)} events from {path}", file=sys.stderr)
    result = replay(
        events,
        k=args.k,
        seed=args.seed,
        default_domain=args.default_domain,
        recommender_factory=lambda: _model(args.model, args.n_factors, args.seed),
        progress=None if args.quiet else sys.stderr,
        progress_every=args.progress_every,
    )
    print(json.dumps(result, sort_keys=True))
    return 0


def _model(name: str, n_factors: int, seed: int) -> CrossDomainRecommender | FullRanker:
    if name == "full":
        return FullRanker(n_factors=n_factors, seed=seed)
    return CrossDomainRecommender(n_factors=n_factors, seed=seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crossrec replay", description=__doc__.split("\n")[0])
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
