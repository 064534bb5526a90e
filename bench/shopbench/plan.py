"""The schedule of a run: when each server starts and stops, and the order of the runs.

ORDER=interleaved (the default): all servers of a phase up at once, runs alternating between
  cases (A B C A B C ...), so drift on a shared machine affects every case alike and the per-run
  ratios are pairs from the same round. Phase 1 is the HTTP cases; phase 2 the orders cases;
  phase 3 pgbench (PostgreSQL alone, so its WAL and checkpoints do not land in the orders runs);
  each phase stops the servers it does not use first.
ORDER=sequential: one server at a time (start, warm-up, runs, stop once no later case uses it),
  as peers/bench.sh does; redis-server stays up until the end, as in the peers' script.
The auth cases always come last, against shopd alone on a fresh data dir.

Usage:
  for step in build(settings): print(describe(step))
  print(render(settings))      # servers with their command lines, cases, targets, run order
"""

import signal
from dataclasses import dataclass
from pathlib import Path

from . import cases, servers, targets
from .servers import SERVERS, STOP_ORDER, with_needs


@dataclass(frozen=True)
class LoadCheck:
    label: str


@dataclass(frozen=True)
class Start:
    server: str


@dataclass(frozen=True)
class Stop:
    server: str


@dataclass(frozen=True)
class Warmup:
    case: str


@dataclass(frozen=True)
class Measure:
    case: str
    label: str      # run1, run2, ...


@dataclass(frozen=True)
class AuthLoad:
    case: str


def run_labels(runs: int) -> list:
    return [f"run{i}" for i in range(1, runs + 1)]


def build(settings) -> list:
    phases = tuple(settings.kinds(kind) for kind in (cases.HTTP, cases.ORDERS, cases.PGBENCH))
    labels = run_labels(settings.runs)
    if settings.order == "interleaved":
        steps, up = _interleaved(phases, labels)
    else:
        given = tuple(c for c in settings.cases if cases.CASES[c].kind != cases.AUTH)
        steps, up = _sequential(given, labels)
    steps += _stop(up, STOP_ORDER)
    auth = settings.kinds(cases.AUTH)
    if auth:
        steps += [LoadCheck(f"before {' '.join(auth)}"), Start("shopd")]
        steps += [AuthLoad(name) for name in auth]
        steps += [Stop("shopd")]
    return steps + [LoadCheck("after the last run")]


def _server(case: str) -> str:
    return cases.CASES[case].server


def _stop(up: set, names) -> list:
    steps = [Stop(name) for name in STOP_ORDER if name in up and name in names]
    up.difference_update(names)
    return steps


def _start(up: set, server: str) -> list:
    if server in up:
        return []
    up.update(with_needs([server]))
    return [Start(server)]


def _interleaved(phases: tuple, labels: list) -> tuple:
    steps, up = [], set()
    for phase in phases:
        if not phase:
            continue
        needed = with_needs(_server(c) for c in phase)
        steps += _stop(up, [s for s in STOP_ORDER if s not in needed])
        steps.append(LoadCheck(f"before {' '.join(phase)}"))
        for case in phase:
            steps += _start(up, _server(case))
        steps += [Warmup(case) for case in phase]
        steps += [Measure(case, label) for label in labels for case in phase]
    return steps, up


def _sequential(order: tuple, labels: list) -> tuple:
    steps, up = [], set()
    for i, case in enumerate(order):
        server = _server(case)
        if server not in up:
            steps.append(LoadCheck(f"before {case}"))
        steps += _start(up, server)
        steps.append(Warmup(case))
        steps += [Measure(case, label) for label in labels]
        if not any(_server(later) == server for later in order[i + 1:]):
            steps.append(Stop(server))
            up.discard(server)
    return steps, up


def describe(step) -> str:
    kind = type(step).__name__
    fields = ", ".join(str(v) for v in step.__dict__.values())
    return f"{kind}({fields})"


def servers_used(steps) -> list:
    """The servers the plan starts, with the ones they need, in stop order."""
    started = with_needs(step.server for step in steps if isinstance(step, Start))
    return [name for name in STOP_ORDER if name in started and name in SERVERS]


def render(s) -> str:
    """What a run with these settings would do (`bench/run.py --plan`)."""
    steps = build(s)
    config = servers.StackConfig.for_run(s, s.repo / "bench" / "out" / "<stamp>",
                                         Path("<scratch>"))
    lines = ["servers:"]
    for name in servers_used(steps):
        lines += _render_server(config, name)
    lines.append("cases:")
    for name in s.cases:
        case = cases.CASES[name]
        load = {cases.HTTP: f"wrk -d{s.duration} after a {s.warmup} warm-up",
                cases.ORDERS: f"{s.orders} orders after {s.warmup_orders} warm-up orders",
                cases.PGBENCH: f"pgbench -c{s.pgbench_clients} -j1 -T{s.duration_s} after a "
                               f"{s.warmup} warm-up, on pgbench -i -s {s.pgbench_scale}",
                cases.AUTH: f"bench/auth_load.py, {s.runs} x {s.duration} per read"}[case.kind]
        lines.append(f"  {name} ({case.kind}, against {case.server}): {case.label}; {load}")
    lines.append("targets:")
    lines += [f"  {t.describe()}" for t in targets.TARGETS]
    lines.append(f"run order ({s.order}, {s.runs} run(s)):")
    lines += [f"  {describe(step)}" for step in steps]
    return "\n".join(lines).replace(f"{s.repo}/", "") + "\n"


def _render_server(config, name: str) -> list:
    server = SERVERS[name]
    lines = [f"  {name} (127.0.0.1:{config.port(name)}, CPU {server.cpu}): "
             f"{config.description(name)}"]
    for proc in server.procs:
        env = "".join(f"{k}={v} " for k, v in config.env(proc, name).items())
        argv = " ".join(_quoted(a) for a in config.argv(proc, name))
        ready = f"{proc.ready.kind} {proc.ready.target}".strip()
        how = "".join([f"; as {proc.user} when run as root" if proc.user else "",
                       f"; stopped with {signal.Signals(proc.stop_signal).name}"
                       if proc.stop_signal != signal.SIGTERM else ""])
        lines.append(f"    {env}{argv}   (ready: {ready}{how})")
    return lines


def _quoted(arg: str) -> str:
    return arg if arg and all(ch.isalnum() or ch in "-_./:=@{}<>," for ch in arg) else repr(arg)
