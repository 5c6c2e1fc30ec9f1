"""Schema as code: versioned DDL files applied in order, each version recorded once.

Files live in ``deploy/clickhouse/migrations`` as ``NNNN_name.sql`` with ``{database}`` where
the database name goes; statements are separated by ``;`` at the end of a line. Applying is
idempotent (every statement is ``IF NOT EXISTS``-safe and applied versions are skipped), and a
database that records a version this code does not know — a newer crossrec wrote it — is
refused instead of silently run against.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.settings import REPO_ROOT

MIGRATIONS_DIR = REPO_ROOT / "deploy" / "clickhouse" / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class SchemaError(RuntimeError):
    """The database schema and this code disagree; the message says how."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, database: str) -> list[str]:
        body = self.sql.replace("{database}", database)
        parts = re.split(r";\s*$", body, flags=re.MULTILINE)
        return [p.strip() for p in parts if _strip_comments(p).strip()]


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise SchemaError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise SchemaError(f"duplicate migration versions in {directory}")
    return found


def apply_migrations(client: Any, database: str, migrations: list[Migration]) -> list[int]:
    """Bring ``database`` up to date (sync clickhouse-connect client); return applied versions."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, checksum String, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY version"
    )
    rows = client.query(f"SELECT version, checksum FROM {database}.schema_migrations").result_rows
    recorded = {int(v): str(c) for v, c in rows}
    known = {m.version: m for m in migrations}
    unknown = sorted(set(recorded) - set(known))
    if unknown:
        raise SchemaError(
            f"database {database} has schema version(s) {unknown} that this crossrec does not "
            f"know (it knows up to {max(known, default=0)}); upgrade crossrec instead of "
            "running an older one against a newer schema"
        )
    applied = []
    for migration in migrations:
        if migration.version in recorded:
            if recorded[migration.version] != migration.checksum:
                raise SchemaError(
                    f"migration {migration.name} changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        for statement in migration.statements(database):
            client.command(statement)
        client.insert(
            f"{database}.schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        applied.append(migration.version)
    return applied
