"""The bench report's pure part: ratios against both references, summary, table, notes.

Phase figures are built by the real ``throughput``/``latency`` functions from observations, so
the report is tested on the shape the runner actually produces.
"""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.bench.collector import TopicRecord
from streams.bench.command import _config, configure_parser
from streams.bench.phases import Observation, Pipeline, latency, throughput
from streams.bench.report import (
    faust_floor_vs_bare,
    notes_for,
    pipeline_label,
    ratios,
    render_table,
    summary,
)
from streams.settings import Settings

RATES = (100.0, 200.0)


def _forwarder(name: str) -> Pipeline:
    return Pipeline(name, f"{name}.in", f"{name}-g", (f"{name}.in",), {"out": f"{name}.out"},
                    "out", ("out",), lambda: True)  # fmt: skip


def _worker() -> Pipeline:
    outputs = {"valid": "v", "recommendations": "r", "dlq": "d"}
    return Pipeline("crossrec", "in", "app", ("in", "v"), outputs, "valid",
                    ("recommendations", "valid"), lambda: True)  # fmt: skip


def _observation(pipeline: Pipeline, count: int, window_ms: int, latency_ms: float) -> Observation:
    records = {label: TopicRecord() for label in pipeline.outputs}
    for i in range(count):
        stamp = i * window_ms // max(1, count - 1)
        for label in pipeline.outputs:
            if label != "dlq":
                records[label].add(stamp, int(latency_ms * 1e6) + i)
    return Observation(count, 0.1, float(count * 10), 5.0, records, True, 0)


def _figures(pipeline: Pipeline, events_per_s: float, latency_ms: float) -> dict[str, Any]:
    """Drain and fixed-rate figures as the runner stores them, for a pipeline this fast."""
    count = 1001
    drain = throughput(pipeline, _observation(pipeline, count, int(1000 * 1000 / events_per_s), 1))
    fixed = []
    for target in RATES:
        obs = _observation(pipeline, int(target), 2000, latency_ms)
        fixed.append(
            {
                **throughput(pipeline, obs),
                "target_rate": target,
                "latency_ms": latency(pipeline, obs),
            }
        )
    return {"max_rate": drain, "fixed": fixed, "error": None}


def _run(n_workers: int, events_per_s: float, latency_ms: float) -> dict[str, Any]:
    """A crossrec run as :meth:`Bench._ours` stores it, with ``n_workers`` worker processes."""
    run = {
        "items": 300,
        "n_workers": n_workers,
        **_figures(_worker(), events_per_s, latency_ms),
        "measured_output": "recommendations",
    }
    run["workers"] = [
        {"stopped_cleanly": True, "log": f"w{i}.log", "log_problems": []}
        for i in range(1, n_workers + 1)
    ]
    if n_workers == 1:
        run["worker"] = run["workers"][0]
    return run


def _report(with_floor: bool = True, two_workers: bool = False) -> dict[str, Any]:
    """One run with one worker; ``two_workers`` adds a faster run with two, same catalogue."""
    runs = [_run(1, 800.0, 40.0)] + ([_run(2, 1_400.0, 30.0)] if two_workers else [])
    report: dict[str, Any] = {
        "machine": {
            "cpu_count": 2,
            "cpu_model": "x",
            "memory_mib": 4096,
            "python": "3.11",
            "load_average_at_start": [0.1, 0.1, 0.1],
        },
        "bare": _figures(_forwarder("bare"), 12_000.0, 5.0),
        "faust_floor": _figures(_forwarder("faust_floor"), 4_000.0, 10.0) if with_floor else None,
        "runs": runs,
    }
    report["ratios"] = ratios(report["bare"], report["runs"], report["faust_floor"])
    report["notes"] = notes_for(report)
    report["summary"] = summary(report)
    return report


def _max(figures: dict[str, Any]) -> float:
    value = figures["max_rate"]["events_per_s"]
    assert isinstance(value, float)
    return value


def _p50(figures: dict[str, Any], index: int) -> float:
    value = figures["fixed"][index]["latency_ms"]["headline"]["p50"]
    assert isinstance(value, float)
    return value


def test_ratios_are_against_the_bare_loop_and_the_faust_floor() -> None:
    report = _report()
    bare, floor, [run] = report["bare"], report["faust_floor"], report["runs"]
    [entry] = report["ratios"]
    assert entry["max_rate"] == round(_max(run) / _max(bare), 3)
    assert entry["max_rate_vs_faust_floor"] == round(_max(run) / _max(floor), 3)
    assert entry["max_rate"] < entry["max_rate_vs_faust_floor"] < 1
    for i, rate in enumerate(RATES):
        assert entry["latency"][i]["rate"] == rate
        assert entry["latency"][i]["p50"] == round(_p50(run, i) / _p50(bare, i), 3)
        assert entry["latency_vs_faust_floor"][i]["p50"] == round(_p50(run, i) / _p50(floor, i), 3)


