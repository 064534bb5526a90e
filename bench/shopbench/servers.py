"""The table of servers, and ServerStack, which starts and stops them.

Every server listens on 127.0.0.1 only, at PORT + its port offset, and each of its processes runs
pinned to CPU 0 (`taskset -c 0`), started the way the peers' bench.sh starts it
(../shared/peers/bench.sh: start_nginx, start_node, start_redis, bench_queue); PostgreSQL runs
in the foreground (the `postgres` binary, not pg_ctl), as the postgres user when the bench runs
as root, and is stopped with SIGINT (fast shutdown). Arguments and environment values are
templates: "{port}", "{redis_port}", "{postgres_port}", "{name}" (the server's), "{database}"
(its PostgreSQL database), "{peers}" (the peers' copy with node_modules), "{work}" (the scratch
directory), "{out}" (the run's output directory), "{shopd}", ...; an argument "@{name}" stands
for the words of that value.

Usage:
  stack = ServerStack(registry, StackConfig.for_run(settings, out, work), log)
  stack.start("queue")          # starts redis first (SERVERS["queue"].needs)
  stack.pgids("queue")          # queue.js, worker.js and redis-server: for CPU accounting
  stack.session("shopd-pg").product_id     # set up by the shopd servers' after_start hook
  stack.state("postgres").sql("SELECT 1")  # the PostgresSession of the postgres server
  stack.stop_all()
"""

import http.client
import os
import pwd
import shlex
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from . import pg, shopd_api
from .errors import BenchError
from .settings import shown_path

SERVER_CPU = 0
START_TIMEOUT_S = 30


@dataclass(frozen=True)
class Ready:
    """How a started process shows it is ready: an HTTP 2xx/3xx on `target` ("http"), a
    Redis PONG ("redis"), PostgreSQL accepting connections ("postgres", pg_isready), or the
    text `target` in its log ("log")."""
    kind: str
    target: str = ""


@dataclass(frozen=True)
class Proc:
    argv: tuple
    ready: Ready
    stdout: str                 # log file (appended to); templates allowed
    stderr: str = ""            # "" = with stdout
    env: tuple = ()             # (name, value template) pairs added to the environment
    user: str = ""              # run as this user when the bench runs as root ("" = as itself)
    stop_signal: int = signal.SIGTERM       # sent to its process group to stop it
    stop_grace_s: Optional[float] = None    # before KILL (None: the registry's 5 s)


@dataclass(frozen=True)
class Server:
    name: str
    port_offset: int
    description: str
    procs: tuple                # started in order, stopped in reverse
    needs: tuple = ()           # servers started before this one, kept for CPU accounting
    cpu: int = SERVER_CPU
    database: str = ""          # shopd servers: the PostgreSQL database it serves ("" = SQLite)
    prepare: Optional[Callable] = None      # (stack, server) before the first process
    after_start: Optional[Callable] = None  # (stack, server) -> state (e.g. ShopdSession)
    before_stop: Optional[Callable] = None  # (stack, server)
    after_stop: Optional[Callable] = None   # (stack, server)


@dataclass
class ShopdSession:
    """A running shopd (server "shopd" or "shopd-pg") as the cases use it."""
    client: shopd_api.ShopdClient
    stdout_log: Path            # access log + app log, truncated between runs
    data_dir: Path
    product_id: str = ""
    database: str = ""          # the PostgreSQL database it serves; "" = SQLite in data_dir

    def truncate_log(self) -> None:
        self.stdout_log.write_bytes(b"")

    def log_lines(self) -> int:
        with open(self.stdout_log, "rb") as f:
            return sum(1 for _ in f)


