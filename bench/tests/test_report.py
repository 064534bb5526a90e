import unittest

import _path  # noqa: F401
import fixtures
from shopbench import report, targets


def sample_results(**settings):
    cases = {"nginx": fixtures.http_case("nginx GET /health", [74642.0], p99=0.99, cpu_us=11.62,
                                         server="nginx"),
             "shopd-health": fixtures.http_case("shopd GET /health", [79576.0], p99=1.23,
                                                cpu_us=12.53),
             "orders": fixtures.orders_case("shopd POST /v1/orders", [6433.0], 126.0, "shopd"),
             "bullmq": fixtures.orders_case("BullMQ POST /order", [1942.0], 510.0, "queue")}
    found = [t.__dict__ for t in targets.evaluate_all(cases)]
    return fixtures.results(cases, found, **settings)


class ReadmeTablesTest(unittest.TestCase):
    def setUp(self):
        self.text = report.readme_tables(sample_results())
        self.lines = self.text.splitlines()

    def test_header_names_date_commit_and_protocol(self):
        self.assertTrue(self.lines[0].startswith(
            "Measured on 2026-11-25 18:55:00 UTC with `bash bench/run.sh` (git 78af58e; raw "
            "output in `bench/out/20261125T185500Z/`"))
        self.assertIn("wrk (`-t1 -c64 -d10s`) on CPU 1, median of 3 run(s)", self.lines[0])

    def test_http_rows(self):
        self.assertIn("| case | req/s | p50 ms | p99 ms | server µs CPU/request | ratio to nginx "
                      "(req/s) | nginx CPU/request ÷ this |", self.lines)
        self.assertIn("| nginx `return 200` | 74,642 | 0.50 | 0.99 | 11.62 | 1.00 | 1.00 |",
                      self.lines)
        self.assertIn("| **shopd `GET /health`** | 79,576 | 0.50 | 1.23 | 12.53 | 1.07 | 0.93 |",
                      self.lines)

    def test_orders_rows(self):
        shopd = next(line for line in self.lines if line.startswith("| **shopd** (each order"))
        self.assertTrue(shopd.endswith("| 20,050 | 7,076 | 30.00 | **6,433** | 126 |"), shopd)
        self.assertIn("| BullMQ (Redis without persistence; no-op job) | 20,050 | 2,136 | 30.00 "
                      "| 1,942 | 510 |", self.lines)

    def test_targets_table(self):
        self.assertIn("| target | result |", self.lines)
        row = next(line for line in self.lines if line.startswith("| `/health`"))
        self.assertTrue(row.startswith("| `/health` >= 0.8x nginx | PASS (1.07x req/s"), row)
        orders = next(line for line in self.lines if line.startswith("| end-to-end"))
        self.assertIn("PASS (3.31x orders/s", orders)

    def test_no_machine_paths(self):
        self.assertNotIn("/work/", self.text)
        self.assertNotIn("/tmp/", self.text)


class FullReportTest(unittest.TestCase):
    def test_sections_and_rows(self):
        text = report.full_report(sample_results())
        for heading in ("## shopd vs nginx vs Express (wrk -t1 -c64 -d10s --latency",
                        "## Orders end to end: POST x 20000", "Targets (issues 2, 3 and 8):",
                        "## Notes", "## Setup"):
            self.assertIn(heading, text)
        self.assertIn("| shopd GET /health | shopd (test) | 79576 | 0.50 | 1.23 | 90/97 | 12.53 | "
                      "1.07 | 0.93 | 79576 | 11.53 | 0 |", text)
        self.assertIn("| 0; not confirmed: 0 |", text)
        self.assertIn("| 0; failed jobs: 0 |", text)
        self.assertIn("- before nginx: load avg 0.1 0.2 0.3; machine 99% idle (1 s sample)", text)

    def test_without_targets(self):
        res = fixtures.results({"nginx": fixtures.http_case("nginx", [1.0], server="nginx")})
        self.assertIn("- none of the measured cases has a target", report.full_report(res))


