"""bench/learner_memory.py on a tiny catalogue: it runs as documented and its report adds up.

No memory assertions (RSS of a small run is allocator noise): only that the users' clicks
were answered (a few get nothing yet: an MF-only list needs a known user or item) and
remembered, and that the report's fields are consistent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "learner_memory.py"


def test_clicks_are_answered_and_remembered() -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--users", "300", "--items", "200"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert (report["users"], report["items"]) == (300, 200)
    served = report["lists_served"]
    assert 270 <= served <= 300
    assert report["state"]["last_list"]["entries"] == served
    assert report["state"]["served"]["entries"] == served  # far below the join's bound
    parts = report["rss_items_mib"] + report["rss_users_mib"]
    assert abs(report["rss_total_mib"] - parts) <= 0.11
    assert "300 users over 200 items" in run.stderr
