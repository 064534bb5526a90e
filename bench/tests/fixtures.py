"""Small results.json-shaped dicts for the report and target tests."""


def http_case(label, rps_runs, p99=0.9, cpu_us=12.0, errors="0", server="shopd"):
    runs = [{"label": f"run{i + 1}", "rps": r, "p50_ms": 0.5, "p99_ms": p99,
             "cpu0_busy_pct": 90.0, "cpu1_busy_pct": 97.0, "requests": int(r * 10),
             "server_cpu_us_per_request": cpu_us, "process_cpu_us_per_request": cpu_us - 1,
             "errors": errors, "access_log_lines": int(r * 10), "access_log_dropped": 0}
            for i, r in enumerate(rps_runs)]
    ordered = sorted(rps_runs)
    return {"kind": "http", "label": label, "server": server,
            "server_description": f"{server} (test)", "warmup": None, "runs": runs,
            "median": {"rps": ordered[len(ordered) // 2], "p50_ms": 0.5, "p99_ms": p99,
                       "cpu0_busy_pct": 90.0, "cpu1_busy_pct": 97.0,
                       "server_cpu_us_per_request": cpu_us,
                       "process_cpu_us_per_request": cpu_us - 1},
            "errors": errors}


def orders_case(label, rate_runs, cpu_us, server, unsuccessful=0, errors="0"):
    runs = [{"label": f"run{i + 1}", "accepted": 20050, "post_rps": r * 1.1, "e2e_rate": r,
             "p50_ms": 5.0, "p99_ms": 30.0, "post_seconds": 2.5, "e2e_seconds": 3.0,
             "drain_seconds": 0.5, "cpu0_busy_pct": 99.0, "cpu1_busy_pct": 60.0,
             "unsuccessful": 0, "server_cpu_us_per_order": cpu_us,
             "process_cpu_us_per_order": cpu_us, "errors": errors}
            for i, r in enumerate(rate_runs)]
    ordered = sorted(rate_runs)
    return {"kind": "orders", "label": label, "server": server,
            "server_description": f"{server} (test)", "warmup": None, "runs": runs,
            "median": {"accepted": 20050, "post_rps": ordered[len(ordered) // 2] * 1.1,
                       "e2e_rate": ordered[len(ordered) // 2], "p50_ms": 5.0, "p99_ms": 30.0,
                       "post_seconds": 2.5, "e2e_seconds": 3.0, "drain_seconds": 0.5,
                       "cpu0_busy_pct": 99.0, "cpu1_busy_pct": 60.0,
                       "server_cpu_us_per_order": cpu_us, "process_cpu_us_per_order": cpu_us},
            "errors": errors, "unsuccessful": unsuccessful}


def orders_pg_case(label, rate_runs, cpu_us, pg_cpu_us, commits, statements):
    """orders_case on PostgreSQL: the PostgreSQL figures per order in every run."""
    case = orders_case(label, rate_runs, cpu_us, "shopd-pg")
    for run in case["runs"]:
        run.update(pg_cpu_us_per_order=pg_cpu_us, pg_commits_per_order=commits,
                   pg_statements_per_order=statements)
    case["median"].update(pg_cpu_us_per_order=pg_cpu_us, pg_commits_per_order=commits,
                          pg_statements_per_order=statements)
    return case


def pgbench_case(label, tps_runs, cpu_us=300.0, errors="0"):
    runs = [{"label": f"run{i + 1}", "transactions": int(t * 10), "failed": 0, "tps": t,
             "latency_avg_ms": 16000 / t, "cpu0_busy_pct": 99.0, "cpu1_busy_pct": 40.0,
             "server_cpu_us_per_transaction": cpu_us,
             "process_cpu_us_per_transaction": cpu_us - 20, "errors": errors}
            for i, t in enumerate(tps_runs)]
    ordered = sorted(tps_runs)
    tps = ordered[len(ordered) // 2]
    return {"kind": "pgbench", "label": label, "server": "postgres",
            "server_description": "postgres (test)", "warmup": None, "runs": runs,
            "median": {"tps": tps, "latency_avg_ms": 16000 / tps, "cpu0_busy_pct": 99.0,
                       "cpu1_busy_pct": 40.0, "server_cpu_us_per_transaction": cpu_us,
                       "process_cpu_us_per_transaction": cpu_us - 20},
            "errors": errors}


def results(cases, targets=(), **settings):
    base = {"runs": 3, "duration": "10s", "warmup": "3s", "conns": 64, "order": "interleaved",
            "orders": 20000, "warmup_orders": 5000, "shopd_workers": 128,
            "worker_concurrency": 1, "access_log": True, "shopd_bin": "build-release/shopd",
            "pgbench_clients": 16, "pgbench_scale": 16,
            "order_limits": "--orders-per-minute 60000",
            "ports": {"nginx": 18400, "shopd": 18402}, "cases": list(cases)}
    base.update(settings)
    return {"schema": 1, "date": {"start": "2026-11-25 18:55:00", "end": "2026-11-25 19:01:00"},
            "git": {"commit": "78af58e" + "0" * 33, "short": "78af58e", "dirty": False},
            "machine": {"cpus": 2, "model": "Test CPU", "kernel": "6.1"},
            "versions": {"shopd": "0.1.0", "nginx": "1.22.1", "wrk": "4.1.0"},
            "settings": base, "raw_output": "bench/out/20261125T185500Z/",
            "cases": dict(cases), "targets": list(targets),
            "notes": {"load_checks": [{"label": "before nginx", "loadavg": "0.1 0.2 0.3",
                                       "idle_pct": 99, "top": []}], "shopd_queue_stats": ""}}
