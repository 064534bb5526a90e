"""results.json: one run's figures, machine-readable, so two runs can be compared.

  {"schema": 1, "date": {"start", "end"}, "git": {"commit", "short", "dirty"},
   "machine": {"cpus", "model", "kernel"}, "versions": {...}, "settings": {...},
   "raw_output": "bench/out/<stamp>/",
   "cases": {name: {"kind", "label", "server", "server_description", "warmup": {...},
                    "runs": [{...}, ...], "median": {...}, "errors": "0", ...}},
   "targets": [{"name", "verdict", "value", "line", ...}],
   "notes": {"load_checks": [...], "shopd_queue_stats": "...", "pg_stat_statements": "..."}}

A run's fields are those of measure.HttpRun / measure.OrdersRun / measure.PgbenchRun (orders on
PostgreSQL add pg_cpu_us_per_order, pg_commits_per_order, pg_statements_per_order; None where
not measured, and notes.pg_stat_statements says why); "median" holds the median of
each numeric field over the measured runs, each taken separately. Units are in the names
(_ms, _us_per_request, _pct, rps = requests per second).

Usage:
  entry = case_entry(CASES["nginx"], "nginx 1 worker ...", warmup_run, runs)
  write(results, path); old = load(path)
  rows = compare(old, new)
"""

import json
import statistics
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Optional

from . import cases as case_table
from . import targets
from .settings import shown_path

SCHEMA = 1

# metric -> True when higher is better; the figures `compare` puts side by side
COMPARED = {
    case_table.HTTP: (("rps", True), ("p50_ms", False), ("p99_ms", False),
                      ("server_cpu_us_per_request", False)),
    case_table.ORDERS: (("e2e_rate", True), ("post_rps", True), ("p99_ms", False),
                        ("server_cpu_us_per_order", False)),
    case_table.PGBENCH: (("tps", True), ("latency_avg_ms", False),
                         ("server_cpu_us_per_transaction", False)),
}
# compared too when the old and the new run both have them (orders on PostgreSQL)
COMPARED_IF_PRESENT = {
    case_table.ORDERS: (("pg_cpu_us_per_order", False), ("pg_commits_per_order", False),
                        ("pg_statements_per_order", False)),
}


def median(values) -> Optional[float]:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def medians(runs: list) -> dict:
    """The median of every numeric field (None where no run has a value)."""
    keys = []
    for run in runs:
        keys += [k for k, v in run.items() if k not in keys and not isinstance(v, (str, bool))]
    return {key: median(run.get(key) for run in runs) for key in keys}


def distinct_errors(runs: list) -> str:
    """The measured runs' distinct error strings ("0" when every run was clean)."""
    return ";".join(sorted({run.get("errors") or "NA" for run in runs})) or "NA"


def _plain(run):
    return asdict(run) if is_dataclass(run) else dict(run)


def case_entry(case, server_description: str, warmup, runs: list) -> dict:
    plain = [_plain(run) for run in runs]
    entry = {"kind": case.kind, "label": case.label, "server": case.server,
             "server_description": server_description,
             "warmup": _plain(warmup) if warmup is not None else None,
             "runs": plain, "median": medians(plain), "errors": distinct_errors(plain)}
    if case.kind == case_table.ORDERS:
        entry["unsuccessful"] = sum(run.get("unsuccessful") or 0 for run in plain)
    return entry


def auth_entry(case, server_description: str, markdown: str, data) -> dict:
    return {"kind": case.kind, "label": case.label, "server": case.server,
            "server_description": server_description, "markdown": markdown, "data": data}


def assemble(settings, config, collected: dict, auth: dict, load_checks: list, *, dates: tuple,
             git: dict, machine: dict, versions: dict, raw_output: str, queue_stats: str,
             server_notes: Optional[dict] = None) -> dict:
    """The results.json document of a run (collected / auth / load_checks: runner.Runner's;
    server_notes: ServerStack.notes)."""
    entries = {}
    for name in settings.cases:
        case = case_table.CASES[name]
        description = config.description(case.server)
        if name in auth:
            entries[name] = auth_entry(case, description, *auth[name])
        elif name in collected:
            got = collected[name]
            entries[name] = case_entry(case, description, got["warmup"], got["runs"])
    return {
        "schema": SCHEMA, "date": {"start": dates[0], "end": dates[1]}, "git": git,
        "machine": machine, "versions": versions,
        "settings": settings_record(settings, config), "raw_output": raw_output,
        "cases": entries,
        "targets": [t.__dict__ for t in targets.evaluate_all(entries, settings.conns)],
        "notes": {"load_checks": load_checks, "shopd_queue_stats": queue_stats,
                  **(server_notes or {})},
    }


_PORT_NAMES = (("nginx", "nginx"), ("express", "express"), ("shopd", "shopd"),
               ("cache.js", "cache"), ("queue.js", "queue"), ("redis-server", "redis"),
               ("postgres", "postgres"), ("shopd-pg", "shopd-pg"))


def settings_record(s, config) -> dict:
    return {"runs": s.runs, "duration": s.duration, "warmup": s.warmup, "conns": s.conns,
            "cases": list(s.cases), "order": s.order, "orders": s.orders,
            "warmup_orders": s.warmup_orders, "shopd_workers": s.shopd_workers,
            "worker_concurrency": s.worker_concurrency, "orders_cap_s": s.orders_cap_s,
            "drain_timeout_s": s.drain_timeout_s, "access_log": s.access_log,
            "order_limits": s.order_limits, "flood_rate": s.flood_rate,
            "register_rate": s.register_rate, "pgbench_clients": s.pgbench_clients,
            "pgbench_scale": s.pgbench_scale, "shopd_bin": shown_path(s.shopd_path, s.repo),
            "ports": {label: config.port(name) for label, name in _PORT_NAMES}}


def write(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def load(path: Path) -> dict:
    results = json.loads(Path(path).read_text())
    if results.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a bench results.json (schema {results.get('schema')!r})")
    return results


def compare(old: dict, new: dict) -> list:
    """Rows (case, metric, old, new, new/old, higher_is_better) for every case in both runs."""
    rows = []
    for name, new_case in new["cases"].items():
        old_case = old["cases"].get(name)
        if old_case is None or new_case["kind"] not in COMPARED:
            continue
        optional = [(metric, higher) for metric, higher in
                    COMPARED_IF_PRESENT.get(new_case["kind"], ())
                    if old_case.get("median", {}).get(metric) is not None
                    and new_case.get("median", {}).get(metric) is not None]
        for metric, higher_better in COMPARED[new_case["kind"]] + tuple(optional):
            a = old_case.get("median", {}).get(metric)
            b = new_case.get("median", {}).get(metric)
            rows.append((name, metric, a, b, b / a if a and b is not None else None,
                         higher_better))
    return rows


def compare_targets(old: dict, new: dict) -> list:
    """Rows (target, old verdict, old value, new verdict, new value) for targets in both."""
    old_by_name = {t["name"]: t for t in old.get("targets", [])}
    return [(t["name"], old_by_name[t["name"]]["verdict"], old_by_name[t["name"]]["value"],
             t["verdict"], t["value"]) for t in new.get("targets", []) if t["name"] in old_by_name]


def settings_differences(old: dict, new: dict) -> list:
    a, b = old.get("settings", {}), new.get("settings", {})
    return [(key, a.get(key), b.get(key)) for key in sorted(set(a) | set(b))
            if a.get(key) != b.get(key) and key != "cases"]