@dataclass(frozen=True)
class StackConfig:
    repo: Path
    out: Path
    work: Path
    base_port: int
    needs_product: bool
    vars: dict = field(default_factory=dict)    # template values

    def port(self, server: str) -> int:
        return self.base_port + SERVERS[server].port_offset

    def fill(self, template: str, server: str) -> str:
        return template.format_map({**self.vars, "port": self.port(server), "name": server,
                                    "redis_port": self.port("redis"),
                                    "postgres_port": self.port("postgres"),
                                    "database": SERVERS[server].database, "work": self.work,
                                    "out": self.out})

    def argv(self, proc: Proc, server: str) -> list:
        words = []
        for arg in proc.argv:
            if arg.startswith("@"):
                words += shlex.split(self.fill(arg[1:], server))
            else:
                words.append(self.fill(arg, server))
        return ["taskset", "-c", str(SERVERS[server].cpu)] + words

    def env(self, proc: Proc, server: str) -> dict:
        return {name: self.fill(value, server) for name, value in proc.env}

    def shown(self, path: Path) -> str:
        """A path as output names it (settings.shown_path)."""
        return shown_path(path, self.repo)

    def description(self, server: str) -> str:
        return self.fill(SERVERS[server].description, server)

    @classmethod
    def for_run(cls, settings, out: Path, work: Path, shopd: Optional[Path] = None):
        return cls(repo=settings.repo, out=out, work=work, base_port=settings.base_port,
                   needs_product=settings.needs_product, vars={
                       "peers": settings.peers_cache,
                       "shopd": shopd or settings.shopd_path,
                       "nginx": shutil.which("nginx") or "nginx",
                       "shopd_workers": settings.shopd_workers,
                       "access_log": "true" if settings.access_log else "false",
                       "access_log_desc": "on (to a file)" if settings.access_log else "off",
                       "worker_concurrency": settings.worker_concurrency,
                       "order_limits": settings.order_limits,
                       "jwt_secret": settings.jwt_secret,
                       "admin_email": shopd_api.ADMIN_EMAIL,
                       "admin_password": shopd_api.ADMIN_PASSWORD,
                       "pg_bin": pg.PG_BIN,
                       "pg_user": pg.USER,
                       "pg_preload": ("" if pg.statements_unavailable() else
                                      "-c shared_preload_libraries=pg_stat_statements"),
                   })


# ---------------------------------------------------------------- hooks

def _render_nginx_conf(stack, server):
    """As peers/bench.sh start_nginx: @PREFIX@, @PORT@ and @WORKERS@=1 substituted."""
    prefix = stack.config.work / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    template = (Path(stack.config.vars["peers"]) / "nginx" / "nginx.conf.in").read_text()
    conf = (template.replace("@PREFIX@", str(prefix))
            .replace("@PORT@", str(stack.config.port("nginx"))).replace("@WORKERS@", "1"))
    (prefix / "nginx.conf").write_text(conf)
    (stack.config.out / "nginx.conf").write_text(conf)


def _make_redis_dir(stack, server):
    (stack.config.work / "redis").mkdir(parents=True, exist_ok=True)


def _warm_cache(stack, server):
    """As the peers check it: GET /cache/k1 twice; the second answer must be a Redis hit."""
    client = shopd_api.ShopdClient(stack.config.port("cache"))
    status, _ = client.request("GET", "/cache/k1", timeout_s=10)
    if status != 200:
        raise BenchError(f"cache.js: first GET /cache/k1 answered {status}")
    status, body = client.request("GET", "/cache/k1", timeout_s=10)
    if status != 200 or b'"Redis Cache"' not in body:
        raise BenchError("cache.js: GET /cache/k1 is not a Redis hit after warming")


def _init_postgres(stack, server):
    """A new cluster in {work}/postgres (initdb -U shopd --auth=trust -E UTF8 --locale=C), owned
    by the postgres user when the bench runs as root; it also holds the server's socket."""
    root = stack.config.work / "postgres"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(mode=0o700)
    user = pg.os_user()
    if user:
        entry = pwd.getpwnam(user)
        stack.config.work.chmod(0o711)      # mkdtemp's 0700: the postgres user must pass
        os.chown(root, entry.pw_uid, entry.pw_gid)
    # --no-sync: only initdb's own final fsync is skipped; the server runs with fsync on
    rc, text = stack.registry.output(
        [str(pg.PG_BIN / "initdb"), "-D", str(root / "data"), "-U", pg.USER, "--auth=trust",
         "-E", "UTF8", "--locale=C", "--no-sync"], timeout_s=120, user=user)
    (stack.config.out / "postgres-initdb.log").write_text(text)
    if rc != 0:
        raise BenchError(f"initdb failed (exit status {rc}):\n{text.strip()[-1500:]}")


def _set_up_postgres(stack, server) -> pg.PostgresSession:
    """pg_stat_statements in the database the driver reads from, when it could be preloaded."""
    session = pg.PostgresSession(stack.registry, stack.config.port(server.name),
                                 statements_note=pg.statements_unavailable())
    if session.has_statements:
        try:
            session.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except BenchError as e:
            session.statements_note = f"CREATE EXTENSION pg_stat_statements failed: {e}"
    stack.notes["pg_stat_statements"] = session.statements_note or "available"
    return session


