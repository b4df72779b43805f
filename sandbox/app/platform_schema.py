"""The platform's database, built the way a Supabase project gets it: Supabase's shim, then the kit's migrations.

1. ``create_platform_roles`` (a superuser): the API roles ``anon``, ``authenticated``, ``service_role``
   (BYPASSRLS) and ``authenticator``, granted to the app's login user so it can switch to them per request as
   PostgREST does, and the ``supabase_realtime`` publication.
2. ``supabase_shim.sql`` (the database owner): the ``auth`` schema (auth.uid(), auth.role(), auth.jwt(), users,
   refresh tokens) and Supabase CLI's ``supabase_migrations.schema_migrations``.
3. ``supabase/migrations/*.sql`` in version order, each once, recorded as ``supabase db push`` records it. These
   are the kit a real project applies; the sandbox has no copy of its row rules.
4. ``schema.sql``: what only the sandbox needs on top (its Realtime's change notifications).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from rxcore.environment import PROJECT_ROOT

__all__ = ["MIGRATIONS_DIR", "Migration", "apply_migrations", "apply_schema", "apply_shim", "create_platform_roles",
           "migrations"]

MIGRATIONS_DIR = PROJECT_ROOT / "supabase" / "migrations"
API_ROLES = ("anon", "authenticated", "service_role")
_MIGRATION_NAME = re.compile(r"^(\d{14})_(\w+)\.sql$")

_ROLES = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    END IF;
    -- PostgREST's login role on Supabase; the sandbox's app logs in as its own user, which gets the same grants.
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
        CREATE PUBLICATION supabase_realtime;
    END IF;
END;
$$;
GRANT anon, authenticated, service_role TO authenticator;
"""


class Migration:
    """One file of ``supabase/migrations``: ``<14-digit version>_<name>.sql``."""

    def __init__(self, path: Path) -> None:
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path}: a migration file is named <14-digit timestamp>_<name>.sql")
        self.path = path
        self.version, self.name = match.groups()

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The kit's migrations in the order ``supabase db push`` applies them (by version)."""
    found = sorted((Migration(path) for path in directory.glob("*.sql")), key=lambda m: m.version)
    if not found:
        raise FileNotFoundError(f"{directory}: no migrations (the platform kit, supabase/migrations, is missing)")
    return found


def create_platform_roles(admin_conninfo: str, app_user: str) -> None:
    """What Supabase's image creates (needs a superuser, connected to the app's database for the publication)."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(_ROLES.encode())
        user = sql.Identifier(app_user)
        conn.execute(sql.SQL("GRANT anon, authenticated, service_role TO {}").format(user))
        conn.execute(sql.SQL("ALTER PUBLICATION supabase_realtime OWNER TO {}").format(user))


def apply_shim(conn: psycopg.Connection[Any]) -> None:
    conn.execute(resources.files("sandbox.app").joinpath("supabase_shim.sql").read_text(encoding="utf-8").encode())


def apply_migrations(conn: psycopg.Connection[Any], directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply each migration not yet recorded, each in its own transaction with its record; the versions applied."""
    with conn.cursor(row_factory=tuple_row) as cursor:
        applied = {row[0] for row in cursor.execute("SELECT version FROM supabase_migrations.schema_migrations")}
    done = []
    for migration in migrations(directory):
        if migration.version in applied:
            continue
        text = migration.sql()
        with conn.transaction():
            conn.execute(text.encode())
            conn.execute(
                "INSERT INTO supabase_migrations.schema_migrations (version, name, statements) VALUES (%s, %s, %s)",
                [migration.version, migration.name, [text]],
            )
        done.append(migration.version)
    return done


def apply_schema(conninfo: str, *, admin_conninfo: str) -> None:
    """Build or update the platform's database; safe to run on one that is already up to date."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        user = conn.info.user
    create_platform_roles(admin_conninfo, user)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        apply_shim(conn)
        apply_migrations(conn)
        conn.execute(resources.files("sandbox.app").joinpath("schema.sql").read_text(encoding="utf-8").encode())
