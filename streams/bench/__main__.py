"""``python -m streams.bench [options]``: the benchmark without the ``crossrec`` entry point."""

from __future__ import annotations

import argparse
import sys

from streams.bench.command import configure_parser, run
from streams.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.bench", description="crossrec throughput and latency benchmark"
    )
    configure_parser(parser)
    return run(parser.parse_args(argv), Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
