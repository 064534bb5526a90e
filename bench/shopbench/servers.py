"""The table of servers, and ServerStack, which starts and stops them.

Every server listens on 127.0.0.1 only, at PORT + its port offset, and each of its processes runs
pinned to CPU 0 (`taskset -c 0`), started the way the peers' bench.sh starts it
(../shared/peers/bench.sh: start_nginx, start_node, start_redis, bench_queue). Arguments and
environment values are templates: "{port}", "{redis_port}", "{peers}" (the peers' copy with
node_modules), "{work}" (the scratch directory), "{out}" (the run's output directory),
"{shopd}", ...; an argument "@{name}" stands for the words of that value.

Usage:
  stack = ServerStack(registry, StackConfig.for_run(settings, out, work), log)
  stack.start("queue")          # starts redis first (SERVERS["queue"].needs)
  stack.pgids("queue")          # queue.js, worker.js and redis-server: for CPU accounting
  stack.shopd.product_id        # set up by shopd's after_start hook
  stack.stop_all()
"""

import http.client
import os
import shlex
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from . import shopd_api
from .errors import BenchError
from .settings import shown_path

SERVER_CPU = 0
START_TIMEOUT_S = 30


@dataclass(frozen=True)
class Ready:
    """How a started process shows it is ready: an HTTP 2xx/3xx on `target` ("http"), a
    Redis PONG ("redis"), or the text `target` in its log ("log")."""
    kind: str
    target: str = ""


@dataclass(frozen=True)
class Proc:
    argv: tuple
    ready: Ready
    stdout: str                 # log file (appended to); templates allowed
    stderr: str = ""            # "" = with stdout
    env: tuple = ()             # (name, value template) pairs added to the environment


@dataclass(frozen=True)
class Server:
    name: str
    port_offset: int
    description: str
    procs: tuple                # started in order, stopped in reverse
    needs: tuple = ()           # servers started before this one, kept for CPU accounting
    cpu: int = SERVER_CPU
    prepare: Optional[Callable] = None      # (stack, server) before the first process
    after_start: Optional[Callable] = None  # (stack, server) -> state (e.g. ShopdSession)
    before_stop: Optional[Callable] = None  # (stack, server)
    after_stop: Optional[Callable] = None   # (stack, server)


@dataclass
class ShopdSession:
    """The running shopd as the cases use it."""
    client: shopd_api.ShopdClient
    stdout_log: Path            # access log + app log, truncated between runs
    data_dir: Path
    product_id: str = ""

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
        return template.format_map({**self.vars, "port": self.port(server),
                                    "redis_port": self.port("redis"), "work": self.work,
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


def _fresh_shopd_data_dir(stack, server):
    data_dir = stack.config.work / "shopd-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(mode=0o700, parents=True)   # shopd refuses a group/other-writable data dir


def _set_up_shopd(stack, server) -> ShopdSession:
    """Registers the bench user; with a case that needs it, the admin creates the product."""
    out = stack.config.out
    session = ShopdSession(client=shopd_api.ShopdClient(stack.config.port("shopd")),
                           stdout_log=stack.config.work / "shopd-stdout.log",
                           data_dir=stack.config.work / "shopd-data")
    with open(session.stdout_log, "rb") as f:
        (out / "shopd-stdout-head.log").write_bytes(b"".join(f.readlines()[:5]))
    status, body = session.client.register(shopd_api.BENCH_EMAIL, shopd_api.BENCH_PASSWORD,
                                           "Bench User")
    (out / "shopd-register.json").write_bytes(body)
    if status != 201:
        raise BenchError(f"register returned {status}: {body[:300]!r}")
    if stack.config.needs_product:
        admin = session.client.login(shopd_api.ADMIN_EMAIL, shopd_api.ADMIN_PASSWORD)
        status, body = session.client.create_product(admin)
        (out / "shopd-product.json").write_bytes(body)
        if status != 201:
            raise BenchError(f"POST /v1/products (admin) returned {status}: {body[:300]!r}")
        session.product_id = shopd_api.product_id(body)
    return session


def _save_shopd_state(stack, server):
    """shopd's /metrics and `shopd queue stats` just before it stops."""
    session = stack.shopd
    if session is None:     # its set-up failed
        return
    out = stack.config.out
    (out / "shopd-metrics-final.txt").write_text(session.client.metrics())
    _, text = stack.registry.output([str(stack.config.vars["shopd"]), "queue", "stats",
                                     "--data-dir", str(session.data_dir)], timeout_s=30)
    (out / "shopd-queue-stats.txt").write_text(text)


def _save_shopd_log_tail(stack, server):
    """The last lines of shopd's stdout, once it has stopped (the file is in the scratch dir)."""
    source = stack.config.work / "shopd-stdout.log"
    try:
        lines = source.read_text(errors="replace").splitlines()[-5:]
        (stack.config.out / "shopd-stdout-tail.log").write_text("\n".join(lines) + "\n")
    except OSError:
        pass


# ---------------------------------------------------------------- the table

_NODE_ENV = (("PORT", "{port}"), ("HOST", "127.0.0.1"), ("CLUSTER", "0"), ("WORKERS", "1"))
_REDIS_ENV = (("REDIS_URL", "redis://127.0.0.1:{redis_port}"), ("REDIS_HOST", "127.0.0.1"),
              ("REDIS_PORT", "{redis_port}"))

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
           procs=(Proc(("{shopd}", "serve", "--listen", "127.0.0.1:{port}", "--threads", "1",
                        "--workers", "{shopd_workers}", "--data-dir", "{work}/shopd-data",
                        "--access-log", "{access_log}", "@{order_limits}"),
                       Ready("http", "/health"),
                       stdout="{work}/shopd-stdout.log", stderr="{out}/shopd-stderr.log",
                       env=(("SHOPD_ADMIN_EMAIL", "{admin_email}"),
                            ("SHOPD_ADMIN_PASSWORD", "{admin_password}"),
                            ("SHOPD_JWT_SECRET", "{jwt_secret}"))),),
           prepare=_fresh_shopd_data_dir, after_start=_set_up_shopd,
           before_stop=_save_shopd_state, after_stop=_save_shopd_log_tail),
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
)

SERVERS = {server.name: server for server in _TABLE}
STOP_ORDER = ("nginx", "express", "cache", "queue", "shopd", "redis")   # users before redis


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

    @property
    def shopd(self) -> Optional[ShopdSession]:
        running = self._running.get("shopd")
        return running.state if running else None

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
                                               stderr=stderr, env=env)
            else:
                proc = self.registry.spawn(self.config.argv(spec, name), stdout=stdout, env=env)
        self._wait_ready(name, proc, spec.ready, port, stdout_path, stderr_path or stdout_path)
        return proc

    def _wait_ready(self, name, proc, ready: Ready, port: int, log_path: Path, err_path: Path):
        checks = {"http": lambda: http_ok(port, ready.target),
                  "redis": lambda: redis_pong(port),
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
