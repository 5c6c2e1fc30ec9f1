"""A real Apache Kafka 4 broker (single KRaft node: broker + controller) on 127.0.0.1.

There is no Docker engine on our machines and PyPI has no broker, so the broker's jars are
resolved by Maven from ``deploy/kafka/pom.xml`` into a git-ignored cache (``.cache/kafka-libs``)
once, and run with the machine's Java 17. Later starts are offline.

Start is "ready" only when a message produced to a probe topic has been consumed back, so
callers never race a half-started broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from streams.local.process import (
    ServerFiles,
    ServiceError,
    port_in_use,
    require_free,
    spawn,
    stop_pid,
    tail,
    wait_until,
)
from streams.settings import REPO_ROOT

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J = REPO_ROOT / "deploy" / "kafka" / "log4j2.properties"
LIB_DIR = REPO_ROOT / ".cache" / "kafka-libs"


def ensure_jars(lib_dir: Path = LIB_DIR) -> Path:
    """Resolve the broker's jars with Maven once; return the folder that holds them."""
    marker = lib_dir / ".complete"
    if marker.exists():
        return lib_dir
    if shutil.which("mvn") is None:
        raise ServiceError("Maven (mvn) is not on PATH; it is needed once to fetch Kafka's jars")
    lib_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={lib_dir}", "-DincludeScope=runtime",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceError(f"Maven could not resolve Kafka's jars:\n{result.stdout[-3000:]}")
    marker.touch()
    return lib_dir


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ServiceError("Java is not on PATH; the local Kafka broker needs Java 17 or newer")
    return java


@dataclass(frozen=True)
class LocalKafka(ServerFiles):
    """One broker: ``port`` for clients, ``controller_port`` for KRaft, state in ``data_dir``."""

    NAME: ClassVar[str] = "kafka"
    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "768m"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        """Start the broker unless it already runs; return once a round trip works."""
        if self.pid() is not None:
            wait_until(self.round_trip_ok, timeout, f"Kafka at {self.bootstrap}")
            return
        java = _java()
        require_free(self.port, "Kafka")
        require_free(self.controller_port, "Kafka's controller")
        lib_dir = ensure_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        classpath = f"{lib_dir}/*"
        base = [java, f"-Xmx{self.heap}", f"-Dlog4j2.configurationFile={LOG4J}", "-cp", classpath]
        if not (self.data_dir / "log" / "meta.properties").exists():
            storage = [*base, "kafka.tools.StorageTool"]
            cluster_id = self._run([*storage, "random-uuid"]).strip().splitlines()[-1]
            self._run([*storage, "format", "--standalone", "-t", cluster_id, "-c", str(config)])
        pid = spawn([*base, "kafka.Kafka", str(config)], self.log_file, cwd=self.data_dir)
        self.pid_file.write_text(str(pid))
        try:
            wait_until(self.round_trip_ok, timeout, f"Kafka at {self.bootstrap}", pid=pid)
        except ServiceError as exc:
            raise ServiceError(f"{exc}; last log lines:\n{tail(self.log_file)}") from exc

    def stop(self) -> None:
        """Stop the broker by its PID (SIGTERM: a clean controlled shutdown)."""
        pid = self.pid()
        if pid is not None:
            stop_pid(pid, timeout=60.0)
        self.pid_file.unlink(missing_ok=True)

    def round_trip_ok(self) -> bool:
        """True when a message produced to a probe topic can be consumed back."""
        if not port_in_use(self.port):
            return False
        probe = asyncio.wait_for(_round_trip(self.bootstrap), timeout=20)
        try:
            # In its own thread: callers (tests, tools) may already run an event loop.
            with ThreadPoolExecutor(1) as pool:
                return pool.submit(asyncio.run, probe).result()
        except Exception:
            return False

    def _write_config(self) -> Path:
        config = self.data_dir / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"log.dirs={self.data_dir / 'log'}",
                    "num.partitions=4",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "message.max.bytes=2097152",
                    "",
                ]
            )
        )
        return config

    def _run(self, cmd: list[str]) -> str:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=self.data_dir)
        if result.returncode != 0:
            raise ServiceError(f"{' '.join(cmd[-4:])} failed:\n{result.stdout}{result.stderr}")
        return result.stdout


async def _create_probe_topic(bootstrap: str, topic: str) -> None:
    """Create the probe topic before producing to it: auto-creation on first send works, but
    aiokafka logs it as an ERROR ("not found in cluster metadata"), the first thing a user of
    ``crossrec up`` would read."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        if topic not in await admin.list_topics():
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()


async def _round_trip(bootstrap: str) -> bool:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    topic = "crossrec.readiness"
    await _create_probe_topic(bootstrap, topic)
    token = uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await producer.start()
        meta = await producer.send_and_wait(topic, token)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
        tp = TopicPartition(topic, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        batch = await consumer.getmany(tp, timeout_ms=5000)
        return any(msg.value == token for msg in batch.get(tp, []))
    finally:
        await consumer.stop()
