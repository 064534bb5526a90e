"""One measured run: an HTTP case (one wrk run), an orders case (POSTs, then the drain), or a
pgbench run against PostgreSQL.

HTTP: /proc/stat and the servers' process times are read right before and after wrk; for shopd
also its access-log lines (the log is truncated before the run), the lines it dropped, and for
the cached product the products-cache hits and misses.

Orders (the method of peers/bench.sh queue_run): t0 = wrk start, t1 = wrk exit, t2 = the first
20 ms poll where final >= accepted (deltas over the run), confirmed by the next poll seeing the
same accepted count (requests in flight when wrk stopped may still land). end-to-end /s =
accepted / (t2 - t0). Not all final DRAIN_TIMEOUT s after wrk: an error, and no rate.
For shopd on PostgreSQL also, per accepted order: PostgreSQL's own CPU time (utime+stime of its
process group from wrk start to the last poll), its commits (pg_stat_database xact_commit) and
its top-level statements (pg_stat_statements calls), read before wrk and pg.STATS_SETTLE_S after
the drain, once every backend has flushed its statistics.

pgbench: pgbench -c PGBENCH_CLIENTS -j 1 -T DURATION on CPU 1, /proc/stat and PostgreSQL's
process times read right before and after; TPS as pgbench reports it (without connection time).

Usage:
  measurer = Measurer(registry, stack, settings, out_dir, stamp, log)
  run = measurer.http(CASES["nginx"], "run1", "10s")
  run = measurer.orders(CASES["bullmq"], "warmup", 5000)
  run = measurer.pgbench(CASES["pgbench"], "run1", "10s")
"""

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from . import cpu, pg, shopd_api, wrk
from .errors import BenchError
from .settings import duration_seconds
from .shopd_api import OrderCounts

POLL_INTERVAL_S = 0.02
ACCESS_LOG_FLUSH_S = 0.3      # shopd flushes its access log every ~100 ms
WRK_GRACE_S = 30              # a wrk run is stopped this long after its -d


@dataclass
class HttpRun:
    label: str
    requests: int = 0
    seconds: Optional[float] = None
    rps: Optional[float] = None
    p50_ms: Optional[float] = None
    p75_ms: Optional[float] = None
    p90_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    cpu0_busy_pct: float = 0.0
    cpu1_busy_pct: float = 0.0
    server_cpu_us_per_request: Optional[float] = None
    process_cpu_us_per_request: Optional[float] = None
    errors: str = "0"
    access_log_lines: Optional[int] = None
    access_log_dropped: Optional[int] = None
    cache_hits: Optional[int] = None
    cache_misses: Optional[int] = None


@dataclass
class OrdersRun:
    label: str
    accepted: int = 0
    unsuccessful: int = 0
    post_seconds: Optional[float] = None
    post_rps: Optional[float] = None
    p50_ms: Optional[float] = None
    p75_ms: Optional[float] = None
    p90_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    cpu0_busy_pct: float = 0.0      # while wrk posted
    cpu1_busy_pct: float = 0.0
    e2e_seconds: Optional[float] = None
    drain_seconds: Optional[float] = None
    e2e_rate: Optional[float] = None
    server_cpu_us_per_order: Optional[float] = None     # wrk start to the last poll
    process_cpu_us_per_order: Optional[float] = None
    errors: str = "0"
    # shopd on PostgreSQL only (None otherwise; statements None without pg_stat_statements)
    pg_cpu_us_per_order: Optional[float] = None
    pg_commits_per_order: Optional[float] = None
    pg_statements_per_order: Optional[float] = None


@dataclass
class PgbenchRun:
    label: str
    transactions: Optional[int] = None
    failed: Optional[int] = None
    tps: Optional[float] = None
    latency_avg_ms: Optional[float] = None
    cpu0_busy_pct: float = 0.0
    cpu1_busy_pct: float = 0.0
    server_cpu_us_per_transaction: Optional[float] = None
    process_cpu_us_per_transaction: Optional[float] = None
    errors: str = "0"