def test_without_the_faust_floor_its_ratios_are_none_and_the_rest_stays() -> None:
    with_floor, without = _report(), _report(with_floor=False)
    [entry] = without["ratios"]
    assert entry["max_rate_vs_faust_floor"] is None
    assert all(r["p50"] is None and r["p99"] is None for r in entry["latency_vs_faust_floor"])
    assert entry["max_rate"] == with_floor["ratios"][0]["max_rate"]
    assert entry["latency"] == with_floor["ratios"][0]["latency"]
    assert without["summary"]["faust_floor"] is None
    assert faust_floor_vs_bare(without) is None


def test_summary_gives_the_faust_floor_the_shape_of_the_bare_loop() -> None:
    report = _report()
    s = summary(report)
    assert set(s["bare"]) <= set(s["faust_floor"])
    assert set(s["bare"]["latency_ms"]) == set(s["faust_floor"]["latency_ms"]) == {"100", "200"}
    assert s["faust_floor"]["max_events_per_s"] == _max(report["faust_floor"])
    assert s["faust_floor"]["max_rate_vs_bare"] == round(
        _max(report["faust_floor"]) / _max(report["bare"]), 3
    )
    [ours] = s["crossrec"]
    assert ours["max_rate_vs_faust_floor"] == report["ratios"][0]["max_rate_vs_faust_floor"]
    assert ours["max_rate_vs_bare"] == report["ratios"][0]["max_rate"]


def _rows(table: str, name: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith(f"  {name}")]


def test_the_table_has_a_faust_floor_row_in_both_sections() -> None:
    report = _report()
    table = render_table(report)
    rows = _rows(table, "faust floor")
    assert len(rows) == 1 + len(RATES)  # max rate, then one line per fixed rate
    assert f"{_max(report['faust_floor']):,.0f}" in rows[0]
    assert f"{report['summary']['faust_floor']['max_rate_vs_bare']:.3f}" in rows[0]
    assert len(_rows(table, "bare loop")) == len(_rows(table, "crossrec")) == len(rows)
    ours = _rows(table, "crossrec")[0]
    assert f"{report['ratios'][0]['max_rate_vs_faust_floor']:.3f}" in ours


def test_the_table_leaves_out_a_faust_floor_that_did_not_run() -> None:
    table = render_table(_report(with_floor=False))
    assert not _rows(table, "faust floor")
    assert len(_rows(table, "crossrec")) == 1 + len(RATES)


def test_notes_name_an_undrained_faust_floor() -> None:
    report = _report()
    assert not [n for n in report["notes"] if "faust floor" in n]
    report["faust_floor"]["fixed"][1].update(drained=False, backlog_at_timeout=42)
    [note] = [n for n in notes_for(report) if n.startswith("faust floor")]
    assert "200 ev/s" in note and "backlog 42" in note


def _parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(list(argv))


def test_the_faust_floor_runs_unless_switched_off() -> None:
    settings = Settings.from_env({})
    assert _config(_parsed("--quick"), settings).faust_floor is True
    assert _config(_parsed("--quick", "--no-faust-floor"), settings).faust_floor is False


def test_the_workers_option_defaults_to_one_worker_and_takes_a_list() -> None:
    settings = Settings.from_env({})
    assert _config(_parsed(), settings).workers == (1,)
    assert _config(_parsed("--quick"), settings).workers == (1,)
    assert _config(_parsed("--quick", "--workers", "1,2"), settings).workers == (1, 2)
    assert _config(_parsed("--workers", " 2 ,1"), settings).workers == (2, 1)


@given(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=4))
def test_any_list_of_counts_up_to_the_partitions_parses_back(counts: list[int]) -> None:
    args = _parsed("--workers", ",".join(map(str, counts)), "--partitions", "4")
    assert _config(args, Settings.from_env({})).workers == tuple(counts)


