"""Markdown from results.json: the run's full report (results.md), the README's benchmark
tables (`--render-table`), and the comparison of two runs (`--compare`).

Every function here takes the results dict (results.load) and returns text.
"""

from typing import Optional

from . import cases as case_table
from . import pg
from . import results as results_mod
from .targets import ratio

HTTP_HEADER = ("| case | server | req/s (median) | p50 ms | p99 ms | cpu0/cpu1 busy % | "
               "server µs CPU/request | ratio to nginx (req/s) | ratio to nginx (CPU/request, "
               "nginx÷shopd) | req/s per run | server process µs CPU/request | errors |\n"
               "|---|---|---:|---:|---:|---|---:|---:|---:|---|---:|---|")
ORDERS_HEADER = ("| case | server | accepted | POST s | POST req/s | p50 ms | p99 ms | "
                 "cpu0/cpu1 busy % (POST) | end-to-end s | drain after POST s | "
                 "end-to-end /s (median) | /s per run | server µs CPU/order | "
                 "server process µs CPU/order | errors; unsuccessful |\n"
                 "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---|")
PG_ORDERS_HEADER = ("| case | PostgreSQL µs CPU/order | commits/order | statements/order | "
                    "PostgreSQL µs CPU/order per run | commits/order per run | "
                    "statements/order per run |\n|---|---:|---:|---:|---|---|---|")
PGBENCH_HEADER = ("| case | server | TPS (median) | latency avg ms | cpu0/cpu1 busy % | "
                  "server µs CPU/transaction | TPS per run | server process µs CPU/transaction | "
                  "errors |\n|---|---|---:|---:|---|---:|---|---:|---|")
PG_METRICS = ("pg_cpu_us_per_order", "pg_commits_per_order", "pg_statements_per_order")


def fmt(value: Optional[float], digits: int = 2, thousands: bool = False) -> str:
    if value is None:
        return "NA"
    return f"{value:,.{digits}f}" if thousands else f"{value:.{digits}f}"


def _of_kind(res: dict, kind: str) -> list:
    return [(name, c) for name, c in res["cases"].items() if c["kind"] == kind]


def _m(case: dict, metric: str):
    return case.get("median", {}).get(metric)


def _busy(case: dict) -> str:
    return f"{fmt(_m(case, 'cpu0_busy_pct'), 0)}/{fmt(_m(case, 'cpu1_busy_pct'), 0)}"


def _per_run(case: dict, metric: str, digits: int = 0) -> str:
    return " / ".join(fmt(run.get(metric), digits) for run in case["runs"])


def _is_shopd(case: dict) -> bool:
    return case["server"] in case_table.SHOPD_SERVERS


def _has_pg_figures(case: dict) -> bool:
    return any(_m(case, metric) is not None for metric in PG_METRICS)


def _statements(res: dict, value: Optional[float]) -> str:
    """statements/order, or why pg_stat_statements gave none."""
    note = res.get("notes", {}).get("pg_stat_statements", "")
    if value is None and note and note != "available":
        return f"not available ({note})"
    return fmt(value)


# ---------------------------------------------------------------- the full report

def full_report(res: dict) -> str:
    s = res["settings"]
    parts = []
    http, orders = _of_kind(res, case_table.HTTP), _of_kind(res, case_table.ORDERS)
    pgbench = _of_kind(res, case_table.PGBENCH)
    if http:
        parts.append(_http_section(res, http, s))
    if orders:
        parts.append(_orders_section(res, orders, s))
    if pgbench:
        parts.append(_pgbench_section(pgbench, s))
    parts.append(_targets_section(res))
    for _, case in _of_kind(res, case_table.AUTH):
        parts.append(case["markdown"].rstrip() + "\n")
    parts.append(_notes_section(res, http, orders))
    parts.append(_setup_section(res, bool(http), bool(orders), bool(pgbench)))
    return "\n".join(parts)


