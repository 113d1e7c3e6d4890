"""A throwaway PostgreSQL server for the tests: initdb into a temp folder, a free loopback port, the unix
socket in that folder, torn down at the end of the session.

initdb and postgres refuse to run as root, and CI runs as root: the server then runs as the existing
unprivileged user `nobody` (runuser/setpriv), owning the temp folder. Nothing is added to the system.

    server = PostgresServer.start()
    url = server.create_database()          # postgresql+psycopg://parsdesk_admin@127.0.0.1:PORT/test_N
    ...
    server.stop()

The admin role logs in over TCP without a password (trust for that one role); every other role needs
its password (scram-sha-256), so tests of the keyring password path meet a real authentication.

No binaries here: tests skip with the reason, unless PARSDESK_REQUIRE_POSTGRES=1 (set by .ci/run, which
installs them), where they fail instead.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ADMIN_ROLE = "parsdesk_admin"
UNPRIVILEGED_USER = "nobody"
REQUIRE_ENV = "PARSDESK_REQUIRE_POSTGRES"
BINDIR_ENV = "PARSDESK_PG_BINDIR"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (the message says where we looked)."""


def find_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres: PARSDESK_PG_BINDIR, `pg_config --bindir`,
    the newest /usr/lib/postgresql/*/bin, else PATH."""
    candidates: list[Path] = []
    if os.environ.get(BINDIR_ENV):
        candidates.append(Path(os.environ[BINDIR_ENV]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass

    def version(path: Path) -> float:
        try:
            return float(path.parent.name)
        except ValueError:
            return 0.0

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install the Debian package "
        "postgresql-15 (or postgresql), or set PARSDESK_PG_BINDIR"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user() -> tuple[list[str], str | None]:
    """The command prefix that drops root, and the user to own the data folder (None: ourselves)."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError as exc:
        raise PostgresUnavailable(f"running as root and there is no {UNPRIVILEGED_USER!r} user to run PostgreSQL") from exc
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", UNPRIVILEGED_USER, "--"], UNPRIVILEGED_USER
    setpriv = shutil.which("setpriv")
    if setpriv:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
        return [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups"], UNPRIVILEGED_USER
    raise PostgresUnavailable("running as root and neither runuser nor setpriv is available to drop privileges")


@dataclass
class PostgresServer:
    bindir: Path
    root: Path  # temp folder: data/, the unix socket, the log
    port: int
    prefix: list[str]
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))
    _retired: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str, role: str = ADMIN_ROLE) -> str:
        return f"postgresql+psycopg://{role}@127.0.0.1:{self.port}/{database}"

    durable: bool = False  # fsync and friends on, as a real server (bench); off for the tests

    @classmethod
    def start(cls, *, durable: bool = False) -> PostgresServer:
        bindir = find_bindir()
        prefix, owner = _as_server_user()
        root = Path(tempfile.mkdtemp(prefix="parsdesk-pg-"))
        if owner is not None:
            entry = pwd.getpwnam(owner)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        server = cls(bindir=bindir, root=root, port=0, prefix=prefix, durable=durable)
        try:
            server._initdb()
            server._launch()
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")

    def _initdb(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", ADMIN_ROLE, "-E", "UTF8",
            "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
        )
        # The admin role (the tests' own) logs in without a password; every other role needs its
        # password. First matching line wins.
        hba = self.data_dir / "pg_hba.conf"
        rules = (
            f"local all all trust\n"
            f"host all {ADMIN_ROLE} 127.0.0.1/32 trust\n"
            f"host all all 127.0.0.1/32 scram-sha-256\n"
        )
        hba.write_text(rules)  # root may write nobody's file; the file keeps its owner and mode

    def _launch(self) -> None:
        options = " ".join([
            "-c listen_addresses=127.0.0.1",
            f"-k {self.root}",
            # a scratch server: durability buys nothing here and costs the suite seconds
            "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            "-c max_connections=200",
        ])
        for _attempt in range(5):  # another process may take the free port before the server binds it
            self.port = free_port()
            try:
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
                    "-t", "60", "-o", f"-p {self.port} {options}", "start",
                )
                return
            except RuntimeError:
                if "could not bind" not in self._log_tail() and "in use" not in self._log_tail():
                    raise RuntimeError(f"PostgreSQL did not start: {self._log_tail()}") from None
        raise RuntimeError(f"PostgreSQL did not start: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", timeout=60)
            except (RuntimeError, subprocess.SubprocessError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    # --- databases and roles ------------------------------------------------------------------

    def admin_execute(self, *statements: str, database: str = "postgres") -> None:
        """Run statements outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=ADMIN_ROLE, dbname=database, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def create_database(self) -> str:
        name = f"test_{os.getpid()}_{next(self._names)}"
        self.admin_execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str, *, keep_latest: int = 0) -> None:
        """Drop the database; with keep_latest, only once that many newer ones were dropped after it
        (a widget a finished test left behind may still run a timer against its old store)."""
        self._retired.append(url.rsplit("/", 1)[1])
        while len(self._retired) > keep_latest:
            name = self._retired.pop(0)
            self.admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create_role(self, name: str, password: str, database_url: str) -> None:
        """A login role with a password that owns the public schema of the URL's database."""
        database = database_url.rsplit("/", 1)[1]
        escaped = password.replace("'", "''")
        self.admin_execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{escaped}'")
        self.admin_execute(f'GRANT ALL ON DATABASE "{database}" TO "{name}"')
        self.admin_execute(f'GRANT ALL ON SCHEMA public TO "{name}"', database=database)