def _fresh_shopd_data_dir(stack, server):
    data_dir = stack.config.work / f"{server.name}-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(mode=0o700, parents=True)   # shopd refuses a group/other-writable data dir


def _fresh_shopd_database(stack, server):
    """A fresh data dir, and a fresh database migrated with `shopd migrate`."""
    _fresh_shopd_data_dir(stack, server)
    postgres = stack.state("postgres")
    postgres.fresh_database(server.database)
    rc, text = stack.registry.output([str(stack.config.vars["shopd"]), "migrate",
                                      "--database-url", postgres.url(server.database)],
                                     timeout_s=120)
    (stack.config.out / f"{server.name}-migrate.log").write_text(text)
    if rc != 0:
        raise BenchError(f"shopd migrate failed (exit status {rc}):\n{text.strip()[-1500:]}")


def _set_up_shopd(stack, server) -> ShopdSession:
    """Registers the bench user; with a case that needs it, the admin creates the product."""
    out, name = stack.config.out, server.name
    session = ShopdSession(client=shopd_api.ShopdClient(stack.config.port(name)),
                           stdout_log=stack.config.work / f"{name}-stdout.log",
                           data_dir=stack.config.work / f"{name}-data", database=server.database)
    with open(session.stdout_log, "rb") as f:
        (out / f"{name}-stdout-head.log").write_bytes(b"".join(f.readlines()[:5]))
    status, body = session.client.register(shopd_api.BENCH_EMAIL, shopd_api.BENCH_PASSWORD,
                                           "Bench User")
    (out / f"{name}-register.json").write_bytes(body)
    if status != 201:
        raise BenchError(f"{name}: register returned {status}: {body[:300]!r}")
    if stack.config.needs_product:
        admin = session.client.login(shopd_api.ADMIN_EMAIL, shopd_api.ADMIN_PASSWORD)
        status, body = session.client.create_product(admin)
        (out / f"{name}-product.json").write_bytes(body)
        if status != 201:
            raise BenchError(f"{name}: POST /v1/products (admin) returned {status}: "
                             f"{body[:300]!r}")
        session.product_id = shopd_api.product_id(body)
    return session


# as `shopd queue stats` counts them: jobs by state, and the completed (deleted) ones
PG_QUEUE_STATS_SQL = ("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state "
                      "UNION ALL SELECT queue, 'completed', sum(completed) FROM job_counters "
                      "GROUP BY queue ORDER BY 1, 2")


def _save_shopd_state(stack, server):
    """shopd's /metrics and its queue's counts just before it stops: `shopd queue stats` for
    the embedded queue, the jobs table for the one in PostgreSQL."""
    session = stack.session(server.name)
    if session is None:     # its set-up failed
        return
    out = stack.config.out
    (out / f"{server.name}-metrics-final.txt").write_text(session.client.metrics())
    if session.database:
        try:
            text = ("queue|state|jobs\n"
                    + stack.state("postgres").sql(PG_QUEUE_STATS_SQL, session.database))
        except BenchError as e:
            text = str(e)
    else:
        _, text = stack.registry.output([str(stack.config.vars["shopd"]), "queue", "stats",
                                         "--data-dir", str(session.data_dir)], timeout_s=30)
    (out / f"{server.name}-queue-stats.txt").write_text(text)


def _save_shopd_log_tail(stack, server):
    """The last lines of shopd's stdout, once it has stopped (the file is in the scratch dir)."""
    source = stack.config.work / f"{server.name}-stdout.log"
    try:
        lines = source.read_text(errors="replace").splitlines()[-5:]
        (stack.config.out / f"{server.name}-stdout-tail.log").write_text("\n".join(lines) + "\n")
    except OSError:
        pass


# ---------------------------------------------------------------- the table

_NODE_ENV = (("PORT", "{port}"), ("HOST", "127.0.0.1"), ("CLUSTER", "0"), ("WORKERS", "1"))
_REDIS_ENV = (("REDIS_URL", "redis://127.0.0.1:{redis_port}"), ("REDIS_HOST", "127.0.0.1"),
              ("REDIS_PORT", "{redis_port}"))


def _shopd_proc(*extra_args) -> Proc:
    """shopd serve as both shopd servers run it; its files are named after the server."""
    return Proc(("{shopd}", "serve", "--listen", "127.0.0.1:{port}", "--threads", "1",
                 "--workers", "{shopd_workers}", "--data-dir", "{work}/{name}-data",
                 "--access-log", "{access_log}", "@{order_limits}") + extra_args,
                Ready("http", "/health"),
                stdout="{work}/{name}-stdout.log", stderr="{out}/{name}-stderr.log",
                env=(("SHOPD_ADMIN_EMAIL", "{admin_email}"),
                     ("SHOPD_ADMIN_PASSWORD", "{admin_password}"),
                     ("SHOPD_JWT_SECRET", "{jwt_secret}")))