def _http_section(res: dict, http: list, s: dict) -> str:
    nginx = res["cases"].get("nginx")
    lines = [f"## shopd vs nginx vs Express (wrk -t1 -c{s['conns']} -d{s['duration']} --latency, "
             "keep-alive, 127.0.0.1, pinned)", "",
             f"Server on CPU 0 (`taskset -c 0`), wrk on CPU 1 (`taskset -c 1`); {s['warmup']} "
             f"warm-up, then {s['runs']} run(s) per case, median of each metric;",
             f"order: {s['order']}. \"server µs CPU/request\" = cpu0 busy share × interval / "
             "requests (everything on CPU 0, kernel included).", "", HTTP_HEADER]
    for _, c in http:
        r_rps = ratio(_m(c, "rps"), _m(nginx, "rps")) if nginx else None
        r_cpu = (ratio(_m(nginx, "server_cpu_us_per_request"), _m(c, "server_cpu_us_per_request"))
                 if nginx else None)
        lines.append(
            f"| {c['label']} | {c['server_description']} | {fmt(_m(c, 'rps'), 0)} | "
            f"{fmt(_m(c, 'p50_ms'))} | {fmt(_m(c, 'p99_ms'))} | {_busy(c)} | "
            f"{fmt(_m(c, 'server_cpu_us_per_request'))} | {fmt(r_rps)} | {fmt(r_cpu)} | "
            f"{_per_run(c, 'rps')} | {fmt(_m(c, 'process_cpu_us_per_request'))} | {c['errors']} |")
    return "\n".join(lines) + "\n"


def _orders_section(res: dict, orders: list, s: dict) -> str:
    n = s["orders"]
    lines = [f"## Orders end to end: POST x {n} (wrk -t1 -c{s['conns']}, stops after {n} "
             "responses), until every accepted order is final", "",
             f"{s['warmup_orders']} warm-up orders, then {s['runs']} run(s) per case, median of "
             f"each metric; order: {s['order']}. Server side on CPU 0, wrk and the poller on "
             "CPU 1.",
             "\"accepted\" = orders the server took (shopd `shopd_orders_placed_total`, BullMQ "
             "`bull:orders:id`), in-flight requests at wrk's stop included;",
             "\"end-to-end s\" = wrk start until the 20 ms poll that first saw every accepted "
             "order final (shopd: sum of `shopd_orders_finished_total`;",
             "BullMQ: `ZCARD completed + failed`); end-to-end rate = accepted / end-to-end s. "
             "\"server µs CPU/order\" = cpu0 busy time from wrk start to the",
             "last poll / accepted orders. shopd commits each order (and its outbox event) before "
             "its 202 (to SQLite, or to PostgreSQL with synchronous_commit=on and fsync on);",
             "BullMQ's Redis has no persistence (`--save '' --appendonly no`). On PostgreSQL the "
             "server side is shopd and PostgreSQL.", "", ORDERS_HEADER]
    for name, c in orders:
        what = "not confirmed" if _is_shopd(c) else "failed jobs"
        lines.append(
            f"| {c['label']} | {c['server_description']} | {fmt(_m(c, 'accepted'), 0)} | "
            f"{fmt(_m(c, 'post_seconds'))} | {fmt(_m(c, 'post_rps'), 0)} | "
            f"{fmt(_m(c, 'p50_ms'))} | {fmt(_m(c, 'p99_ms'))} | {_busy(c)} | "
            f"{fmt(_m(c, 'e2e_seconds'))} | {fmt(_m(c, 'drain_seconds'))} | "
            f"{fmt(_m(c, 'e2e_rate'), 0)} | {_per_run(c, 'e2e_rate')} | "
            f"{fmt(_m(c, 'server_cpu_us_per_order'), 1)} | "
            f"{fmt(_m(c, 'process_cpu_us_per_order'), 1)} | {c['errors']}; "
            f"{what}: {c.get('unsuccessful', 0)} |")
    on_pg = [(name, c) for name, c in orders if _has_pg_figures(c)]
    if on_pg:
        lines += ["", "PostgreSQL per accepted order, over the same window: its processes' "
                  "utime+stime, exited backends included (wrk start to the last poll); commits = `pg_stat_database."
                  "xact_commit` delta; statements = top-level `pg_stat_statements` calls delta "
                  "(BEGIN and COMMIT included), both read before wrk and "
                  f"{pg.STATS_SETTLE_S:g} s after the drain (PostgreSQL 15 backends flush their "
                  "statistics within 10 s of going idle).", "", PG_ORDERS_HEADER]
        for name, c in on_pg:
            statements = " / ".join(_statements(res, r.get("pg_statements_per_order"))
                                    for r in c["runs"])
            lines.append(
                f"| {c['label']} | {fmt(_m(c, 'pg_cpu_us_per_order'), 1)} | "
                f"{fmt(_m(c, 'pg_commits_per_order'))} | "
                f"{_statements(res, _m(c, 'pg_statements_per_order'))} | "
                f"{_per_run(c, 'pg_cpu_us_per_order', 1)} | "
                f"{_per_run(c, 'pg_commits_per_order', 2)} | {statements} |")
    return "\n".join(lines) + "\n"


