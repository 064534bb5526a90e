import unittest

import _path  # noqa: F401
from shopbench import wrk

CLEAN = """Running 2s test @ http://127.0.0.1:18400/health
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.40ms    3.12ms  26.32ms   87.24%
    Req/Sec    35.52k     5.77k   47.16k    85.00%
  Latency Distribution
     50%  640.00us
     75%    3.54ms
     90%    6.37ms
     99%   13.57ms
  71210 requests in 2.02s, 10.12MB read
Requests/sec:  35315.10
Transfer/sec:      5.02MB
"""

WITH_ERRORS = """Running 5m test @ http://127.0.0.1:18404/order
  1 threads and 64 connections
  Latency Distribution
     50%    1.02s
     75%    1.50m
     90%    2.00m
     99%    2.50m
  20063 requests in 1.12m, 4.01MB read
  Socket errors: connect 0, read 0, write 0, timeout 12
  Non-2xx or 3xx responses: 7
Requests/sec:    298.51
Transfer/sec:     61.10KB
wrk exit status 124
"""


class ToMsTest(unittest.TestCase):
    def test_units(self):
        self.assertAlmostEqual(wrk.to_ms("812.00us"), 0.812)
        self.assertAlmostEqual(wrk.to_ms("1.23ms"), 1.23)
        self.assertAlmostEqual(wrk.to_ms("1.02s"), 1020.0)
        self.assertAlmostEqual(wrk.to_ms("1.50m"), 90000.0)
        self.assertAlmostEqual(wrk.to_ms("2.00h"), 7200000.0)

    def test_not_a_time(self):
        self.assertIsNone(wrk.to_ms("-nan"))
        self.assertIsNone(wrk.to_ms(""))
        self.assertIsNone(wrk.to_ms("ms"))


class ParseTest(unittest.TestCase):
    def test_clean_run(self):
        out = wrk.parse(CLEAN)
        self.assertEqual(out.requests, 71210)
        self.assertAlmostEqual(out.seconds, 2.02)
        self.assertAlmostEqual(out.rps, 35315.10)
        self.assertEqual(sorted(out.latency_ms), ["50", "75", "90", "99"])
        self.assertAlmostEqual(out.latency_ms["50"], 0.64)
        self.assertAlmostEqual(out.latency_ms["99"], 13.57)
        self.assertEqual(out.errors(), "0")

    def test_errors_and_minutes(self):
        out = wrk.parse(WITH_ERRORS)
        self.assertEqual(out.requests, 20063)
        self.assertAlmostEqual(out.seconds, 67.2)
        self.assertAlmostEqual(out.latency_ms["50"], 1020.0)
        self.assertEqual(out.errors(),
                         "sock: connect 0, read 0, write 0, timeout 12; non-2xx: 7")

    def test_failed_run(self):
        out = wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")
        self.assertFalse(out.completed)
        self.assertIsNone(out.requests)
        self.assertEqual(out.errors(), "wrk failed")

    def test_thread_stats_are_not_percentiles(self):
        self.assertNotIn("87.24", wrk.parse(CLEAN).latency_ms)


class CommandTest(unittest.TestCase):
    def test_pinned_with_header_and_script(self):
        self.assertEqual(
            wrk.command("http://h/x", conns=64, duration="10s", headers=["A: b"], script="s.lua"),
            ["taskset", "-c", "1", "wrk", "-t1", "-c64", "-d10s", "--latency", "-H", "A: b",
             "-s", "s.lua", "http://h/x"])


if __name__ == "__main__":
    unittest.main()