def http_run(label: str, out: wrk.WrkOutput, usage: cpu.Usage, clock_ticks: int) -> HttpRun:
    requests = out.requests or 0
    return HttpRun(
        label=label, requests=requests, seconds=out.seconds, rps=out.rps,
        p50_ms=out.latency_ms.get("50"), p75_ms=out.latency_ms.get("75"),
        p90_ms=out.latency_ms.get("90"), p99_ms=out.latency_ms.get("99"),
        cpu0_busy_pct=usage.server_busy_pct, cpu1_busy_pct=usage.client_busy_pct,
        server_cpu_us_per_request=cpu.per_op_us(usage.server_busy_ticks, requests, clock_ticks),
        process_cpu_us_per_request=cpu.per_op_us(usage.process_ticks, requests, clock_ticks),
        errors=out.errors())


def pgbench_run(label: str, out: pg.PgbenchOutput, exit_status: int, usage: cpu.Usage,
                clock_ticks: int) -> PgbenchRun:
    return PgbenchRun(
        label=label, transactions=out.transactions, failed=out.failed, tps=out.tps,
        latency_avg_ms=out.latency_avg_ms, cpu0_busy_pct=usage.server_busy_pct,
        cpu1_busy_pct=usage.client_busy_pct,
        server_cpu_us_per_transaction=cpu.per_op_us(usage.server_busy_ticks, out.transactions,
                                                    clock_ticks),
        process_cpu_us_per_transaction=cpu.per_op_us(usage.process_ticks, out.transactions,
                                                     clock_ticks),
        errors=out.errors(exit_status))


def add_pg_figures(run: OrdersRun, pg_ticks: int, before: Optional[pg.Counters],
                   after: Optional[pg.Counters], clock_ticks: int) -> None:
    """PostgreSQL's share of an orders run, per accepted order."""
    per = pg.per_order(before, after, run.accepted)
    run.pg_cpu_us_per_order = cpu.per_op_us(pg_ticks, run.accepted, clock_ticks)
    run.pg_commits_per_order, run.pg_statements_per_order = per.commits, per.statements


class DrainTracker:
    """Decides when every order accepted since `start` is final (see the module comment)."""

    def __init__(self, start: OrderCounts):
        self.start = start
        self.latest = start
        self.done_at = None
        self._last_accepted = None
        self._stable = 0

    def observe(self, counts: Optional[OrderCounts], now: float) -> bool:
        """One poll (None: the server could not be read); True once confirmed."""
        if counts is not None:
            self.latest = counts
        if counts is not None and (counts.final - self.start.final
                                   >= counts.accepted - self.start.accepted):
            self._stable = self._stable + 1 if self._last_accepted == counts.accepted else 0
            self._last_accepted = counts.accepted
            if self._stable >= 1:
                return True
            self.done_at = now
        else:
            self._last_accepted, self._stable, self.done_at = None, 0, None
        return False

    @property
    def accepted(self) -> int:
        return self.latest.accepted - self.start.accepted

    @property
    def final(self) -> int:
        return self.latest.final - self.start.final

    @property
    def unsuccessful(self) -> int:
        return self.latest.unsuccessful - self.start.unsuccessful


def parse_redis_replies(data: bytes, count: int) -> Optional[list]:
    """The first `count` RESP replies (integers or bulk strings, nil = 0) as ints, or None
    while they are incomplete or on an error reply."""
    values, lines = [], data.split(b"\r\n")[:-1]    # the last piece is not a whole line
    i = 0
    while len(values) < count and i < len(lines):
        line = lines[i]
        if line.startswith(b":"):
            values.append(int(line[1:]))
        elif line == b"$-1":
            values.append(0)
        elif line.startswith(b"$") and i + 1 < len(lines):
            i += 1
            values.append(int(lines[i] or 0))
        else:
            return None
        i += 1
    return values if len(values) == count else None


def bullmq_counts(redis_port: int) -> Optional[OrderCounts]:
    """As peers/bench.sh queue_counts (one connection per poll, like its redis-cli):
    accepted = bull:orders:id, final = ZCARD completed + ZCARD failed, unsuccessful = failed."""
    request = b"GET bull:orders:id\r\nZCARD bull:orders:completed\r\nZCARD bull:orders:failed\r\n"
    try:
        with socket.create_connection(("127.0.0.1", redis_port), timeout=5) as sock:
            sock.sendall(request)
            data = b""
            while (values := parse_redis_replies(data, 3)) is None:
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                data += chunk
    except (OSError, ValueError):
        return None
    accepted, completed, failed = values
    return OrderCounts(accepted, completed + failed, failed)