def _pgbench_section(pgbench: list, s: dict) -> str:
    lines = [f"## PostgreSQL alone: pgbench TPC-B-like (-c{s.get('pgbench_clients')} -j1 "
             f"-T{s['duration']}, scale {s.get('pgbench_scale')})", "",
             "For scale: the same PostgreSQL as shopd on PostgreSQL (CPU 0), pgbench on CPU 1, "
             f"with shopd on PostgreSQL stopped; {s['warmup']} warm-up, then {s['runs']} run(s), "
             "median of each metric. TPS as pgbench reports it (without the initial connection time); "
             "each transaction is 5 statements and one commit.", "", PGBENCH_HEADER]
    for _, c in pgbench:
        lines.append(
            f"| {c['label']} | {c['server_description']} | {fmt(_m(c, 'tps'), 0)} | "
            f"{fmt(_m(c, 'latency_avg_ms'), 3)} | {_busy(c)} | "
            f"{fmt(_m(c, 'server_cpu_us_per_transaction'), 1)} | {_per_run(c, 'tps')} | "
            f"{fmt(_m(c, 'process_cpu_us_per_transaction'), 1)} | {c['errors']} |")
    return "\n".join(lines) + "\n"


def _targets_section(res: dict) -> str:
    lines = ["Targets (issues 2, 3 and 8):", ""]
    lines += [t["line"] for t in res["targets"]] or ["- none of the measured cases has a target"]
    return "\n".join(lines) + "\n"


