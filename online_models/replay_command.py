"""``crossrec replay``: evaluate the production models on a recorded stream.

The input is an interaction log (CSV or JSON Lines) or the ``events.in`` wire format that
``crossrec simulate --output`` writes, detected from the file or chosen with ``--format``
(see :mod:`online_models.replay_input`).

The lead wires :func:`configure_parser` and :func:`run` into the ``crossrec`` CLI. Progress
goes to stderr; the LAST line on stdout is one JSON object with ``events`` (interactions
replayed), ``seconds``, ``events_per_s`` and per-model metrics (see
:mod:`online_models.replay`). For wire input it also has ``skipped_invalid`` (lines the
contract rejects, skipped rather than fatal) and ``input`` (the reader's counts: lines,
invalid lines per error code, duplicate event ids, valid events per type); the skipped
count is also reported on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from online_models.full_ranker import FullRanker
from online_models.recommender import CrossDomainRecommender
from online_models.replay import ReplayInputError, replay
from online_models.replay_input import FORMATS, read_input
from online_models.types import DOMAINS

_INPUT_HELP = (
    "event file: an interaction log (CSV with header, or JSON Lines with user_id, item_id, "
    "timestamp[, rating, event_type, domain]) or the events.in wire format that "
    "'crossrec simulate --output' writes"
)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", dest="input", type=Path, help=_INPUT_HELP)
    parser.add_argument("path", nargs="?", type=Path, help="the same, as a positional argument")
    parser.add_argument(
        "--model",
        choices=["recommender", "full"],
        default="recommender",
        help="crossrec model: the blended recommender (MF + item-kNN + popularity), or the "
        "full ranker the worker serves (adds content candidates, CTR re-rank, exploration)",
    )
    parser.add_argument(
        "--format",
        choices=list(FORMATS),
        default="auto",
        help="csv / jsonl: interaction log; events: events.in wire format (clicks, course "
        "purchases and partner orders are replayed, catalogue upserts feed the catalogue, "
        "impressions/consent/forget are ignored, invalid lines skipped and counted); "
        "auto (default): by suffix and by the first JSON object in the file",
    )
    parser.add_argument("--k", type=int, default=10, help="list length for Recall/NDCG@k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="replay only the first N")
    parser.add_argument(
        "--default-domain",
        choices=list(DOMAINS),
        default="course",
        help="domain of items whose events carry none (wire format: items never upserted)",
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
        data = read_input(path, args.format)
    except (OSError, ReplayInputError) as exc:
        print(f"crossrec replay: {exc}", file=sys.stderr)
        return 2
    events = data.events
    if args.limit is not None:
        events = events[: args.limit]
    if data.wire is not None:
        w = data.wire
        codes = ", ".join(f"{c}={n}" for c, n in sorted(w.invalid_by_code.items()))
        print(
            f"{path}: events.in wire format, {w.lines} lines; skipped {w.skipped_invalid} "
            f"invalid{f' ({codes})' if codes else ''} and {w.duplicates} duplicate event ids; "
            f"{len(w.catalogue_updates)} catalogue upserts",
            file=sys.stderr,
        )
    print(f"replaying {len(events)} events from {path}", file=sys.stderr)
    result = replay(
        events,
        k=args.k,
        seed=args.seed,
        default_domain=args.default_domain,
        recommender_factory=lambda: _model(args.model, args.n_factors, args.seed),
        progress=None if args.quiet else sys.stderr,
        progress_every=args.progress_every,
        catalogue_updates=data.catalogue_updates,
    )
    if data.wire is not None:
        result["skipped_invalid"] = data.wire.skipped_invalid
        result["input"] = data.wire.summary()
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
