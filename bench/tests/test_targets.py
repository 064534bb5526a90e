import unittest

import _path  # noqa: F401
import fixtures
from shopbench import targets


def http_cases(**overrides):
    cases = {"nginx": fixtures.http_case("nginx", [100.0, 110.0, 90.0], cpu_us=10.0,
                                         server="nginx"),
             "shopd-health": fixtures.http_case("health", [95.0, 100.0, 85.0], p99=1.2,
                                                cpu_us=12.5),
             "shopd-me": fixtures.http_case("me", [40.0, 45.0, 50.0], p99=1.9, cpu_us=20.0)}
    cases.update(overrides)
    return cases


def by_name(results, prefix):
    return next(r for r in results if r.name.startswith(prefix))


class RatioTargetTest(unittest.TestCase):
    def test_pass_with_medians_and_per_run_pairs(self):
        result = by_name(targets.evaluate_all(http_cases()), "shopd GET /health")
        self.assertEqual(result.verdict, "PASS")
        self.assertAlmostEqual(result.value, 95.0 / 100.0)
        self.assertIn("per run: 0.95 / 0.91 / 0.94", result.line)
        self.assertIn("CPU/request nginx÷shopd 0.80", result.line)
        self.assertTrue(result.line.endswith("-> **PASS**"))

    def test_below_factor_fails(self):
        result = by_name(targets.evaluate_all(http_cases()), "shopd GET /v1/users/me")
        self.assertAlmostEqual(result.value, 0.45)
        self.assertEqual(result.verdict, "FAIL")

    def test_errors_fail_whatever_the_ratio(self):
        cases = http_cases(**{"shopd-health": fixtures.http_case(
            "health", [200.0], errors="non-2xx: 3")})
        result = by_name(targets.evaluate_all(cases), "shopd GET /health")
        self.assertEqual(result.verdict, "FAIL (errors: non-2xx: 3)")

    def test_missing_reference_is_not_measured(self):
        cases = http_cases()
        del cases["nginx"]
        result = by_name(targets.evaluate_all(cases), "shopd GET /health")
        self.assertEqual(result.verdict, "not measured")
        self.assertIn("needs cases nginx and shopd-health", result.line)

    def test_unmeasured_case_has_no_line(self):
        names = [r.name for r in targets.evaluate_all(http_cases())]
        self.assertFalse(any("products" in n or "orders" in n for n in names))

    def test_orders_target_names_the_reference(self):
        cases = {"orders": fixtures.orders_case("o", [6433.0, 6500.0, 6300.0], 126.0, "shopd"),
                 "bullmq": fixtures.orders_case("b", [1942.0, 2000.0, 1900.0], 510.0, "queue",
                                                errors="sock: timeout 3")}
        result = targets.evaluate_all(cases)[0]
        self.assertEqual(result.name, "shopd end-to-end orders/s >= 3x BullMQ jobs/s")
        self.assertEqual(result.verdict, "PASS")    # the reference's errors are only shown
        self.assertAlmostEqual(result.value, 6433.0 / 1942.0)
        self.assertIn("6433 orders/s vs 1942 jobs/s", result.line)
        self.assertIn("BullMQ run errors: sock: timeout 3", result.line)
        self.assertIn("CPU/order BullMQ÷shopd 4.05", result.line)

    def test_unconfirmed_orders_fail(self):
        cases = {"orders": fixtures.orders_case("o", [9000.0], 100.0, "shopd", unsuccessful=4),
                 "bullmq": fixtures.orders_case("b", [1000.0], 500.0, "queue")}
        self.assertEqual(targets.evaluate_all(cases)[0].verdict, "FAIL (4 orders not confirmed)")

    def test_orders_on_postgres_against_the_same_bullmq_runs(self):
        cases = {"orders-pg": fixtures.orders_pg_case("p", [2500.0, 2400.0], 300.0, 150.0, 4.3,
                                                      23.5),
                 "bullmq": fixtures.orders_case("b", [1000.0, 1300.0], 500.0, "queue")}
        result = by_name(targets.evaluate_all(cases), "shopd end-to-end orders/s on PostgreSQL")
        self.assertEqual(result.name,
                         "shopd end-to-end orders/s on PostgreSQL >= 2x BullMQ jobs/s")
        self.assertAlmostEqual(result.value, 2500.0 / 1300.0)
        self.assertEqual(result.verdict, "FAIL")
        self.assertIn("per run: 2.50 / 1.85", result.line)
        self.assertIn("CPU/order BullMQ÷shopd-pg 1.67", result.line)
        cases["bullmq"] = fixtures.orders_case("b", [1000.0], 500.0, "queue")
        self.assertEqual(by_name(targets.evaluate_all(cases), "shopd end-to-end orders/s on "
                                 "PostgreSQL").verdict, "PASS")

    def test_ratio_without_data(self):
        self.assertIsNone(targets.ratio(None, 1.0))
        self.assertIsNone(targets.ratio(1.0, 0.0))


class LimitTargetTest(unittest.TestCase):
    def test_p99_of_both_cases(self):
        result = by_name(targets.evaluate_all(http_cases()), "shopd p99")
        self.assertEqual(result.verdict, "PASS")
        self.assertEqual(result.value, 1.9)
        self.assertIn("health 1.20 ms, me 1.90 ms", result.line)

    def test_one_case_over_the_limit_fails(self):
        cases = http_cases(**{"shopd-me": fixtures.http_case("me", [50.0], p99=2.0)})
        self.assertEqual(by_name(targets.evaluate_all(cases), "shopd p99").verdict, "FAIL")

    def test_other_connection_count_is_flagged(self):
        result = by_name(targets.evaluate_all(http_cases(), conns=128), "shopd p99")
        self.assertIn("measured at 128 connections, not 64: not comparable", result.line)

    def test_cached_product_shown_without_verdict(self):
        cases = http_cases(**{"shopd-product": fixtures.http_case("p", [80.0], p99=3.5)})
        result = by_name(targets.evaluate_all(cases), "shopd p99")
        self.assertEqual(result.verdict, "PASS")
        self.assertIn("cached product (no target) 3.50 ms", result.line)


if __name__ == "__main__":
    unittest.main()