def _notes_section(res: dict, http: list, orders: list) -> str:
    cases, notes = res["cases"], res.get("notes", {})
    s = res["settings"]
    lines = ["## Notes", ""]
    nginx = cases.get("nginx")
    client = _m(nginx, "cpu1_busy_pct") if nginx else None
    if client is not None and round(client) >= 95:
        lines += [f"- wrk used {client:.0f}% of CPU 1 against nginx: that row is client-bound, so "
                  "a req/s ratio near 1.0 means",
                  "  \"as fast as this client\", not \"as cheap as nginx\"; the CPU/request "
                  "columns do not have that ceiling."]
    product, cache = cases.get("shopd-product"), cases.get("express-cache")
    if product and cache:
        per_request = "server_cpu_us_per_request"
        lines.append(
            f"- shopd cached product vs Express + Redis `GET /cache/k1` (no target): "
            f"{fmt(ratio(_m(product, 'rps'), _m(cache, 'rps')))}x req/s, CPU/request "
            f"express÷shopd {fmt(ratio(_m(cache, per_request), _m(product, per_request)))}.")
    if product:
        counts = " ".join(f"{_na(r.get('cache_hits'))}/{_na(r.get('cache_misses'))}"
                          for r in product["runs"])
        lines.append("- shopd-product products-cache hits/misses per run (`--catalog-cache-ttl-ms` "
                     f"default 5000: an entry is re-read about every 5 s): {counts}")
    for name, c in http:
        if c["server"] == "shopd" and s["access_log"]:
            written = " ".join(f"{_na(r.get('access_log_lines'))}/{_na(r.get('requests'))}"
                               for r in c["runs"])
            dropped = " ".join(_na(r.get("access_log_dropped")) for r in c["runs"])
            lines.append(f"- {name} access log lines written per run / wrk requests: {written}; "
                         "lines dropped by shopd (shopd_access_log_dropped_lines_total): "
                         f"{dropped}")
    if http:
        lines += ["- \"server process µs CPU/request\" = utime+stime of the server's processes "
                  "(for the Redis peers: Node + redis-server) / requests.",
                  "  When it is well below the cpu0 figure, something else ran on CPU 0 (other "
                  "processes: see the load checks) or the",
                  "  kernel kept softirq time apart.", "- per run cpu0/cpu1 busy %:"]
        lines += [f"  - {name}: " + " ".join(_run_busy(r) for r in c["runs"]) for name, c in http]
    for name, c in orders:
        per_run = "; ".join(
            f"{_na(r.get('accepted'))}/{fmt(r.get('post_seconds'))}/{fmt(r.get('e2e_seconds'), 3)}/"
            f"{fmt(r.get('drain_seconds'), 3)}/{_na(r.get('unsuccessful'))}" for r in c["runs"])
        lines.append(f"- {name} per run: accepted / POST s / end-to-end s / drain s / "
                     f"unsuccessful: {per_run}")
    pgbench = cases.get("pgbench")
    for name, c in orders:
        commits, rate = _m(c, "pg_commits_per_order"), _m(c, "e2e_rate")
        if pgbench and commits is not None and rate is not None:
            lines.append(f"- {name} for scale: {fmt(rate, 0)} orders/s x {fmt(commits)} commits/"
                         f"order = {fmt(rate * commits, 0)} PostgreSQL commits/s, against pgbench "
                         f"{fmt(_m(pgbench, 'tps'), 0)} TPS ({s.get('pgbench_clients')} clients) "
                         "on the same server.")
    if "pg_stat_statements" in notes:
        lines.append(f"- pg_stat_statements: {notes['pg_stat_statements']}"
                     + ("; each orders-pg run's statements are in "
                        "`orders-pg-<run>-statements.txt`."
                        if notes["pg_stat_statements"] == "available" else
                        "; statements per order are not measured."))
    if "orders" in cases and notes.get("shopd_queue_stats", "").strip():
        lines.append("- `shopd queue stats` at the end: "
                     + " ".join(notes["shopd_queue_stats"].split("\n")).strip())
    lines.append("- ratios compare figures from this run only (see peers/RESULTS.md: the client "
                 "limit moves between runs and days).")
    for check in notes.get("load_checks", []):
        lines.append(f"- {check['label']}: load avg {check['loadavg']}; machine "
                     f"{check['idle_pct']}% idle (1 s sample)")
        if check.get("top"):
            lines.append("  - WARNING: the machine was busy; top CPU users:")
            lines += [f"    {row}" for row in check["top"]]
    return "\n".join(lines) + "\n"


def _run_busy(run: dict) -> str:
    return f"{run['cpu0_busy_pct']:.0f}/{run['cpu1_busy_pct']:.0f}"


def _na(value) -> str:
    return "NA" if value is None else str(value)


