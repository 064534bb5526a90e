"""The benchmark's knobs, read from the environment (the variables bench/run.sh has always read).

Usage:
  settings = load(os.environ, repo)     # raises SettingsError on a bad value
  settings.duration_s                   # DURATION=10s -> 10

Relative paths in SHOPD_BIN, SHOPD_PEERS and PEERS_CACHE are taken from the repository root,
as run.sh did (it ran from there).
"""

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from . import cases

DEFAULT_ORDER_LIMITS = ("--orders-per-minute 60000 --order-burst 1000000000 "
                        "--max-pending-orders-per-user 1000000000")
DEFAULT_JWT_SECRET = "shopd-bench-fixed-jwt-secret-not-for-production-0123456789"
ORDERS = ("interleaved", "sequential")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    repo: Path
    runs: int = 3
    duration: str = "10s"
    warmup: str = "3s"
    conns: int = 64
    cases: tuple = cases.DEFAULT_CASES
    base_port: int = 18400
    orders: int = 20000
    warmup_orders: int = 5000
    shopd_workers: int = 128
    worker_concurrency: int = 1
    orders_cap_s: int = 300
    drain_timeout_s: int = 120
    access_log: bool = True
    order_limits: str = DEFAULT_ORDER_LIMITS
    order: str = "interleaved"
    peers_src: Optional[Path] = None
    peers_cache: Optional[Path] = None
    jwt_secret: str = DEFAULT_JWT_SECRET
    skip_deps: bool = False
    skip_build: bool = False
    shopd_bin: Optional[Path] = None
    build_timeout_s: int = 3600
    npm_timeout_s: int = 900
    flood_rate: int = 400
    register_rate: int = 100
    pgbench_clients: int = 16
    pgbench_scale: int = 16

    @property
    def duration_s(self) -> int:
        return duration_seconds(self.duration)

    @property
    def warmup_s(self) -> int:
        return duration_seconds(self.warmup)

    @property
    def shopd_path(self) -> Path:
        return self.shopd_bin or self.repo / "build-release" / "shopd"

    @property
    def order_limit_args(self) -> list:
        return shlex.split(self.order_limits)

    def has(self, case: str) -> bool:
        return case in self.cases

    def kinds(self, kind: str) -> tuple:
        return cases.of_kind(self.cases, kind)

    def servers(self) -> set:
        """The servers the selected cases run against (without the ones they need, e.g. redis)."""
        return {cases.CASES[name].server for name in self.cases}

    @property
    def needs_product(self) -> bool:
        return any(cases.CASES[name].needs_product for name in self.cases)

    @property
    def needs_node(self) -> bool:
        return bool(self.servers() & {"express", "cache", "queue"})

    @property
    def needs_redis(self) -> bool:
        return bool(self.servers() & {"cache", "queue"})

    @property
    def needs_peers(self) -> bool:
        return self.needs_node or "nginx" in self.servers()

    @property
    def needs_shopd(self) -> bool:
        return bool(self.servers() & set(cases.SHOPD_SERVERS))

    @property
    def needs_postgres(self) -> bool:
        return bool(self.servers() & set(cases.POSTGRES_SERVERS))


def duration_seconds(text: str) -> int:
    """A wrk duration (10, 10s, 2m, 1h) in whole seconds."""
    match = re.fullmatch(r"([0-9]+)([smh]?)", text)
    if not match:
        raise SettingsError(f"a duration must look like 10s, 2m or 10 (got '{text}')")
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def load(env: Mapping[str, str], repo: Path) -> Settings:
    def text(name, default):
        return env.get(name) or default

    def positive(name, default):
        value = text(name, str(default))
        if not re.fullmatch(r"[1-9][0-9]*", value):
            raise SettingsError(f"{name} must be a positive integer (got '{value}')")
        return int(value)

    def duration(name, default):
        value = text(name, default)
        try:
            duration_seconds(value)
        except SettingsError:
            raise SettingsError(f"{name} must look like 10s, 2m or 10 (got '{value}')") from None
        return value

    def choice(name, default, allowed):
        value = text(name, default)
        if value not in allowed:
            raise SettingsError(f"{name} must be {' or '.join(allowed)} (got '{value}')")
        return value

    def path(name, default):
        value = env.get(name)
        return (repo / value).resolve() if value else default

    port = text("PORT", "18400")
    if not (port.isdigit() and 1024 <= int(port) <= 65000):
        raise SettingsError(f"PORT must be 1024..65000 (got '{port}')")
    shopd_bin = path("SHOPD_BIN", None)
    return Settings(
        repo=repo,
        runs=positive("RUNS", 3),
        duration=duration("DURATION", "10s"),
        warmup=duration("WARMUP", "3s"),
        conns=positive("CONNS", 64),
        cases=_cases(env.get("CASES")),
        base_port=int(port),
        orders=positive("ORDERS", 20000),
        warmup_orders=positive("WARMUP_ORDERS", 5000),
        shopd_workers=positive("SHOPD_WORKERS", 128),
        worker_concurrency=positive("WORKER_CONCURRENCY", 1),
        orders_cap_s=positive("ORDERS_CAP", 300),
        drain_timeout_s=positive("DRAIN_TIMEOUT", 120),
        access_log=choice("ACCESS_LOG", "true", ("true", "false")) == "true",
        order_limits=text("SHOPD_ORDER_LIMITS", DEFAULT_ORDER_LIMITS),
        order=choice("ORDER", "interleaved", ORDERS),
        peers_src=path("SHOPD_PEERS", (repo / ".." / "shared" / "peers").resolve()),
        peers_cache=path("PEERS_CACHE", repo / "bench" / "out" / "peers-cache"),
        jwt_secret=text("SHOPD_JWT_SECRET", DEFAULT_JWT_SECRET),
        skip_deps=env.get("SKIP_DEPS") == "1",
        skip_build=env.get("SKIP_BUILD") == "1" or shopd_bin is not None,
        shopd_bin=shopd_bin,
        build_timeout_s=positive("BUILD_TIMEOUT", 3600),
        npm_timeout_s=positive("NPM_TIMEOUT", 900),
        flood_rate=positive("FLOOD_RATE", 400),
        register_rate=positive("REGISTER_RATE", 100),
        pgbench_clients=positive("PGBENCH_CLIENTS", 16),
        pgbench_scale=positive("PGBENCH_SCALE", 16),
    )


def _cases(value: Optional[str]) -> tuple:
    names = tuple(value.split()) if value else cases.DEFAULT_CASES   # "" = the default
    if not names:
        raise SettingsError("CASES is empty")
    for name in names:
        if name not in cases.CASES:
            raise SettingsError(f"unknown case '{name}' ({' '.join(cases.CASES)})")
    return names


def shown_path(path: Path, repo: Path) -> str:
    """A path as output names it: relative to the repository when inside it or beside it
    (../shared/peers), else as given."""
    path, repo = Path(path).resolve(), repo.resolve()
    try:
        return str(path.relative_to(repo))
    except ValueError:
        pass
    try:
        return str(Path("..") / path.relative_to(repo.parent))
    except ValueError:
        return str(path)
