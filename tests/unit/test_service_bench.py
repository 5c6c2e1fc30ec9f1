"""bench/service_bench.py on a tiny stream: the report's shape and that its counts add up.

No timing assertions: only structure and bookkeeping (every timed call lands in exactly one
event type, the buckets add up to the total, served events are only trigger events).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from streams.model_factory import build_service
from streams.settings import Settings

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "service_bench.py"


def _load_script() -> ModuleType:
    """Import the script by path (bench/ is not a package), keeping this process's env."""
    before = os.environ.get("OPENBLAS_NUM_THREADS")
    spec = importlib.util.spec_from_file_location("service_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        if before is None:
            os.environ.pop("OPENBLAS_NUM_THREADS", None)
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = before
    return module


sb = _load_script()
SETTINGS = Settings.from_env({})
ITEMS, EVENTS, WARMUP = 300, 2_000, 200


@pytest.fixture(scope="module")
def stream() -> Any:
    return sb.prepare_stream(ITEMS, 500, WARMUP + EVENTS, 0, SETTINGS)


@pytest.fixture(scope="module")
def samples(stream: Any) -> list[Any]:
    return list(sb.run(build_service(SETTINGS), stream, WARMUP, freeze_every_s=0))


def test_stream_is_catalogue_then_traffic(stream: Any) -> None:
    assert len(stream.catalogue) + len(stream.traffic) + stream.rejected == ITEMS + WARMUP + EVENTS
    assert len(stream.catalogue) > 0
    assert all(e.EVENT_TYPE == "item" for e in stream.catalogue)
    # Pseudonymised as on events.valid: no raw simulator user id reaches the learner.
    users = {e.user_id for e in stream.traffic if e.EVENT_TYPE != "item"}
    assert users and not any(u.startswith("user-") for u in users)


def test_one_sample_per_timed_event(stream: Any, samples: list[Any]) -> None:
    timed = stream.traffic[WARMUP:]
    assert len(samples) == len(timed)
    assert [s.event_type for s in samples] == [e.EVENT_TYPE for e in timed]


def test_buckets_follow_the_event_type(samples: list[Any]) -> None:
    for s in samples:
        assert min(s.recommend, s.learn, s.catalogue, s.other, s.cpu) >= 0.0
        assert (s.variant is not None) == s.served
        if s.served:
            assert s.event_type in SETTINGS.recommend_on.split(",")
            assert s.recommend > 0.0
        if s.event_type == "impression":
            assert (s.recommend, s.catalogue, s.other) == (0.0, 0.0, 0.0)
        if s.event_type == "item":
            assert (s.recommend, s.learn, s.other) == (0.0, 0.0, 0.0)
    assert any(s.served for s in samples)


def test_report_counts_add_up(samples: list[Any]) -> None:
    report = sb.summarise(samples)
    assert report["events"] == len(samples)
    by_type = report["by_type"]
    assert sum(row["count"] for row in by_type.values()) == report["events"]
    assert sum(row["served"] for row in by_type.values()) == report["served"]
    assert {"click", "impression"} <= set(by_type)
    assert report["split_s"].keys() == set(sb.BUCKETS)
    assert sum(report["split_s"].values()) == pytest.approx(report["total_s"], rel=1e-4)
    assert sum(report["split_share"].values()) == pytest.approx(1.0, abs=1e-3)
    assert sum(row["share_of_time"] for row in by_type.values()) == pytest.approx(1.0, abs=1e-3)
    for row in by_type.values():
        assert sum(row["split_s"].values()) == pytest.approx(
            row["mean_us"] * row["count"] / 1e6, rel=1e-2, abs=1e-6
        )
        assert row["p50_us"] <= row["p99_us"] <= row["max_us"]
    assert report["served_share"] == pytest.approx(report["served"] / report["events"], abs=1e-4)
    assert report["ceiling_events_per_s"] == pytest.approx(1e6 / report["mean_us"], rel=1e-3)
    assert report["cpu_mean_us"] > 0.0
    assert report["cpu_ceiling_events_per_s"] == pytest.approx(
        1e6 / report["cpu_mean_us"], rel=1e-3
    )
    assert len(report["mean_us_by_quarter"]) == 4
    variants = report["recommend_by_variant"]
    assert set(variants) <= set(build_service(SETTINGS).experiment.names)
    assert sum(v["served"] for v in variants.values()) == report["served"]


def test_main_prints_one_json_line_and_a_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CROSSREC_EXPERIMENT", raising=False)
    assert sb.main(["--items", "100", "--users", "200", "--events", "300", "--warmup", "50"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert 0 < report["events"] <= 300
    assert report["config"]["items"] == 100 and report["config"]["warmup"] == 50
    assert report["machine"]["cpu_count"] == os.cpu_count()
    assert {"numpy", "python", "cpu_model", "river"} <= set(report["machine"])
    assert "ceiling" in err and "impression" in err