class Measurer:
    def __init__(self, registry, stack, settings, out_dir: Path, stamp: str,
                 log: Callable[[str], None]):
        self._registry = registry
        self._stack = stack
        self._settings = settings
        self._out = out_dir
        self._stamp = stamp
        self._log = log
        self._clock_ticks = cpu.clock_ticks()

    def _url(self, case_server: str, path: str) -> str:
        session = self._stack.session(case_server)
        product = session.product_id if session else ""
        return (f"http://127.0.0.1:{self._stack.config.port(case_server)}"
                f"{path.format(product_id=product)}")

    def _wrk(self, argv: list, out_file: Path, timeout_s: float, env=None) -> wrk.WrkOutput:
        with open(out_file, "wb") as f:
            rc = self._registry.run(argv, timeout_s=timeout_s, stdout=f, env=env)
        if rc != 0:
            with open(out_file, "a") as f:
                f.write(f"wrk exit status {rc}\n")
        return wrk.parse(out_file.read_text(errors="replace"))

    # ------------------------------------------------------------ HTTP
    def http(self, case, label: str, duration: str) -> HttpRun:
        shopd = self._stack.session(case.server)
        headers = [f"Authorization: Bearer {shopd.client.login()}"] if case.bearer else []
        before_metrics = self._shopd_metrics(shopd, case)
        if shopd:
            time.sleep(ACCESS_LOG_FLUSH_S)
            shopd.truncate_log()      # the access log of this run only
        pgids = self._stack.pgids(case.server)
        argv = wrk.command(self._url(case.server, case.path), conns=self._settings.conns,
                           duration=duration, headers=headers)
        before = cpu.take_sample(pgids)
        out = self._wrk(argv, self._out / f"{case.name}-{label}.txt",
                        duration_seconds(duration) + WRK_GRACE_S)
        after = cpu.take_sample(pgids)
        run = http_run(label, out, cpu.between(before, after), self._clock_ticks)
        if shopd:
            time.sleep(ACCESS_LOG_FLUSH_S)
            self._add_shopd_figures(run, case, shopd, before_metrics)
            shopd.truncate_log()
        self._log(_describe_http(case.name, run))
        return run

    def _shopd_metrics(self, shopd, case) -> str:
        """shopd's counters before a run, when a figure of the run needs them."""
        wanted = shopd and (self._settings.access_log or case.products_cache)
        return shopd.client.metrics() if wanted else ""

    def _add_shopd_figures(self, run: HttpRun, case, shopd, before: str) -> None:
        run.access_log_lines = shopd.log_lines()
        after = shopd.client.metrics()
        dropped = "shopd_access_log_dropped_lines_total"
        run.access_log_dropped = (round(shopd_api.metric_sum(after, dropped)
                                        - shopd_api.metric_sum(before, dropped))
                                  if self._settings.access_log else 0)
        if case.products_cache:
            h0, m0 = shopd_api.products_cache_counts(before)
            h1, m1 = shopd_api.products_cache_counts(after)
            run.cache_hits, run.cache_misses = h1 - h0, m1 - m0

    # ------------------------------------------------------------ orders
    def _counter(self, case) -> Callable[[], Optional[OrderCounts]]:
        if case.counters == "shopd":
            client = self._stack.session(case.server).client
            return lambda: shopd_api.order_counts(client.metrics())
        redis_port = self._stack.config.port("redis")
        return lambda: bullmq_counts(redis_port)

    def _orders_command(self, case, label: str, n: int) -> tuple:
        script = case.script.format(bench=self._settings.repo / "bench",
                                    peers=self._settings.peers_cache)
        env = {"ORDERS": str(n)}     # bench/wrk/post_order.lua documents these
        shopd = self._stack.session(case.server)
        if shopd:
            env.update(TOKEN=shopd.client.login() if case.bearer else "",
                       PRODUCT_ID=shopd.product_id, KEY_PREFIX=f"{self._stamp}-{label}")
            shopd.truncate_log()
        argv = wrk.command(self._url(case.server, case.path), conns=self._settings.conns,
                           duration=f"{self._settings.orders_cap_s}s", script=script)
        return argv, {**os.environ, **env}

    def orders(self, case, label: str, n: int) -> OrdersRun:
        counts = self._counter(case)
        argv, env = self._orders_command(case, label, n)
        shopd = self._stack.session(case.server)
        postgres = self._stack.state("postgres") if shopd and shopd.database else None
        pg_pgids = self._stack.pgids("postgres") if postgres else []
        pg_before = postgres.counters(shopd.database) if postgres else None
        start = counts()
        if start is None:
            raise BenchError(f"{case.name}: cannot read the order counters before {label}")
        pgids = self._stack.pgids(case.server)
        out_file = self._out / f"{case.name}-{label}.txt"
        pg_ticks = cpu.group_ticks(pg_pgids)
        before = cpu.take_sample(pgids)
        t0 = time.monotonic()
        out = self._wrk(argv, out_file, self._settings.orders_cap_s + WRK_GRACE_S, env=env)
        t1 = time.monotonic()
        mid = cpu.take_sample()
        tracker, timed_out = self._drain(counts, start, t1)
        after = cpu.take_sample(pgids)
        pg_ticks = cpu.group_ticks(pg_pgids) - pg_ticks
        last_poll = time.monotonic()
        t2 = tracker.done_at if tracker.done_at is not None else last_poll
        run = self._orders_run(label, out, tracker, (t0, t1, t2), before, mid, after, timed_out)
        if shopd:
            (self._out / f"{case.name}-{label}-metrics.txt").write_text(shopd.client.metrics())
            shopd.truncate_log()
        if postgres:
            time.sleep(max(0.0, last_poll + pg.STATS_SETTLE_S - time.monotonic()))
            pg_after = postgres.counters(shopd.database)
            add_pg_figures(run, pg_ticks, pg_before, pg_after, self._clock_ticks)
            self._save_statements(case, label, run, pg_before, pg_after, postgres)
        self._log(_describe_orders(case.name, run))
        return run

    def _save_statements(self, case, label, run, before, after, postgres) -> None:
        """The run's top-level statements, most calls first (<case>-<label>-statements.txt)."""
        path = self._out / f"{case.name}-{label}-statements.txt"
        if not postgres.has_statements:
            path.write_text(f"statements not measured: {postgres.statements_note}\n")
            return
        if before is None or after is None:
            path.write_text("statements not measured: pg_stat_statements could not be read\n")
            return
        lines = [f"# {case.name} {label}: top-level statements in database "
                 f"{self._stack.session(case.server).database} over the run "
                 f"({run.accepted} orders accepted); calls/order  calls  query"]
        lines += [f"{calls / max(run.accepted, 1):9.3f} {calls:9d}  {query}"
                  for calls, query in pg.statement_deltas(before, after)]
        path.write_text("\n".join(lines) + "\n")

    # ------------------------------------------------------------ pgbench
    def pgbench(self, case, label: str, duration: str) -> PgbenchRun:
        postgres, s = self._stack.state(case.server), self._settings
        port = self._stack.config.port(case.server)
        if postgres.pgbench_scale != s.pgbench_scale:
            self._pgbench_init(postgres, port)
        pgids = self._stack.pgids(case.server)
        out_file = self._out / f"{case.name}-{label}.txt"
        seconds = duration_seconds(duration)
        before = cpu.take_sample(pgids)
        with open(out_file, "wb") as f:
            rc = self._registry.run(pg.pgbench_command(port, s.pgbench_clients, seconds),
                                    timeout_s=seconds + WRK_GRACE_S + 60, stdout=f)
        after = cpu.take_sample(pgids)
        out = pg.parse_pgbench(out_file.read_text(errors="replace"))
        run = pgbench_run(label, out, rc, cpu.between(before, after), self._clock_ticks)
        self._log(_describe_pgbench(case.name, run))
        return run

    def _pgbench_init(self, postgres, port: int) -> None:
        scale = self._settings.pgbench_scale
        self._log(f"pgbench: creating database {pg.PGBENCH_DB} and pgbench -i -s {scale}")
        postgres.fresh_database(pg.PGBENCH_DB)
        log_path = self._out / "pgbench-init.log"
        with open(log_path, "wb") as f:
            rc = self._registry.run(pg.pgbench_init_command(port, scale), timeout_s=1800,
                                    stdout=f)
        if rc != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise BenchError(f"pgbench -i failed (exit status {rc}):\n{tail}")
        postgres.pgbench_scale = scale

    def _drain(self, counts, start: OrderCounts, t1: float) -> tuple:
        tracker = DrainTracker(start)
        deadline = t1 + self._settings.drain_timeout_s
        while True:
            reading = counts()
            now = time.monotonic()      # the poll's time is when its answer came
            if tracker.observe(reading, now):
                return tracker, False
            if now >= deadline:
                return tracker, True
            time.sleep(POLL_INTERVAL_S)

    def _orders_run(self, label, out, tracker, times, before, mid, after, timed_out) -> OrdersRun:
        t0, t1, t2 = times
        posting = cpu.between(before, mid)
        whole = cpu.between(before, after)
        accepted = tracker.accepted
        e2e = t2 - t0
        errors = out.errors()
        rate = accepted / e2e if e2e > 0 and accepted > 0 else None
        if timed_out:
            rate = None
            reason = (f"not final after {self._settings.drain_timeout_s}s "
                      f"(accepted {accepted}, final {tracker.final})")
            errors = reason if errors == "0" else f"{errors}; {reason}"
        return OrdersRun(
            label=label, accepted=accepted, unsuccessful=tracker.unsuccessful,
            post_seconds=out.seconds, post_rps=out.rps,
            p50_ms=out.latency_ms.get("50"), p75_ms=out.latency_ms.get("75"),
            p90_ms=out.latency_ms.get("90"), p99_ms=out.latency_ms.get("99"),
            cpu0_busy_pct=posting.server_busy_pct, cpu1_busy_pct=posting.client_busy_pct,
            e2e_seconds=e2e, drain_seconds=t2 - t1, e2e_rate=rate,
            server_cpu_us_per_order=cpu.per_op_us(whole.server_busy_ticks, accepted,
                                                  self._clock_ticks),
            process_cpu_us_per_order=cpu.per_op_us(whole.process_ticks, accepted,
                                                   self._clock_ticks),
            errors=errors)


