import tempfile
import unittest
from pathlib import Path

import _path  # noqa: F401
from shopbench import pg

PGBENCH_OUT = """pgbench (15.18 (Debian 15.18-0+deb12u1))
starting vacuum...end.
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 16
query mode: simple
number of clients: 16
number of threads: 1
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 15440
number of failed transactions: 0 (0.000%)
latency average = 10.361 ms
initial connection time = 111.309 ms
tps = 1544.292055 (without initial connection time)
"""

PGBENCH_ABORTED = """pgbench (15.18 (Debian 15.18-0+deb12u1))
starting vacuum...end.
pgbench: error: client 3 script 0 aborted in command 4 query 0: FATAL:  terminating connection
number of transactions actually processed: 120
number of failed transactions: 2 (1.639%)
latency average = 40.000 ms
tps = 400.000000 (without initial connection time)
pgbench: error: Run was aborted; the above results are incomplete.
"""


def counters(commits, calls=None):
    statements = None if calls is None else {qid: (n, q) for qid, (n, q) in calls.items()}
    return pg.Counters(commits, statements)


class PgbenchTest(unittest.TestCase):
    def test_summary(self):
        out = pg.parse_pgbench(PGBENCH_OUT)
        self.assertEqual((out.transactions, out.failed), (15440, 0))
        self.assertAlmostEqual(out.tps, 1544.292055)
        self.assertAlmostEqual(out.latency_avg_ms, 10.361)
        self.assertEqual(out.errors(), "0")

    def test_aborted_and_failed(self):
        out = pg.parse_pgbench(PGBENCH_ABORTED)
        self.assertEqual((out.transactions, out.failed, out.aborted), (120, 2, True))
        self.assertEqual(out.errors(2), "failed transactions: 2; run aborted")

    def test_nothing_parsed(self):
        out = pg.parse_pgbench("pgbench: error: connection to server failed\n")
        self.assertIsNone(out.tps)
        self.assertEqual(out.errors(1), "pgbench failed")
        self.assertEqual(pg.parse_pgbench(PGBENCH_OUT).errors(1), "pgbench exit status 1")

    def test_commands_run_on_the_client_cpu(self):
        self.assertEqual(pg.pgbench_command(18406, 16, 10),
                         ["taskset", "-c", "1", str(pg.PG_BIN / "pgbench"), "-h", "127.0.0.1",
                          "-p", "18406", "-U", "shopd", "-c", "16", "-j", "1", "-T", "10",
                          "pgbench"])
        self.assertEqual(pg.pgbench_init_command(18406, 16)[-5:],
                         ["-i", "-q", "-s", "16", "pgbench"])


class CountersTest(unittest.TestCase):
    def test_parse_with_and_without_statements(self):
        text = '{"xact_commit" : 1200, "statements" : [["-42", 300, "BEGIN"], ["7", 5, "x"]]}\n'
        parsed = pg.parse_counters(text)
        self.assertEqual(parsed.xact_commit, 1200)
        self.assertEqual(parsed.statements, {"-42": (300, "BEGIN"), "7": (5, "x")})
        self.assertEqual(parsed.calls, 305)
        parsed = pg.parse_counters('{"xact_commit" : 9, "statements" : null}')
        self.assertIsNone(parsed.statements)
        self.assertIsNone(parsed.calls)

    def test_unreadable(self):
        for text in ("", "psql: error", '{"xact_commit": null, "statements": null}'):
            with self.subTest(text=text):
                self.assertIsNone(pg.parse_counters(text))

    def test_sql_names_the_database_and_reads_the_extension_only_when_there(self):
        self.assertIn("datname = 'shop'", pg.counters_sql("shop", True))
        self.assertIn("pg_stat_statements", pg.counters_sql("shop", True))
        self.assertNotIn("pg_stat_statements", pg.counters_sql("shop", False))
        self.assertIn("datname = 'o''brien'", pg.counters_sql("o'brien", False))

    def test_per_order(self):
        before = counters(1000, {"a": (100, "BEGIN")})
        after = counters(5000, {"a": (2100, "BEGIN"), "b": (2000, "INSERT")})
        self.assertEqual(pg.per_order(before, after, 1000), pg.PerOrder(4.0, 4.0))

    def test_per_order_without_statements_or_readings(self):
        self.assertEqual(pg.per_order(counters(0), counters(500), 100), pg.PerOrder(5.0, None))
        self.assertEqual(pg.per_order(None, counters(500), 100), pg.PerOrder(None, None))
        self.assertEqual(pg.per_order(counters(0), counters(5), 0), pg.PerOrder(None, None))

    def test_statement_deltas_most_calls_first(self):
        before = counters(0, {"a": (10, "BEGIN"), "c": (4, "SELECT 1")})
        after = counters(0, {"a": (30, "BEGIN"), "b": (40, "INSERT"), "c": (4, "SELECT 1")})
        self.assertEqual(pg.statement_deltas(before, after), [(40, "INSERT"), (20, "BEGIN")])
        self.assertEqual(pg.statement_deltas(counters(0), after), [])


class AvailabilityTest(unittest.TestCase):
    def test_pg_stat_statements_needs_library_and_control_file(self):
        with tempfile.TemporaryDirectory() as d:
            lib, share = Path(d) / "lib", Path(d) / "share"
            (share / "extension").mkdir(parents=True)
            lib.mkdir()
            self.assertIn("not installed", pg.statements_unavailable(lib, share))
            (lib / "pg_stat_statements.so").write_text("")
            self.assertIn("pg_stat_statements.control", pg.statements_unavailable(lib, share))
            (share / "extension" / "pg_stat_statements.control").write_text("")
            self.assertEqual(pg.statements_unavailable(lib, share), "")


if __name__ == "__main__":
    unittest.main()