_SHOPD_HOOKS = dict(after_start=_set_up_shopd, before_stop=_save_shopd_state,
                    after_stop=_save_shopd_log_tail)

_TABLE = (
    Server("nginx", 0, "nginx 1 worker, return 200 (peers nginx.conf.in)",
           procs=(Proc(("{nginx}", "-p", "{work}/nginx", "-c", "{work}/nginx/nginx.conf",
                        "-e", "{work}/nginx/error.log"),
                       Ready("http", "/health"), stdout="{out}/nginx.log"),),
           prepare=_render_nginx_conf),
    Server("express", 1, "hello.js single process (Express)",
           procs=(Proc(("node", "{peers}/node/hello.js"), Ready("http", "/health"),
                       stdout="{out}/express.log", env=_NODE_ENV),)),
    Server("shopd", 2,
           "shopd Release, --threads 1 --workers {shopd_workers}, access log {access_log_desc}",
           procs=(_shopd_proc(),), prepare=_fresh_shopd_data_dir, **_SHOPD_HOOKS),
    Server("cache", 3, "cache.js single process (Express + node-redis) + redis-server",
           procs=(Proc(("node", "{peers}/node/cache.js"), Ready("http", "/health"),
                       stdout="{out}/cache.log", env=_NODE_ENV + _REDIS_ENV),),
           needs=("redis",), after_start=_warm_cache),
    Server("queue", 4, "queue.js single process (Express + BullMQ) + worker.js "
                       "(concurrency {worker_concurrency}) + redis-server",
           procs=(Proc(("node", "{peers}/node/queue.js"), Ready("http", "/health"),
                       stdout="{out}/queue.log", env=_NODE_ENV + _REDIS_ENV),
                  Proc(("node", "{peers}/node/worker.js"), Ready("log", "ready"),
                       stdout="{out}/worker.log",
                       env=(("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", "{redis_port}"),
                            ("CONCURRENCY", "{worker_concurrency}")))),
           needs=("redis",)),
    Server("redis", 5, "redis-server without persistence (the peers' setting)",
           procs=(Proc(("redis-server", "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", "{work}/redis", "--daemonize", "no",
                        "--protected-mode", "yes"),
                       Ready("redis"), stdout="{out}/redis.log"),),
           prepare=_make_redis_dir),
    Server("postgres", 6, "PostgreSQL 15 in the scratch dir, durable defaults (fsync on, "
                          "synchronous_commit=on), max_connections 200",
           procs=(Proc(("{pg_bin}/postgres", "-D", "{work}/postgres/data", "-p", "{port}",
                        "-c", "listen_addresses=127.0.0.1",
                        "-c", "unix_socket_directories={work}/postgres",
                        "-c", "max_connections=200", "-c", "fsync=on",
                        "-c", "synchronous_commit=on", "@{pg_preload}"),
                       Ready("postgres"), stdout="{out}/postgres.log", user=pg.OS_USER,
                       stop_signal=signal.SIGINT, stop_grace_s=60),),
           prepare=_init_postgres, after_start=_set_up_postgres),
    Server("shopd-pg", 7,
           "shopd Release on PostgreSQL (database {database}, no Redis), --threads 1 "
           "--workers {shopd_workers}, access log {access_log_desc}",
           procs=(_shopd_proc("--database-url",
                              "postgres://{pg_user}@127.0.0.1:{postgres_port}/{database}"),),
           needs=("postgres",), database="shop", prepare=_fresh_shopd_database, **_SHOPD_HOOKS),
)

SERVERS = {server.name: server for server in _TABLE}
# users before what they need (redis, postgres)
STOP_ORDER = ("nginx", "express", "cache", "queue", "shopd", "shopd-pg", "redis", "postgres")


def with_needs(names) -> set:
    """The servers and the ones they need."""
    result = set()
    for name in names:
        result.add(name)
        result |= with_needs(SERVERS[name].needs)
    return result


# ---------------------------------------------------------------- readiness