def _setup_section(res: dict, has_http: bool, has_orders: bool, has_pgbench: bool = False) -> str:
    s, m, v, git = res["settings"], res["machine"], res.get("versions", {}), res["git"]
    lines = ["## Setup", "",
             f"- run: {res['date']['start']} - {res['date']['end']} UTC; raw output: "
             f"{res['raw_output']}",
             f"- machine: {m['cpus']} CPUs ({m['model']}), kernel {m['kernel']}"]
    if "shopd" in v:
        dirty = " + uncommitted changes" if git["dirty"] else ""
        lines.append(f"- shopd {v['shopd']} ({s['shopd_bin']}), git {git['short'] or '?'}{dirty}; "
                     f"--threads 1 --workers {s['shopd_workers']}, --access-log "
                     f"{'true' if s['access_log'] else 'false'} (to a file), db-threads and "
                     "payment simulation at their defaults; per-user order limits lifted for the "
                     f"one load-test user: {s['order_limits']}")
    if v.get("postgres"):
        lines.append(f"- PostgreSQL {v['postgres']} in the scratch dir, on CPU 0, foreground, "
                     "fsync on, synchronous_commit=on, max_connections 200, other settings at "
                     "their defaults; shopd on PostgreSQL without Redis (in-process cache and "
                     "limits), its job queue and outbox in PostgreSQL")
    tools = [f"{name} {v[name]}" for name in ("nginx", "node", "express", "node-redis", "bullmq",
                                              "redis-server", "wrk") if v.get(name)]
    lines.append("- " + "; ".join(tools))
    if has_http:
        lines.append(f"- wrk: -t1 -c{s['conns']} -d{s['duration']} --latency after a "
                     f"{s['warmup']} warm-up; {s['runs']} run(s) per case")
    if has_orders:
        lines.append(f"- orders: {s['orders']} per run after {s['warmup_orders']} warm-up, wrk -t1 "
                     f"-c{s['conns']} -s bench/wrk/post_order.lua (shopd) / peers "
                     "wrk/post_order.lua (BullMQ); BullMQ worker concurrency "
                     f"{s['worker_concurrency']}")
    if has_pgbench:
        lines.append(f"- pgbench: -i -s {s.get('pgbench_scale')}, then "
                     f"-c{s.get('pgbench_clients')} -j1 -T{s['duration']} (built-in TPC-B-like script) after a {s['warmup']} "
                     "warm-up")
    ports = s["ports"]
    lines.append("- ports: " + ", ".join(f"{name} {port}" for name, port in ports.items()))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the README tables

def readme_tables(res: dict) -> str:
    s, git = res["settings"], res["git"]
    dirty = " + uncommitted changes" if git["dirty"] else ""
    parts = [f"Measured on {res['date']['start']} UTC with `bash bench/run.sh` (git "
             f"{git['short'] or '?'}{dirty}; raw output in `{res['raw_output']}`, git-ignored). "
             f"Server on CPU 0 with one reactor thread, wrk (`-t1 -c{s['conns']} "
             f"-d{s['duration']}`) on CPU 1, median of {s['runs']} run(s) per case, cases "
             f"{s['order']}, all in one run:", ""]
    http, orders = _of_kind(res, case_table.HTTP), _of_kind(res, case_table.ORDERS)
    if http:
        parts += [_readme_http(res, http), ""]
    if orders:
        parts += [f"Orders end to end: {s['orders']:,} POSTs per run (wrk stops after "
                  f"{s['orders']:,} responses), timed until every accepted order is final, after "
                  f"{s['warmup_orders']:,} warm-up orders each:", "", _readme_orders(orders), ""]
        for name, c in orders:
            if _has_pg_figures(c):
                parts += [f"PostgreSQL per order ({name}): "
                          f"{fmt(_m(c, 'pg_cpu_us_per_order'), 0)} µs of PostgreSQL CPU, "
                          f"{fmt(_m(c, 'pg_commits_per_order'))} commits, "
                          f"{_statements(res, _m(c, 'pg_statements_per_order'))} statements.", ""]
    pgbench = _of_kind(res, case_table.PGBENCH)
    if pgbench:
        parts += [f"For scale, pgbench on the same PostgreSQL (TPC-B-like, "
                  f"{s.get('pgbench_clients')} clients, scale {s.get('pgbench_scale')}):", "",
                  "| case | TPS | latency avg ms | server µs CPU/transaction |",
                  "|---|---:|---:|---:|"]
        for name, c in pgbench:
            label = case_table.CASES[name].readme_label if name in case_table.CASES else c["label"]
            parts.append(f"| {label} | {fmt(_m(c, 'tps'), 0, True)} | "
                         f"{fmt(_m(c, 'latency_avg_ms'), 3)} | "
                         f"{fmt(_m(c, 'server_cpu_us_per_transaction'), 0)} |")
        parts.append("")
    if res["targets"]:
        parts += ["| target | result |", "|---|---|"]
        parts += [f"| {t['readme_name']} | {t['readme_result']} |" for t in res["targets"]]
    return "\n".join(parts).rstrip() + "\n"


