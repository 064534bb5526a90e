"""A throwaway PostgreSQL 15 server for the scale-out runs of the integration suite.

One server per test process, started on first use on a free loopback port in a
temporary directory (as the `postgres` user when running as root), and stopped
by its PID at exit. Each shopd instance gets a database of its own, migrated
with `shopd migrate`, so tests stay as independent as with SQLite.

    pg = shared_server()
    url = pg.fresh_database("shop_a1b2")     # postgres://shopd@127.0.0.1:PORT/shop_a1b2
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import shared

PG_BIN = "/usr/lib/postgresql/15/bin"
USER = "shopd"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="shopd-it-pg-")
        self.data = os.path.join(self.tmp, "data")
        self.log = os.path.join(self.tmp, "server.log")
        self.port = None
        self.pid = None
        self._run_as = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
            self._run_as = {"user": pw.pw_uid, "group": pw.pw_gid}

    def _run(self, args, timeout=60):
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **self._run_as)

    def start(self):
        if not os.path.exists(os.path.join(PG_BIN, "initdb")):
            raise RuntimeError("PostgreSQL 15 is not installed: run scripts/install_deps.sh test")
        r = self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", USER, "--auth=trust", "-E", "UTF8",
                       "--locale=C", "--no-sync"])
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stdout}{r.stderr}")
        for _ in range(3):
            self.port = _free_port()
            if self._pg_ctl_start():
                return self
        raise RuntimeError(f"pg_ctl start failed: {self._last_error}")

    def _pg_ctl_start(self):
        opts = (f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
                f"-c shared_buffers=32MB -p {self.port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories='{self.tmp}'")
        r = self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log, "-w", "-t", "60",
                       "-o", opts, "start"], timeout=70)
        self._last_error = r.stdout + r.stderr
        if r.returncode != 0:
            return False
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pid = int(f.readline())
        return True

    def stop_server(self):
        """Stops the server (fast shutdown: open connections are closed), keeping its data."""
        r = self._run([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"], timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {r.stdout}{r.stderr}")
        self.pid = None

    def start_again(self):
        """Starts the stopped server on the same port, with the same data."""
        if not self._pg_ctl_start():
            raise RuntimeError(f"pg_ctl start failed: {self._last_error}")

    def stop(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGINT)  # fast shutdown
                deadline = time.time() + 20
                while time.time() < deadline:
                    os.kill(self.pid, 0)
                    time.sleep(0.05)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def url(self, database):
        return f"postgres://{USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql, database="postgres"):
        r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url(database), "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {r.stderr}")
        return r.stdout

    def fresh_database(self, name, shopd_bin):
        """Creates `name` if it does not exist yet and migrates it; returns its URL."""
        exists = subprocess.run(["psql", "-X", "-tA", "-d", self.url("postgres"), "-c",
                                 f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                                capture_output=True, text=True, timeout=60).stdout.strip()
        if exists != "1":
            self.psql(f'CREATE DATABASE "{name}"')
        r = subprocess.run([shopd_bin, "migrate", "--database-url", self.url(name)], capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"shopd migrate failed: {r.stdout}{r.stderr}")
        return self.url(name)


def shared_server():
    """The server of this test process, started on first use, stopped at exit."""
    return shared.one_per_process(PostgresServer)
