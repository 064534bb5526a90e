import unittest
from pathlib import Path

import _path  # noqa: F401
from shopbench import cases, settings

REPO = Path("/repo")


class LoadTest(unittest.TestCase):
    def test_defaults_match_run_sh(self):
        s = settings.load({}, REPO)
        self.assertEqual((s.runs, s.duration, s.warmup, s.conns), (3, "10s", "3s", 64))
        self.assertEqual(s.cases, cases.DEFAULT_CASES)
        self.assertEqual((s.orders, s.warmup_orders, s.shopd_workers), (20000, 5000, 128))
        self.assertEqual((s.orders_cap_s, s.drain_timeout_s, s.base_port), (300, 120, 18400))
        self.assertTrue(s.access_log)
        self.assertEqual(s.order, "interleaved")
        self.assertEqual(s.shopd_path, REPO / "build-release" / "shopd")
        self.assertFalse(s.skip_build)
        self.assertEqual(s.order_limit_args[:2], ["--orders-per-minute", "60000"])

    def test_empty_values_mean_the_default(self):
        self.assertEqual(settings.load({"CASES": "", "RUNS": ""}, REPO).runs, 3)
        self.assertEqual(settings.load({"CASES": ""}, REPO).cases, cases.DEFAULT_CASES)

    def test_knobs(self):
        s = settings.load({"RUNS": "1", "DURATION": "2m", "CASES": "orders nginx",
                           "SHOPD_BIN": "build/shopd", "SKIP_DEPS": "1", "ACCESS_LOG": "false",
                           "ORDER": "sequential", "PORT": "20000"}, REPO)
        self.assertEqual((s.runs, s.duration_s), (1, 120))
        self.assertEqual(s.cases, ("orders", "nginx"))
        self.assertEqual(s.shopd_path, REPO / "build" / "shopd")
        self.assertTrue(s.skip_build and s.skip_deps)   # SHOPD_BIN implies SKIP_BUILD
        self.assertFalse(s.access_log)
        self.assertEqual((s.order, s.base_port), ("sequential", 20000))

    def test_postgres_knobs_and_needs(self):
        s = settings.load({"CASES": "orders-pg", "PGBENCH_CLIENTS": "8"}, REPO)
        self.assertTrue(s.needs_postgres and s.needs_shopd and s.needs_product)
        self.assertEqual((s.pgbench_clients, s.pgbench_scale), (8, 16))
        s = settings.load({"CASES": "pgbench"}, REPO)
        self.assertTrue(s.needs_postgres)
        self.assertFalse(s.needs_shopd or s.needs_peers)
        self.assertIn("orders-pg", cases.DEFAULT_CASES)
        with self.assertRaises(settings.SettingsError):
            settings.load({"PGBENCH_SCALE": "0"}, REPO)

    def test_what_the_cases_need(self):
        s = settings.load({"CASES": "nginx express-cache"}, REPO)
        self.assertTrue(s.needs_node and s.needs_redis and s.needs_peers)
        self.assertFalse(s.needs_shopd or s.needs_product)
        s = settings.load({"CASES": "auth-flood"}, REPO)
        self.assertTrue(s.needs_shopd and s.needs_product)
        self.assertFalse(s.needs_peers)

    def test_refused(self):
        for env in ({"RUNS": "0"}, {"RUNS": "x"}, {"DURATION": "10q"}, {"CASES": "nope"},
                    {"CASES": "   "}, {"PORT": "80"}, {"PORT": "65001"}, {"ACCESS_LOG": "yes"},
                    {"ORDER": "random"}, {"ORDERS": "-1"}, {"FLOOD_RATE": "0"}):
            with self.subTest(env=env), self.assertRaises(settings.SettingsError):
                settings.load(env, REPO)

    def test_duration_seconds(self):
        self.assertEqual(settings.duration_seconds("10"), 10)
        self.assertEqual(settings.duration_seconds("10s"), 10)
        self.assertEqual(settings.duration_seconds("1h"), 3600)

    def test_shown_path(self):
        self.assertEqual(settings.shown_path(Path("/repo/bench/out/x"), REPO), "bench/out/x")
        self.assertEqual(settings.shown_path(Path("/shared/peers"), REPO), "../shared/peers")


if __name__ == "__main__":
    unittest.main()
