"""Fixtures: a fresh, migrated database per test — SQLite always, PostgreSQL when
SHOPTRACK_TEST_POSTGRES_URL is set (then it must be reachable: an unreachable server fails the
run instead of skipping it) — and services with a frozen clock."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.store.database import Database
from shoptrack.store.migrations import upgrade
from shoptrack.store.secrets import CredentialCipher
from shoptrack.testing import SIMULATOR_NETWORKS, Shop, make_shop
from tests.helpers import AppClient

POSTGRES_URL = os.environ.get("SHOPTRACK_TEST_POSTGRES_URL")
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TEST_SECRET_KEY = "test-secret-key"


def pytest_report_header() -> str:
    if POSTGRES_URL:
        return f"PostgreSQL tests: on ({make_url(POSTGRES_URL).render_as_string()})"
    return "PostgreSQL tests: skipped (set SHOPTRACK_TEST_POSTGRES_URL to run them)"


def _admin_url() -> str:
    assert POSTGRES_URL is not None
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


def _postgres_url(database: str) -> str:
    assert POSTGRES_URL is not None
    return (
        make_url(POSTGRES_URL)
        .set(drivername="postgresql+psycopg", database=database)
        .render_as_string(hide_password=False)
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "shoptrack.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need SHOPTRACK_TEST_POSTGRES_URL")
    name = f"shoptrack_tpl_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    database = Database(_postgres_url(name))
    upgrade(database)
    database.dispose()
    yield name
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _fresh_postgres(template: str) -> tuple[str, str]:
    name = f"shoptrack_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return name, _postgres_url(name)


# Every row of every table but Alembic's, and every sequence back at its start: a database as
# migrated. Foreign keys are not checked meanwhile (the superuser's replica role), so the order
# of the tables does not matter; partitions are emptied through their parent.
_EMPTYING = """
SELECT 'SET LOCAL session_replication_role = replica; '
    || string_agg(format('DELETE FROM %I', c.relname), '; ')
    || coalesce((SELECT '; ' || string_agg(format('SELECT setval(%L, 1, false)',
        format('%I', s.sequencename)), '; ') FROM pg_sequences s WHERE s.schemaname = 'public'), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND c.relname <> 'alembic_version'
"""


class _PostgresPool:
    """Migrated databases handed to one test after another, emptied in between: a few DELETEs
    instead of making a database from the template and dropping it, which costs about a second
    of fsyncs a test. A database that cannot be emptied is dropped instead."""

    def __init__(self, template: str) -> None:
        self._template = template
        self._free: list[str] = []
        self._emptying: str | None = None

    def take(self) -> str:
        return self._free.pop() if self._free else _fresh_postgres(self._template)[0]

    def give_back(self, name: str) -> None:
        try:
            with psycopg.connect(_admin_url(), autocommit=True) as admin:
                # Whatever a test's processes left connected (a killed server's pool).
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
            with psycopg.connect(_postgres_url(name).replace("+psycopg", "")) as connection:
                if self._emptying is None:
                    row = connection.execute(_EMPTYING).fetchone()
                    assert row is not None
                    self._emptying = str(row[0])
                connection.execute(sql.SQL(self._emptying))  # built from the catalogue above
        except psycopg.Error:
            _drop_postgres(name)
            return
        self._free.append(name)

    def close(self) -> None:
        for name in self._free:
            _drop_postgres(name)


def _drop_postgres(name: str) -> None:
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "shoptrack.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    pool: _PostgresPool = request.getfixturevalue("postgres_pool")
    name = pool.take()
    yield _postgres_url(name)
    pool.give_back(name)


@pytest.fixture(scope="session")
def postgres_pool(postgres_template: str) -> Iterator[_PostgresPool]:
    pool = _PostgresPool(postgres_template)
    yield pool
    pool.close()


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated PostgreSQL database, for tests of several processes sharing one."""
    name, url = _fresh_postgres(request.getfixturevalue("postgres_template"))
    yield url
    _drop_postgres(name)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def services(database_url: str, clock: FrozenClock, tmp_path: Path) -> Iterator[Services]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        private_store_networks=SIMULATOR_NETWORKS,
    )
    built = Services(
        settings=settings,
        database=Database(database_url),
        clock=clock,
        cipher=CredentialCipher([TEST_SECRET_KEY]),
    )
    yield built
    built.close()


@pytest.fixture
def shop(services: Services) -> Shop:
    """An account with a key and a WooCommerce integration."""
    return make_shop(services)


@pytest.fixture
def client(services: Services) -> Iterator[AppClient]:
    """The app in-process. Its workers are off: each test processes explicitly, so what it
    asserts is never a race."""
    test_client = AppClient(create_app(services, run_workers=False))
    yield test_client
    test_client.close()
