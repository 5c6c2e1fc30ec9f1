"""The local ClickHouse server process: ``python -m streams.local.clickhouse_server DIR``.

The chdb-core wheel carries the full ClickHouse engine. Its low-level ``query`` runs a
clickhouse-local server that honours ``SYSTEM START LISTEN``, reading ports from a
``config.xml`` in the current directory (see DESIGN.md). So this process: imports chdb in its
original directory (importing it elsewhere would pick up our config too early), moves into
``DIR``, opens the HTTP and native TCP listeners, and then runs one long keep-alive query. The
server lives exactly as long as that query: ``KILL QUERY`` on it is the clean stop.
"""

from __future__ import annotations

import os
import sys

KEEPALIVE_MARK = "crossrec-keepalive"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m streams.local.clickhouse_server DIR", file=sys.stderr)
        return 2
    directory = os.path.abspath(argv[1])
    import chdb._chdb as chdb_engine  # before chdir: see the module docstring

    os.chdir(directory)
    print(f"clickhouse serving from {directory}", flush=True)
    result = chdb_engine.query(  # type: ignore[attr-defined]
        "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
        f"SELECT count() /* {KEEPALIVE_MARK} */ FROM system.numbers "
        "WHERE NOT ignore(sleepEachRow(1)) SETTINGS max_execution_time = 0, max_block_size = 1",
        "TabSeparated",
        path=os.path.join(directory, "data"),
    )
    print(f"clickhouse stopped: {result}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
