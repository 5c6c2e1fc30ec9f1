"""The Faust options every crossrec app shares, and the event loop the Faust processes run on."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import faust
import pytest
from faust.sensors import Monitor

from streams.kafka_config import faust_app_options, faust_broker_url
from streams.settings import Settings, SettingsError

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None


def _app(tmp_path: Path, env: dict[str, str] | None = None) -> faust.App:
    settings = Settings.from_env(env or {})
    return faust.App("options-test", **faust_app_options(settings), datadir=str(tmp_path))


def test_the_options_build_an_app_that_carries_them(tmp_path: Path) -> None:
    conf = _app(tmp_path).conf
    # Delivery: acks from all replicas; raw bytes so bad input reaches our dead-letter path.
    assert conf.producer_acks == -1
    assert conf.key_serializer == "raw"
    assert conf.value_serializer == "raw"
    assert conf.consumer_auto_offset_reset == "earliest"
    # Per-message cost: a short linger, large batches, no wait_empty spin at shutdown.
    assert conf.producer_linger == pytest.approx(0.005)
    assert conf.producer_max_batch_size == 262_144
    assert conf.producer_max_request_size == 2_097_152
    assert conf.stream_wait_empty is False
    # (autodiscover is typed as a method by Faust's settings class: checked on the options)
    assert faust_app_options(Settings.from_env({}))["autodiscover"] is False
    # Offsets are committed only after processing, at Faust's defaults (measured: no gain
    # from changing them), and the default Monitor sensor stays (no measurable cost).
    assert conf.broker_commit_every == 10_000
    assert conf.broker_commit_interval == pytest.approx(2.8)
    assert conf.stream_buffer_maxsize == 4096
    monitor_class: object = conf.Monitor  # typed as a typing special form by Faust
    assert monitor_class is Monitor


def test_the_linger_is_a_setting(tmp_path: Path) -> None:
    conf = _app(tmp_path, {"CROSSREC_PRODUCER_LINGER_MS": "0"}).conf
    assert conf.producer_linger == 0


def test_every_bootstrap_host_becomes_a_broker_url(tmp_path: Path) -> None:
    env = {"CROSSREC_KAFKA_BOOTSTRAP": "a:9092, b:9093"}
    assert faust_broker_url(Settings.from_env(env)) == "kafka://a:9092;kafka://b:9093"
    brokers = _app(tmp_path, env).conf.broker
    assert [(url.host, url.port) for url in brokers] == [("a", 9092), ("b", 9093)]


def test_an_unknown_security_protocol_is_refused() -> None:
    settings = Settings.from_env({"CROSSREC_KAFKA_SECURITY_PROTOCOL": "smoke-signals"})
    with pytest.raises(SettingsError, match="SECURITY_PROTOCOL"):
        faust_app_options(settings)


def test_the_fast_event_loop_is_uvloop_when_installed() -> None:
    # In a child process: the policy is process-wide and must not leak into other tests.
    code = (
        "import asyncio\n"
        "from streams.kafka_config import use_fast_event_loop\n"
        "used = use_fast_event_loop()\n"
        "loop = asyncio.new_event_loop()\n"
        "print(used, type(loop).__module__.split('.')[0])\n"
        "loop.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == (["True", "uvloop"] if HAS_UVLOOP else ["False", "asyncio"])
