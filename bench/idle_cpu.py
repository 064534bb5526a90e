#!/usr/bin/env python3
"""CPU an idle server uses: shopd (one process, and --processes 2) beside nginx and Express
from the peers, measured in the same run over the same window.

    python3 bench/idle_cpu.py [--shopd build/shopd] [--seconds 30] [--peers DIR]
                              [--database-url postgres://USER@HOST:PORT/DB]

With --database-url (a database `shopd migrate` has prepared), shopd is also measured on the
scale-out topology over it (one process, and two replicas).

For each server: start it on a free loopback port, wait until it answers, send it one
request (so lazily started work has started), let it settle for 3 s, then read the CPU time
of every thread of every process it runs (/proc/<pid>/task/<tid>/schedstat, nanoseconds)
and the voluntary context switches (wake-ups) at the start and at the end of the window.
The target for shopd is < 0.1% of one core. A peer is skipped, with a note, when its binary
or its installed node_modules (bench/run.py installs them) are missing.
"""

import argparse
import glob
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_PERCENT = 0.1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for child_file in glob.glob(f"/proc/{p}/task/*/children"):
            try:
                todo.extend(int(c) for c in open(child_file).read().split())
            except OSError:
                pass
    return out


def sample(pid):
    """(CPU nanoseconds, voluntary context switches) summed over every thread of the tree."""
    cpu_ns = switches = 0
    for p in tree(pid):
        for task in glob.glob(f"/proc/{p}/task/*"):
            try:
                cpu_ns += int(open(f"{task}/schedstat").read().split()[0])
                for line in open(f"{task}/status"):
                    if line.startswith("voluntary_ctxt_switches:"):
                        switches += int(line.split()[1])
            except (OSError, ValueError, IndexError):
                pass  # a thread that ended between listing and reading
    return cpu_ns, switches


def wait_http(port, path, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before answering")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("did not answer in time")


def measure(name, argv, port, path, seconds, env=None, cwd=None):
    log = open(os.path.join(cwd or tempfile.gettempdir(), f"{name.split()[0]}.log"), "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        wait_http(port, path, proc)
        time.sleep(3)
        cpu0, sw0 = sample(proc.pid)
        t0 = time.monotonic()
        time.sleep(seconds)
        cpu1, sw1 = sample(proc.pid)
        wall = time.monotonic() - t0
        return {"name": name, "percent": (cpu1 - cpu0) / 1e9 / wall * 100,
                "wakeups": (sw1 - sw0) / wall, "processes": len(tree(proc.pid))}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shopd", default=os.path.join(REPO, "build", "shopd"))
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--peers", default=os.path.join(REPO, "bench", "out", "peers-cache"),
                    help="the peers folder with node_modules installed (bench/run.py makes it)")
    ap.add_argument("--database-url", default="",
                    help="also measure shopd over this migrated PostgreSQL database (scale-out)")
    args = ap.parse_args()
    if not os.access(args.shopd, os.X_OK):
        sys.exit(f"idle_cpu: no shopd binary at {args.shopd} (build it, or pass --shopd)")

    work = tempfile.mkdtemp(prefix="shopd-idle-")
    rows, notes = [], []
    try:
        env = dict(os.environ, SHOPD_JWT_SECRET="idle-benchmark-key-of-at-least-32-bytes!")
        topologies = [("shopd", [])]
        if args.database_url:
            topologies.append(("shopd postgres", ["--database-url", args.database_url]))
        for label, extra in topologies:
            for processes in (1, 2):
                port = free_port()
                data = os.path.join(work, f"data-{len(rows)}")
                rows.append(measure(f"{label} --processes {processes}",
                                    [args.shopd, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                                     "--processes", str(processes), "--access-log=false"] + extra,
                                    port, "/v1/products", args.seconds, env=env, cwd=work))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        conf_in = os.path.join(args.peers, "nginx", "nginx.conf.in")
        if os.access(nginx, os.X_OK) and os.path.exists(conf_in):
            port = free_port()
            prefix = os.path.join(work, "nginx")
            os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
            conf = open(conf_in).read().replace("@PREFIX@", prefix).replace("@PORT@", str(port)) \
                .replace("@WORKERS@", "1")
            open(os.path.join(prefix, "nginx.conf"), "w").write(conf)
            rows.append(measure("nginx (1 worker)", [nginx, "-p", prefix, "-c", os.path.join(prefix, "nginx.conf"),
                                                     "-e", os.path.join(prefix, "error.log")],
                                port, "/", args.seconds, cwd=work))
        else:
            notes.append(f"nginx skipped: no {nginx} or no {conf_in}")
        hello = os.path.join(args.peers, "node", "hello.js")
        if shutil.which("node") and os.path.exists(os.path.join(args.peers, "node", "node_modules", "express")):
            port = free_port()
            rows.append(measure("express hello.js", ["node", hello], port, "/health", args.seconds,
                                env=dict(os.environ, PORT=str(port), HOST="127.0.0.1", CLUSTER="0", WORKERS="1"),
                                cwd=work))
        else:
            notes.append(f"express skipped: no node or no {args.peers}/node/node_modules (run bench/run.py once)")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"idle CPU over {args.seconds:.0f} s (target for shopd: < {TARGET_PERCENT}% of one core)")
    print(f"{'server':<32} {'processes':>9} {'CPU % of a core':>16} {'wake-ups/s':>11}")
    for r in rows:
        print(f"{r['name']:<32} {r['processes']:>9} {r['percent']:>16.3f} {r['wakeups']:>11.1f}")
    for n in notes:
        print("note:", n)
    worst = max(r["percent"] for r in rows if r["name"].startswith("shopd"))
    print(f"shopd worst: {worst:.3f}% -> {'within' if worst < TARGET_PERCENT else 'OVER'} the target")


if __name__ == "__main__":
    main()
