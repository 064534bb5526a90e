import tempfile
import unittest
from pathlib import Path

import _path  # noqa: F401
from shopbench import results, servers, settings
from shopbench.cases import CASES
from shopbench.measure import HttpRun

REPO = Path("/repo")


class ResultsTest(unittest.TestCase):
    def test_median_of_each_metric_separately(self):
        runs = [HttpRun("run1", rps=100.0, p99_ms=3.0, errors="0"),
                HttpRun("run2", rps=300.0, p99_ms=1.0, errors="0"),
                HttpRun("run3", rps=200.0, p99_ms=None, errors="sock: timeout 1")]
        entry = results.case_entry(CASES["nginx"], "nginx (test)", None, runs)
        self.assertEqual(entry["median"]["rps"], 200.0)
        self.assertEqual(entry["median"]["p99_ms"], 2.0)    # NA skipped, even count averaged
        self.assertIsNone(entry["median"]["p50_ms"])
        self.assertEqual(entry["errors"], "0;sock: timeout 1")
        self.assertEqual(len(entry["runs"]), 3)

    def test_assemble(self):
        s = settings.load({"CASES": "nginx shopd-health", "RUNS": "1", "PORT": "20000"}, REPO)
        config = servers.StackConfig.for_run(s, REPO / "bench/out/x", Path("/scratch"))
        collected = {"nginx": {"warmup": None, "runs": [HttpRun("run1", rps=100.0, p99_ms=1.0)]},
                     "shopd-health": {"warmup": HttpRun("warmup", rps=50.0),
                                      "runs": [HttpRun("run1", rps=90.0, p99_ms=1.5)]}}
        res = results.assemble(s, config, collected, {}, [], dates=("a", "b"), git={},
                               machine={}, versions={}, raw_output="bench/out/x/",
                               queue_stats="")
        self.assertEqual(list(res["cases"]), ["nginx", "shopd-health"])
        self.assertEqual(res["cases"]["shopd-health"]["warmup"]["rps"], 50.0)
        self.assertIn("access log on", res["cases"]["shopd-health"]["server_description"])
        self.assertEqual(res["settings"]["ports"]["shopd"], 20002)
        self.assertEqual(res["settings"]["shopd_bin"], "build-release/shopd")
        self.assertEqual([t["verdict"] for t in res["targets"]], ["PASS", "PASS"])

    def test_write_and_load(self):
        res = {"schema": results.SCHEMA, "cases": {}}
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "results.json"
            results.write(res, path)
            self.assertEqual(results.load(path), res)
            path.write_text('{"schema": 99}')
            with self.assertRaises(ValueError):
                results.load(path)


if __name__ == "__main__":
    unittest.main()
