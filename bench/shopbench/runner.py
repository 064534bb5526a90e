"""Executes a plan (plan.build): starts and stops servers, runs the cases, keeps their runs.

Usage:
  runner = Runner(settings, registry, stack, measurer, out_dir, log)
  runner.execute(plan.build(settings))
  runner.collected["nginx"]      # {"warmup": HttpRun, "runs": [HttpRun, ...]}
"""

import json
import sys
from pathlib import Path
from typing import Callable

from . import cases as case_table
from . import machine, plan
from .cases import CASES
from .errors import BenchError
from .settings import shown_path
from .shopd_api import BENCH_EMAIL, BENCH_PASSWORD, ShopdClient

AUTH_SCRIPT = "bench/auth_load.py"


class Runner:
    def __init__(self, settings, registry, stack, measurer, out_dir: Path,
                 log: Callable[[str], None]):
        self._settings = settings
        self._registry = registry
        self._stack = stack
        self._measurer = measurer
        self._out = out_dir
        self._log = log
        self.collected = {}     # case -> {"warmup": run, "runs": [run, ...]}
        self.auth = {}          # case -> (markdown, data of <case>.json)
        self.load_checks = []

    def execute(self, steps) -> None:
        handlers = {plan.LoadCheck: self._load_check, plan.Start: self._start,
                    plan.Stop: self._stop, plan.Warmup: self._warmup,
                    plan.Measure: self._measure, plan.AuthLoad: self._auth_load}
        for step in steps:
            handlers[type(step)](step)

    def _load_check(self, step: plan.LoadCheck) -> None:
        self.load_checks.append(machine.load_check(self._registry, step.label))

    def _start(self, step: plan.Start) -> None:
        if self._stack.start(step.server):
            self._probe(step.server)

    def _stop(self, step: plan.Stop) -> None:
        self._stack.stop(step.server)

    def _probe(self, server: str) -> None:
        """Each HTTP case on this server must answer 200 (for shopd-product this GET also
        fills the cache)."""
        shopd = self._stack.session(server)
        for name in self._settings.kinds(case_table.HTTP):
            case = CASES[name]
            if case.server != server:
                continue
            token = shopd.client.login() if case.bearer else ""
            path = case.path.format(product_id=shopd.product_id if shopd else "")
            client = shopd.client if shopd else ShopdClient(self._stack.config.port(server))
            status, body = client.request("GET", path, token=token, timeout_s=10)
            if case.bearer:
                (self._out / f"{name}.json").write_bytes(body)
            if status != 200:
                raise BenchError(f"{name}: {path} answered {status}, expected 200")

    def _run_case(self, name: str, label: str, warmup: bool):
        case, s = CASES[name], self._settings
        if case.kind == case_table.ORDERS:
            return self._measurer.orders(case, label, s.warmup_orders if warmup else s.orders)
        if case.kind == case_table.PGBENCH:
            return self._measurer.pgbench(case, label, s.warmup if warmup else s.duration)
        return self._measurer.http(case, label, s.warmup if warmup else s.duration)

    def _warmup(self, step: plan.Warmup) -> None:
        case, s = CASES[step.case], self._settings
        amount = f"{s.warmup_orders} orders" if case.kind == case_table.ORDERS else s.warmup
        self._log(f"{step.case}: warm-up {amount}")
        entry = self.collected.setdefault(step.case, {"warmup": None, "runs": []})
        entry["warmup"] = self._run_case(step.case, "warmup", warmup=True)

    def _measure(self, step: plan.Measure) -> None:
        entry = self.collected.setdefault(step.case, {"warmup": None, "runs": []})
        entry["runs"].append(self._run_case(step.case, step.label, warmup=False))

    def _auth_load(self, step: plan.AuthLoad) -> None:
        """bench/auth_load.py beside shopd, on this process's CPU (1) with its wrk."""
        s, server = self._settings, CASES[step.case].server
        shopd = self._stack.session(server)
        self._log(f"{step.case}: {AUTH_SCRIPT} ({s.runs} run(s) of {s.duration_s} s per read, "
                  "quiet and loaded)")
        argv = [sys.executable, str(s.repo / AUTH_SCRIPT), step.case,
                "--port", str(self._stack.config.port(server)), "--product-id", shopd.product_id,
                "--email", BENCH_EMAIL, "--password", BENCH_PASSWORD,
                "--duration", str(s.duration_s), "--runs", str(s.runs), "--conns", str(s.conns),
                "--flood-rate", str(s.flood_rate), "--register-rate", str(s.register_rate),
                "--out", str(self._out)]
        md_path = self._out / f"{step.case}.md"
        with open(md_path, "wb") as md:
            rc = self._registry.run(argv, timeout_s=s.runs * 4 * (s.duration_s + 40) + 60,
                                    stdout=md)
        text = md_path.read_text(errors="replace")
        if rc != 0:
            tail = "\n".join(text.splitlines()[-20:])
            raise BenchError(f"{step.case} failed (log: {shown_path(md_path, s.repo)}):\n{tail}")
        progress = [line for line in text.splitlines() if line.startswith("[")]
        for line in progress:
            print(line, file=sys.stderr)
        markdown = "\n".join(line for line in text.splitlines() if not line.startswith("["))
        self.auth[step.case] = (markdown, _read_json(self._out / f"{step.case}.json"))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
