"""The command line: run the benchmark (knobs from the environment), print its plan, render the
README tables from a results.json, or compare two of them. See bench/README.md.
"""

import argparse
import datetime
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import machine, plan, prepare, report, results, servers, settings as settings_mod
from .errors import BenchError, Interrupted
from .measure import Measurer
from .procs import ProcessRegistry
from .runner import Runner
from .settings import shown_path

REPO = Path(__file__).resolve().parents[2]
CLIENT_CPU = 1


def log(message: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description="shopd against nginx, Express, Express + Redis and BullMQ. Without an "
                    "option: a full run, configured by environment variables (RUNS, DURATION, "
                    "CASES, ...; see bench/README.md), results in bench/out/.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--compare", nargs=2, metavar=("OLD.json", "NEW.json"),
                      help="print each case's figures of two runs and their ratios")
    mode.add_argument("--render-table", metavar="results.json",
                      help="print the README's benchmark tables from a results.json")
    mode.add_argument("--render-report", metavar="results.json",
                      help="print the full markdown report (results.md) from a results.json")
    mode.add_argument("--plan", action="store_true",
                      help="print the servers, cases, targets and run order, and exit")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.compare:
            old, new = (results.load(Path(p)) for p in args.compare)
            print(report.comparison(old, new, *args.compare), end="")
            return 0
        if args.render_table:
            print(report.readme_tables(results.load(Path(args.render_table))), end="")
            return 0
        if args.render_report:
            print(report.full_report(results.load(Path(args.render_report))), end="")
            return 0
    except (OSError, ValueError, KeyError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    try:
        chosen = settings_mod.load(os.environ, REPO)
    except settings_mod.SettingsError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    if args.plan:
        print(plan.render(chosen), end="")
        return 0
    return run(chosen)


def run(s) -> int:
    info = machine.machine_info()      # before pinning: counts the CPUs this process may use
    if info["cpus"] < 2:
        print(f"bench: needs 2 CPUs (server on CPU 0, wrk on CPU 1); it has {info['cpus']}",
              file=sys.stderr)
        return 1
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = REPO / "bench" / "out" / stamp
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="shopd-bench."))
    log(f"raw output: {shown_path(out, REPO)} (scratch: {work})")
    try:
        with ProcessRegistry() as registry:
            res = _measure_all(s, registry, out, work, stamp, info)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    except Interrupted as e:
        log(f"stopped by signal {e.signum}; every process it started is stopped")
        return e.exit_code
    finally:
        shutil.rmtree(work, ignore_errors=True)
        log(f"raw output: {shown_path(out, REPO)}/")
    text = report.full_report(res)
    (out / "results.md").write_text(text)
    print(text, end="")
    return 0


def _measure_all(s, registry, out: Path, work: Path, stamp: str, info: dict) -> dict:
    prepare.install_packages(registry, s)
    prepare.check_tools(s)
    prepare.prepare_peers(registry, s, out, log)
    shopd = prepare.build_shopd(registry, s, out, log)
    # From here on this process, and what it starts without its own taskset, stays on CPU 1
    # with wrk, so CPU 0 runs only the servers (each started with taskset -c 0).
    try:
        os.sched_setaffinity(0, {CLIENT_CPU})
    except OSError as e:
        raise BenchError(f"cannot pin this process to CPU {CLIENT_CPU}: {e}") from None
    stack = servers.ServerStack(registry, servers.StackConfig.for_run(s, out, work, shopd), log)
    runner = Runner(s, registry, stack, Measurer(registry, stack, s, out, stamp, log), out, log)
    start = _utc_now()
    runner.execute(plan.build(s))
    end = _utc_now()
    queue_stats = out / "shopd-queue-stats.txt"
    res = results.assemble(
        s, stack.config, runner.collected, runner.auth, runner.load_checks,
        dates=(start, end), git=machine.git_info(registry, REPO), machine=info,
        versions=machine.versions(registry, s, shopd), raw_output=shown_path(out, REPO) + "/",
        queue_stats=queue_stats.read_text() if queue_stats.exists() else "",
        server_notes=stack.notes)
    results.write(res, out / "results.json")
    shutil.copyfile(out / "results.json", out.parent / "results.json")
    log(f"results: {shown_path(out / 'results.json', REPO)} (and bench/out/results.json)")
    return res


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


if __name__ == "__main__":
    sys.exit(main())
