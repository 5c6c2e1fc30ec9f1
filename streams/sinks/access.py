"""The analyst: a read-only ClickHouse user that sees only the privacy-safe views.

The analyst role gets ``SELECT`` on :data:`ANALYST_VIEWS` and nothing else: no raw
``events``/``recommendations`` rows, no writes, no settings table. This works because every
view is created ``SQL SECURITY DEFINER`` (migrations 0005/0006): ClickHouse then checks the
*definer's* rights on the tables a view reads, and only the caller's ``SELECT`` on the view
itself. (ClickHouse's default for ordinary views is ``INVOKER``, under which the analyst would
need ``SELECT`` on the raw tables too.)

Two ways users live in ClickHouse, both handled:

- **SQL-managed** access storage (a production server): :func:`ensure_analyst` creates the role
  and the user with SQL, idempotently, and narrows the role to exactly the safe views.
- **users.xml only** — the local server from the chdb-core engine has no writable access
  storage (``CREATE ROLE`` fails with ``ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND``). There the
  role and user are declared in a ``users.d`` file next to the server's ``users.xml``
  (:func:`write_analyst_users_xml`, read at server start); :func:`ensure_analyst` then checks
  that the declared user has exactly the expected grants and says what to do if not.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from streams.settings import Settings

ANALYST_VIEWS: tuple[str, ...] = (
    "safe_kpi_minute",
    "safe_ab_results",
    "safe_ab_timeline",
    "safe_cross_domain_funnel",
    "noisy_kpi_minute",
    "noisy_ab_results",
    "noisy_cross_domain_funnel",
)
USERS_D_FILE = "crossrec-analyst.xml"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_NO_WRITABLE_STORAGE = ("ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND", "ACCESS_STORAGE_READONLY")


class AccessError(RuntimeError):
    """The analyst cannot be set up as required; the message says what to do."""


@dataclass(frozen=True)
class AnalystAccess:
    """What :func:`ensure_analyst` found or made: ``storage`` is ``sql`` or ``users_xml``."""

    user: str
    role: str
    storage: str
    views: tuple[str, ...]


def analyst_role(settings: Settings) -> str:
    """Name of the analyst role (``<analyst user>_role``)."""
    return f"{settings.analyst_user}_role"


def expected_grants(settings: Settings) -> set[tuple[str, str]]:
    """``(database, view)`` pairs the analyst role may ``SELECT`` from — and nothing else."""
    return {(settings.clickhouse_database, view) for view in ANALYST_VIEWS}


def ensure_analyst(admin_client: Any, settings: Settings) -> AnalystAccess:
    """Create (or verify) the analyst role and user; safe to call at every start-up.

    ``admin_client`` is a sync clickhouse-connect client with access management rights.
    """
    user, role, database = _names(settings)
    try:
        admin_client.command(f"CREATE ROLE IF NOT EXISTS {role}")
    except Exception as exc:
        if not any(code in str(exc) for code in _NO_WRITABLE_STORAGE):
            raise AccessError(f"could not create the analyst role {role}: {exc}") from exc
        return _verify_declared(admin_client, settings)
    password = _quote(settings.analyst_password)
    admin_client.command(
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_password BY {password} "
        f"DEFAULT ROLE {role} SETTINGS readonly = 2"
    )
    admin_client.command(f"ALTER USER {user} IDENTIFIED WITH sha256_password BY {password}")
    admin_client.command(f"GRANT {role} TO {user}")
    admin_client.command(f"ALTER USER {user} DEFAULT ROLE {role}")
    # Narrow first, then grant: the role ends with exactly the safe views, whatever it had.
    admin_client.command(f"REVOKE ALL ON *.* FROM {role}")
    admin_client.command(f"REVOKE ALL ON *.* FROM {user}")
    for view in ANALYST_VIEWS:
        admin_client.command(f"GRANT SELECT ON {database}.{view} TO {role}")
    return _verify_declared(admin_client, settings, storage="sql")


def analyst_users_xml(settings: Settings, networks: tuple[str, ...] = ("127.0.0.1", "::1")) -> str:
    """A ``users.d`` file declaring the analyst role and user, for servers without SQL users.

    The password is stored as its SHA-256, the profile is ``readonly = 2`` (reads and
    session settings only), and the role's only grants are ``SELECT`` on the safe views.
    """
    user, role, database = _names(settings)
    digest = hashlib.sha256(settings.analyst_password.encode()).hexdigest()
    grants = "\n".join(
        f"        <query>GRANT SELECT ON {database}.{view}</query>" for view in ANALYST_VIEWS
    )
    ips = "\n".join(f"        <ip>{escape(ip)}</ip>" for ip in networks)
    return f"""<clickhouse>
  <!-- crossrec analyst: SELECT on the privacy-safe views only (streams.sinks.access). -->
  <profiles>
    <crossrec_analyst><readonly>2</readonly></crossrec_analyst>
  </profiles>
  <roles>
    <{role}>
      <grants>
{grants}
      </grants>
    </{role}>
  </roles>
  <users>
    <{user}>
      <password_sha256_hex>{digest}</password_sha256_hex>
      <networks>
{ips}
      </networks>
      <profile>crossrec_analyst</profile>
      <quota>default</quota>
      <grants><query>GRANT {role}</query></grants>
    </{user}>
  </users>
