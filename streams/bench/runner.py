"""The order of work: workload, bare loop, Faust floor, then crossrec runs per catalogue size.

For each catalogue size, one crossrec run per worker count (``--workers``): that many worker
processes in one consumer group. Each run gets its own topics, consumer group (= Faust app id)
and ClickHouse database, so runs never see each other's data. Per run: wait until every worker
is in the settled group, load the catalogue and wait until it is fully processed (so the
measurement starts with the catalogue in the model and the group complete), drain a batch at
full speed, then run each fixed rate. Every child process is registered in
:attr:`Bench.children` so the command can stop it even when the event loop is gone (Ctrl-C).

The bare loop and the Faust floor are both *forwarders* (bytes in, same bytes out, one output
topic), run once per benchmark on the first workload by the same method with a different
process: the bare loop bounds what the machine and broker allow, the Faust floor what Faust's
own per-message machinery allows, so the worker's figures can be read against both.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.bench.kafka_probe import BenchError, KafkaProbe
from streams.bench.phases import Pipeline, drain_phase, paced_phase
from streams.bench.processes import (
    Isolation,
    Subprocess,
    bare_process,
    faust_floor_process,
    run_isolation,
    stop_all,
    worker_env,
    worker_name,
    worker_ports,
    worker_process,
)
from streams.bench.report import pipeline_label
from streams.bench.services import Endpoints
from streams.bench.workload import Workload, build_workload
from streams.kafka_config import aiokafka_options
from streams.settings import Settings


@dataclass(frozen=True)
class BenchConfig:
    items: list[int]
    users: int
    drain_events: int
    rates: list[float]
    duration_s: float
    partitions: int
    drain_timeout: float
    seed: int = 0
    workers: tuple[int, ...] = (1,)  # worker processes per crossrec run, one run per count
    worker_loglevel: str = "warning"
    faust_floor: bool = True

    def paced_counts(self) -> list[int]:
        return [max(1, round(r * self.duration_s)) for r in self.rates]


ForwarderFactory = Callable[[str, str, str], Subprocess]
"""``(topic_in, topic_out, group_id) -> Subprocess`` of a process that forwards every message."""


class Bench:
    def __init__(
        self,
        config: BenchConfig,
        settings: Settings,
        endpoints: Endpoints,
        workdir: Path,
        progress: Callable[[str], None],
    ) -> None:
        self.config = config
        self.settings = settings
        self.endpoints = endpoints
        self.workdir = workdir
        self.progress = progress
        self.children: list[Subprocess] = []
        self.run_id = f"bench{os.getpid()}x{secrets.token_hex(2)}"
        self.options = {**aiokafka_options(settings), "bootstrap_servers": endpoints.bootstrap}
        self.bare: dict[str, Any] | None = None
        self.faust_floor: dict[str, Any] | None = None
        self.runs: list[dict[str, Any]] = []  # completed runs, kept for a report on Ctrl-C

    async def run(self) -> dict[str, Any]:
        probe = KafkaProbe(self.options)
        await probe.start()
        try:
            for items in self.config.items:
                self.progress(f"generating the workload for {items:,} items ...")
                workload = build_workload(
                    items,
                    self.config.users,
                    self.config.drain_events,
                    self.config.paced_counts(),
                    seed=self.config.seed,
                )
                if self.bare is None:
                    self.bare = await self._bare(probe, workload)
                if self.config.faust_floor and self.faust_floor is None:
                    self.faust_floor = await self._faust_floor(probe, workload)
                for n_workers in self.config.workers:
                    self.runs.append(await self._ours(probe, workload, n_workers))
            return {"bare": self.bare, "faust_floor": self.faust_floor, "runs": self.runs}
        finally:
            await probe.stop()

    async def _phases(
        self, probe: KafkaProbe, pipeline: Pipeline, workload: Workload, label: str
    ) -> dict[str, Any]:
        """Drain, then each fixed rate; an error ends this pipeline's run, not the benchmark."""
        cfg = self.config
        result: dict[str, Any] = {"max_rate": None, "fixed": [], "error": None}
        try:
            self.progress(f"{label}: max rate, {len(workload.drain):,} events flat out ...")
            result["max_rate"] = await drain_phase(
                probe, pipeline, workload.drain, cfg.drain_timeout
            )
            self.progress(f"{label}: max rate -> {_rate(result['max_rate'])}")
            for events_per_s, batch in zip(cfg.rates, workload.paced, strict=True):
                self.progress(
                    f"{label}: fixed {events_per_s:,.0f} ev/s for {cfg.duration_s:g} s ..."
                )
                fixed = await paced_phase(probe, pipeline, batch, events_per_s, cfg.drain_timeout)
                result["fixed"].append(fixed)
                self.progress(f"{label}: fixed {events_per_s:,.0f} ev/s -> {_latency(fixed)}")
        except BenchError as exc:
            result["error"] = str(exc)
            self.progress(f"{label}: FAILED: {exc}")
        return result

    async def _bare(self, probe: KafkaProbe, workload: Workload) -> dict[str, Any]:
        def start(topic_in: str, topic_out: str, group: str) -> Subprocess:
            log = self.workdir / "bare_loop.log"
            return bare_process(self.endpoints.bootstrap, topic_in, topic_out, group, log)

        return await self._forwarder(probe, workload, "bare", "bare loop", start)

    async def _faust_floor(self, probe: KafkaProbe, workload: Workload) -> dict[str, Any]:
        def start(topic_in: str, topic_out: str, group: str) -> Subprocess:
            return faust_floor_process(
                self.endpoints.bootstrap,
                topic_in,
                topic_out,
                group,
                self.workdir / "faust_floor.log",
                self.workdir / "faust_floor",
                self.config.partitions,
                self.config.worker_loglevel,
            )

        return await self._forwarder(probe, workload, "faust_floor", "faust floor", start)

    async def _forwarder(
        self,
        probe: KafkaProbe,
        workload: Workload,
        name: str,
        label: str,
        start_process: ForwarderFactory,
    ) -> dict[str, Any]:
        """Measure a process that forwards ``<name>.in`` to ``<name>.out`` in its own group."""
        unique = f"{self.run_id}_{name}"
        topic_in, topic_out, group = f"{unique}.in", f"{unique}.out", f"{unique}-group"
        await probe.create_topics([topic_in, topic_out], self.config.partitions)
        child = start_process(topic_in, topic_out, group)
        pipeline = Pipeline(
            name=name,
            input_topic=topic_in,
            group_id=group,
            consumed_topics=(topic_in,),
            outputs={"out": topic_out},
            processed_stage="out",
            latency_stages=("out",),
            alive=child.alive,
        )
        self.children.append(child)
        child.start()
        try:
            result = await self._phases(probe, pipeline, workload, label)
        finally:
            child.stop()
            if not self.endpoints.own_kafka:
                await probe.delete_topics([topic_in, topic_out])
        result["process"] = _process_report(child, bool(result["error"]))
        return result

    async def _ours(self, probe: KafkaProbe, workload: Workload, n_workers: int) -> dict[str, Any]:
        """One crossrec run: ``n_workers`` worker processes in one consumer group."""
        cfg = self.config
        iso = run_isolation(self.run_id, workload.items, n_workers, cfg.partitions)
        label = pipeline_label(workload.items, n_workers)
        await probe.create_topics(iso.topics(), cfg.partitions)
        children = self._workers(iso, workload.items, n_workers)

        def all_alive() -> bool:
            # The pipeline is up only while every worker is: a dead one leaves its partitions
            # to the others after a rebalance, which is not the run we set out to measure.
            return all(child.alive() for child in children)

        pipeline = Pipeline(
            name="crossrec",
            input_topic=iso.topic_in,
            group_id=iso.app_id,
            consumed_topics=(iso.topic_in, iso.topic_valid),
            outputs={
                "valid": iso.topic_valid,
                "recommendations": iso.topic_recommendations,
                "dlq": iso.topic_dlq,
            },
            processed_stage="valid",
            latency_stages=("recommendations", "valid"),
            alive=all_alive,
        )
        self.children.extend(children)
        for child in children:
            child.start()
        result: dict[str, Any] = {
            "items": workload.items,
            "n_workers": n_workers,
            "app_id": iso.app_id,
        }
        try:
            result.update(
                await self._catalogue_then_phases(probe, pipeline, workload, n_workers, label)
            )
        finally:
            self.progress(f"{label}: stopping {_workers_text(n_workers)} (SIGTERM) ...")
            stop_all(children)
            await self._clean_up(probe, iso)
        recs = (result.get("max_rate") or {}).get("outputs", {}).get("recommendations", 0)
        result["measured_output"] = "recommendations" if recs else "events.valid"
        failed = bool(result.get("error"))
        result["workers"] = [_process_report(child, failed) for child in children]
        if n_workers == 1:
            result["worker"] = result["workers"][0]  # report version 2's key, for its readers
        return result

    def _workers(self, iso: Isolation, items: int, n_workers: int) -> list[Subprocess]:
        """``n_workers`` worker processes sharing ``iso``; own ports, data dir and log each."""
        children: list[Subprocess] = []
        taken: list[int] = []
        for index in range(1, n_workers + 1):
            name = worker_name(items, n_workers, index)
            env = worker_env(
                dict(os.environ),
                iso,
                self.endpoints.bootstrap,
                self.endpoints.clickhouse_url,
                self.workdir / name,
                avoid_ports=taken,
            )
            taken += worker_ports(env)
            log = self.workdir / f"{name}.log"
            children.append(worker_process(env, log, self.config.worker_loglevel, name))
        return children

    async def _catalogue_then_phases(
        self,
        probe: KafkaProbe,
        pipeline: Pipeline,
        workload: Workload,
        n_workers: int,
        label: str,
    ) -> dict[str, Any]:
        """Wait for the whole group, load the catalogue until processed, then measure."""
        cfg = self.config
        failed: dict[str, Any] = {"catalogue": None, "max_rate": None, "fixed": []}
        try:
            self.progress(f"{label}: waiting for {_workers_text(n_workers)} to join the group ...")
            # Every worker must be in the settled group before the catalogue goes in: else the
            # first one could process it alone, and the rebalance as the others join would
            # fall into the max-rate phase.
            await probe.wait_group_stable(
                pipeline.group_id, n_workers, cfg.drain_timeout, pipeline.alive
            )
            self.progress(f"{label}: loading the catalogue ({len(workload.catalogue):,} items) ...")
            # A warm-up, not a figure. Each upsert is also copied to every partition of
            # events.valid (so every worker knows the whole catalogue): the workers consume
            # the copies too, the collector does not count them. A big catalogue takes
            # minutes to load: allow 200 copies/s on top (a bound, not a wait).
            copies = len(workload.catalogue) * cfg.partitions
            catalogue_timeout = cfg.drain_timeout + copies / 200
            catalogue = await drain_phase(probe, pipeline, workload.catalogue, catalogue_timeout)
        except BenchError as exc:
            return {**failed, "error": str(exc)}
        self.progress(f"{label}: catalogue loaded at {_rate(catalogue)} on events.valid")
        if not catalogue["drained"]:
            return {**failed, "catalogue": catalogue, "error": "catalogue not processed in time"}
        return {"catalogue": catalogue, **await self._phases(probe, pipeline, workload, label)}

    async def _clean_up(self, probe: KafkaProbe, iso: Isolation) -> None:
        """Leave shared servers as we found them; our own servers vanish with the temp dir."""
        if not self.endpoints.own_kafka:
            await probe.delete_topics(iso.topics())
        if not self.endpoints.own_clickhouse:
            with contextlib.suppress(Exception):
                import clickhouse_connect

                client = clickhouse_connect.get_client(
                    dsn=self.endpoints.clickhouse_url,
                    username=self.settings.clickhouse_user,
                    password=self.settings.clickhouse_password,
                )
                try:
                    client.command(f"DROP DATABASE IF EXISTS `{iso.database}`")
                finally:
                    client.close()

    def stop_children(self) -> None:
        stop_all(self.children)


def _process_report(child: Subprocess, failed: bool) -> dict[str, Any]:
    """How a child ended and where its log is; the log's tail too when the run failed."""
    report: dict[str, Any] = {
        "stopped_cleanly": child.stopped_cleanly,
        "log": str(child.log_path),
        "log_problems": child.problems(),
    }
    if failed:
        report["log_tail"] = child.tail()
    return report


def _workers_text(n_workers: int) -> str:
    return "the worker" if n_workers == 1 else f"the {n_workers} workers"


def _rate(figures: dict[str, Any] | None) -> str:
    if not figures or figures.get("events_per_s") is None:
        return "no output observed"
    return f"{figures['events_per_s']:,.0f} events/s ({figures['processed']:,} processed)"


def _latency(figures: dict[str, Any]) -> str:
    lat = figures["latency_ms"]
    head = lat["headline"]
    if not head or not head["count"]:
        return "no latency sample"
    return (
        f"{lat['measured_stage']}: p50 {head['p50']:.1f} ms, p99 {head['p99']:.1f} ms "
        f"({head['count']:,} samples, drained={figures['drained']})"
    )
