"""The worker's dashboard in a real headless Chromium, driven over the DevTools protocol, while
simulator traffic flows through the real local Kafka and ClickHouse: live numbers render and
change, only pseudonyms are shown, and the sink's outage shows on ``/ready`` and the page.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``); the test installs
nothing. Set ``CROSSREC_DASHBOARD_SCREENSHOT=docs/dashboard.png`` to refresh the README image.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import clickhouse_connect
import orjson
import pytest

from schemas import is_pseudonym
from simulator.hostile import mix_hostile
from simulator.payload import Emitted, encode_all
from simulator.traffic import Traffic
from simulator.world import World
from streams.local.clickhouse import LocalClickHouse
from streams.local.kafka import LocalKafka
from streams.local.process import free_port
from tests.integration.kafka_io import produce
from tests.integration.worker_process import running_worker, worker_env

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)

READ_DOM = """JSON.stringify({
  updates: Number(document.body.dataset.updates),
  metrics: Object.fromEntries([...document.querySelectorAll("[data-metric]")]
    .map((e) => [e.dataset.metric, e.textContent])),
  tables: Object.fromEntries(["latency", "lag", "dead-letters", "variants"].map((id) => [
    id,
    [...document.getElementById(id).rows].map((r) => [...r.cells].map((c) => c.textContent)),
  ])),
  users: [...document.querySelectorAll("#recent .who")].map((e) => e.textContent),
  items: document.querySelectorAll("#recent .items span").length,
  html: document.documentElement.outerHTML,
})"""


def number(text: str) -> float:
    return float(text.replace(",", ""))


async def test_dashboard_renders_live_numbers_in_headless_chromium(
    kafka: LocalKafka, clickhouse: LocalClickHouse, unique: str, tmp_path: Path
) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is missing: `apt-get install -y chromium` (deploy/bootstrap.sh)")
    env = worker_env(kafka, clickhouse, unique, tmp_path)
    topic = env["CROSSREC_TOPIC_IN"]
    base = f"http://127.0.0.1:{env['CROSSREC_WEB_PORT']}"
    world = World(seed=21, n_users=300, n_items=400)
    stream = mix_hostile(encode_all(Traffic(world, seed=21)), 0.02, seed=21)
    messages = list(itertools.islice(stream, 40_000))
    raw_ids = {m.key.decode() for m in messages if m.key}

    with running_worker(env, tmp_path / "worker.log"):
        await produce(kafka.bootstrap, topic, _pairs(messages[:3_000]))
        async with aiohttp.ClientSession() as http:
            health = await _until(lambda: _answer(http, f"{base}/health"), 60, "no /health")
            assert health == (200, {"status": "ok"})
            await _until(lambda: _is_ready(http, base), 60, "the worker never became ready")
            feeder = asyncio.create_task(_feed(kafka.bootstrap, topic, messages[3_000:]))
            try:
                async with _browser(chromium, tmp_path) as page:
                    await page.open(f"{base}/dashboard")
                    first = await page.until(_has_data, 20)
                    await asyncio.sleep(3)
                    second = await page.read()
                    png = await page.screenshot()

                    db = clickhouse_connect.get_client(host="127.0.0.1", port=clickhouse.http_port)
                    try:
                        await _sink_outage(db, unique, http, base, page)
                    finally:
                        db.close()
            finally:
                feeder.cancel()
                await asyncio.gather(feeder, return_exceptions=True)
    log = (tmp_path / "worker.log").read_text()[-3000:]

    # live: the page's own polling changed the numbers between two reads of the same DOM
    assert second["updates"] > first["updates"] >= 1, log
    for name in ("events_in", "events_valid", "recommendations"):
        assert number(second["metrics"][f"total.{name}"]) > number(
            first["metrics"][f"total.{name}"]
        )
    assert number(second["metrics"]["rate.events_in"]) > 0
    assert first["metrics"]["sink"] == "ok"
    assert first["metrics"] != second["metrics"]

    latency = {row[0]: row[1:] for row in second["tables"]["latency"]}
    assert {"decode", "learn", "recommend", "produce"} <= set(latency), latency
    assert all(number(p50) >= 0 and number(p99) >= number(p50) for p50, p99, _ in latency.values())
    lag = {row[0]: row[1] for row in second["tables"]["lag"]}
    assert {env["CROSSREC_TOPIC_IN"], env["CROSSREC_TOPIC_VALID"]} <= set(lag), lag
    dead = {row[0]: number(row[1]) for row in second["tables"]["dead-letters"]}
    assert dead and all(n > 0 for n in dead.values()), "2 % hostile traffic is dead-lettered"
    variants = [row[0] for row in second["tables"]["variants"]]
    assert variants == ["full", "mf_only", "popularity"]
    assert any(row[1].endswith("%") for row in second["tables"]["variants"]), "hit rates"

    # pseudonyms only: every user shown is one, and no raw id is anywhere in the page
    assert second["users"] and all(is_pseudonym(u) for u in second["users"])
    assert second["items"] > 0
    leaked = [raw for raw in raw_ids if raw in second["html"] or raw in first["html"]]
    assert not leaked, leaked[:5]

    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    _keep_screenshot(png, tmp_path)


def _keep_screenshot(png: bytes, tmp_path: Path) -> None:
    (tmp_path / "dashboard.png").write_bytes(png)
    if target := os.environ.get("CROSSREC_DASHBOARD_SCREENSHOT"):
        Path(target).write_bytes(png)


async def _sink_outage(
    db: Any, database: str, http: aiohttp.ClientSession, base: str, page: Page
) -> None:
    """Take the sink's tables away: /ready says why and the page says degraded; then recover."""
    tables = ("events", "recommendations")
    for table in tables:
        db.command(f"RENAME TABLE {database}.{table} TO {database}.{table}_away")
    try:
        got = await _until(
            lambda: _ready_status(http, base, 503), 30, "the sink outage never showed on /ready"
        )
        assert got == (503, {"ready": False, "reasons": ["clickhouse sink degraded"]})
        await page.until(lambda dom: dom["metrics"]["sink"] == "degraded", 10)
    finally:
        for table in tables:
            db.command(f"RENAME TABLE {database}.{table}_away TO {database}.{table}")
    await _until(lambda: _is_ready(http, base), 30, "the worker did not recover from the outage")
    await page.until(lambda dom: dom["metrics"]["sink"] == "ok", 10)