def port_in_use(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def http_ok(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", path)
        return 200 <= conn.getresponse().status < 400
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _log_has(path: Path, text: str) -> bool:
    try:
        return text.encode() in path.read_bytes()
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------- the stack

@dataclass
class _Running:
    procs: list
    state: object = None


class ServerStack:
    def __init__(self, registry, config: StackConfig, log: Callable[[str], None]):
        self.registry = registry
        self.config = config
        self._log = log
        self._running = {}      # name -> _Running, in start order
        self.notes = {}         # facts the hooks found for the report (e.g. pg_stat_statements)

    def state(self, name: str):
        """What the after_start hook of a running server returned (None if it is not running)."""
        running = self._running.get(name)
        return running.state if running else None

    def session(self, name: str) -> Optional[ShopdSession]:
        """The shopd session of a running shopd server; None for other servers."""
        state = self.state(name)
        return state if isinstance(state, ShopdSession) else None

    def is_running(self, name: str) -> bool:
        return name in self._running

    def running(self) -> list:
        return list(self._running)

    def pgids(self, name: str) -> list:
        """The process groups serving `name`, with those of the servers it needs."""
        return [proc.pid for server in sorted(with_needs([name]))
                if server in self._running for proc in self._running[server].procs]

    def start(self, name: str) -> bool:
        """Starts `name` (and what it needs) unless it runs; True if it was started now."""
        if name in self._running:
            return False
        server = SERVERS[name]
        for need in server.needs:
            self.start(need)
        port = self.config.port(name)
        if port_in_use(port):
            raise BenchError(f"port {port} is already in use (set PORT to another base)")
        if server.prepare:
            server.prepare(self, server)
        running = self._running[name] = _Running(procs=[])
        for spec in server.procs:
            running.procs.append(self._start_proc(name, spec, port))
        if server.after_start:
            running.state = server.after_start(self, server)
        pids = " ".join(str(p.pid) for p in running.procs)
        self._log(f"{name} started (pid {pids}, pinned to CPU {server.cpu})")
        return True

    def _start_proc(self, name: str, spec: Proc, port: int):
        stdout_path = Path(self.config.fill(spec.stdout, name))
        stderr_path = Path(self.config.fill(spec.stderr, name)) if spec.stderr else None
        env = {**os.environ, **self.config.env(spec, name)}
        with open(stdout_path, "ab") as stdout:
            if stderr_path:
                with open(stderr_path, "ab") as stderr:
                    proc = self.registry.spawn(self.config.argv(spec, name), stdout=stdout,
                                               stderr=stderr, env=env, **self._how(spec))
            else:
                proc = self.registry.spawn(self.config.argv(spec, name), stdout=stdout, env=env,
                                           **self._how(spec))
        self._wait_ready(name, proc, spec.ready, port, stdout_path, stderr_path or stdout_path)
        return proc

    @staticmethod
    def _how(spec: Proc) -> dict:
        """As whom it runs and how it is stopped."""
        return {"user": spec.user if spec.user and os.geteuid() == 0 else None,
                "stop_signal": spec.stop_signal, "stop_grace_s": spec.stop_grace_s}

    def _wait_ready(self, name, proc, ready: Ready, port: int, log_path: Path, err_path: Path):
        checks = {"http": lambda: http_ok(port, ready.target),
                  "redis": lambda: redis_pong(port),
                  "postgres": lambda: pg.accepts(self.registry, port),
                  "log": lambda: _log_has(log_path, ready.target)}
        deadline = time.monotonic() + START_TIMEOUT_S
        while not checks[ready.kind]():
            if not self.registry.alive(proc):
                self.registry.stop(proc)
                raise BenchError(f"{name} exited during start-up (exit status "
                                 f"{proc.returncode}){self._tails(log_path, err_path)}")
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not come up in {START_TIMEOUT_S}s"
                                 f"{self._tails(log_path, err_path)}")
            time.sleep(0.1)

    def _tails(self, *paths: Path) -> str:
        """The last lines of the logs that say something (those under bench/out/ stay)."""
        return "".join(f"\n{self.config.shown(p)}:\n{_tail(p)}"
                       for p in dict.fromkeys(paths) if _tail(p))

    def stop(self, name: str) -> None:
        if name not in self._running:
            return
        server = SERVERS[name]
        if server.before_stop:
            try:
                server.before_stop(self, server)
            except OSError as e:
                self._log(f"{name}: could not save its state before stopping: {e}")
        for proc in reversed(self._running[name].procs):   # worker.js before queue.js
            self.registry.stop(proc)
        del self._running[name]
        if server.after_stop:
            server.after_stop(self, server)

    def stop_all(self) -> None:
        for name in STOP_ORDER:
            self.stop(name)
