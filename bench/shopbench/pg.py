"""PostgreSQL for the scale-out cases: where its binaries are, SQL through psql, the counters read
around an orders run (commits from pg_stat_database, statements from pg_stat_statements), and
pgbench (its command lines and the parser of its output).

The server runs in the foreground from the table of servers (servers.py); this module only talks
to it. Everything here connects over TCP to 127.0.0.1 as the superuser initdb created (USER,
trusted), and reads the statistics from the "postgres" database, so its own queries are not
counted in the database it measures.

Usage:
  if accepts(registry, port): session = PostgresSession(registry, port)
  session.fresh_database("shop")
  before = session.counters("shop"); ...; after = session.counters("shop")
  figures = per_order(before, after, orders=20063)    # PerOrder(commits=..., statements=...)
  out = parse_pgbench(text)                            # PgbenchOutput(tps=..., ...)
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .errors import BenchError

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_LIB = Path("/usr/lib/postgresql/15/lib")
PG_SHARE = Path("/usr/share/postgresql/15")
TOOLS = ("postgres", "initdb", "pg_isready", "psql", "pgbench")
USER = "shopd"              # the superuser initdb -U creates; --auth=trust on 127.0.0.1
OS_USER = "postgres"        # PostgreSQL refuses to run as root: then it runs as this user
STATS_DB = "postgres"       # where the driver's own queries run
PGBENCH_DB = "pgbench"
CLIENT_CPU = 1
# A PostgreSQL 15 backend flushes its pg_stat_database counts at most once a second, and one
# that has gone idle within 10 s (PGSTAT_IDLE_INTERVAL); pg_stat_statements counts at once.
STATS_SETTLE_S = 11.0


def os_user() -> Optional[str]:
    """The user PostgreSQL's programs run as: OS_USER when the bench runs as root, else itself."""
    return OS_USER if os.geteuid() == 0 else None


def statements_unavailable(lib: Path = PG_LIB, share: Path = PG_SHARE) -> str:
    """"" when pg_stat_statements can be preloaded and created, else why not. (A library named
    in shared_preload_libraries that is missing stops the server from starting.)"""
    missing = [str(p) for p in (lib / "pg_stat_statements.so",
                                share / "extension" / "pg_stat_statements.control")
               if not p.exists()]
    return f"pg_stat_statements is not installed (no {', '.join(missing)})" if missing else ""


def url(port: int, database: str) -> str:
    return f"postgres://{USER}@127.0.0.1:{port}/{database}"


def accepts(registry, port: int) -> bool:
    """pg_isready: True once the server accepts connections (not while it starts up)."""
    rc, _ = registry.output([str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port),
                             "-U", USER, "-d", STATS_DB], timeout_s=5)
    return rc == 0


# ---------------------------------------------------------------- counters

@dataclass(frozen=True, eq=False)
class Counters:
    """Cumulative counts of one database."""
    xact_commit: int
    statements: Optional[dict] = None     # queryid -> (calls, query); None without the extension

    @property
    def calls(self) -> Optional[int]:
        if self.statements is None:
            return None
        return sum(calls for calls, _ in self.statements.values())


@dataclass(frozen=True)
class PerOrder:
    commits: Optional[float]        # xact_commit delta / orders
    statements: Optional[float]     # pg_stat_statements calls delta / orders (None: not measured)


def counters_sql(database: str, with_statements: bool) -> str:
    """One JSON object: xact_commit of `database` and, with the extension, its top-level
    statements (pg_stat_statements.track = top, the default; BEGIN and COMMIT included)."""
    name = database.replace("'", "''")
    statements = ("(SELECT coalesce(json_agg(json_build_array(queryid::text, calls, "
                  "left(regexp_replace(query, '\\s+', ' ', 'g'), 200))), '[]'::json) "
                  "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                  f"WHERE datname = '{name}'))" if with_statements else "NULL")
    return ("SELECT json_build_object('xact_commit', (SELECT xact_commit FROM pg_stat_database "
            f"WHERE datname = '{name}'), 'statements', {statements})")