def _f(value, digits=2) -> str:
    return "NA" if value is None else f"{value:.{digits}f}"


def _describe_http(name: str, r: HttpRun) -> str:
    text = (f"{name} {r.label}: {_f(r.rps)} req/s p50 {_f(r.p50_ms, 3)} ms "
            f"p99 {_f(r.p99_ms, 3)} ms "
            f"cpu0/cpu1 {r.cpu0_busy_pct:.0f}/{r.cpu1_busy_pct:.0f}% "
            f"{_f(r.server_cpu_us_per_request)} us CPU/req "
            f"(process {_f(r.process_cpu_us_per_request)}) errors {r.errors}")
    if r.access_log_lines is not None:
        text += f" access-log lines {r.access_log_lines} dropped {r.access_log_dropped}"
    if r.cache_hits is not None:
        text += f" cache hits/misses {r.cache_hits}/{r.cache_misses}"
    return text


def _describe_orders(name: str, r: OrdersRun) -> str:
    text = (f"{name} {r.label}: accepted {r.accepted} (unsuccessful {r.unsuccessful}); "
            f"POST {_f(r.post_seconds)}s {_f(r.post_rps)} req/s p50 {_f(r.p50_ms, 3)} ms "
            f"p99 {_f(r.p99_ms, 3)} ms cpu0/cpu1 {r.cpu0_busy_pct:.0f}/{r.cpu1_busy_pct:.0f}%; "
            f"end-to-end {_f(r.e2e_seconds, 3)}s (drain {_f(r.drain_seconds, 3)}s) -> "
            f"{_f(r.e2e_rate, 1)}/s; {_f(r.server_cpu_us_per_order)} us cpu0/order "
            f"(process {_f(r.process_cpu_us_per_order)}); errors {r.errors}")
    if r.pg_cpu_us_per_order is not None or r.pg_commits_per_order is not None:
        text += (f"; PostgreSQL {_f(r.pg_cpu_us_per_order)} us CPU/order, "
                 f"{_f(r.pg_commits_per_order)} commits/order, "
                 f"{_f(r.pg_statements_per_order)} statements/order")
    return text


def _describe_pgbench(name: str, r: PgbenchRun) -> str:
    return (f"{name} {r.label}: {_f(r.tps, 1)} tps, latency avg {_f(r.latency_avg_ms, 3)} ms, "
            f"{r.transactions} transactions (failed {r.failed}) "
            f"cpu0/cpu1 {r.cpu0_busy_pct:.0f}/{r.cpu1_busy_pct:.0f}% "
            f"{_f(r.server_cpu_us_per_transaction)} us CPU/transaction "
            f"(process {_f(r.process_cpu_us_per_transaction)}); errors {r.errors}")