# --- traffic --------------------------------------------------------------------------------
def _pairs(messages: list[Emitted]) -> list[tuple[bytes | None, bytes]]:
    return [(m.key, m.payload) for m in messages]


async def _feed(bootstrap: str, topic: str, messages: list[Emitted], per_s: int = 600) -> None:
    """Keep traffic flowing (≈ ``per_s`` messages a second) until cancelled or exhausted."""
    step = per_s // 4
    for start in range(0, len(messages), step):
        await produce(bootstrap, topic, _pairs(messages[start : start + step]))
        await asyncio.sleep(0.25)


# --- HTTP -----------------------------------------------------------------------------------
async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
        return response.status, orjson.loads(await response.read())


async def _answer(http: aiohttp.ClientSession, url: str) -> tuple[int, Any] | None:
    try:
        return await _get(http, url)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


async def _is_ready(http: aiohttp.ClientSession, base: str) -> tuple[int, Any] | None:
    return await _ready_status(http, base, 200)


async def _ready_status(
    http: aiohttp.ClientSession, base: str, wanted: int
) -> tuple[int, Any] | None:
    got = await _answer(http, f"{base}/ready")
    return got if got is not None and got[0] == wanted else None


async def _until(
    probe: Callable[[], Awaitable[tuple[int, Any] | None]], timeout: float, why: str
) -> tuple[int, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (got := await probe()) is not None:
            return got
        await asyncio.sleep(0.3)
    raise AssertionError(why)


# --- a tiny DevTools-protocol client ------------------------------------------------------------
def _has_data(dom: dict[str, Any]) -> bool:
    # Consumer lag is measured every 5 s: until then its table says "not measured yet" (one cell).
    lag_measured = all(len(row) >= 2 for row in dom.get("tables", {}).get("lag", [[]]))
    return bool(
        dom["updates"] >= 1 and dom["users"] and dom["metrics"]["sink"] in ("ok",) and lag_measured
    )


class Page:
    """One browser tab: JSON-RPC calls over its DevTools websocket (events are skipped)."""

    def __init__(self, http: aiohttp.ClientSession, devtools: str) -> None:
        self.http, self.devtools = http, devtools
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.next_id = 0

    async def open(self, url: str) -> None:
        async with self.http.put(f"{self.devtools}/json/new?{url}") as response:
            target = await response.json()
        self.ws = await self.http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self.ws is not None
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=30)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    async def screenshot(self) -> bytes:
        """The whole page as PNG, 1280 px wide (the window is 1280×900)."""
        size = (await self.call("Page.getLayoutMetrics"))["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": 1280, "height": size["height"], "scale": 1}
        shot = await self.call(
            "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True
        )
        return base64.b64decode(shot["data"])

    async def read(self) -> dict[str, Any]:
        result = await self.call("Runtime.evaluate", expression=READ_DOM, returnByValue=True)
        value = result["result"].get("value")
        if not isinstance(value, str):  # the page is still loading
            return {"updates": 0, "users": [], "metrics": {"sink": ""}, "html": ""}
        dom: dict[str, Any] = orjson.loads(value)
        return dom

    async def until(self, condition: Callable[[dict[str, Any]], bool], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        dom = await self.read()
        while not condition(dom):
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed it: {dom.get('metrics')}")
            await asyncio.sleep(0.25)
            dom = await self.read()
        return dom


@asynccontextmanager
async def _browser(chromium: str, tmp_path: Path) -> AsyncIterator[Page]:
    """A headless Chromium of its own (fresh profile, no network chatter), one tab."""
    port = free_port()
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with (tmp_path / "chromium.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}", "about:blank",
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            async with aiohttp.ClientSession() as http:
                devtools = f"http://127.0.0.1:{port}"
                await _until(lambda: _answer(http, f"{devtools}/json/version"), 20, "no Chromium")
                page = Page(http, devtools)
                try:
                    yield page
                finally:
                    if page.ws is not None:
                        await page.ws.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # Chromium's own helper processes too
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