def parse_counters(text: str) -> Optional[Counters]:
    """counters_sql's answer (psql -tA); None if it is not one."""
    try:
        data = json.loads(text.strip().splitlines()[-1])
        commits = int(data["xact_commit"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    rows = data.get("statements")
    statements = None if rows is None else {str(r[0]): (int(r[1]), str(r[2])) for r in rows}
    return Counters(commits, statements)


def per_order(before: Optional[Counters], after: Optional[Counters],
              orders: int) -> PerOrder:
    if before is None or after is None or orders <= 0:
        return PerOrder(None, None)
    commits = (after.xact_commit - before.xact_commit) / orders
    statements = (None if before.calls is None or after.calls is None
                  else (after.calls - before.calls) / orders)
    return PerOrder(commits, statements)


def statement_deltas(before: Counters, after: Counters, top: int = 20) -> list:
    """The statements run between two readings, most calls first: [(calls, query), ...]."""
    if before.statements is None or after.statements is None:
        return []
    rows = [(calls - before.statements.get(qid, (0, ""))[0], query)
            for qid, (calls, query) in after.statements.items()]
    return sorted((r for r in rows if r[0] > 0), key=lambda r: (-r[0], r[1]))[:top]


# ---------------------------------------------------------------- the session

@dataclass
class PostgresSession:
    """The running server as the cases use it."""
    registry: object
    port: int
    statements_note: str = ""       # "" = pg_stat_statements is there; else why it is not
    pgbench_scale: int = 0          # the scale `pgbench -i` ran with (0: not yet)
    databases: list = field(default_factory=list)

    @property
    def has_statements(self) -> bool:
        return not self.statements_note

    def url(self, database: str) -> str:
        return url(self.port, database)

    def sql(self, sql: str, database: str = STATS_DB, timeout_s: float = 60) -> str:
        rc, text = self.registry.output([str(PG_BIN / "psql"), "-X", "-q", "-tA", "-v",
                                         "ON_ERROR_STOP=1", "-d", self.url(database), "-c", sql],
                                        timeout_s=timeout_s)
        if rc != 0:
            raise BenchError(f"psql ({database}) failed (exit status {rc}) on {sql[:120]!r}:\n"
                             f"{text.strip()[-1000:]}")
        return text

    def fresh_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.sql(f'CREATE DATABASE "{name}"')
        self.databases.append(name)

    def counters(self, database: str) -> Optional[Counters]:
        try:
            return parse_counters(self.sql(counters_sql(database, self.has_statements)))
        except BenchError:
            return None


# ---------------------------------------------------------------- pgbench

def _pgbench(port: int) -> list:
    return ["taskset", "-c", str(CLIENT_CPU), str(PG_BIN / "pgbench"), "-h", "127.0.0.1",
            "-p", str(port), "-U", USER]


def pgbench_init_command(port: int, scale: int, database: str = PGBENCH_DB) -> list:
    return _pgbench(port) + ["-i", "-q", "-s", str(scale), database]


def pgbench_command(port: int, clients: int, seconds: int, database: str = PGBENCH_DB) -> list:
    """The built-in TPC-B-like script, one client thread (like wrk -t1), for `seconds`."""
    return _pgbench(port) + ["-c", str(clients), "-j", "1", "-T", str(seconds), database]


@dataclass(frozen=True)
class PgbenchOutput:
    transactions: Optional[int] = None
    failed: Optional[int] = None
    tps: Optional[float] = None
    latency_avg_ms: Optional[float] = None
    aborted: bool = False

    def errors(self, exit_status: int = 0) -> str:
        found = []
        if self.tps is None:
            found.append("pgbench failed")
        if self.failed:
            found.append(f"failed transactions: {self.failed}")
        if self.aborted:
            found.append("run aborted")
        if exit_status and not found:
            found.append(f"pgbench exit status {exit_status}")
        return "; ".join(found) or "0"


def _after(line: str, prefix: str) -> Optional[str]:
    return line[len(prefix):].strip() if line.startswith(prefix) else None


def parse_pgbench(text: str) -> PgbenchOutput:
    """pgbench 15's summary: transactions processed and failed, latency average, tps."""
    values = {}
    aborted = False
    for line in text.splitlines():
        line = line.strip()
        if "aborted" in line.lower():
            aborted = True
        for key, prefix in (("transactions", "number of transactions actually processed:"),
                            ("failed", "number of failed transactions:"),
                            ("latency", "latency average ="), ("tps", "tps =")):
            rest = _after(line, prefix)
            if rest:
                values[key] = rest.split()[0]
    try:
        return PgbenchOutput(
            transactions=int(values["transactions"].split("/")[0])
            if "transactions" in values else None,
            failed=int(values["failed"]) if "failed" in values else None,
            tps=float(values["tps"]) if "tps" in values else None,
            latency_avg_ms=float(values["latency"]) if "latency" in values else None,
            aborted=aborted)
    except ValueError:
        return PgbenchOutput(aborted=aborted)
