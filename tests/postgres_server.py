"""A real PostgreSQL server for the tests, started from the machine's own binaries.

Debian's ``postgresql`` package puts ``initdb`` and ``pg_ctl`` under
``/usr/lib/postgresql/<version>/bin`` (``.ci/run`` installs it). The server runs
in a temporary folder, on a free port of 127.0.0.1 and a private socket folder,
for one test session, and is stopped (and its folder removed) at the end. The
server refuses to run as root, so a root test run starts it as the ``postgres``
user. Without the binaries the tests that need it skip, saying why.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

START_SECONDS = 60


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return Path(found[-1]).parent if found else None


def why_not() -> str | None:
    """Why no server can be started here, or None if one can."""
    if binaries() is None:
        return "no PostgreSQL under /usr/lib/postgresql: apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.parent.name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server() -> Iterator[str]:
    """Start a throwaway server; yield its URL (``postgresql://postgres@127.0.0.1:PORT/postgres``)."""
    bin_dir = binaries()
    if bin_dir is None:
        raise FileNotFoundError(
            "no PostgreSQL under /usr/lib/postgresql: apt-get install postgresql"
        )
    folder = Path(tempfile.mkdtemp(prefix="tf-postgres-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    as_user = _as_postgres_user(folder) if os.geteuid() == 0 else []
    port = _free_port()
    run = lambda *args: subprocess.run(  # noqa: E731
        [*as_user, *args], check=True, capture_output=True, text=True, timeout=START_SECONDS
    )
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8")  # fmt: skip
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
            str(folder / "server.log"), "-w", "-t", str(START_SECONDS), "start")  # fmt: skip
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True, timeout=START_SECONDS,
            )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_postgres_user(folder: Path) -> list[str]:
    """The command prefix that runs a program as ``postgres``, and its folder handed over."""
    user = pwd.getpwnam("postgres")
    for path in (folder, *folder.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


def database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url``."""
    return server_url.rsplit("/", 1)[0] + "/" + name


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """Create database ``name`` (a copy of ``template``'s, if given); its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        copy = f" TEMPLATE {template}" if template else ""
        conn.execute(f"CREATE DATABASE {name}{copy}")
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