def _readme_http(res: dict, http: list) -> str:
    nginx = res["cases"].get("nginx")
    rows = ["| case | req/s | p50 ms | p99 ms | server µs CPU/request | ratio to nginx (req/s) "
            "| nginx CPU/request ÷ this |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, c in http:
        label = case_table.CASES[name].readme_label if name in case_table.CASES else c["label"]
        r_rps = ratio(_m(c, "rps"), _m(nginx, "rps")) if nginx else None
        r_cpu = (ratio(_m(nginx, "server_cpu_us_per_request"), _m(c, "server_cpu_us_per_request"))
                 if nginx else None)
        rows.append(f"| {label} | {fmt(_m(c, 'rps'), 0, True)} | {fmt(_m(c, 'p50_ms'))} | "
                    f"{fmt(_m(c, 'p99_ms'))} | {fmt(_m(c, 'server_cpu_us_per_request'))} | "
                    f"{fmt(r_rps)} | {fmt(r_cpu)} |")
    return "\n".join(rows)


def _readme_orders(orders: list) -> str:
    rows = ["| case | accepted | POST req/s | POST p99 ms | end-to-end orders/s | "
            "server µs CPU/order |", "|---|---:|---:|---:|---:|---:|"]
    for name, c in orders:
        label = case_table.CASES[name].readme_label if name in case_table.CASES else c["label"]
        rate = fmt(_m(c, "e2e_rate"), 0, True)
        rows.append(f"| {label} | {fmt(_m(c, 'accepted'), 0, True)} | "
                    f"{fmt(_m(c, 'post_rps'), 0, True)} | {fmt(_m(c, 'p99_ms'))} | "
                    f"{'**' + rate + '**' if _is_shopd(c) else rate} | "
                    f"{fmt(_m(c, 'server_cpu_us_per_order'), 0)} |")
    return "\n".join(rows)


# ---------------------------------------------------------------- comparison

def comparison(old: dict, new: dict, old_name: str, new_name: str) -> str:
    def when(res):
        return f"{res['date']['start']} UTC, git {res['git']['short'] or '?'}" + \
            (" + uncommitted changes" if res["git"]["dirty"] else "")

    lines = [f"## {old_name} ({when(old)}) -> {new_name} ({when(new)})", ""]
    differences = results_mod.settings_differences(old, new)
    if differences:
        lines.append("Settings differ: " + "; ".join(f"{k} {a} -> {b}" for k, a, b in differences))
        lines.append("")
    if old["machine"] != new["machine"]:
        lines += ["Different machines: the ratios say little.", ""]
    lines += ["| case | metric | old | new | new/old | |", "|---|---|---:|---:|---:|---|"]
    for name, metric, a, b, r, higher_better in results_mod.compare(old, new):
        lines.append(f"| {name} | {metric} | {fmt(a)} | {fmt(b)} | {fmt(r, 3)} | "
                     f"{_direction(r, higher_better)} |")
    rows = results_mod.compare_targets(old, new)
    if rows:
        lines += ["", "| target | old | new |", "|---|---|---|"]
        lines += [f"| {name} | {ov} ({fmt(oval)}) | {nv} ({fmt(nval)}) |"
                  for name, ov, oval, nv, nval in rows]
    lines += ["", "Within one run the ratios between servers are what counts; across runs the "
              "machine's speed drifts (bench/README.md, \"Reading the numbers\")."]
    return "\n".join(lines) + "\n"


def _direction(r: Optional[float], higher_better: bool) -> str:
    if r is None or abs(r - 1) < 0.02:
        return ""
    return "better" if (r > 1) == higher_better else "worse"