@pytest.mark.parametrize("text", ["0", "-1", "1,0", "two", "1.5", "", ","])
def test_worker_counts_must_be_positive_integers(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _config(_parsed("--workers", text), Settings.from_env({}))


def test_more_workers_than_partitions_is_refused() -> None:
    settings = Settings.from_env({})
    assert _config(_parsed("--workers", "4", "--partitions", "4"), settings).workers == (4,)
    with pytest.raises(argparse.ArgumentTypeError, match="5 workers but 4 partitions"):
        _config(_parsed("--workers", "1,5", "--partitions", "4"), settings)


def test_every_run_has_ratios_against_both_references_and_one_worker() -> None:
    report = _report(two_workers=True)
    bare, floor, [one, two] = report["bare"], report["faust_floor"], report["runs"]
    assert [(e["items"], e["n_workers"]) for e in report["ratios"]] == [(300, 1), (300, 2)]
    for run, entry in zip([one, two], report["ratios"], strict=True):
        assert entry["max_rate"] == round(_max(run) / _max(bare), 3)
        assert entry["max_rate_vs_faust_floor"] == round(_max(run) / _max(floor), 3)
        assert entry["latency_vs_faust_floor"][0]["p50"] == round(_p50(run, 0) / _p50(floor, 0), 3)
        assert entry["max_rate_vs_one_worker"] == round(_max(run) / _max(one), 3)
    assert report["ratios"][0]["max_rate_vs_one_worker"] == 1.0
    assert report["ratios"][1]["max_rate_vs_one_worker"] > 1


def test_without_a_one_worker_run_there_is_no_speed_up() -> None:
    report = _report(two_workers=True)
    del report["runs"][0]
    [entry] = ratios(report["bare"], report["runs"], report["faust_floor"])
    assert entry["n_workers"] == 2
    assert entry["max_rate_vs_one_worker"] is None
    assert entry["max_rate"] is not None


def test_the_table_names_the_worker_count_of_each_run() -> None:
    report = _report(two_workers=True)
    table = render_table(report)
    two = pipeline_label(300, 2)
    assert two == "crossrec 300 items (2 workers)"
    rows = _rows(table, two)
    assert len(rows) == 1 + len(RATES)
    ratio_two = report["ratios"][1]
    for figure in ("max_rate", "max_rate_vs_faust_floor", "max_rate_vs_one_worker"):
        assert f"{ratio_two[figure]:.3f}" in rows[0]
    one = [r for r in _rows(table, "crossrec 300 items") if "workers)" not in r]
    assert len(one) == 1 + len(RATES)
    # the pipeline column widens for the longer label: every row keeps its columns aligned
    [head] = [line for line in table.splitlines() if "vs bare" in line]
    widths = {len(line) for line in [head, _rows(table, "bare loop")[0], rows[0], one[0]]}
    assert len(widths) == 1, table


def test_summary_has_one_entry_per_run_with_its_worker_count() -> None:
    report = _report(two_workers=True)
    entries = report["summary"]["crossrec"]
    assert [(e["n_workers"], e["pipeline"]) for e in entries] == [
        (1, "crossrec 300 items"),
        (2, "crossrec 300 items (2 workers)"),
    ]
    assert entries[1]["max_events_per_s"] == _max(report["runs"][1])
    assert entries[1]["max_rate_vs_one_worker"] == report["ratios"][1]["max_rate_vs_one_worker"]


def test_notes_name_each_worker_with_problems_and_its_run() -> None:
    report = _report(two_workers=True)
    assert not [n for n in report["notes"] if ".log" in n]
    report["runs"][1]["workers"][1].update(log_problems=["ERROR boom"], stopped_cleanly=False)
    notes = [n for n in notes_for(report) if "w2.log" in n]
    assert len(notes) == 2
    assert all(n.startswith("crossrec 300 items (2 workers):") for n in notes)
    assert any("error lines" in n for n in notes) and any("SIGTERM" in n for n in notes)


def test_notes_say_when_workers_share_the_cpus() -> None:
    report = _report(two_workers=True)
    report["machine"]["cpu_count"] = 4
    assert not [n for n in notes_for(report) if "CPUs" in n]
    report["machine"]["cpu_count"] = 2
    [note] = [n for n in notes_for(report) if "CPUs" in n]
    assert note.startswith("crossrec 300 items (2 workers): 2 workers on 2 CPUs")


def test_a_version_2_run_without_worker_count_still_reports() -> None:
    report = _report()
    run = report["runs"][0]
    del run["n_workers"], run["workers"]
    run["worker"]["log_problems"] = ["Traceback"]
    assert render_table({**report, "ratios": ratios(report["bare"], report["runs"])})
    [note] = [n for n in notes_for(report) if "error lines" in n]
    assert note.startswith("crossrec 300 items:") and note.endswith("w1.log")