</clickhouse>
"""


def write_analyst_users_xml(config_dir: Path, settings: Settings) -> Path:
    """Write :func:`analyst_users_xml` to ``config_dir/users.d/``; the server reads it at start.

    ``config_dir`` is the directory of the server's ``users.xml`` (for the local server, its
    data directory). The file holds a password hash, so it is readable by its owner only.
    """
    directory = config_dir / "users.d"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / USERS_D_FILE
    path.write_text(analyst_users_xml(settings))
    path.chmod(0o600)
    return path


def _verify_declared(
    admin_client: Any, settings: Settings, storage: str = "users_xml"
) -> AnalystAccess:
    user, role, _ = _names(settings)
    fix = (
        "declare it with streams.sinks.access.write_analyst_users_xml(<directory of the "
        "server's users.xml>, settings) and restart the server"
    )
    found = admin_client.query(
        "SELECT count() FROM system.users WHERE name = {u:String}", parameters={"u": user}
    ).result_rows[0][0]
    if not found:
        raise AccessError(
            f"ClickHouse has no user {user} and keeps users in read-only storage: {fix}"
        )
    grants = _select_grants(admin_client, user, role)
    expected = expected_grants(settings)
    if grants != expected:
        missing = sorted(f"{d}.{t}" for d, t in expected - grants)
        extra = sorted(f"{d}.{t}" for d, t in grants - expected)
        raise AccessError(
            f"analyst {user} has the wrong grants (missing {missing}, extra {extra}): {fix}"
        )
    return AnalystAccess(user, role, storage, ANALYST_VIEWS)


def _select_grants(admin_client: Any, user: str, role: str) -> set[tuple[str, str]]:
    """Every grant of the user and its role as ``(database, table)``; non-SELECT grants and
    grants on whole databases or everything show up as ``(access_type, '*')`` so they count
    as extra."""
    rows = admin_client.query(
        "SELECT access_type, ifNull(database, '*'), ifNull(table, '*') FROM system.grants "
        "WHERE user_name = {u:String} OR role_name = {r:String} "
        "OR role_name IN (SELECT granted_role_name FROM system.role_grants "
        "WHERE user_name = {u:String})",
        parameters={"u": user, "r": role},
    ).result_rows
    out: set[tuple[str, str]] = set()
    for access, database, table in rows:
        if str(access) == "SELECT" and database != "*" and table != "*":
            out.add((str(database), str(table)))
        else:
            out.add((f"{access} ON {database}", str(table)))
    return out


def _names(settings: Settings) -> tuple[str, str, str]:
    user, role, database = (
        settings.analyst_user,
        analyst_role(settings),
        settings.clickhouse_database,
    )
    for name in (user, role, database):
        if not _IDENT.match(name):
            raise AccessError(f"{name!r} is not a plain ClickHouse identifier")
    return user, role, database


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
