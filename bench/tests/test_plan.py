import unittest
from pathlib import Path

import _path  # noqa: F401
from shopbench import plan, settings
from shopbench.plan import AuthLoad, LoadCheck, Measure, Start, Stop, Warmup


def build(**env):
    return plan.build(settings.load(env, Path("/repo")))


class InterleavedTest(unittest.TestCase):
    def test_runs_alternate_and_phases_stop_unused_servers(self):
        steps = build(CASES="nginx shopd-health express-cache orders bullmq", RUNS="2")
        self.assertEqual(steps[:5], [LoadCheck("before nginx shopd-health express-cache"),
                                     Start("nginx"), Start("shopd"), Start("cache"),
                                     Warmup("nginx")])
        measured = [s for s in steps if isinstance(s, Measure)][:6]
        self.assertEqual([(m.case, m.label) for m in measured],
                         [("nginx", "run1"), ("shopd-health", "run1"), ("express-cache", "run1"),
                          ("nginx", "run2"), ("shopd-health", "run2"), ("express-cache", "run2")])
        phase2 = steps.index(LoadCheck("before orders bullmq"))
        # redis stays up for the queue peer; nginx and cache.js go
        self.assertEqual(steps[phase2 - 2:phase2], [Stop("nginx"), Stop("cache")])
        self.assertEqual(steps[-4:], [Stop("queue"), Stop("shopd"), Stop("redis"),
                                      LoadCheck("after the last run")])

    def test_auth_cases_last_on_their_own_shopd(self):
        steps = build(CASES="auth-flood shopd-health register-spike", RUNS="1")
        tail = steps[steps.index(Stop("shopd")):]
        self.assertEqual(tail, [Stop("shopd"), LoadCheck("before auth-flood register-spike"),
                                Start("shopd"), AuthLoad("auth-flood"),
                                AuthLoad("register-spike"), Stop("shopd"),
                                LoadCheck("after the last run")])


class PostgresTest(unittest.TestCase):
    def test_pgbench_last_on_postgres_alone(self):
        steps = build(CASES="pgbench orders-pg bullmq", RUNS="1")
        self.assertEqual(steps[:3], [LoadCheck("before orders-pg bullmq"), Start("shopd-pg"),
                                     Start("queue")])
        phase3 = steps.index(LoadCheck("before pgbench"))
        # postgres, which shopd-pg needs, stays up for pgbench; everything else goes
        self.assertEqual(steps[phase3 - 3:], [
            Stop("queue"), Stop("shopd-pg"), Stop("redis"), LoadCheck("before pgbench"),
            Warmup("pgbench"), Measure("pgbench", "run1"), Stop("postgres"),
            LoadCheck("after the last run")])

    def test_plan_text_names_how_postgres_runs(self):
        text = plan.render(settings.load({"CASES": "orders-pg", "RUNS": "1"}, Path("/repo")))
        self.assertIn("shopd-pg (127.0.0.1:18407, CPU 0)", text)
        self.assertIn("--database-url postgres://shopd@127.0.0.1:18406/shop", text)
        self.assertIn("postgres (127.0.0.1:18406, CPU 0)", text)
        self.assertIn("-c synchronous_commit=on", text)
        self.assertIn("as postgres when run as root; stopped with SIGINT", text)


class SequentialTest(unittest.TestCase):
    def test_one_server_at_a_time_in_the_given_order(self):
        steps = build(CASES="express-cache shopd-health bullmq shopd-me", RUNS="1",
                      ORDER="sequential")
        self.assertEqual(steps, [
            LoadCheck("before express-cache"), Start("cache"), Warmup("express-cache"),
            Measure("express-cache", "run1"), Stop("cache"),
            LoadCheck("before shopd-health"), Start("shopd"), Warmup("shopd-health"),
            Measure("shopd-health", "run1"),
            LoadCheck("before bullmq"), Start("queue"), Warmup("bullmq"),
            Measure("bullmq", "run1"), Stop("queue"),
            Warmup("shopd-me"), Measure("shopd-me", "run1"), Stop("shopd"),
            Stop("redis"),     # as the peers' script: redis-server until the end
            LoadCheck("after the last run")])


if __name__ == "__main__":
    unittest.main()
