"""CPU accounting from /proc: per-CPU busy time and the servers' own process time.

  busy % of a CPU      = (user+nice+system+irq+softirq) / (busy + idle+iowait+steal), as the
                         peers' bench.sh counts it; pinned, cpu0 is the server side, cpu1 wrk
  server µs CPU/op     = cpu0 busy time over the window / operations (requests or orders):
                         everything on CPU 0, kernel loopback TCP included
  process µs CPU/op    = utime+stime of the servers' process groups (and of their descendants
                         in groups of their own, e.g. PostgreSQL's backends), with the
                         cutime+cstime of the children they have reaped (a backend that has
                         exited) / operations: the cross-check (well below the cpu0 figure:
                         something else ran there)

Usage:
  before = take_sample(pgids); ...; after = take_sample(pgids)
  usage = between(before, after)
  per_op_us(usage.server_busy_ticks, requests, clock_ticks())
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

SERVER_CPU = 0
CLIENT_CPU = 1

_BUSY_FIELDS = (0, 1, 2, 5, 6)    # user nice system irq softirq (after the "cpuN" label)
_IDLE_FIELDS = (3, 4, 7)          # idle iowait steal


@dataclass(frozen=True)
class CpuTimes:
    busy: int          # clock ticks
    total: int
    idle: int = 0      # idle + iowait (for the machine's idle %)


@dataclass(frozen=True)
class Sample:
    cpus: dict         # "cpu" (all), "cpu0", "cpu1", ... -> CpuTimes
    process_ticks: int = 0   # utime+stime of the sampled process groups


@dataclass(frozen=True)
class Usage:
    server_busy_pct: float
    client_busy_pct: float
    server_busy_ticks: int
    process_ticks: int


def parse_proc_stat(text: str) -> dict:
    cpus = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields or not fields[0].startswith("cpu"):
            continue
        values = [int(v) for v in fields[1:9]] + [0] * (8 - len(fields[1:9]))
        busy = sum(values[i] for i in _BUSY_FIELDS)
        cpus[fields[0]] = CpuTimes(busy=busy, total=busy + sum(values[i] for i in _IDLE_FIELDS),
                                   idle=values[3] + values[4])
    return cpus


def parse_pid_stat(text: str) -> tuple:
    """/proc/<pid>/stat -> (process group, ticks): utime + stime, plus cutime + cstime (its
    children that exited and were waited for). The name may hold ") "."""
    _, pgrp, ticks = parse_pid_stat_with_parent(text)
    return pgrp, ticks


def parse_pid_stat_with_parent(text: str) -> tuple:
    """/proc/<pid>/stat -> (parent pid, process group, ticks as parse_pid_stat counts them)."""
    rest = text[text.rindex(")") + 2:].split()   # rest[0] is field 3 (state)
    return int(rest[1]), int(rest[2]), sum(int(v) for v in rest[11:15])


def busy_pct(before: CpuTimes, after: CpuTimes) -> float:
    total = after.total - before.total
    return 100.0 * (after.busy - before.busy) / total if total > 0 else 0.0


def idle_pct(before: CpuTimes, after: CpuTimes) -> int:
    """The whole machine's idle share (idle + iowait) over the interval, whole percent."""
    total = max(after.total - before.total, 1)
    return 100 * (after.idle - before.idle) // total


def per_op_us(ticks: int, ops: Optional[int], clock_ticks_per_s: int) -> Optional[float]:
    if not ops or ops <= 0:
        return None
    return 1e6 * (ticks / clock_ticks_per_s) / ops


def between(before: Sample, after: Sample, server: int = SERVER_CPU,
            client: int = CLIENT_CPU) -> Usage:
    s, c = f"cpu{server}", f"cpu{client}"
    return Usage(server_busy_pct=busy_pct(before.cpus[s], after.cpus[s]),
                 client_busy_pct=busy_pct(before.cpus[c], after.cpus[c]),
                 server_busy_ticks=after.cpus[s].busy - before.cpus[s].busy,
                 process_ticks=after.process_ticks - before.process_ticks)


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def read_proc_stat(proc: Path = Path("/proc")) -> dict:
    return parse_proc_stat((proc / "stat").read_text())


def group_ticks(pgids: Iterable[int], proc: Path = Path("/proc")) -> int:
    """The ticks (parse_pid_stat) of the live processes of the given process groups and of their
    descendants that left them (PostgreSQL's postmaster starts every child in a new session),
    so what reaped children used counts too (pgbench's backends, gone by the end)."""
    wanted = set(pgids)
    if not wanted:
        return 0
    table = {}      # pid -> (parent pid, process group, ticks)
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            table[int(entry.name)] = parse_pid_stat_with_parent((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue    # exited meanwhile
    counted = {}

    def served(pid: int) -> bool:
        chain = []
        while pid in table and pid not in counted:
            chain.append(pid)
            parent, pgrp, _ = table[pid]
            if pgrp in wanted:
                counted[pid] = True
                chain.pop()
                break
            pid = parent
        verdict = counted.get(pid, False)
        for link in chain:
            counted[link] = verdict
        return verdict

    return sum(ticks for pid, (_, _, ticks) in table.items() if served(pid))


def take_sample(pgids: Iterable[int] = ()) -> Sample:
    pgids = list(pgids)
    return Sample(cpus=read_proc_stat(), process_ticks=group_ticks(pgids))
