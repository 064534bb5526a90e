import unittest

import _path  # noqa: F401
from shopbench import cpu, measure, pg, shopd_api, wrk
from shopbench.shopd_api import OrderCounts

METRICS = """# HELP shopd_orders_placed_total Orders committed.
# TYPE shopd_orders_placed_total counter
shopd_orders_placed_total 20058
shopd_orders_finished_total{status="confirmed"} 20000
shopd_orders_finished_total{status="rejected"} 3
shopd_cache_hits_total{cache="products"} 7000
shopd_cache_hits_total{cache="users"} 99
shopd_cache_misses_total{cache="products"} 2
shopd_access_log_dropped_lines_total 5
shopd_http_requests_total{route="/health",code="200"} 10
shopd_http_requests_total{route="/v1/orders",code="202"} 32
"""


class ShopdMetricsTest(unittest.TestCase):
    def test_order_counts(self):
        self.assertEqual(shopd_api.order_counts(METRICS), OrderCounts(20058, 20003, 3))
        self.assertIsNone(shopd_api.order_counts(""))

    def test_sums_and_cache(self):
        self.assertEqual(shopd_api.metric_sum(METRICS, "shopd_http_requests_total"), 42)
        self.assertEqual(shopd_api.metric_sum(METRICS, "shopd_access_log_dropped_lines_total"), 5)
        self.assertEqual(shopd_api.metric_sum(METRICS, "absent"), 0)
        self.assertEqual(shopd_api.products_cache_counts(METRICS), (7000, 2))


class RedisRepliesTest(unittest.TestCase):
    def test_bulk_nil_and_integers(self):
        self.assertEqual(measure.parse_redis_replies(b"$5\r\n20063\r\n:20000\r\n:3\r\n", 3),
                         [20063, 20000, 3])
        self.assertEqual(measure.parse_redis_replies(b"$-1\r\n:0\r\n:0\r\n", 3), [0, 0, 0])

    def test_incomplete_or_error(self):
        self.assertIsNone(measure.parse_redis_replies(b"$5\r\n20063\r\n:200", 3))
        self.assertIsNone(measure.parse_redis_replies(b"$5\r\n20063\r\n:20000\r\n:3", 3))
        self.assertIsNone(measure.parse_redis_replies(b"-ERR no\r\n", 3))


class DrainTrackerTest(unittest.TestCase):
    def test_done_at_first_complete_poll_confirmed_by_the_next(self):
        t = measure.DrainTracker(OrderCounts(100, 100, 0))
        self.assertFalse(t.observe(OrderCounts(2100, 1500, 0), 1.0))
        self.assertFalse(t.observe(OrderCounts(2110, 2110, 1), 1.02))   # complete: candidate
        self.assertTrue(t.observe(OrderCounts(2110, 2110, 1), 1.04))    # same accepted: done
        self.assertEqual((t.done_at, t.accepted, t.final, t.unsuccessful), (1.02, 2010, 2010, 1))

    def test_a_late_order_restarts_the_confirmation(self):
        t = measure.DrainTracker(OrderCounts(0, 0, 0))
        self.assertFalse(t.observe(OrderCounts(10, 10, 0), 1.0))
        self.assertFalse(t.observe(OrderCounts(11, 11, 0), 1.1))   # accepted moved: new candidate
        self.assertTrue(t.observe(OrderCounts(11, 11, 0), 1.2))
        self.assertEqual(t.done_at, 1.1)

    def test_unreadable_poll_resets(self):
        t = measure.DrainTracker(OrderCounts(0, 0, 0))
        self.assertFalse(t.observe(OrderCounts(5, 5, 0), 1.0))
        self.assertFalse(t.observe(None, 1.1))
        self.assertIsNone(t.done_at)
        self.assertEqual(t.accepted, 5)       # the last reading is kept


class HttpRunTest(unittest.TestCase):
    def test_figures_from_wrk_and_cpu(self):
        out = wrk.WrkOutput(requests=100000, seconds=10.0, rps=10000.0,
                            latency_ms={"50": 0.5, "99": 1.5})
        usage = cpu.Usage(server_busy_pct=80.0, client_busy_pct=99.0, server_busy_ticks=800,
                          process_ticks=700)
        run = measure.http_run("run1", out, usage, clock_ticks=100)
        self.assertEqual((run.rps, run.p50_ms, run.p99_ms, run.errors), (10000.0, 0.5, 1.5, "0"))
        self.assertAlmostEqual(run.server_cpu_us_per_request, 80.0)    # 8 s / 100k requests
        self.assertAlmostEqual(run.process_cpu_us_per_request, 70.0)


class PostgresFiguresTest(unittest.TestCase):
    def test_per_accepted_order(self):
        run = measure.OrdersRun("run1", accepted=2000)
        before = pg.Counters(100, {"a": (50, "BEGIN")})
        after = pg.Counters(9100, {"a": (6050, "BEGIN"), "b": (40000, "UPDATE")})
        measure.add_pg_figures(run, 300, before, after, clock_ticks=100)
        self.assertAlmostEqual(run.pg_cpu_us_per_order, 1500.0)    # 3 s / 2000 orders
        self.assertAlmostEqual(run.pg_commits_per_order, 4.5)
        self.assertAlmostEqual(run.pg_statements_per_order, 23.0)

    def test_without_pg_stat_statements_no_statement_figure(self):
        run = measure.OrdersRun("run1", accepted=10)
        measure.add_pg_figures(run, 0, pg.Counters(0), pg.Counters(40), clock_ticks=100)
        self.assertEqual((run.pg_commits_per_order, run.pg_statements_per_order), (4.0, None))
        self.assertEqual(run.pg_cpu_us_per_order, 0.0)


class PgbenchRunTest(unittest.TestCase):
    def test_figures_from_pgbench_and_cpu(self):
        out = pg.PgbenchOutput(transactions=20000, failed=0, tps=2000.0, latency_avg_ms=8.0)
        usage = cpu.Usage(server_busy_pct=95.0, client_busy_pct=30.0, server_busy_ticks=900,
                          process_ticks=850)
        run = measure.pgbench_run("run1", out, 0, usage, clock_ticks=100)
        self.assertEqual((run.tps, run.latency_avg_ms, run.errors), (2000.0, 8.0, "0"))
        self.assertAlmostEqual(run.server_cpu_us_per_transaction, 450.0)   # 9 s / 20000
        self.assertAlmostEqual(run.process_cpu_us_per_transaction, 425.0)
        self.assertEqual(measure.pgbench_run("run2", pg.PgbenchOutput(), 1, usage, 100).errors,
                         "pgbench failed")


if __name__ == "__main__":
    unittest.main()