def pg_results(statements=23.55, note="available"):
    cases = {"orders-pg": fixtures.orders_pg_case("shopd on PostgreSQL POST /v1/orders",
                                                  [2500.0], 400.0, 180.0, 4.32, statements),
             "bullmq": fixtures.orders_case("BullMQ POST /order", [1000.0], 510.0, "queue"),
             "pgbench": fixtures.pgbench_case("pgbench TPC-B-like (built-in script)", [1544.0])}
    res = fixtures.results(cases, [t.__dict__ for t in targets.evaluate_all(cases)])
    res["notes"]["pg_stat_statements"] = note
    res["versions"]["postgres"] = "15.18 (Debian 15.18-0+deb12u1)"
    return res


class PostgresReportTest(unittest.TestCase):
    def test_per_order_table_pgbench_and_target(self):
        text = report.full_report(pg_results())
        self.assertIn("| shopd on PostgreSQL POST /v1/orders | 180.0 | 4.32 | 23.55 | 180.0 | "
                      "4.32 | 23.55 |", text)
        self.assertIn("## PostgreSQL alone: pgbench TPC-B-like (-c16 -j1 -T10s, scale 16)", text)
        self.assertIn("| pgbench TPC-B-like (built-in script) | postgres (test) | 1544 | 10.363 "
                      "| 99/40 | 300.0 | 1544 | 280.0 | 0 |", text)
        self.assertIn("- shopd end-to-end orders/s on PostgreSQL >= 2x BullMQ jobs/s: 2.50x", text)
        self.assertIn("| 0; not confirmed: 0 |", text)     # shopd-pg orders are shopd's
        self.assertIn("- orders-pg for scale: 2500 orders/s x 4.32 commits/order = 10800 "
                      "PostgreSQL commits/s, against pgbench 1544 TPS (16 clients)", text)
        self.assertIn("- PostgreSQL 15.18 (Debian 15.18-0+deb12u1) in the scratch dir", text)

    def test_statements_not_available_is_said(self):
        res = pg_results(statements=None, note="pg_stat_statements is not installed (no x.so)")
        text = report.full_report(res)
        self.assertIn("| 4.32 | not available (pg_stat_statements is not installed (no x.so)) |",
                      text)
        self.assertIn("- pg_stat_statements: pg_stat_statements is not installed (no x.so); "
                      "statements per order are not measured.", text)
        self.assertIn("not available (pg_stat_statements", report.readme_tables(res))

    def test_readme_tables(self):
        lines = report.readme_tables(pg_results()).splitlines()
        row = next(line for line in lines if line.startswith("| **shopd on PostgreSQL**"))
        self.assertTrue(row.endswith("| **2,500** | 400 |"), row)
        self.assertIn("PostgreSQL per order (orders-pg): 180 µs of PostgreSQL CPU, 4.32 commits, "
                      "23.55 statements.", lines)
        self.assertIn("| PostgreSQL alone: pgbench TPC-B-like (same server, for scale) | 1,544 | "
                      "10.363 | 300 |", lines)
        self.assertIn("| orders/s on PostgreSQL >= 2x BullMQ | PASS (2.50x orders/s, per run 2.50; "
                      "1.27x by CPU/order) |", lines)

    def test_comparison_includes_the_postgres_figures(self):
        text = report.comparison(pg_results(), pg_results(statements=20.0), "a", "b")
        self.assertIn("| orders-pg | pg_statements_per_order | 23.55 | 20.00 | 0.849 | better |",
                      text)
        self.assertIn("| pgbench | tps | 1544.00 | 1544.00 | 1.000 |  |", text)


class ComparisonTest(unittest.TestCase):
    def test_ratios_and_directions(self):
        old = sample_results()
        new = sample_results(duration="2s")
        new["cases"]["shopd-health"]["median"]["rps"] = 79576.0 * 1.1
        new["cases"]["shopd-health"]["median"]["p99_ms"] = 1.23 * 1.5
        text = report.comparison(old, new, "old.json", "new.json")
        self.assertIn("Settings differ: duration 10s -> 2s", text)
        self.assertIn("| shopd-health | rps | 79576.00 | 87533.60 | 1.100 | better |", text)
        self.assertIn("| shopd-health | p99_ms | 1.23 | 1.84 | 1.500 | worse |", text)
        self.assertIn("| nginx | rps | 74642.00 | 74642.00 | 1.000 |  |", text)
        self.assertIn("| shopd GET /health >= 0.8x nginx req/s | PASS (1.07) | PASS (1.07) |",
                      text)


if __name__ == "__main__":
    unittest.main()
