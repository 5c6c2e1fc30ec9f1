"""A real ClickHouse server on 127.0.0.1, from the engine inside the chdb-core wheel.

Debian's clickhouse-server is from 2018 and there is no Docker engine here, so crossrec runs
the ClickHouse 26 engine shipped in chdb-core as a separate server process
(:mod:`streams.local.clickhouse_server`) with the HTTP and native TCP interfaces. The app and
analysts then use clickhouse-connect exactly as against a production server. One process per
data directory (ClickHouse locks it); data survives a crash.

The built-in ``default`` user is the local administrator (no password, loopback only); crossrec
creates its own writer and analyst users through SQL, stored under the data directory.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from streams.local.clickhouse_server import KEEPALIVE_MARK
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

_CONFIG = """<clickhouse>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <keep_alive_timeout>2</keep_alive_timeout>
  <user_directories>
    <users_xml><path>{dir}/users.xml</path></users_xml>
    <local_directory><path>{dir}/data/access/</path></local_directory>
  </user_directories>
</clickhouse>
"""

_USERS = """<clickhouse>
  <profiles><default/></profiles>
  <quotas><default/></quotas>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
      <access_management>1</access_management>
    </default>
  </users>
</clickhouse>
"""


@dataclass(frozen=True)
class LocalClickHouse(ServerFiles):
    """One server: HTTP on ``http_port``, native protocol on ``tcp_port``, state in ``data_dir``."""

    NAME: ClassVar[str] = "clickhouse"
    data_dir: Path
    http_port: int = 8123
    tcp_port: int = 9000

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start the server unless it already runs; return once it answers ``SELECT 1``."""
        if self.pid() is not None:
            wait_until(self.ping, timeout, f"ClickHouse at {self.url}")
            return
        require_free(self.http_port, "ClickHouse (HTTP)")
        require_free(self.tcp_port, "ClickHouse (native TCP)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fmt = {"http_port": self.http_port, "tcp_port": self.tcp_port, "dir": self.data_dir}
        (self.data_dir / "config.xml").write_text(_CONFIG.format(**fmt))
        (self.data_dir / "users.xml").write_text(_USERS)
        cmd = [sys.executable, "-m", "streams.local.clickhouse_server", str(self.data_dir)]
        pid = spawn(cmd, self.log_file, cwd=REPO_ROOT)
        self.pid_file.write_text(str(pid))
        try:
            wait_until(self.ping, timeout, f"ClickHouse at {self.url}", pid=pid)
        except ServiceError as exc:
            raise ServiceError(f"{exc}; last log lines:\n{tail(self.log_file)}") from exc

    def stop(self, timeout: float = 30.0) -> None:
        """Stop cleanly by killing the keep-alive query; signal the process only if needed."""
        pid = self.pid()
        if pid is not None:
            try:
                self.sql(
                    f"KILL QUERY WHERE query LIKE '%{KEEPALIVE_MARK}%' "
                    "AND query NOT LIKE '%KILL QUERY%' SYNC"
                )
                wait_until(lambda: self.pid() is None, timeout, "ClickHouse stop")
            except ServiceError:
                stop_pid(pid)
        self.pid_file.unlink(missing_ok=True)

    def ping(self) -> bool:
        if not port_in_use(self.http_port):
            return False
        try:
            return self.sql("SELECT 1").strip() == "1"
        except ServiceError:
            return False

    def sql(self, query: str) -> str:
        """Run one statement as the local administrator over HTTP (no client library needed)."""
        request = urllib.request.Request(self.url + "/", data=query.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return str(response.read().decode())
        except (urllib.error.URLError, OSError) as exc:
            raise ServiceError(f"ClickHouse at {self.url} did not answer: {exc}") from exc
