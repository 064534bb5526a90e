import tempfile
import unittest
from pathlib import Path

import _path  # noqa: F401
from shopbench import cpu

STAT_BEFORE = """cpu  100 10 50 1000 20 5 5 10 0 0
cpu0 60 0 30 400 10 4 3 5 0 0
cpu1 40 10 20 600 10 1 2 5 0 0
intr 12345
"""
STAT_AFTER = """cpu  400 10 150 1200 30 15 15 10 0 0
cpu0 310 0 100 410 10 12 10 5 0 0
cpu1 90 10 50 790 20 3 5 5 0 0
intr 23456
"""


class ProcStatTest(unittest.TestCase):
    def test_busy_and_total(self):
        cpus = cpu.parse_proc_stat(STAT_BEFORE)
        # busy = user+nice+system+irq+softirq; total adds idle+iowait+steal
        self.assertEqual(cpus["cpu0"], cpu.CpuTimes(busy=97, total=97 + 415, idle=410))
        self.assertEqual(cpus["cpu1"].busy, 73)
        self.assertNotIn("intr", cpus)

    def test_usage_between_samples(self):
        before = cpu.Sample(cpu.parse_proc_stat(STAT_BEFORE), process_ticks=1000)
        after = cpu.Sample(cpu.parse_proc_stat(STAT_AFTER), process_ticks=1250)
        usage = cpu.between(before, after)
        self.assertEqual(usage.server_busy_ticks, 335)           # 432 - 97
        self.assertAlmostEqual(usage.server_busy_pct, 100 * 335 / 345)   # idle went 415 -> 425
        self.assertAlmostEqual(usage.client_busy_pct, 100 * 85 / 285)
        self.assertEqual(usage.process_ticks, 250)

    def test_per_op(self):
        # 335 ticks at 100 Hz = 3.35 s of CPU 0 over 100000 requests = 33.5 us each
        self.assertAlmostEqual(cpu.per_op_us(335, 100000, 100), 33.5)
        self.assertIsNone(cpu.per_op_us(335, 0, 100))
        self.assertIsNone(cpu.per_op_us(335, None, 100))

    def test_no_time_passed(self):
        times = cpu.CpuTimes(busy=5, total=10)
        self.assertEqual(cpu.busy_pct(times, times), 0.0)

    def test_machine_idle(self):
        before = cpu.parse_proc_stat(STAT_BEFORE)["cpu"]
        after = cpu.parse_proc_stat(STAT_AFTER)["cpu"]
        # idle+iowait grew 210 of a total (user..steal) that grew 630
        self.assertEqual(cpu.idle_pct(before, after), 33)


class PidStatTest(unittest.TestCase):
    LINE = ("4242 (node worker) x) S 4200 4242 4242 0 -1 4194560 1 0 0 0 "
            "1234 567 0 0 20 0 11 0 100 1000 10 18446744073709551615\n")

    def test_name_with_parentheses(self):
        self.assertEqual(cpu.parse_pid_stat(self.LINE), (4242, 1234 + 567))

    def test_reaped_children_count(self):
        line = self.LINE.replace(" 1234 567 0 0 ", " 1234 567 89 11 ")   # cutime cstime
        self.assertEqual(cpu.parse_pid_stat(line), (4242, 1234 + 567 + 89 + 11))
        self.assertEqual(cpu.parse_pid_stat_with_parent(line), (4200, 4242, 1901))

    def test_group_ticks_sums_only_the_groups(self):
        with tempfile.TemporaryDirectory() as d:
            proc = Path(d)
            for pid, pgrp, ut, st in ((10, 10, 100, 50), (11, 10, 7, 3), (12, 12, 1000, 1000)):
                (proc / str(pid)).mkdir()
                (proc / str(pid) / "stat").write_text(
                    f"{pid} (x) S 1 {pgrp} {pgrp} 0 -1 0 0 0 0 0 {ut} {st} 0 0 20 0 1 0\n")
            (proc / "self").mkdir()
            self.assertEqual(cpu.group_ticks([10], proc), 160)
            self.assertEqual(cpu.group_ticks([10, 12], proc), 2160)
            self.assertEqual(cpu.group_ticks([], proc), 0)

    def test_group_ticks_counts_descendants_in_groups_of_their_own(self):
        # PostgreSQL: the postmaster (30) starts each backend in a session of its own (31, 32),
        # a backend's child (33) too; 40 is another process the driver started, 1 is init
        with tempfile.TemporaryDirectory() as d:
            proc = Path(d)
            for pid, ppid, pgrp, ticks in ((1, 0, 1, 5000), (29, 1, 29, 1), (30, 29, 30, 100),
                                           (31, 30, 31, 20), (32, 30, 32, 3), (33, 31, 33, 1),
                                           (40, 29, 40, 7000)):
                (proc / str(pid)).mkdir()
                (proc / str(pid) / "stat").write_text(
                    f"{pid} (postgres: x) S {ppid} {pgrp} {pgrp} 0 -1 0 0 0 0 0 {ticks} 0 0 0\n")
            self.assertEqual(cpu.group_ticks([30], proc), 124)
            self.assertEqual(cpu.group_ticks([30, 40], proc), 7124)
            self.assertEqual(cpu.group_ticks([31], proc), 21)


if __name__ == "__main__":
    unittest.main()
