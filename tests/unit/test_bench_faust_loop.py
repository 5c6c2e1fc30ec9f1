"""The Faust floor's app: the worker's Faust settings, one agent, only the trace header kept."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from streams.bench.faust_loop import build_app, trace_headers
from streams.headers import TRACE_HEADER
from streams.settings import Settings

# Settings that shape Faust's per-message cost: the floor must not differ from the worker here.
SHARED_SETTINGS = (
    "store",
    "key_serializer",
    "value_serializer",
    "consumer_auto_offset_reset",
    "producer_acks",
    "producer_linger",
    "producer_max_batch_size",
    "producer_max_request_size",
    "stream_wait_empty",
    "autodiscover",
    "topic_replication_factor",
    "broker_commit_every",
    "broker_commit_interval",
    "stream_buffer_maxsize",
)

header_keys = st.sampled_from([TRACE_HEADER, "trigger_type", "other", ""]) | st.text(max_size=8)
header_pairs = st.lists(st.tuples(header_keys, st.binary(max_size=8)), max_size=6)


def test_the_floor_uses_the_workers_faust_settings(tmp_path: Path) -> None:
    from streams.app import app as worker_app

    floor = build_app(Settings.from_env({}), "t.in", "t.out", "floor-group", tmp_path, 3)
    assert type(floor) is type(worker_app)  # same producer: commits wait for what was sent
    for name in SHARED_SETTINGS:
        assert getattr(floor.conf, name) == getattr(worker_app.conf, name), name


def test_the_floor_is_one_agent_in_its_own_group_without_a_web_server(tmp_path: Path) -> None:
    floor = build_app(Settings.from_env({}), "t.in", "t.out", "floor-group", tmp_path, 3)
    assert floor.conf.id == "floor-group"
    assert floor.conf.web_enabled is False
    assert floor.conf.topic_partitions == 3
    assert floor.conf.datadir == tmp_path
    [agent] = floor.agents.values()
    assert agent.channel.get_topic_name() == "t.in"


@given(header_pairs)
def test_only_the_trace_header_is_forwarded(pairs: list[tuple[str, bytes]]) -> None:
    kept = trace_headers(pairs)
    assert kept == [pair for pair in pairs if pair[0] == TRACE_HEADER]
    assert trace_headers(dict(pairs)) == [
        (k, v) for k, v in dict(pairs).items() if k == TRACE_HEADER
    ]
